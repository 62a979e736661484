import '@ml/autograd';
import { tensor, tidy, type Tensor } from '@ml/tensor';
import type { Optimizer } from '../src/index.js';

/** f(x, y) = (1 − x)² + 100(y − x²)², minimum 0 at (1, 1). */
export const rosenbrock = (z: Tensor): Tensor => {
  const x = z.index(0);
  const y = z.index(1);
  return x.neg().add(1).square().add(y.sub(x.square()).square().mul(100));
};

export const A = [
  [3, 0.5],
  [0.5, 1],
];
export const bq = [1, -1];
const At = tensor(A, { dtype: 'float64' }).keep();
const bt = tensor(bq, { dtype: 'float64' }).keep();
/** ½zᵀAz − bᵀz with A = [[3, .5], [.5, 1]], b = [1, −1]. */
export const quadratic = (z: Tensor): Tensor => z.matmul(At).dot(z).mul(0.5).sub(bt.dot(z));

/** `steps` optimizer steps on f, each in its own tidy; `each(i)` after step i. */
export function run(opt: Optimizer, z: Tensor, f: (z: Tensor) => Tensor, steps: number, each?: (i: number) => void): void {
  for (let i = 0; i < steps; i++) {
    tidy(() => {
      opt.zeroGrad();
      f(z).backward();
      opt.step();
    });
    each?.(i);
  }
}
