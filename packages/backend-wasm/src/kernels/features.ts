/** What the JavaScript engine's WebAssembly supports, found by validating tiny modules (nothing is changed). */

/** f32x4.relaxed_madd alone in a function: whether the engine validates relaxed SIMD. */
const RELAXED_PROBE = Uint8Array.from([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version
  0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b, // type (v128, v128, v128) → v128
  0x03, 0x02, 0x01, 0x00, // one function of that type
  0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b, // a·b + c
]);

/**
 * Whether this engine has relaxed SIMD (fused multiply-add): current browsers and Node ≥ 22
 * do; Node 20 has it only behind V8's `--experimental-wasm-relaxed-simd` flag (see
 * `enableRelaxedSimd`).
 */
export function relaxedSimdSupported(): boolean {
  return typeof WebAssembly === 'object' && WebAssembly.validate(RELAXED_PROBE);
}

/**
 * Turn on relaxed SIMD where the engine has it only behind a flag (Node 20: V8's
 * `--experimental-wasm-relaxed-simd`, set for the whole process; it only adds the relaxed
 * instructions), so that backends created afterwards build their products with fused
 * multiply-adds. Nothing in this package calls it: it is the user's choice. Returns
 * whether relaxed SIMD is available now (elsewhere, whether it was already).
 */
export function enableRelaxedSimd(): boolean {
  if (relaxedSimdSupported() || typeof WebAssembly !== 'object') return relaxedSimdSupported();
  const p = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  const v8 = p?.getBuiltinModule?.('node:v8') as { setFlagsFromString?: (flags: string) => void } | undefined;
  v8?.setFlagsFromString?.('--experimental-wasm-relaxed-simd');
  return relaxedSimdSupported();
}
