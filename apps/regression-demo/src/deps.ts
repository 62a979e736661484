// The tensor API this app uses, in one place.
export { add, manualSeed, mean, mul, randn, rand, sub, sum, tensor, tidy, type Tensor } from '@ml/tensor';
export { noGrad } from '@ml/autograd';
