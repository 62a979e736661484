import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { tensor, type Tensor } from '@ml/tensor';
import { describe, it } from 'vitest';
import { grad, gradcheck, gradgradcheck, valueAndGrad } from '../src/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const x = tensor([0.5, -1, 2], { dtype: 'float64' });
const cube = (t: Tensor): Tensor => t.mul(t).mul(t).sum();

describeOptionsContract(packageDir, { describe, it }, {
  recipes: {
    grad: (o) => grad(cube, { argnums: 0, ...o })(x),
    gradcheck: (o) => gradcheck(cube, [x], o),
    gradgradcheck: (o) => gradgradcheck(cube, [x], o),
    valueAndGrad: (o) => valueAndGrad(cube, { argnums: 0, ...o })(x),
  },
});
