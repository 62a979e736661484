import { noGrad } from '@ml/autograd';
import { add, clamp, div, keep, stack, tidy, type Tensor } from '@ml/tensor';

/**
 * Scale all gradients so their joint p-norm is at most `maxNorm` (PyTorch's
 * clip_grad_norm_: factor maxNorm / (total + 1e-6) when total > maxNorm). Returns the
 * total norm before clipping.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2): number {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNorm: maxNorm must be ≥ 0, got ${maxNorm}`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return 0;
  const async = grads.find((g) => g.backend.readSync === undefined);
  if (async !== undefined) {
    throw new Error(`clipGradNorm: backend '${async.backend.name}' cannot read the norm synchronously — use clipGradNormTensor (the same clipping, the norm as a tensor)`);
  }
  let total: number;
  if (normType === Infinity) {
    total = Math.max(...grads.map((g) => tidy(() => g.abs().max().item())));
  } else {
    const s = grads.reduce((acc, g) => acc + tidy(() => g.abs().pow(normType).sum().item()), 0);
    total = s ** (1 / normType);
  }
  const coef = maxNorm / (total + 1e-6);
  if (coef < 1) noGrad(() => grads.forEach((g) => tidy(() => void g.assign(g.mul(coef)))));
  return total;
}

/** Clamp every gradient element to [−clipValue, clipValue]. */
export function clipGradValue(params: Iterable<Tensor>, clipValue: number): void {
  if (!(clipValue >= 0)) throw new Error(`clipGradValue: clipValue must be ≥ 0, got ${clipValue}`);
  noGrad(() => {
    for (const p of params) if (p.grad) tidy(() => void p.grad!.assign(p.grad!.clamp(-clipValue, clipValue)));
  });
}

/**
 * clipGradNorm as tensor ops, reading nothing back (PyTorch's clip_grad_norm_): every
 * gradient is scaled by min(1, maxNorm / (total + 1e-6)); returns the total norm as a 0-d
 * tensor (null without gradients). Runs on any backend, a GPU's included.
 */
export function clipGradNormTensor(params: Iterable<Tensor>, maxNorm: number, normType = 2): Tensor | null {
  if (!(maxNorm >= 0)) throw new Error(`clipGradNormTensor: maxNorm must be ≥ 0, got ${maxNorm}`);
  const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
  if (grads.length === 0) return null;
  return keep(
    tidy(() => {
      const total =
        normType === Infinity
          ? stack(grads.map((g) => g.abs().max())).max()
          : stack(grads.map((g) => g.abs().pow(normType).sum())).sum().pow(1 / normType);
      const coef = clamp(div(maxNorm, add(total, 1e-6)), null, 1);
      noGrad(() => grads.forEach((g) => tidy(() => void g.assign(g.mul(coef)))));
      return total;
    }),
  );
}
