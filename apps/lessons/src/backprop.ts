/**
 * Backpropagation by hand, in the notes' notation (examples are columns):
 *
 *   z_l = W_l a_{l−1} + b_l,  a_l = σ(z_l),  C = 1/(2m) Σ ‖a_L − y‖²
 *   δ_L = ∇_a C ⊙ σ'(z_L) = (a_L − y)/m ⊙ σ'(z_L)
 *   δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l)
 *   ∂C/∂W_l = δ_l a_{l−1}ᵀ,  ∂C/∂b_l = Σ_examples δ_l
 *
 * written with plain tensor ops (no tape), and the same gradients from autograd to compare.
 */
import { valueAndGrad } from '@ml/autograd';
import { lossCurves, type TopLevelSpec } from '@ml/plot';
import {
  add,
  cast,
  gt,
  manualSeed,
  matmul,
  max,
  mean,
  mul,
  noGrad,
  randn,
  relu,
  rand,
  sigmoid,
  sub,
  sum,
  type Tensor,
  tidy,
  abs,
  lt,
  keep,
} from './deps.js';

export type Activation = 'sigmoid' | 'relu';

/** W_l [n_l, n_{l−1}] and b_l [n_l, 1] for each layer; the output layer is a sigmoid. */
export interface Mlp {
  weights: Tensor[];
  biases: Tensor[];
  hidden: Activation;
}

/** A network with layer sizes `sizes` (input first), N(0, 1/n_{l−1}) weights (2/n_{l−1} for ReLU), zero biases. */
export function initMlp(sizes: readonly number[], hidden: Activation): Mlp {
  const weights: Tensor[] = [];
  const biases: Tensor[] = [];
  for (let l = 1; l < sizes.length; l++) {
    const gain = hidden === 'relu' && l < sizes.length - 1 ? 2 : 1;
    weights.push(keep(mul(randn([sizes[l], sizes[l - 1]], { dtype: 'float64' }), Math.sqrt(gain / sizes[l - 1]))));
    biases.push(keep(randn([sizes[l], 1], { dtype: 'float64' }).mul(0)));
  }
  return { weights, biases, hidden };
}

const act = (kind: Activation, z: Tensor): Tensor => (kind === 'relu' ? relu(z) : sigmoid(z));
/** σ'(z): σ(z)(1 − σ(z)) for the sigmoid, 1 where z > 0 for ReLU */
function actPrime(kind: Activation, z: Tensor): Tensor {
  if (kind === 'relu') return cast(gt(z, 0), z.dtype);
  const s = sigmoid(z);
  return mul(s, sub(1, s));
}
const layerAct = (net: Mlp, l: number): Activation => (l === net.weights.length - 1 ? 'sigmoid' : net.hidden);

/** The cost C = 1/(2m) Σ ‖a_L − y‖² of a network given as tensors (differentiable). */
function cost(weights: readonly Tensor[], biases: readonly Tensor[], hidden: Activation, x: Tensor, y: Tensor): Tensor {
  let a = x;
  weights.forEach((w, l) => {
    a = act(l === weights.length - 1 ? 'sigmoid' : hidden, add(matmul(w, a), biases[l]));
  });
  const d = sub(a, y);
  return mul(sum(mul(d, d)), 0.5 / x.shape[1]);
}

export interface Gradients {
  cost: number;
  dW: Tensor[];
  db: Tensor[];
}

/** The four equations of backpropagation, by hand: x [d, m], y [1, m]. */
export function backprop(net: Mlp, x: Tensor, y: Tensor): Gradients {
  return noGrad(() => {
    const m = x.shape[1];
    const zs: Tensor[] = [];
    const as: Tensor[] = [x];
    net.weights.forEach((w, l) => {
      const z = add(matmul(w, as[l]), net.biases[l]);
      zs.push(z);
      as.push(act(layerAct(net, l), z));
    });
    const L = net.weights.length - 1;
    const err = sub(as[L + 1], y);
    const c = mul(sum(mul(err, err)), 0.5 / m).item();
    const dW: Tensor[] = new Array<Tensor>(L + 1);
    const db: Tensor[] = new Array<Tensor>(L + 1);
    // δ_L = (a_L − y)/m ⊙ σ'(z_L)
    let delta = mul(mul(err, 1 / m), actPrime('sigmoid', zs[L]));
    for (let l = L; l >= 0; l--) {
      dW[l] = matmul(delta, as[l].T); // ∂C/∂W_l = δ_l a_{l−1}ᵀ
      db[l] = sum(delta, 1, true); //    ∂C/∂b_l = Σ δ_l
      // δ_{l−1} = (W_lᵀ δ_l) ⊙ σ'(z_{l−1})
      if (l > 0) delta = mul(matmul(net.weights[l].T, delta), actPrime(layerAct(net, l - 1), zs[l - 1]));
    }
    return { cost: c, dW, db };
  });
}

/** The same gradients from autograd. */
export function autogradGradients(net: Mlp, x: Tensor, y: Tensor): Gradients {
  const params = [...net.weights, ...net.biases];
  const n = net.weights.length;
  const [c, g] = valueAndGrad((ps: Tensor[]) => cost(ps.slice(0, n), ps.slice(n), net.hidden, x, y))(params);
  return { cost: c.item(), dW: g.slice(0, n), db: g.slice(n) };
}

/** Largest |a − b| over all gradient entries. */
export function maxDifference(a: Gradients, b: Gradients): number {
  let worst = 0;
  [...a.dW, ...a.db].forEach((t, i) => {
    const u = [...b.dW, ...b.db][i];
    worst = Math.max(worst, max(abs(sub(t, u))).item());
  });
  return worst;
}

/** Points in [−1, 1]², label 1 inside the circle of radius 0.6: x [2, m], y [1, m]. */
export function circles(m: number): { x: Tensor; y: Tensor } {
  const x = keep(sub(mul(rand([2, m], { dtype: 'float64' }), 2), 1));
  const r2 = sum(mul(x, x), 0, true);
  return { x, y: keep(cast(lt(r2, 0.36), 'float64')) };
}

export interface BackpropOptions {
  /** layer sizes, input first (default [2, 8, 8, 1]) */
  sizes?: readonly number[];
  hidden?: Activation;
  epochs?: number;
  lr?: number;
  points?: number;
  seed?: number;
}

export interface BackpropResult {
  sizes: number[];
  hidden: Activation;
  /** the cost before each update */
  losses: number[];
  /** max |hand-written − autograd| over every ∂W, ∂b entry, at the first and the last step */
  maxDiff: { first: number; last: number };
  accuracy: number;
  chart: TopLevelSpec;
}

/** Train by gradient descent with hand-written backprop; check it against autograd on the way. */
export function trainBackprop(o: BackpropOptions = {}): BackpropResult {
  const sizes = [...(o.sizes ?? [2, 8, 8, 1])];
  const hidden = o.hidden ?? 'sigmoid';
  const epochs = o.epochs ?? 3000;
  const lr = o.lr ?? 5;
  manualSeed(o.seed ?? 42);
  const { x, y } = circles(o.points ?? 200);
  const net = initMlp(sizes, hidden);
  const losses: number[] = [];
  const maxDiff = { first: 0, last: 0 };
  for (let epoch = 0; epoch < epochs; epoch++) {
    tidy(() => {
      const g = backprop(net, x, y);
      if (epoch === 0 || epoch === epochs - 1) {
        const d = maxDifference(g, autogradGradients(net, x, y));
        if (epoch === 0) maxDiff.first = d;
        maxDiff.last = d;
      }
      losses.push(g.cost);
      // W_l ← W_l − η ∂C/∂W_l (in place: the same tensors stay the network's)
      net.weights.forEach((w, l) => w.assign(sub(w, mul(g.dW[l], lr))));
      net.biases.forEach((b, l) => b.assign(sub(b, mul(g.db[l], lr))));
    });
  }
  const accuracy = tidy(() => {
    let a = x;
    net.weights.forEach((w, l) => (a = act(layerAct(net, l), add(matmul(w, a), net.biases[l]))));
    return mean(cast(gt(a, 0.5), 'float64').sub(y).abs().neg().add(1)).item();
  });
  const chart = lossCurves({ loss: losses }, { title: `Hand-written backprop, ${sizes.join('-')} ${hidden} MLP: cost C = ½‖a_L − y‖² / m`, logLoss: true });
  return { sizes, hidden, losses, maxDiff, accuracy, chart };
}
