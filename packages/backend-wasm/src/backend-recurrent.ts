/**
 * The recurrent ops' gate passes on the SIMD kernels (kernels/recurrent.ts): the `gates` of
 * the host kernels' IO (@ml/tensor's HostKernelIO), so that CpuBackend's LSTM cell and
 * whole-sequence LSTM, GRU and RNN kernels, which this backend inherits, run their gate
 * math in f32x4 while their per-step products run on the wasm gemm. A pass declines
 * (false: the JavaScript loop runs) unless every array is float32 in the module memory.
 * Rows are independent, so a pass with enough work (see `work`) is split by rows across
 * the thread pool (`WasmGemm.split`), with the same values as on one thread.
 */
import type { TypedArray } from '@ml/tensor';
import type { GatePasses, GruGateArgs, GruGateBackwardArgs, HostKernelIO, LstmGateArgs, LstmGateBackwardArgs, RnnGateArgs, RnnGateBackwardArgs, Rows, SequenceBackwardGateArgs, SequenceGateArgs, StepRows } from '@ml/tensor/backend';
import { align16, type WasmGemm } from './gemm.js';
import { unlessFull, type WasmHeap } from './heap.js';
import { CELL } from './kernels/index.js';

/**
 * What a pass weighs against WasmGemm.split's threshold, which splits calls moving at least
 * 256 KiB (about 7 µs of a memory-bound kernel such as relu, in cache): the bytes it moves
 * plus EXP_BYTES for each exponential it evaluates (σ and tanh take one each). The forward
 * passes are bound by that math, not by memory. Measured on one thread of a 2-core x64
 * machine (Node 20): lstmGates over [64, 4·128] takes about 77 µs and moves 512 KiB, relu
 * moves 256 KiB in 7 µs, so each of the pass's 5·64·128 exponentials costs about as much
 * as moving 60 bytes. By bytes alone, an RNN tanh pass over [64, 128] (96 KiB moved, 27 µs)
 * would stay on one thread; split, it takes about 19 µs. The backward passes evaluate none.
 */
export const EXP_BYTES = 64;
/** A pass over B rows of H columns that moves `floats` floats and evaluates `exps` exponentials per column. */
const work = (B: number, H: number, floats: number, exps: number): number => B * H * (4 * floats + EXP_BYTES * exps);

/** How many passes ran on the kernels, by kind (for tests and the debug log). */
export type GateCounts = Record<keyof GatePasses, number>;

/** The gate passes on the kernels of `gemm`, on the arrays of its memory. */
export class WasmGatePasses implements GatePasses {
  readonly #gemm: WasmGemm;
  readonly counts: GateCounts = { lstm: 0, lstmBackward: 0, gru: 0, gruBackward: 0, rnn: 0, rnnBackward: 0, sequence: 0, sequenceBackward: 0 };

  /**
   * Whether a whole forward pass, and the loop backward through time, run as one kernel
   * call each over blocks of batch rows (`sequence`, recurrentSteps; `sequenceBackward`,
   * recurrentStepsBack) rather than a product and a gate pass a step: the same values
   * either way (for tests and benches that compare the two).
   */
  sequences = true;

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
    const { B, H } = p;
    // reads x, hw (4H each) and c; writes [h' | c'] and 5H of acts; σ or tanh of 4 gates and c'
    const floats = 9 + (p.out === null ? 0 : 2) + (p.acts === null ? 0 : 5);
    const args = { x, xs, hw, hws, c, cs, out, outs, acts, actss, B, H, mode: bits(p.out, p.acts) };
    this.#gemm.split('lstmGates', args, { x: xs, hw: hws, c: cs, out: outs, acts: actss }, work(B, H, floats, 5));
    this.counts.lstm++;
    return true;
  }

  lstmBackward(p: LstmGateBackwardArgs): boolean {
    const at = this.#place([p.acts, p.d, p.dh, p.c, p.dcIn, p.dcOut, p.grads], p.d);
    if (at === null) return false;
    const [acts, actss, d, ds, dh, dhs, c, cs, dcIn, dcIns, dcOut, dcOuts, grads, gradss] = at;
    const { B, H } = p;
    // reads 5H of acts, 2H of d, dh, c, dcIn; writes dcOut and 4H of grads: no exponentials
    const args = { acts, actss, d, ds, dh, dhs, c, cs, dcIn, dcIns, dcOut, dcOuts, grads, gradss, B, H, mode: bits(p.dh, p.dcIn) };
    this.#gemm.split('lstmGatesBackward', args, { acts: actss, d: ds, dh: dhs, c: cs, dcIn: dcIns, dcOut: dcOuts, grads: gradss }, work(B, H, 15, 0));
    this.counts.lstmBackward++;
    return true;
  }

  gru(p: GruGateArgs): boolean {
    if (p.out === null && p.acts === null) return true; // nothing to write
    const at = this.#place([p.x, p.hw, p.bias, p.h, p.out, p.acts], p.hw);
    if (at === null) return false;
    const [x, xs, hw, hws, bh, , h, hs, out, outs, acts, actss] = at;
    const { B, H } = p;
    // reads x, hw (3H each) and h; writes h' and 4H of acts; σ or tanh of 3 gates
    const floats = 7 + (p.out === null ? 0 : 1) + (p.acts === null ? 0 : 4);
    const args = { x, xs, hw, hws, bh, bhs: 0, h, hs, out, outs, acts, actss, B, H, mode: bits(p.out, p.acts, p.bias) };
    // the bias is one row that every row reads (row stride 0: it stays put on every thread)
    this.#gemm.split('gruGates', args, { x: xs, hw: hws, bh: 0, h: hs, out: outs, acts: actss }, work(B, H, floats, 3));
    this.counts.gru++;
    return true;
  }

  gruBackward(p: GruGateBackwardArgs): boolean {
    const at = this.#place([p.acts, p.d, p.carry, p.dh, p.h, p.gx, p.gh], p.d);
    if (at === null) return false;
    const [acts, actss, d, ds, carry, carrys, dh, dhs, h, hs, gx, gxs, gh, ghs] = at;
    const { B, H } = p;
    // reads 4H of acts, d, dh, h; reads and writes carry; writes 3H each of gx and gh
    const args = { acts, actss, d, ds, carry, carrys, dh, dhs, h, hs, gx, gxs, gh, ghs, B, H, mode: bits(p.dh) };
    this.#gemm.split('gruGatesBackward', args, { acts: actss, d: ds, carry: carrys, dh: dhs, h: hs, gx: gxs, gh: ghs }, work(B, H, 15, 0));
    this.counts.gruBackward++;
    return true;
  }

  rnn(p: RnnGateArgs): boolean {
    const at = this.#place([p.x, p.hw, p.out], p.x);
    if (at === null) return false;
    const [x, xs, hw, hws, out, outs] = at;
    const { B, H } = p;
    const args = { x, xs, hw, hws, out, outs, B, H, mode: p.tanh ? 1 : 0 };
    this.#gemm.split('rnnGates', args, { x: xs, hw: hws, out: outs }, work(B, H, 3, p.tanh ? 1 : 0));
    this.counts.rnn++;
    return true;
  }

  /**
   * The whole forward pass in one call of recurrentSteps, split by blocks of four batch rows
   * (each block runs every step: its states stay with the thread that computes them). W_hhᵀ
   * is packed once. Declines (false) unless B is a multiple of 4 and every array is
   * float32 in the module memory.
   */
  sequence(p: SequenceGateArgs): boolean {
    const { L, B, H, cell } = p;
    if (!this.sequences || B % 4 !== 0 || L * B * H === 0) return false;
    if (!inMemory(this.#gemm.heap, [p.x.a, p.h0.a, p.whh.a, p.out, p.c0?.a, p.bias?.a, p.acts])) return false;
    if (cell === 'lstm' && p.c0 === null) return false;
    const { G } = GATES[cell];
    const A = GATES[cell].A * H; // floats of saved activations a row
    const Np = 8 * Math.ceil((G * H) / 8);
    const C = cell === 'lstm' ? 2 * H : H;
    const gemm = this.#gemm;
    const [wBytes, hwBytes] = [align16(Np * H * 4), align16(B * Np * 4)];
    // no room (0): decline, the step loop needs less
    const work = unlessFull(() => gemm.alloc(wBytes + hwBytes + B * H * 4));
    if (work === 0) return false;
    try {
      const [w, hw, sa] = [work, work + wBytes, work + wBytes + hwBytes];
      // W_hhᵀ [H, G·H]: element (k, j) is W_hh's (j, k)
      gemm.packInto({ data: p.whh.a, offset: p.whh.off, sb: 0, si: p.whh.s1, sj: p.whh.s0 }, H, G * H, w);
      const [t0, dir] = p.reverse ? [L - 1, -1] : [0, 1];
      const address = (a: Float32Array, floats: number) => a.byteOffset + 4 * floats;
      const out = address(p.out as Float32Array, t0 * B * C);
      const acts = p.acts === null ? out : address(p.acts as Float32Array, t0 * B * A);
      const args = {
        x: address(p.x.a as Float32Array, p.x.off + t0 * p.x.st), xt: dir * 4 * p.x.st, xs: 4 * p.x.sb,
        h0: address(p.h0.a as Float32Array, p.h0.off), h0s: 4 * p.h0.stride,
        c0: p.c0 === null ? 0 : address(p.c0.a as Float32Array, p.c0.off), c0s: p.c0 === null ? 0 : 4 * p.c0.stride,
        out, ot: dir * 4 * B * C, os: 4 * C,
        acts, at: p.acts === null ? 0 : dir * 4 * B * A, as: p.acts === null ? 0 : 4 * A,
        bh: p.bias === null ? 0 : address(p.bias.a as Float32Array, p.bias.off),
        w, hw, sa, Q: B / 4, H, Np, L, cell: CELL[cell],
        // the gate kernels' modes: rnn, tanh or relu; lstm and gru, bit 0 out (always), bit 1 acts, bit 2 (gru) the bias
        mode: cell === 'rnn' ? (p.tanh ? 1 : 0) : 1 | (p.acts === null ? 0 : 2) | (p.bias === null ? 0 : 4),
      };
      // per block of four rows each row operand moves on by four rows
      const strides = { x: quad(args.xs), h0: quad(args.h0s), c0: quad(args.c0s), out: quad(args.os), acts: quad(args.as), hw: quad(4 * Np), sa: quad(4 * H) };
      gemm.split('recurrentSteps', args, strides, 4 * L * B * (G * H * (H + 2) + C));
    } finally {
      gemm.heap.free(work);
    }
    this.counts.sequence++;
    return true;
  }

  /**
   * The loop backward through time in one call of recurrentStepsBack, split by blocks of
   * four batch rows as `sequence` is (a row's gradients depend on that row alone). W_hh is
   * packed once; the last product (∂h0's part) goes to p.dh0. Declines (false) as
   * `sequence` does.
   */
  sequenceBackward(p: SequenceBackwardGateArgs): boolean {
    const { L, B, H, cell } = p;
    if (!this.sequences || B % 4 !== 0 || L * B * H === 0) return false;
    if (cell !== 'rnn' && (p.acts === null || p.prev0 === null)) return false;
    if (!inMemory(this.#gemm.heap, [p.acts?.a, p.d.a, p.y.a, p.prev0?.a, p.whh.a, p.out, p.dh0])) return false;
    const K = GATES[cell].G * H;
    const Np = 8 * Math.ceil(H / 8);
    const gemm = this.#gemm;
    const wBytes = align16(Np * K * 4);
    const work = unlessFull(() => gemm.alloc(wBytes + B * Np * 4));
    if (work === 0) return false;
    try {
      const [w, carry] = [work, work + wBytes];
      // W_hh [G·H, H] as the product's B: element (k, j) at off + k·s0 + j·s1
      gemm.packInto({ data: p.whh.a, offset: p.whh.off, sb: 0, si: p.whh.s0, sj: p.whh.s1 }, K, H, w);
      // the first step the backward takes, and how t moves on from it
      const [tb, back] = p.reverse ? [0, 1] : [L - 1, -1];
      const at = (s: StepRows) => s.a.byteOffset + 4 * (s.off + tb * s.st);
      const out = p.out.byteOffset;
      const slot = 4 * B * K;
      const args = {
        acts: p.acts === null ? at(p.d) : at(p.acts), aSt: p.acts === null ? 0 : back * 4 * p.acts.st, aRow: p.acts === null ? 0 : 4 * p.acts.sb,
        d: at(p.d), dSt: back * 4 * p.d.st, dRow: 4 * p.d.sb,
        y: at(p.y), ySt: back * 4 * p.y.st, yRow: 4 * p.y.sb,
        h0: p.prev0 === null ? 0 : p.prev0.a.byteOffset + 4 * p.prev0.off, h0Row: p.prev0 === null ? 0 : 4 * p.prev0.stride,
        g: out + tb * slot, gSt: back * slot, gRow: 4 * K,
        // gru: the gradient of h_{t−1}·W_hhᵀ + b_hh in slot L + t
        gh: cell === 'gru' ? out + (L + tb) * slot : 0,
        // lstm: the carried ∂c, slot L's second quarter; gru: the carried ∂h·z, slot 2L's first third
        dc: cell === 'lstm' ? out + L * slot + 4 * H : cell === 'gru' ? out + 2 * L * slot : 0, dcRow: cell === 'rnn' ? 0 : 4 * K,
        w, carry, Q: B / 4, H, K, Np, L, cell: CELL[cell], tanh: p.tanh ? 1 : 0,
      };
      const strides = { acts: quad(args.aRow), d: quad(args.dRow), y: quad(args.yRow), h0: quad(args.h0Row), g: quad(args.gRow), gh: quad(args.gRow), dc: quad(args.dcRow), carry: quad(4 * Np) };
      gemm.split('recurrentStepsBack', args, strides, 4 * L * B * (K * (H + 3) + 4 * H));
      gemm.kernels.copyBlock(carry, p.dh0.byteOffset, B, H, 4 * Np, 4 * H);
    } finally {
      gemm.heap.free(work);
    }
    this.counts.sequenceBackward++;
    return true;
  }

  rnnBackward(p: RnnGateBackwardArgs): boolean {
    const at = this.#place([p.y, p.d, p.dh, p.out], p.d);
    if (at === null) return false;
    const [y, ys, d, ds, dh, dhs, out, outs] = at;
    const { B, H } = p;
    const args = { y, ys, d, ds, dh, dhs, out, outs, B, H, mode: (p.tanh ? 1 : 0) | bits(null, p.dh) };
    this.#gemm.split('rnnGatesBackward', args, { y: ys, d: ds, dh: dhs, out: outs }, work(B, H, 4, 0));
    this.counts.rnnBackward++;
    return true;
  }
}

/** Gates a cell's product has per hidden unit (G), and the activations it saves per unit (A, times H a row). */
const GATES = { rnn: { G: 1, A: 0 }, lstm: { G: 4, A: 5 }, gru: { G: 3, A: 4 } } as const;

/** Whether every array given (null and undefined skipped) is float32 in the heap's memory. */
function inMemory(heap: WasmHeap, arrays: readonly (TypedArray | null | undefined)[]): boolean {
  return arrays.every((a) => a == null || (a instanceof Float32Array && heap.owns(a)));
}

/** A block of four rows' bytes, for an operand whose rows are `rowBytes` apart (how far a whole-sequence call's pointers move on per unit). */
const quad = (rowBytes: number): number => 4 * rowBytes;

/** A kernel's mode: bit k set when the kth operand is given. */
function bits(...given: readonly (Rows | null)[]): number {
  return given.reduce((m, r, k) => (r === null ? m : m | (1 << k)), 0);
}

/** `io` with the gate passes on the kernels of `gemm` (the wasm backend's `hostIO`). */
export function withGatePasses(io: HostKernelIO, gemm: WasmGemm): HostKernelIO {
  return { ...io, gates: new WasmGatePasses(gemm) };
}
