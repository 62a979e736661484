/** The workloads every system runs, with their units. */
import { closest } from '@ml/cli-kit';

export interface Workload {
  id: string;
  title: string;
  unit: string;
  /** true when a larger value is better (GFLOP/s) */
  higherIsBetter: boolean;
  /**
   * Its group: the runner gives every system one group before any starts the next, in
   * alternating order, so each row's numbers come from minutes apart on a VM whose speed
   * drifts (a group's setup — a backend, the MNIST images — is per group).
   */
  group: number;
}

export const MATMUL_SIZES = [256, 512, 1024, 2048] as const;

/** The convolution rows: the MNIST CNN's two layers, 3×3, batch 64, forward and backward. */
export const CONVS = [
  { id: 'conv1', cin: 1, hw: 28, cout: 32 },
  { id: 'conv2', cin: 32, hw: 13, cout: 64 },
] as const;

export const WORKLOADS: Workload[] = [
  // what no product in WebAssembly can beat here: ml-wasm's row only
  { id: 'fmaPeak', title: 'ceiling: f32x4 multiply-adds on registers, all threads (WebAssembly)', unit: 'GFLOP/s', higherIsBetter: true, group: 0 },
  ...MATMUL_SIZES.map((n) => ({ id: `matmul${n}`, title: `matmul ${n}×${n}, fp32`, unit: 'GFLOP/s', higherIsBetter: true, group: 0 })),
  ...CONVS.map((c) => ({ id: c.id, title: `conv2d fwd+bwd [64,${c.cin},${c.hw},${c.hw}] → ${c.cout} ch 3×3`, unit: 'ms', higherIsBetter: false, group: 1 })),
  { id: 'mlpEpoch', title: 'MNIST MLP 784-128-128-10 epoch (Adam, batch 64, 60k)', unit: 's', higherIsBetter: false, group: 2 },
  { id: 'cnnStep', title: 'MNIST CNN training step (conv32-pool-conv64-pool-dense10, batch 64)', unit: 'ms', higherIsBetter: false, group: 3 },
];

export interface Budget {
  /** timed milliseconds per measurement, at most */
  budgetMs: number;
  /** training steps at most for the MLP epoch (the rest of the epoch is extrapolated) */
  mlpSteps: number;
  /** CNN steps at most (50 in a full run) */
  cnnSteps: number;
}

/** The workload ids of each group, in order (see Workload.group). */
export const GROUPS: readonly (readonly string[])[] = WORKLOADS.reduce<string[][]>((groups, w) => {
  (groups[w.group] ??= []).push(w.id);
  return groups;
}, []);

/** The message for a value outside `valid` (a system, a row id): it names the closest valid ones and lists them all. */
export function unknownChoice(what: string, got: string, valid: readonly string[]): string {
  const near = closest(got, valid).slice(0, 2);
  return `unknown ${what} '${got}'${near.length > 0 ? `; did you mean ${near.join(' or ')}?` : ''} (choose from ${valid.join(', ')})`;
}
