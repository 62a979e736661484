import { checkOptions, isTensor, optionKeys, tidy, type Tensor } from '@ml/tensor';
import type { Optimizer, OptimizerStateDict, ParamState } from './optimizer.js';

export interface LRRangeTestOptions {
  /** first rate (default 1e-7) */
  startLr?: number;
  /** last rate (default 10) */
  endLr?: number;
  /** number of steps, one batch each (default 100) */
  steps?: number;
  /** rates spaced geometrically (default) or linearly */
  mode?: 'exp' | 'linear';
  /** weight of the newest loss in the running average (default 0.05) */
  smoothing?: number;
  /** stop once the smoothed loss exceeds this multiple of its best (default 4) */
  divergeFactor?: number;
  /** put the parameters and the optimizer state back afterwards (default true) */
  restore?: boolean;
}

export interface LRRangeTestResult {
  /** the rate used at each step taken */
  lrs: number[];
  /** the raw loss at each step */
  losses: number[];
  /** the bias-corrected exponential moving average of the loss */
  smoothed: number[];
  /** the rate where the smoothed loss fell fastest against log(lr), before its minimum */
  steepestLr: number;
  /** the rate at the smoothed loss's minimum */
  minLossLr: number;
  /** whether the run stopped early because the loss diverged */
  diverged: boolean;
}

/**
 * The learning-rate range test (Smith, "Cyclical learning rates…"; fast.ai's lr_find):
 * train for `steps` batches while raising the rate from `startLr` to `endLr`, recording
 * the loss, and stop when it diverges. Plot `smoothed` against `lrs` on a log axis and
 * pick a rate a little below the minimum; `steepestLr` is one common choice.
 *
 * `lossAt(step)` computes the loss of one batch (with gradients); the test calls
 * `zeroGrad()`, `backward()` and `step()` around it.
 */
const RANGE_TEST_KEYS = optionKeys<LRRangeTestOptions>()(['startLr', 'endLr', 'steps', 'mode', 'smoothing', 'divergeFactor', 'restore']);

export function lrRangeTest(optimizer: Optimizer, lossAt: (step: number) => Tensor, options: LRRangeTestOptions = {}): LRRangeTestResult {
  checkOptions('lrRangeTest', options, RANGE_TEST_KEYS);
  const { startLr = 1e-7, endLr = 10, steps = 100, mode = 'exp', smoothing = 0.05, divergeFactor = 4, restore = true } = options;
  if (!(startLr > 0 && endLr > startLr)) throw new Error(`lrRangeTest: need 0 < startLr < endLr, got ${startLr} and ${endLr}`);
  if (!(Number.isInteger(steps) && steps >= 2)) throw new Error(`lrRangeTest: steps must be an integer ≥ 2, got ${steps}`);
  if (!(smoothing > 0 && smoothing <= 1)) throw new Error(`lrRangeTest: smoothing must be in (0, 1], got ${smoothing}`);
  const params = optimizer.paramGroups.flatMap((g) => g.params);
  const savedLrs = optimizer.paramGroups.map((g) => g.lr);
  const savedParams = restore ? params.map((p) => tidy(() => p.contiguous().add(0)).keep()) : [];
  const savedState = restore ? copyState(optimizer.stateDict()) : undefined;

  const lrs: number[] = [];
  const losses: number[] = [];
  const smoothed: number[] = [];
  let avg = 0;
  let best = Infinity;
  let diverged = false;
  try {
    for (let i = 0; i < steps; i++) {
      const f = i / (steps - 1);
      const lr = mode === 'exp' ? startLr * (endLr / startLr) ** f : startLr + (endLr - startLr) * f;
      for (const g of optimizer.paramGroups) g.lr = lr;
      const loss = tidy(() => {
        optimizer.zeroGrad();
        const l = lossAt(i);
        if (l.size !== 1) throw new Error(`lrRangeTest: lossAt must return a scalar, got shape [${l.shape.join(', ')}]`);
        l.backward();
        optimizer.step();
        return l.item();
      });
      lrs.push(lr);
      losses.push(loss);
      avg = (1 - smoothing) * avg + smoothing * loss;
      const s = avg / (1 - (1 - smoothing) ** (i + 1));
      smoothed.push(s);
      best = Math.min(best, s);
      if (!Number.isFinite(loss) || s > divergeFactor * best) {
        diverged = true;
        break;
      }
    }
  } finally {
    optimizer.zeroGrad();
    optimizer.paramGroups.forEach((g, i) => (g.lr = savedLrs[i]));
    if (restore && savedState) {
      params.forEach((p, i) => {
        p.assign(savedParams[i]);
        savedParams[i].dispose();
      });
      optimizer.loadStateDict(savedState);
      for (const s of Object.values(savedState.state)) for (const v of Object.values(s)) if (isTensor(v)) v.dispose();
    }
  }
  const finite = smoothed.map((v) => (Number.isFinite(v) ? v : Infinity));
  const iMin = finite.indexOf(Math.min(...finite));
  let iSteep = 0;
  let slope = Infinity;
  for (let i = 1; i <= iMin; i++) {
    const d = (finite[i] - finite[i - 1]) / (Math.log(lrs[i]) - Math.log(lrs[i - 1]));
    if (d < slope) {
      slope = d;
      iSteep = i;
    }
  }
  return { lrs, losses, smoothed, steepestLr: lrs[iSteep], minLossLr: lrs[iMin], diverged };
}

/** A copy of a state dict whose tensors survive the optimizer's further steps. */
function copyState(sd: OptimizerStateDict): OptimizerStateDict {
  const state: Record<number, ParamState> = {};
  for (const [k, s] of Object.entries(sd.state)) {
    state[Number(k)] = Object.fromEntries(Object.entries(s).map(([n, v]) => [n, isTensor(v) ? tidy(() => v.contiguous().add(0)).keep() : v]));
  }
  return { state, paramGroups: sd.paramGroups.map((g) => ({ ...g, params: [...g.params] })) };
}
