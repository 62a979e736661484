/** Conformance cases: convolution (forward and gradients) and pooling. */
import {
  avgPool1d,
  avgPool2d,
  conv1d,
  conv2d,
  conv2dBackwardInput,
  conv2dBackwardWeight,
  full,
  maxPool1d,
  maxPool2d,
  tensor,
  type Tensor,
} from '../index.js';
import { assertClose, assert, pattern } from './assert.js';
import { type CaseDef, f32, i32 } from './case-helpers.js';

export const CONV_CASES: CaseDef[] = [
  // ------------------------------------------------------------ convolution (numpy loops: test/fixtures/conformance_fixtures.py)
  [
    // x = pattern([2,2,7],5,2,0.5); w = pattern([3,2,3],4,1.5,0.25); b = [0.1,-0.2,0.3]
    // numpy: y[n,o,t] = b[o] + sum_{c,k} x[n,c,t+k] * w[o,c,k]   (conv1d_ref)
    'conv1d: basic with bias',
    async () => {
      const x = pattern([2, 2, 7], 5, 2, 0.5);
      const w = pattern([3, 2, 3], 4, 1.5, 0.25);
      await assertClose(conv1d(x, w, tensor([0.1, -0.2, 0.3])), [
        [[0.225, 0.2875, 0.975, -0.525, -0.4625], [-0.075, -0.7625, -0.825, 0.675, -0.0125], [0.425, 0.4875, 1.175, -0.325, -0.2625]],
        [[-0.4625, 0.225, 0.2875, 0.975, -0.525], [-0.0125, -0.075, -0.7625, -0.825, 0.675], [-0.2625, 0.425, 0.4875, 1.175, -0.325]],
      ], f32);
    },
  ],
  [
    // x = pattern([1,2,9],7,3,1); w = pattern([2,2,3],5,2,0.5); numpy: conv1d_ref(x, w, None, stride=2, pad=(1,1), dil=2)
    'conv1d: stride 2, padding 1, dilation 2; [C,L] input',
    async () => {
      const x = pattern([1, 2, 9], 7, 3, 1);
      const w = pattern([2, 2, 3], 5, 2, 0.5);
      const expected = [[-1.0, 7.0, -2.0, -3.0], [-1.0, 1.5, 4.0, -3.0]];
      await assertClose(conv1d(x, w, null, { stride: 2, padding: 1, dilation: 2 }), [expected], f32);
      await assertClose(conv1d(x.squeeze(0), w, null, { stride: 2, padding: 1, dilation: 2 }), expected, f32);
    },
  ],
  [
    // x = pattern([1,1,6],4,1,1); w = pattern([1,1,4],3,1,1); 'same' with k=4: total pad 3 → left 1, right 2
    'conv1d: padding "same" with an even kernel (extra pad on the right)',
    async () => {
      const x = pattern([1, 1, 6], 4, 1, 1);
      const w = pattern([1, 1, 4], 3, 1, 1);
      await assertClose(conv1d(x, w, null, { padding: 'same' }), [[[-1.0, 0.0, 3.0, -2.0, -2.0, 1.0]]], f32);
    },
  ],
  [
    // x = pattern([2,2,5,5],7,3,0.5); w = pattern([3,2,3,3],5,2,0.25); b = [0.5,-1,0.25]; numpy: conv2d_ref(x, w, b)
    'conv2d: basic 3x3 with bias, batch 2',
    async () => {
      const x = pattern([2, 2, 5, 5], 7, 3, 0.5);
      const w = pattern([3, 2, 3, 3], 5, 2, 0.25);
      await assertClose(conv2d(x, w, tensor([0.5, -1, 0.25])), [
        [[[4.125, 2.875, 2.5], [-2.125, -0.75, 4.125], [-1.375, -1.75, -2.125]], [[-2.125, -3.75, -2.75], [3.75, 0.375, -2.125], [-0.875, -1.625, 3.75]], [[0.625, 2.375, -0.25], [-2.0, -2.0, 0.625], [2.375, 0.625, -2.0]]],
        [[[2.875, 2.5, -1.375], [-0.75, 4.125, 2.875], [-1.75, -2.125, -0.75]], [[-3.75, -2.75, -0.875], [0.375, -2.125, -3.75], [-1.625, 3.75, 0.375]], [[2.375, -0.25, 2.375], [-2.0, 0.625, 2.375], [0.625, -2.0, -2.0]]],
      ], f32);
    },
  ],
  [
    // x = pattern([1,2,6,5],9,4,0.5); w = pattern([2,2,3,3],4,1,0.5); numpy: conv2d_ref(x, w, None, (2,2), (1,1,1,1))
    'conv2d: stride 2, padding 1 (number), non-square input',
    async () => {
      const x = pattern([1, 2, 6, 5], 9, 4, 0.5);
      const w = pattern([2, 2, 3, 3], 4, 1, 0.5);
      await assertClose(conv2d(x, w, null, { stride: 2, padding: 1 }), [
        [[[0.0, -0.75, -2.75], [1.75, 1.25, -5.25], [0.5, -3.75, -2.0]], [[-3.5, -2.25, 0.75], [-4.75, -2.75, 2.25], [-0.5, 2.25, -2.5]]],
      ], f32);
    },
  ],
  [
    // the same x and w, dy = pattern([1,2,3,3],5,2,0.5); numpy: conv2d_grads_ref(x, w, dy, (2,2), (1,1,1,1))
    // (PyTorch's torch.nn.grad.conv2d_input / conv2d_weight give the same numbers)
    'conv2d gradients: stride 2, padding 1 — the input gradient (through col2im) and the weight gradient',
    async () => {
      const x = pattern([1, 2, 6, 5], 9, 4, 0.5);
      const w = pattern([2, 2, 3, 3], 4, 1, 0.5);
      const dy = pattern([1, 2, 3, 3], 5, 2, 0.5);
      const p = { kernel: [3, 3], stride: [2, 2], dilation: [1, 1], pad: [1, 1, 1, 1], padValue: 0 } as const;
      await assertClose(conv2dBackwardInput(dy, w, [1, 2, 6, 5], p), [
        [
          [[1.0, 0.5, -0.25, -1.0, -0.25], [-1.0, 1.25, 0.0, 1.25, 1.0], [-0.25, 1.0, -0.25, -0.5, 1.0], [-0.5, 0.0, 0.5, -1.25, -1.0], [-0.25, -1.0, -0.25, 0.0, -0.25], [-0.5, 0.0, 0.0, 0.0, 0.5]],
          [[1.0, -1.25, -1.0, 0.0, -0.5], [1.25, 1.5, 0.0, 1.0, -1.25], [0.0, 0.0, 0.5, 1.25, 1.0], [0.0, 0.0, 0.0, -0.5, 1.25], [-1.0, 0.0, -0.5, 0.0, 0.0], [-0.25, -1.0, -0.25, 0.0, -0.25]],
        ],
      ], f32);
      await assertClose(conv2dBackwardWeight(dy, x, [2, 2, 3, 3], p), [
        [[[-2.0, 2.5, 1.75], [0.0, 1.75, 1.5], [2.25, 1.5, -4.25]], [[-1.25, 1.0, -1.25], [0.0, -2.0, 0.75], [0.0, -2.25, 1.75]]],
        [[[1.75, -3.25, 0.5], [1.5, 0.25, -0.75], [-4.25, -1.0, -3.25]], [[-1.25, 1.25, 1.25], [0.75, -0.5, -2.25], [1.75, 5.0, -0.25]]],
      ], f32);
    },
  ],
  [
    // x = pattern([1,1,4,5],6,2,1); w = pattern([2,1,2,2],3,1,1); 'same' 2x2 → pad (top 0, bottom 1, left 0, right 1)
    // w3 = pattern([1,1,3,3],4,2,0.5); 'same' 3x3 → pad 1 all round
    'conv2d: padding "same" (even kernel pads bottom/right; odd kernel symmetric)',
    async () => {
      const x = pattern([1, 1, 4, 5], 6, 2, 1);
      await assertClose(conv2d(x, pattern([2, 1, 2, 2], 3, 1, 1), null, { padding: 'same' }), [
        [
          [[7.0, 0.0, -1.0, -2.0, -1.0], [-4.0, 7.0, 0.0, -1.0, -1.0], [-3.0, -4.0, 7.0, 0.0, -1.0], [-1.0, -2.0, -3.0, 2.0, 1.0]],
          [[-4.0, 2.0, 2.0, 2.0, -1.0], [-4.0, -4.0, 2.0, 2.0, 0.0], [2.0, -4.0, -4.0, 2.0, 1.0], [2.0, 3.0, -2.0, -1.0, 0.0]],
        ],
      ], f32);
      await assertClose(conv2d(x, pattern([1, 1, 3, 3], 4, 2, 0.5), null, { padding: 'same' }), [
        [[[6.0, 0.0, -1.5, -3.0, -1.0], [-3.0, 10.0, 1.0, -2.0, -3.0], [-6.5, -5.0, 10.0, 1.0, -1.5], [-3.0, -6.5, -3.0, 6.5, 1.0]]],
      ], f32);
    },
  ],
  [
    // same x, w3 as above; numpy: conv2d_ref(x, w3) (no padding)
    'conv2d: padding "valid"',
    async () => {
      const x = pattern([1, 1, 4, 5], 6, 2, 1);
      const w = pattern([1, 1, 3, 3], 4, 2, 0.5);
      await assertClose(conv2d(x, w, null, { padding: 'valid' }), [[[[10.0, 1.0, -2.0], [-5.0, 10.0, 1.0]]]], f32);
    },
  ],
  [
    // x = pattern([1,1,7,6],8,3,0.5); w = pattern([1,1,3,2],5,2,1); numpy: conv2d_ref(x, w, None, (1,1), (2,2,1,1), (2,2))
    'conv2d: dilation 2 with padding [2, 1]',
    async () => {
      const x = pattern([1, 1, 7, 6], 8, 3, 0.5);
      const w = pattern([1, 1, 3, 2], 5, 2, 1);
      await assertClose(conv2d(x, w, null, { dilation: 2, padding: [2, 1] }), [
        [[
          [-3.0, -2.5, -2.0, 6.5, 7.0, -3.0], [2.0, -3.5, -3.0, -2.5, -2.0, 3.0], [4.0, 3.0, 2.0, -3.0, -4.0, 0.0], [-6.0, 5.0, 4.0, 3.0, 2.0, 0.0],
          [-4.0, -5.0, -6.0, 5.0, 4.0, 0.0], [2.0, -1.0, -2.0, -3.0, -4.0, -3.0], [2.0, 5.0, 4.0, -1.0, -2.0, -1.0],
        ]],
      ], f32);
    },
  ],
  [
    // x = pattern([1,4,4,4],9,4,0.5); w = pattern([4,2,3,3],7,3,0.25); b = [1,0,-1,0.5]
    // numpy: conv2d_ref(x, w, b, (1,1), (1,1,1,1), (1,1), groups=2) — out channel o reads in channels (o // 2)*2 + [0,1]
    'conv2d: groups=2 with padding 1 and bias',
    async () => {
      const x = pattern([1, 4, 4, 4], 9, 4, 0.5);
      const w = pattern([4, 2, 3, 3], 7, 3, 0.25);
      await assertClose(conv2d(x, w, tensor([1, 0, -1, 0.5]), { groups: 2, padding: 1 }), [
        [
          [[-0.625, 3.625, 0.25, -1.75], [2.0, 5.25, 1.125, 2.375], [0.625, 0.0, 2.625, -1.375], [0.375, 0.25, 2.375, 2.125]],
          [[1.75, 1.375, 1.25, 2.25], [-5.375, -2.75, 4.375, -3.125], [0.75, -0.125, 2.5, 1.75], [-2.0, -2.5, -1.625, 1.375]],
          [[2.25, 1.75, 1.5, 1.5], [-5.75, -2.875, 0.25, -4.375], [2.125, 0.625, 1.5, 1.0], [-3.5, -4.25, -2.625, 0.375]],
          [[-4.0, -1.125, 2.75, -1.375], [3.625, 2.125, 1.0, 2.75], [-3.625, -5.75, -2.375, 3.25], [1.25, 2.0, 1.5, 2.375]],
        ],
      ], f32);
    },
  ],
  [
    // x = pattern([2,4,3],5,2,1) as [C,H,W]; w = pattern([1,2,2,2],3,1,1); numpy: conv2d_ref(x[None], w)[0]
    'conv2d: unbatched [C,H,W] input; non-contiguous input',
    async () => {
      const x = pattern([2, 4, 3], 5, 2, 1);
      const w = pattern([1, 2, 2, 2], 3, 1, 1);
      const expected = [[[4.0, 8.0], [-4.0, -5.0], [8.0, -3.0]]];
      await assertClose(conv2d(x, w), expected, f32);
      // the same image stored transposed in H/W, transposed back into a non-contiguous view
      const xt = x.transpose(1, 2).contiguous().transpose(1, 2);
      await assertClose(conv2d(xt, w), expected, { ...f32, label: 'non-contiguous input' });
    },
  ],
  [
    // x = pattern([1,2,4,4],7,3,1); numpy pool2d_ref max, kernel 2, stride 2
    'maxPool2d: kernel 2 (stride defaults to kernel)',
    async () => {
      const x = pattern([1, 2, 4, 4], 7, 3, 1);
      await assertClose(maxPool2d(x, { kernelSize: 2 }), [[[[2.0, 3.0], [3.0, 1.0]], [[3.0, 2.0], [1.0, 3.0]]]], f32);
      await assertClose(maxPool2d(x.squeeze(0), { kernelSize: 2 }), [[[2.0, 3.0], [3.0, 1.0]], [[3.0, 2.0], [1.0, 3.0]]], f32);
    },
  ],
  [
    // x = pattern([1,1,5,5],9,6,1) (mostly negative, so padding must act as -inf); numpy pool2d_ref(k3, s2, p1)
    'maxPool2d: kernel 3, stride 2, padding 1 (padding never wins); dilation 2',
    async () => {
      const x = pattern([1, 1, 5, 5], 9, 6, 1);
      await assertClose(maxPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), [[[[0.0, 2.0, 2.0], [1.0, 2.0, 2.0], [1.0, 2.0, 0.0]]]], f32);
      // x2 = pattern([1,1,5,5],11,5,1); numpy pool2d_ref(k2, s1, p0, d2)
      const x2 = pattern([1, 1, 5, 5], 11, 5, 1);
      await assertClose(maxPool2d(x2, { kernelSize: 2, stride: 1, dilation: 2 }), [[[[5.0, -2.0, -1.0], [2.0, 3.0, 4.0], [5.0, 5.0, -2.0]]]], f32);
      const allNeg = full([1, 1, 2, 2], -5);
      await assertClose(maxPool2d(allNeg, { kernelSize: 2, stride: 1, padding: 1 }), [[[[-5, -5, -5], [-5, -5, -5], [-5, -5, -5]]]], f32);
    },
  ],
  [
    // maxPool2d pads with -inf (ops/conv.ts poolParams padValue), which an int32 buffer cannot hold: the
    // CPU im2col writes 0 instead, so padding wins over negative values. Either reject int input or
    // compute it right. Expected (by hand, as for float32): windows of [[-5,-3],[-2,-4]] padded by 1.
    'maxPool2d: int32 input with padding is rejected or exact',
    async () => {
      const expected = [[[[-5, -3, -3], [-2, -2, -3], [-2, -2, -4]]]];
      await assertClose(maxPool2d(tensor([[[[-5, -3], [-2, -4]]]]), { kernelSize: 2, stride: 1, padding: 1 }), expected, { ...f32, label: 'float32' });
      let out: Tensor | null = null;
      try {
        out = maxPool2d(tensor([[[[-5, -3], [-2, -4]]]], i32), { kernelSize: 2, stride: 1, padding: 1 });
      } catch (e) {
        assert(e instanceof Error && /int32|float|dtype/.test(e.message), `int32 maxPool2d threw an unclear error: ${String(e)}`);
      }
      if (out !== null) await assertClose(out, expected, { label: 'int32' });
    },
  ],
  [
    // x = pattern([1,2,4,4],7,3,1); numpy pool2d_ref avg, kernel 2
    'avgPool2d: kernel 2, stride 2',
    async () => {
      const x = pattern([1, 2, 4, 4], 7, 3, 1);
      await assertClose(avgPool2d(x, { kernelSize: 2 }), [[[[-0.5, -0.25], [0.5, -1.0]], [[-0.25, 0.0], [-1.0, 1.0]]]], f32);
    },
  ],
  [
    // x = pattern([1,1,5,5],9,6,1); numpy pool2d_ref avg k3 s2 p1 with include_pad True (÷9) and False (÷ real count)
    'avgPool2d: padding with countIncludePad true (default) and false',
    async () => {
      const x = pattern([1, 1, 5, 5], 9, 6, 1);
      const incl = [[[[-1.33333333, -1.0, -1.0], [-1.0, -1.0, -2.0], [-0.666666667, -1.0, -1.33333333]]]];
      await assertClose(avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1 }), incl, f32);
      await assertClose(avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: true }), incl, f32);
      await assertClose(avgPool2d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), [
        [[[-3.0, -1.5, -2.25], [-1.5, -1.0, -3.0], [-1.5, -1.5, -3.0]]],
      ], f32);
    },
  ],
  [
    // x = pattern([1,2,5],7,5,1); numpy pool2d_ref on x[:, :, None, :] with kernel (1,2), stride 1, padding (0,1)
    'maxPool1d: kernel 2, stride 1, padding 1',
    async () => {
      const x = pattern([1, 2, 5], 7, 5, 1);
      await assertClose(maxPool1d(x, { kernelSize: 2, stride: 1, padding: 1 }), [[[-5.0, -4.0, -3.0, -2.0, -1.0, -1.0], [0.0, 1.0, 1.0, -4.0, -3.0, -3.0]]], f32);
      await assertClose(maxPool1d(tensor([[1, 3, 2, 5]]), { kernelSize: 2 }), [[3, 5]], f32);
    },
  ],
  [
    // x = pattern([1,2,5],7,5,1); numpy pool2d_ref avg kernel (1,3), stride (1,2), padding (0,1), include_pad True/False
    'avgPool1d: kernel 3, stride 2, padding 1, countIncludePad both',
    async () => {
      const x = pattern([1, 2, 5], 7, 5, 1);
      await assertClose(avgPool1d(x, { kernelSize: 3, stride: 2, padding: 1 }), [[[-3.0, -3.0, -1.0], [0.333333333, -2.66666667, -2.33333333]]], f32);
      await assertClose(avgPool1d(x, { kernelSize: 3, stride: 2, padding: 1, countIncludePad: false }), [[[-4.5, -3.0, -1.5], [0.5, -2.66666667, -3.5]]], f32);
    },
  ],
];
