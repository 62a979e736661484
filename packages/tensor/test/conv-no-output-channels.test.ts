import { describe, expect, it } from 'vitest';
import { conv2dBackwardInput, conv2dBackwardWeight, conv2d, randn, zeros } from '../src/index.js';

// Found by the differential backend test (issue 17): with no output channels the CPU
// kernels took the patch length as the weight's size over O (0 / 0), and the input's
// gradient came out NaN instead of 0.
describe('conv2d with no output channels', () => {
  const p = { kernel: [2, 1] as const, stride: [1, 1] as const, dilation: [1, 1] as const, pad: [1, 0, 0, 0] as const, padValue: 0 };
  it.each(['float32', 'float64'] as const)('gives an empty output and zero gradients (%s)', (dtype) => {
    const x = randn([2, 3, 4, 5], { dtype });
    const w = zeros([0, 3, 2, 1], { dtype });
    expect(conv2d(x, w, null, { padding: [1, 0] }).shape).toEqual([2, 0, 5, 5]);
    const dx = conv2dBackwardInput(zeros([2, 0, 4, 5], { dtype }), w, [2, 3, 4, 5], p);
    expect(Array.from(dx.dataSync())).toEqual(new Array(2 * 3 * 4 * 5).fill(0));
    expect(conv2dBackwardWeight(zeros([2, 0, 4, 5], { dtype }), x, [0, 3, 2, 1], p).shape).toEqual([0, 3, 2, 1]);
  });
});
