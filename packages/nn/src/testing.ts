/**
 * `@ml/nn/testing`: checks a backend (or a layer author) can run against the built-in
 * layers. `CHANNELS_LAST_CASES` and `channelsLastPairs` compare every layer that takes
 * `dataFormat` in both layouts on one backend; the nn, wasm and webgpu packages' tests run
 * the same cases.
 */
import { getBackend, manualSeed, permute, randn, setBackend, tidy, type Tensor } from '@ml/tensor';
import type { Layer } from './container.js';
import { Conv1d, Conv2d, type DataFormat } from './conv.js';
import { AvgPool1d, AvgPool2d, GlobalAvgPool2d, GlobalMaxPool2d, MaxPool1d, MaxPool2d } from './pooling.js';

/** [N, C, …spatial] → [N, …spatial, C] */
export const toChannelsLast = (t: Tensor): Tensor => permute(t, [0, ...Array.from({ length: t.ndim - 2 }, (_, i) => i + 2), 1]);

/** One case: its name, the layer in either layout, and the channels-first input shape. */
export type ChannelsLastCase = readonly [name: string, make: (dataFormat: DataFormat) => Layer, shape: readonly number[]];

/** Each layer that takes `dataFormat`, with strides, padding, groups, dilation, a lazy build and an activation among them. */
export const CHANNELS_LAST_CASES: readonly ChannelsLastCase[] = [
  ['Conv2d (stride 2, same, 2 groups)', (dataFormat) => new Conv2d({ inChannels: 4, outChannels: 6, kernelSize: 3, stride: 2, padding: 'same', groups: 2, dataFormat }), [2, 4, 7, 6]],
  ['Conv2d lazy with relu', (dataFormat) => new Conv2d({ outChannels: 3, kernelSize: [2, 3], activation: 'relu', dataFormat }), [2, 3, 5, 6]],
  ['Conv1d (dilation 2)', (dataFormat) => new Conv1d({ inChannels: 3, outChannels: 2, kernelSize: 2, dilation: 2, dataFormat }), [2, 3, 9]],
  ['MaxPool2d (3, stride 2, pad 1)', (dataFormat) => new MaxPool2d({ kernelSize: 3, stride: 2, padding: 1, dataFormat }), [2, 3, 7, 6]],
  ['AvgPool2d (no pad counted)', (dataFormat) => new AvgPool2d({ kernelSize: 3, stride: 2, padding: 1, countIncludePad: false, dataFormat }), [2, 3, 7, 6]],
  ['MaxPool1d', (dataFormat) => new MaxPool1d({ kernelSize: 2, dataFormat }), [2, 3, 8]],
  ['AvgPool1d', (dataFormat) => new AvgPool1d({ kernelSize: 3, stride: 2, dataFormat }), [2, 3, 9]],
  ['GlobalAvgPool2d', (dataFormat) => new GlobalAvgPool2d({ dataFormat }), [2, 3, 4, 5]],
  ['GlobalMaxPool2d', (dataFormat) => new GlobalMaxPool2d({ dataFormat }), [2, 3, 4, 5]],
];

/**
 * On `backend`: a channels-first and a channels-last layer with the same weights, run on x
 * and on x transposed, with the same upstream gradient. Returns pairs [first, last] of
 * (output, input gradient, each weight gradient), the channels-first ones transposed, so
 * each pair should hold equal numbers. Needs autograd loaded (`import '@ml/autograd'`).
 */
export async function channelsLastPairs(backend: string, make: ChannelsLastCase[1], shape: readonly number[]): Promise<[number[], number[]][]> {
  const prev = getBackend().name;
  setBackend(backend);
  try {
    manualSeed(7);
    const tensors = tidy(() => {
      const first = make('channelsFirst');
      const last = make('channelsLast');
      const x = randn(shape).requiresGrad_();
      const xl = toChannelsLast(x.detach()).clone().requiresGrad_();
      const ya = first.forward(x);
      if (first.parameters().length > 0) last.loadStateDict(first.stateDict());
      const yb = last.forward(xl);
      const spatialOut = ya.ndim > 2;
      const g = randn(ya.shape);
      ya.mul(g).sum().backward();
      yb.mul(spatialOut ? toChannelsLast(g) : g).sum().backward();
      const pl = last.parameters();
      const out: [Tensor, Tensor][] = [
        [spatialOut ? toChannelsLast(ya) : ya, yb],
        [toChannelsLast(x.grad!), xl.grad!],
        ...first.parameters().map((p, i): [Tensor, Tensor] => [p.grad!, pl[i].grad!]),
      ];
      // copies outlive the scope (the layers' gradients go with it)
      return out.map(([a, b]) => [a.detach().clone(), b.detach().clone()] as [Tensor, Tensor]);
    });
    if (tensors[0][0].backend.name !== backend) throw new Error(`channelsLastPairs: ran on ${tensors[0][0].backend.name}, not ${backend}`);
    const read = async (t: Tensor) => Array.from(await t.data(), Number);
    const values = await Promise.all(tensors.map(async ([a, b]): Promise<[number[], number[]]> => [await read(a), await read(b)]));
    tensors.flat().forEach((t) => t.dispose());
    return values;
  } finally {
    setBackend(prev);
  }
}
