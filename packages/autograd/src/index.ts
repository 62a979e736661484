/**
 * @ml/autograd — reverse-mode automatic differentiation over @ml/tensor's op set.
 * Importing it installs the engine, so `loss.backward()` works on any tensor.
 */
export { backward, noGrad, enableGrad, isGradEnabled } from './engine.js';
export { grad, valueAndGrad, vjp, jacobian, hessian, hvp, type GradOptions, type GradTree, type TensorTree } from './functional.js';
export { gradcheck, gradgradcheck, type GradcheckOptions, type GradcheckResult } from './gradcheck.js';
export type { GradRule } from '@ml/tensor/backend';
