/** The workloads every system runs, with their units. */
export interface Workload {
  id: string;
  title: string;
  unit: string;
  /** true when a larger value is better (GFLOP/s) */
  higherIsBetter: boolean;
}

export const MATMUL_SIZES = [256, 512, 1024, 2048] as const;

export const WORKLOADS: Workload[] = [
  // what no product in WebAssembly can beat here: ml-wasm's row only
  { id: 'fmaPeak', title: 'ceiling: f32x4 multiply-adds on registers, all threads (WebAssembly)', unit: 'GFLOP/s', higherIsBetter: true },
  ...MATMUL_SIZES.map((n) => ({ id: `matmul${n}`, title: `matmul ${n}×${n}, fp32`, unit: 'GFLOP/s', higherIsBetter: true })),
  { id: 'conv1', title: 'conv2d fwd+bwd [64,1,28,28] → 32 ch 3×3', unit: 'ms', higherIsBetter: false },
  { id: 'conv2', title: 'conv2d fwd+bwd [64,32,13,13] → 64 ch 3×3', unit: 'ms', higherIsBetter: false },
  { id: 'mlpEpoch', title: 'MNIST MLP 784-128-128-10 epoch (Adam, batch 64, 60k)', unit: 's', higherIsBetter: false },
  { id: 'cnnStep', title: 'MNIST CNN training step (conv32-pool-conv64-pool-dense10, batch 64)', unit: 'ms', higherIsBetter: false },
];

export interface Budget {
  /** timed milliseconds per measurement, at most */
  budgetMs: number;
  /** training steps at most for the MLP epoch (the rest of the epoch is extrapolated) */
  mlpSteps: number;
  /** CNN steps at most (50 in a full run) */
  cnnSteps: number;
}

/**
 * The workloads in the groups the runner interleaves: every system runs one group before
 * any runs the next, in alternating order, so each row's numbers come from minutes apart
 * on a VM whose speed drifts (a group's setup — a backend, the MNIST images — is per group).
 */
export const GROUPS: readonly (readonly string[])[] = [
  ['fmaPeak', ...MATMUL_SIZES.map((n) => `matmul${n}`)],
  ['conv1', 'conv2'],
  ['mlpEpoch'],
  ['cnnStep'],
];
