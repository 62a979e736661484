/**
 * The recurrent ops' gate passes on the SIMD kernels (kernels/recurrent.ts): the `gates` of
 * the host kernels' IO (@ml/tensor's HostKernelIO), so that CpuBackend's LSTM cell and
 * whole-sequence LSTM, GRU and RNN kernels, which this backend inherits, run their gate
 * math in f32x4 while their per-step products run on the wasm gemm. A pass declines
 * (false: the JavaScript loop runs) unless every array is float32 in the module memory.
 * One thread: a step's pass ([64, 4·128] gates) is far too small to split.
 */
import type { GatePasses, GruGateArgs, GruGateBackwardArgs, HostKernelIO, LstmGateArgs, LstmGateBackwardArgs, RnnGateArgs, RnnGateBackwardArgs, Rows } from '@ml/tensor/backend';
import type { WasmGemm } from './gemm.js';

/** How many passes ran on the kernels, by kind (for tests and the debug log). */
export type GateCounts = Record<keyof GatePasses, number>;

/** The gate passes on the kernels of `gemm`, on the arrays of its memory. */
export class WasmGatePasses implements GatePasses {
  readonly #gemm: WasmGemm;
  readonly counts: GateCounts = { lstm: 0, lstmBackward: 0, gru: 0, gruBackward: 0, rnn: 0, rnnBackward: 0 };

  constructor(gemm: WasmGemm) {
    this.#gemm = gemm;
  }

  /**
   * Each operand's byte address and byte row stride, flattened, or null when one is not
   * float32 in the module memory. An absent operand (null) takes `fallback`'s place: the
   * kernels read it and mask it to 0 (or skip it), so it only has to be readable.
   */
  #place(rows: readonly (Rows | null)[], fallback: Rows): number[] | null {
    const heap = this.#gemm.heap;
    const out: number[] = [];
    for (const r of rows) {
      const { a, off, stride } = r ?? fallback;
      if (!(a instanceof Float32Array) || !heap.owns(a)) return null;
      out.push(a.byteOffset + 4 * off, 4 * stride);
    }
    return out;
  }

  lstm(p: LstmGateArgs): boolean {
    if (p.out === null && p.acts === null) return true; // nothing to write
    const at = this.#place([p.x, p.hw, p.c, p.out, p.acts], p.x);
    if (at === null) return false;
    const [x, xs, hw, hws, c, cs, out, outs, acts, actss] = at;
    this.#gemm.kernels.lstmGates(x, xs, hw, hws, c, cs, out, outs, acts, actss, p.B, p.H, bits(p.out, p.acts));
    this.counts.lstm++;
    return true;
  }

  lstmBackward(p: LstmGateBackwardArgs): boolean {
    const at = this.#place([p.acts, p.d, p.dh, p.c, p.dcIn, p.dcOut, p.grads], p.d);
    if (at === null) return false;
    const [acts, actss, d, ds, dh, dhs, c, cs, dcIn, dcIns, dcOut, dcOuts, g, gs] = at;
    this.#gemm.kernels.lstmGatesBackward(acts, actss, d, ds, dh, dhs, c, cs, dcIn, dcIns, dcOut, dcOuts, g, gs, p.B, p.H, bits(p.dh, p.dcIn));
    this.counts.lstmBackward++;
    return true;
  }

  gru(p: GruGateArgs): boolean {
    if (p.out === null && p.acts === null) return true; // nothing to write
    const at = this.#place([p.x, p.hw, p.bias, p.h, p.out, p.acts], p.hw);
    if (at === null) return false;
    const [x, xs, hw, hws, bh, , h, hs, out, outs, acts, actss] = at;
    // the bias is one row that every row reads (row stride 0)
    this.#gemm.kernels.gruGates(x, xs, hw, hws, bh, 0, h, hs, out, outs, acts, actss, p.B, p.H, bits(p.out, p.acts, p.bias));
    this.counts.gru++;
    return true;
  }

  gruBackward(p: GruGateBackwardArgs): boolean {
    const at = this.#place([p.acts, p.d, p.carry, p.dh, p.h, p.gx, p.gh], p.d);
    if (at === null) return false;
    const [acts, actss, d, ds, carry, carrys, dh, dhs, h, hs, gx, gxs, gh, ghs] = at;
    this.#gemm.kernels.gruGatesBackward(acts, actss, d, ds, carry, carrys, dh, dhs, h, hs, gx, gxs, gh, ghs, p.B, p.H, bits(p.dh));
    this.counts.gruBackward++;
    return true;
  }

  rnn(p: RnnGateArgs): boolean {
    const at = this.#place([p.x, p.hw, p.out], p.x);
    if (at === null) return false;
    const [x, xs, hw, hws, out, outs] = at;
    this.#gemm.kernels.rnnGates(x, xs, hw, hws, out, outs, p.B, p.H, p.tanh ? 1 : 0);
    this.counts.rnn++;
    return true;
  }

  rnnBackward(p: RnnGateBackwardArgs): boolean {
    const at = this.#place([p.y, p.d, p.dh, p.out], p.d);
    if (at === null) return false;
    const [y, ys, d, ds, dh, dhs, out, outs] = at;
    this.#gemm.kernels.rnnGatesBackward(y, ys, d, ds, dh, dhs, out, outs, p.B, p.H, (p.tanh ? 1 : 0) | bits(null, p.dh));
    this.counts.rnnBackward++;
    return true;
  }
}

/** A kernel's mode: bit k set when the kth operand is given. */
function bits(...given: readonly (Rows | null)[]): number {
  return given.reduce((m, r, k) => (r === null ? m : m | (1 << k)), 0);
}

/** `io` with the gate passes on the kernels of `gemm` (the wasm backend's `hostIO`). */
export function withGatePasses(io: HostKernelIO, gemm: WasmGemm): HostKernelIO {
  return { ...io, gates: new WasmGatePasses(gemm) };
}
