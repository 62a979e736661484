/**
 * Vanishing gradients: backpropagation multiplies the error by W_{l+1}ᵀ and by σ'(z_l) at
 * every layer (δ_l = (W_{l+1}ᵀ δ_{l+1}) ⊙ σ'(z_l)). The sigmoid's σ' is at most ¼, so with
 * weights of unit gain δ shrinks about 4× per layer and the first layers hardly learn;
 * ReLU's derivative is 1 where the unit is on, and He's initialization (variance
 * 2/fan_in) keeps ‖δ‖ about level from layer to layer.
 */
import { backward } from '@ml/autograd';
import { SCHEMA, type TopLevelSpec } from '@ml/plot';
import { keep, manualSeed, matmul, mean, mul, randn, relu, sigmoid, sqrt, sub, sum, tidy } from './deps.js';
import type { Activation } from './backprop.js';

export interface VanishingOptions {
  /** number of weight layers (default 10) */
  depth?: number;
  /** units per hidden layer (default 64) */
  width?: number;
  /** examples in the batch (default 64) */
  batch?: number;
  seed?: number;
}

/** ‖∂C/∂W_l‖ (Frobenius) for l = 1 … depth, first layer first. */
export function gradientNorms(activation: Activation, o: VanishingOptions = {}): number[] {
  const depth = o.depth ?? 10;
  const width = o.width ?? 64;
  const batch = o.batch ?? 64;
  manualSeed(o.seed ?? 42);
  return tidy(() => {
    const x = randn([batch, width], { dtype: 'float64' });
    const y = randn([batch, 1], { dtype: 'float64' });
    // sigmoid: LeCun/Xavier-style variance 1/fan_in; ReLU: He, 2/fan_in
    const gain = activation === 'relu' ? 2 : 1;
    const weights = Array.from({ length: depth }, (_, l) => {
      const out = l === depth - 1 ? 1 : width;
      const w = keep(mul(randn([width, out], { dtype: 'float64' }), Math.sqrt(gain / width)));
      w.requiresGrad = true;
      return w;
    });
    let a = x;
    weights.forEach((w, l) => {
      const z = matmul(a, w);
      a = l === depth - 1 ? z : activation === 'relu' ? relu(z) : sigmoid(z);
    });
    const d = sub(a, y);
    backward(mul(mean(mul(d, d)), 0.5));
    const norms = weights.map((w) => sqrt(sum(mul(w.grad!, w.grad!))).item());
    for (const w of weights) {
      w.grad!.dispose();
      w.dispose();
    }
    return norms;
  });
}

export interface VanishingResult {
  depth: number;
  sigmoid: number[];
  relu: number[];
  chart: TopLevelSpec;
}

export function vanishing(o: VanishingOptions = {}): VanishingResult {
  const sig = gradientNorms('sigmoid', o);
  const rel = gradientNorms('relu', o);
  const rows = [
    ...sig.map((norm, i) => ({ layer: i + 1, norm, activation: 'sigmoid' })),
    ...rel.map((norm, i) => ({ layer: i + 1, norm, activation: 'ReLU (He init)' })),
  ];
  const chart: TopLevelSpec = {
    $schema: SCHEMA,
    title: `Gradient norm per layer at initialization, ${sig.length}-layer MLP (log scale)`,
    background: 'white',
    width: 480,
    height: 300,
    data: { values: rows },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'layer', type: 'quantitative', title: 'layer l (1 = next to the input)', axis: { tickMinStep: 1 } },
      y: { field: 'norm', type: 'quantitative', scale: { type: 'log' }, title: '‖∂C/∂W_l‖' },
      color: { field: 'activation', type: 'nominal', title: null },
    },
  };
  return { depth: sig.length, sigmoid: sig, relu: rel, chart };
}

/** The ratio first layer / last layer, the number the lesson is about. */
export const firstOverLast = (norms: readonly number[]): number => norms[0] / norms[norms.length - 1];
