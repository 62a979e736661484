// The gate-pass hook of the host recurrent kernels (HostKernelIO.gates): a backend whose
// passes are the gate equations written here in plain JavaScript over the `Rows` they are
// given must reproduce the kernels' own loops (so every operand's offset and stride is
// the right one, for every step, direction and slot), and a backend whose passes decline
// gets the loops' results unchanged. float64, so the two agree to rounding.
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../src/backends/cpu.js';
import type { GatePasses, GruGateArgs, GruGateBackwardArgs, HostKernelIO, LstmGateArgs, LstmGateBackwardArgs, RnnGateArgs, RnnGateBackwardArgs, Rows } from '../src/backends/host-recurrent.js';
import { registerBackend } from '../src/engine.js';
import * as T from '../src/index.js';
import { onBackend as on } from '../src/testing/index.js';

const sig = (a: number) => 1 / (1 + Math.exp(-a));

/** Element (b, j) of rows. */
const at = (r: Rows, b: number, j: number): number => r.a[r.off + b * r.stride + j];
const put = (r: Rows, b: number, j: number, v: number): void => {
  r.a[r.off + b * r.stride + j] = v;
};
const each = (B: number, H: number, f: (b: number, j: number) => void): void => {
  for (let b = 0; b < B; b++) for (let j = 0; j < H; j++) f(b, j);
};

/** The gate equations over the rows each pass is given; `take` false: every pass declines after counting. */
class EquationPasses implements GatePasses {
  readonly calls: Record<keyof GatePasses, number> = { lstm: 0, lstmBackward: 0, gru: 0, gruBackward: 0, rnn: 0, rnnBackward: 0, sequence: 0, sequenceBackward: 0 };
  constructor(readonly take: boolean) {}

  /** the whole forward pass: counted, always declined (the step loop and its passes run) */
  sequence(): boolean {
    this.calls.sequence++;
    return false;
  }

  /** the whole backward loop: counted, always declined */
  sequenceBackward(): boolean {
    this.calls.sequenceBackward++;
    return false;
  }

  lstm({ B, H, x, hw, c, out, acts }: LstmGateArgs): boolean {
    this.calls.lstm++;
    if (!this.take) return false;
    each(B, H, (b, j) => {
      const g = [0, 1, 2, 3].map((k) => at(x, b, k * H + j) + at(hw, b, k * H + j));
      const [i, f, gg, o] = [sig(g[0]), sig(g[1]), Math.tanh(g[2]), sig(g[3])];
      const c1 = f * at(c, b, j) + i * gg;
      if (out) [o * Math.tanh(c1), c1].forEach((v, k) => put(out, b, k * H + j, v));
      if (acts) [i, f, gg, o, Math.tanh(c1)].forEach((v, k) => put(acts, b, k * H + j, v));
    });
    return true;
  }

  lstmBackward({ B, H, acts, d, dh, c, dcIn, dcOut, grads }: LstmGateBackwardArgs): boolean {
    this.calls.lstmBackward++;
    if (!this.take) return false;
    each(B, H, (b, j) => {
      const [i, f, g, o, tc] = [0, 1, 2, 3, 4].map((k) => at(acts, b, k * H + j));
      const h = at(d, b, j) + (dh ? at(dh, b, j) : 0);
      const dc = at(d, b, H + j) + (dcIn ? at(dcIn, b, j) : 0) + h * o * (1 - tc * tc);
      [dc * g * i * (1 - i), dc * at(c, b, j) * f * (1 - f), dc * i * (1 - g * g), h * tc * o * (1 - o)].forEach((v, k) => put(grads, b, k * H + j, v));
      put(dcOut, b, j, dc * f);
    });
    return true;
  }

  gru({ B, H, x, hw, bias, h, out, acts }: GruGateArgs): boolean {
    this.calls.gru++;
    if (!this.take) return false;
    const bh = (k: number) => (bias ? at(bias, 0, k) : 0);
    each(B, H, (b, j) => {
      const r = sig(at(x, b, j) + at(hw, b, j) + bh(j));
      const z = sig(at(x, b, H + j) + at(hw, b, H + j) + bh(H + j));
      const hn = at(hw, b, 2 * H + j) + bh(2 * H + j);
      const n = Math.tanh(at(x, b, 2 * H + j) + r * hn);
      if (out) put(out, b, j, (1 - z) * n + z * at(h, b, j));
      if (acts) [r, z, n, hn].forEach((v, k) => put(acts, b, k * H + j, v));
    });
    return true;
  }

  gruBackward({ B, H, acts, d, carry, dh, h, gx, gh }: GruGateBackwardArgs): boolean {
    this.calls.gruBackward++;
    if (!this.take) return false;
    each(B, H, (b, j) => {
      const [r, z, n, hn] = [0, 1, 2, 3].map((k) => at(acts, b, k * H + j));
      const g = at(d, b, j) + at(carry, b, j) + (dh ? at(dh, b, j) : 0);
      const dn = g * (1 - z) * (1 - n * n);
      const dr = dn * hn * r * (1 - r);
      const dz = g * (at(h, b, j) - n) * z * (1 - z);
      [dr, dz, dn].forEach((v, k) => put(gx, b, k * H + j, v));
      [dr, dz, dn * r].forEach((v, k) => put(gh, b, k * H + j, v));
      put(carry, b, j, g * z);
    });
    return true;
  }

  rnn({ B, H, tanh, x, hw, out }: RnnGateArgs): boolean {
    this.calls.rnn++;
    if (!this.take) return false;
    each(B, H, (b, j) => put(out, b, j, ((a) => (tanh ? Math.tanh(a) : Math.max(a, 0)))(at(x, b, j) + at(hw, b, j))));
    return true;
  }

  rnnBackward({ B, H, tanh, y, d, dh, out }: RnnGateBackwardArgs): boolean {
    this.calls.rnnBackward++;
    if (!this.take) return false;
    each(B, H, (b, j) => {
      const [g, v] = [at(d, b, j) + (dh ? at(dh, b, j) : 0), at(y, b, j)];
      put(out, b, j, tanh ? g * (1 - v * v) : v > 0 ? g : 0);
    });
    return true;
  }
}

/** The cpu backend with `passes` as its host kernels' gate passes. */
class Gated extends CpuBackend {
  protected declare readonly hostIO: HostKernelIO;
  constructor(
    override readonly name: string,
    readonly passes: EquationPasses,
  ) {
    super();
    this.hostIO = { ...this.hostIO, gates: passes };
  }
}

const taking = new Gated('cpu-gates-taken', new EquationPasses(true));
const declining = new Gated('cpu-gates-declined', new EquationPasses(false));
registerBackend(taking);
registerBackend(declining);

/** Every sequence op and the LSTM cell, forward and backward (with and without saved activations), as plain arrays. */
function everything(L: number, B: number, H: number, reverse: boolean): number[][] {
  return T.tidy(() => {
    T.manualSeed(L * 100 + H);
    const o = { dtype: 'float64' as const };
    const x = T.transpose(T.narrow(T.randn([B, L, 4 * H + 2], o), 2, 1, 4 * H), 0, 1); // strided, batch-first
    const hc = T.randn([B, 2 * H], o);
    const [h0, c0] = [T.narrow(hc, 1, 0, H), T.narrow(hc, 1, H, H)];
    const whh = T.randn([4 * H, H], o).mul(0.5);
    const out: T.Tensor[] = [];
    const y = T.lstmSequence(x, h0, c0, whh, { reverse });
    out.push(y, T.lstmSequenceBackward(x, h0, c0, whh, y, T.randn([L, B, 2 * H], o), { reverse }));
    const xp = T.narrow(x, 2, 0, 3 * H);
    const [w3, b3] = [T.narrow(whh, 0, 0, 3 * H), T.randn([3 * H], o)];
    for (const bias of [b3, null]) {
      const yg = T.gruSequence(xp, h0, w3, bias, { reverse });
      out.push(yg, T.gruSequenceBackward(xp, h0, w3, bias, yg, T.randn([L, B, H], o), { reverse }));
    }
    for (const nonlinearity of ['tanh', 'relu'] as const) {
      const [xr, wr] = [T.narrow(x, 2, H, H), T.narrow(whh, 0, 0, H)];
      const yr = T.rnnSequence(xr, h0, wr, { reverse, nonlinearity });
      out.push(yr, T.rnnSequenceBackward(xr, h0, wr, yr, T.randn([L, B, H], o), { reverse, nonlinearity }));
    }
    const xw = T.randn([B, 4 * H], o);
    out.push(T.lstmCell(xw, h0, c0, whh), T.lstmCellBackward(xw, h0, c0, whh, T.randn([B, 2 * H], o)));
    return out.map((t) => Array.from(t.dataSync()));
  });
}

describe('the host recurrent kernels offer each step\'s gate pass to HostKernelIO.gates', () => {
  it.each([
    { L: 1, B: 1, H: 2, reverse: false },
    { L: 4, B: 3, H: 5, reverse: true },
    { L: 3, B: 2, H: 4, reverse: false },
  ])('passes taken on the rows they are given equal the loops (L $L, B $B, H $H, reverse $reverse)', ({ L, B, H, reverse }) => {
    const before = { ...taking.passes.calls };
    const got = on(taking.name, () => everything(L, B, H, reverse));
    const want = on('cpu', () => everything(L, B, H, reverse));
    got.forEach((v, i) => {
      expect(v.length).toBe(want[i].length);
      v.forEach((x, k) => expect(Math.abs(x - want[i][k]), `result ${i} [${k}]`).toBeLessThan(1e-12 * (1 + Math.abs(want[i][k]))));
    });
    const ran = (k: keyof GatePasses) => taking.passes.calls[k] - before[k];
    // lstm: forward, recomputed in the backward, and the cell twice (forward, recomputed)
    expect([ran('lstm'), ran('lstmBackward'), ran('gru'), ran('gruBackward'), ran('rnn'), ran('rnnBackward')]).toEqual([2 * L + 2, L + 1, 4 * L, 2 * L, 2 * L, 2 * L]);
  });

  it('passes that decline leave the loops\' results, bit for bit', () => {
    const got = on(declining.name, () => everything(3, 2, 5, true));
    const want = on('cpu', () => everything(3, 2, 5, true));
    expect(got).toEqual(want);
    expect(Object.values(declining.passes.calls).every((n) => n > 0)).toBe(true);
  });
});
