import { abs, checkOptions, clamp, formatShape, gather, isFloat, log, logSoftmax, maximum, ne, softmaxCrossEntropy, softplus, sum, where, zerosLike, type Tensor, optionKeys } from '@ml/tensor';
import { Module, type ModuleOptions } from './module.js';

/**
 * What a loss reads as its input: raw scores (`logits`), `probabilities` in [0, 1] (a
 * sigmoid's or softmax's output), `log-probabilities` (a logSoftmax's output), or
 * plain `values` (regression).
 */
export type LossInput = 'logits' | 'probabilities' | 'log-probabilities' | 'values';

export type Reduction = 'mean' | 'sum' | 'none';

export interface LossOptions {
  /** 'mean' (default) averages, 'sum' adds, 'none' keeps one value per element */
  reduction?: Reduction;
}

/** PyTorch's and Keras's spellings of our option names, for the error messages */
const LOSS_ALIASES = { size_average: 'reduction', reduce: 'reduction', from_logits: 'fromLogits', pos_weight: 'posWeight', ignore_index: 'ignoreIndex', label_smoothing: 'labelSmoothing', log_target: 'logTarget' };

/** @internal check a loss's options: an unknown key throws, naming the loss */
export function checkLossOptions(loss: string, options: unknown, keys: readonly string[]): void {
  checkOptions(loss, options, keys, LOSS_ALIASES);
}

const REDUCTION_KEYS = optionKeys<LossOptions>()(['reduction']);

function reduce(x: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (reduction === 'none') return x;
  if (reduction === 'sum') return x.sum();
  if (reduction === 'mean') return x.mean();
  throw new Error(`loss: reduction must be 'mean', 'sum' or 'none', got '${String(reduction)}'`);
}

/**
 * Input and target must have the same shape. (PyTorch broadcasts with a warning; a
 * [N, 1] prediction against an [N] target then silently builds an [N, N] loss, so
 * here it is an error.)
 */
function sameShape(loss: string, input: Tensor, target: Tensor): void {
  if (input.shape.length !== target.shape.length || input.shape.some((d, i) => d !== target.shape[i])) {
    const hint =
      input.ndim === target.ndim + 1 && input.shape[input.ndim - 1] === 1 ? ' — did you mean target.unsqueeze(-1)?' : '';
    throw new Error(`${loss}: input ${formatShape(input.shape)} and target ${formatShape(target.shape)} differ${hint}`);
  }
  if (!isFloat(input.dtype)) throw new Error(`${loss}: input must be floating point, got ${input.dtype}`);
}

const asFloat = (t: Tensor, like: Tensor): Tensor => (t.dtype === like.dtype ? t : t.cast(like.dtype));

/** mean((input − target)²) */
export function mseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  checkLossOptions('mseLoss', options, REDUCTION_KEYS);
  sameShape('mseLoss', input, target);
  return reduce(input.sub(asFloat(target, input)).square(), options.reduction);
}

/** Σ (input − target)²: the sum of squared errors of the course notes (MSE with reduction 'sum') */
export function sseLoss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  checkLossOptions('sseLoss', options, REDUCTION_KEYS);
  sameShape('sseLoss', input, target);
  return reduce(input.sub(asFloat(target, input)).square(), options.reduction ?? 'sum');
}

/** mean(|input − target|) (MAE) */
export function l1Loss(input: Tensor, target: Tensor, options: LossOptions = {}): Tensor {
  checkLossOptions('l1Loss', options, REDUCTION_KEYS);
  sameShape('l1Loss', input, target);
  return reduce(abs(input.sub(asFloat(target, input))), options.reduction);
}

export interface HuberOptions extends LossOptions {
  /** where the quadratic part ends (default 1) */
  delta?: number;
}
const HUBER_KEYS = optionKeys<HuberOptions>()(['reduction', 'delta']);

/** ½d² for |d| ≤ δ, δ(|d| − ½δ) beyond: quadratic near 0, linear in the tails */
export function huberLoss(input: Tensor, target: Tensor, options: HuberOptions = {}): Tensor {
  checkLossOptions('huberLoss', options, HUBER_KEYS);
  sameShape('huberLoss', input, target);
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new Error(`huberLoss: delta must be > 0, got ${delta}`);
  const d = abs(input.sub(asFloat(target, input)));
  return reduce(where(d.le(delta), d.square().mul(0.5), d.sub(0.5 * delta).mul(delta)), options.reduction);
}

export interface SmoothL1Options extends LossOptions {
  /** where the quadratic part ends (default 1) */
  beta?: number;
}
const SMOOTH_L1_KEYS = optionKeys<SmoothL1Options>()(['reduction', 'beta']);

/** Huber divided by β: ½d²/β for |d| < β, |d| − ½β beyond (PyTorch's SmoothL1Loss) */
export function smoothL1Loss(input: Tensor, target: Tensor, options: SmoothL1Options = {}): Tensor {
  checkLossOptions('smoothL1Loss', options, SMOOTH_L1_KEYS);
  sameShape('smoothL1Loss', input, target);
  const beta = options.beta ?? 1;
  if (!(beta >= 0)) throw new Error(`smoothL1Loss: beta must be ≥ 0, got ${beta}`);
  const d = abs(input.sub(asFloat(target, input)));
  if (beta === 0) return reduce(d, options.reduction);
  return reduce(where(d.lt(beta), d.square().mul(0.5 / beta), d.sub(0.5 * beta)), options.reduction);
}

export interface BCEOptions extends LossOptions {
  /** per-element rescaling, broadcast against the input */
  weight?: Tensor;
}
const BCE_KEYS = optionKeys<BCEOptions>()(['reduction', 'weight']);

export interface BCEWithLogitsOptions extends BCEOptions {
  /** weight of the positive class, broadcast against the input */
  posWeight?: Tensor;
}
const BCE_LOGITS_KEYS = optionKeys<BCEWithLogitsOptions>()(['reduction', 'weight', 'posWeight']);

/** −[y·log p + (1 − y)·log(1 − p)] on probabilities p; logs are clamped at −100 as PyTorch does */
export function binaryCrossEntropy(input: Tensor, target: Tensor, options: BCEOptions = {}): Tensor {
  checkLossOptions('binaryCrossEntropy', options, BCE_KEYS);
  sameShape('binaryCrossEntropy', input, target);
  const y = asFloat(target, input);
  const logP = clamp(log(input), -100, null);
  const log1mP = clamp(log(input.neg().add(1)), -100, null);
  let l = y.mul(logP).add(y.neg().add(1).mul(log1mP)).neg();
  if (options.weight) l = l.mul(options.weight);
  return reduce(l, options.reduction);
}

/**
 * BCE on logits x, computed stably: with p = σ(x),
 * −[w_p·y·log p + (1 − y)·log(1 − p)] = (1 − y)·x + (1 + (w_p − 1)·y)·softplus(−x).
 */
export function binaryCrossEntropyWithLogits(input: Tensor, target: Tensor, options: BCEWithLogitsOptions = {}): Tensor {
  checkLossOptions('binaryCrossEntropyWithLogits', options, BCE_LOGITS_KEYS);
  sameShape('binaryCrossEntropyWithLogits', input, target);
  const y = asFloat(target, input);
  const sp = softplus(input.neg());
  const coef = options.posWeight ? y.mul(options.posWeight.sub(1)).add(1) : null;
  let l = y.neg().add(1).mul(input).add(coef ? coef.mul(sp) : sp);
  if (options.weight) l = l.mul(options.weight);
  return reduce(l, options.reduction);
}

export interface CrossEntropyOptions extends LossOptions {
  /** per-class weights [C] */
  weight?: Tensor;
  /** class index whose samples are skipped (indices only; default −100) */
  ignoreIndex?: number;
  /** mix the target with the uniform distribution: (1 − ε)·y + ε/C */
  labelSmoothing?: number;
}
const CE_KEYS = optionKeys<CrossEntropyOptions>()(['reduction', 'weight', 'ignoreIndex', 'labelSmoothing']);

export type NLLOptions = Omit<CrossEntropyOptions, 'labelSmoothing'>;
const NLL_KEYS = optionKeys<NLLOptions>()(['reduction', 'weight', 'ignoreIndex']);

/** Class dim is 1 for [N, C, …] and 0 for an unbatched [C]. */
export const classDim = (x: Tensor): number => (x.ndim === 1 ? 0 : 1);

/**
 * @internal
 * −Σ_c y_c·w_c·logp_c from log-probabilities, for class indices (int32 [N, d…]) or
 * probabilities (float, same shape as the input).
 */
export function nllCore(loss: string, logp: Tensor, target: Tensor, o: CrossEntropyOptions): Tensor {
  const cd = classDim(logp);
  const C = logp.shape[cd];
  const eps = o.labelSmoothing ?? 0;
  if (!(eps >= 0 && eps <= 1)) throw new Error(`${loss}: labelSmoothing must be in [0, 1], got ${eps}`);
  if (o.weight && (o.weight.ndim !== 1 || o.weight.shape[0] !== C)) throw new Error(`${loss}: weight must be [${C}] (one per class), got ${formatShape(o.weight.shape)}`);
  const wShape = logp.shape.map((d, i) => (i === cd ? C : 1));
  const w = o.weight ? o.weight.reshape(wShape) : null;
  if (isFloat(target.dtype)) {
    // probabilities / one-hot
    if (target.shape.length !== logp.shape.length || target.shape.some((d, i) => d !== logp.shape[i])) {
      throw new Error(`${loss}: probability targets must have the input's shape ${formatShape(logp.shape)}, got ${formatShape(target.shape)} (class indices must be int32)`);
    }
    let y = asFloat(target, logp);
    if (eps > 0) y = y.mul(1 - eps).add(eps / C);
    let per = y.mul(logp);
    if (w) per = per.mul(w);
    const l = sum(per, cd).neg();
    return reduce(l, o.reduction);
  }
  if (target.dtype !== 'int32') throw new Error(`${loss}: target must be int32 class indices or float probabilities, got ${target.dtype}`);
  const want = logp.shape.filter((_, i) => i !== cd);
  if (target.shape.length !== want.length || target.shape.some((d, i) => d !== want[i])) {
    throw new Error(`${loss}: input ${formatShape(logp.shape)} needs class indices of shape ${formatShape(want)}, got ${formatShape(target.shape)}`);
  }
  const ignore = o.ignoreIndex ?? -100;
  // Where the targets can be read now, check them and take the short path when none is
  // ignored; on a backend that reads only asynchronously (a GPU) the general path handles
  // ignored samples, and gather reports a class out of range at the next read.
  let ignored = true;
  if (target.backend.readSync) {
    const tv = target.dataSync();
    ignored = false;
    for (let i = 0; i < tv.length; i++) {
      if (tv[i] === ignore) ignored = true;
      else if (!(tv[i] >= 0 && tv[i] < C)) throw new Error(`${loss}: target class ${tv[i]} is out of range [0, ${C}) (at flat index ${i})`);
    }
  }
  if (!ignored && !w && eps === 0 && target.size > 0) {
    // every sample counts with weight 1: the loss is −logp[target], its mean (or sum)
    return reduce(gather(logp, cd, target.unsqueeze(cd)).squeeze(cd).neg(), o.reduction);
  }
  const keep = ne(target, ignore);
  const safe = where(keep, target, zerosLike(target));
  const picked = gather(logp, cd, safe.unsqueeze(cd)).squeeze(cd); // logp[target]
  const wt = o.weight ? gather(o.weight, 0, safe.reshape([safe.size])).reshape(safe.shape) : null;
  const keepF = keep.cast(logp.dtype);
  const wEff = wt ? wt.mul(keepF) : keepF;
  let l = picked.mul(wEff).neg();
  if (eps > 0) {
    // smoothing part: −ε/C · Σ_c w_c·logp_c, for kept samples
    let all = w ? logp.mul(w) : logp;
    all = sum(all, cd).mul(-eps / C).mul(keepF);
    l = l.mul(1 - eps).add(all);
  }
  if (o.reduction === 'none') return l;
  if (o.reduction === 'sum') return l.sum();
  if (o.reduction !== undefined && o.reduction !== 'mean') return reduce(l, o.reduction);
  return l.sum().div(wEff.sum()); // weighted mean over non-ignored samples
}

/**
 * Whether a cross-entropy is the plain case one fused op computes: logits [N, C] (N > 0)
 * against int32 class indices [N], all in [0, C), no class weights, no smoothing, no
 * ignored sample, a known reduction. Anything else (and bad targets, for the messages)
 * goes through nllCore.
 */
function plainIndices(input: Tensor, target: Tensor, o: CrossEntropyOptions): boolean {
  if (input.ndim !== 2 || target.dtype !== 'int32' || target.ndim !== 1 || target.shape[0] !== input.shape[0] || input.shape[0] === 0) return false;
  if (o.weight || (o.labelSmoothing ?? 0) !== 0 || !(o.reduction === undefined || o.reduction === 'mean' || o.reduction === 'sum' || o.reduction === 'none')) return false;
  if (!target.backend.readSync) return false;
  const tv = target.dataSync();
  const C = input.shape[1];
  const ignore = o.ignoreIndex ?? -100;
  for (let i = 0; i < tv.length; i++) if (!(tv[i] >= 0 && tv[i] < C) || tv[i] === ignore) return false;
  return true;
}

/** Cross-entropy from logits (PyTorch's F.cross_entropy): log-softmax over the class dim, then NLL. */
export function crossEntropy(input: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  checkLossOptions('crossEntropy', options, CE_KEYS);
  if (!isFloat(input.dtype)) throw new Error(`crossEntropy: input (logits) must be floating point, got ${input.dtype}`);
  if (plainIndices(input, target, options)) return softmaxCrossEntropy(input, target, options.reduction ?? 'mean');
  return nllCore('crossEntropy', logSoftmax(input, classDim(input)), target, options);
}

/** Negative log-likelihood from log-probabilities (PyTorch's F.nll_loss). */
export function nllLoss(input: Tensor, target: Tensor, options: NLLOptions = {}): Tensor {
  checkLossOptions('nllLoss', options, NLL_KEYS);
  return nllCore('nllLoss', input, target, options);
}

export interface KLDivOptions {
  /** as LossOptions, plus 'batchmean': the sum divided by the batch size */
  reduction?: Reduction | 'batchmean';
  /** the target holds log-probabilities */
  logTarget?: boolean;
}
const KL_KEYS = optionKeys<KLDivOptions>()(['reduction', 'logTarget']);

/**
 * KL(target ‖ q) with the input as log q (PyTorch's kl_div): Σ t·(log t − input), with
 * 0·log 0 = 0. 'batchmean' divides the sum by the batch size (the mathematically
 * correct KL); 'mean' divides by the number of elements, as PyTorch does.
 */
export function klDiv(input: Tensor, target: Tensor, options: KLDivOptions = {}): Tensor {
  checkLossOptions('klDiv', options, KL_KEYS);
  sameShape('klDiv', input, target);
  const t = asFloat(target, input);
  const l = options.logTarget
    ? t.exp().mul(t.sub(input))
    : where(t.gt(0), t.mul(log(maximum(t, 1e-300)).sub(input)), zerosLike(t));
  if (options.reduction === 'batchmean') return l.sum().div(input.ndim === 0 ? 1 : input.shape[0]);
  return reduce(l, options.reduction);
}

// ------------------------------------------------------------ modules

/**
 * A loss as a module (PyTorch's `nn.MSELoss()` …): its options are fixed at construction
 * and checked there; `inputKind` says what it reads (logits, probabilities, …), which
 * `compile` uses to pick the accuracy threshold.
 */
export abstract class Loss<O extends object = LossOptions> extends Module<[Tensor, Tensor], Tensor> {
  /** the options the loss function receives (the module's `name` left out) */
  readonly options: O;
  abstract readonly inputKind: LossInput;
  constructor(op: string, keys: readonly string[], options: O & ModuleOptions) {
    checkLossOptions(op, options, [...keys, 'name']);
    super(options);
    const { name: _name, ...rest } = options;
    this.options = rest as O;
  }
}

export class MSELoss extends Loss {
  readonly inputKind = 'values';
  constructor(options: LossOptions & ModuleOptions = {}) {
    super('MSELoss', REDUCTION_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return mseLoss(input, target, this.options);
  }
}
export class SSELoss extends Loss {
  readonly inputKind = 'values';
  constructor(options: LossOptions & ModuleOptions = {}) {
    super('SSELoss', REDUCTION_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return sseLoss(input, target, this.options);
  }
}
export class L1Loss extends Loss {
  readonly inputKind = 'values';
  constructor(options: LossOptions & ModuleOptions = {}) {
    super('L1Loss', REDUCTION_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return l1Loss(input, target, this.options);
  }
}
export class HuberLoss extends Loss<HuberOptions> {
  readonly inputKind = 'values';
  constructor(options: HuberOptions & ModuleOptions = {}) {
    super('HuberLoss', HUBER_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return huberLoss(input, target, this.options);
  }
}
export class SmoothL1Loss extends Loss<SmoothL1Options> {
  readonly inputKind = 'values';
  constructor(options: SmoothL1Options & ModuleOptions = {}) {
    super('SmoothL1Loss', SMOOTH_L1_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return smoothL1Loss(input, target, this.options);
  }
}
export class BCELoss extends Loss<BCEOptions> {
  readonly inputKind = 'probabilities';
  constructor(options: BCEOptions & ModuleOptions = {}) {
    super('BCELoss', BCE_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropy(input, target, this.options);
  }
}
export class BCEWithLogitsLoss extends Loss<BCEWithLogitsOptions> {
  readonly inputKind = 'logits';
  constructor(options: BCEWithLogitsOptions & ModuleOptions = {}) {
    super('BCEWithLogitsLoss', BCE_LOGITS_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return binaryCrossEntropyWithLogits(input, target, this.options);
  }
}
export class CrossEntropyLoss extends Loss<CrossEntropyOptions> {
  readonly inputKind = 'logits';
  constructor(options: CrossEntropyOptions & ModuleOptions = {}) {
    super('CrossEntropyLoss', CE_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return crossEntropy(input, target, this.options);
  }
}
export class NLLLoss extends Loss<NLLOptions> {
  readonly inputKind = 'log-probabilities';
  constructor(options: NLLOptions & ModuleOptions = {}) {
    super('NLLLoss', NLL_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return nllLoss(input, target, this.options);
  }
}
export class KLDivLoss extends Loss<KLDivOptions> {
  readonly inputKind = 'log-probabilities';
  constructor(options: KLDivOptions & ModuleOptions = {}) {
    super('KLDivLoss', KL_KEYS, options);
  }
  forward(input: Tensor, target: Tensor): Tensor {
    return klDiv(input, target, this.options);
  }
}
