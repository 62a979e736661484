/**
 * @ml/autograd/testing — a worked example of adding an op (softsign: its composite, gradient
 * rule and fused kernel in one file) and the check each backend's test suite runs on it.
 */
export { checkCustomOp, softsign, softsignKernelCalls, softsignOp } from './custom-op.js';
