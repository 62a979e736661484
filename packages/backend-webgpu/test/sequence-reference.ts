/**
 * Float64 references for the whole-sequence recurrent ops, written from the cell equations
 * (PyTorch's LSTM, reset-after GRU and Elman RNN; gates i, f, g, o and r, z, n), and their
 * gradients by central differences of those forward passes (independent of any backward code).
 */

/** One direction's operands, time-major: x [L, B, G·H], h0 and c0 [B, H], whh [G·H, H], bhh [G·H] or null. */
export interface SeqInputs {
  kind: 'lstm' | 'gru' | 'rnn-tanh' | 'rnn-relu';
  L: number;
  B: number;
  H: number;
  reverse: boolean;
  x: Float64Array;
  h0: Float64Array;
  c0: Float64Array;
  whh: Float64Array;
  bhh: Float64Array | null;
}

export const gatesOf = (kind: SeqInputs['kind']): number => (kind === 'lstm' ? 4 : kind === 'gru' ? 3 : 1);
const sig = (a: number) => 1 / (1 + Math.exp(-a));

/** The op's output: [L, B, 2H] ([h_t | c_t]) for the LSTM, [L, B, H] otherwise. */
export function sequenceRef(s: SeqInputs): Float64Array {
  const { L, B, H } = s;
  const G = gatesOf(s.kind);
  const width = s.kind === 'lstm' ? 2 * H : H;
  const out = new Float64Array(L * B * width);
  let h = Float64Array.from(s.h0);
  let c = Float64Array.from(s.c0);
  for (let step = 0; step < L; step++) {
    const t = s.reverse ? L - 1 - step : step;
    const hNext = new Float64Array(B * H);
    const cNext = new Float64Array(B * H);
    for (let b = 0; b < B; b++) {
      // hw[g] = Σ_k h[b, k] · whh[g, k]
      const hw = new Float64Array(G * H);
      for (let g = 0; g < G * H; g++) {
        let acc = s.bhh === null ? 0 : s.bhh[g];
        for (let k = 0; k < H; k++) acc += h[b * H + k] * s.whh[g * H + k];
        hw[g] = acc;
      }
      const x = (g: number) => s.x[(t * B + b) * G * H + g];
      for (let j = 0; j < H; j++) {
        let hv: number;
        if (s.kind === 'lstm') {
          const i = sig(x(j) + hw[j]);
          const f = sig(x(H + j) + hw[H + j]);
          const g = Math.tanh(x(2 * H + j) + hw[2 * H + j]);
          const o = sig(x(3 * H + j) + hw[3 * H + j]);
          cNext[b * H + j] = f * c[b * H + j] + i * g;
          hv = o * Math.tanh(cNext[b * H + j]);
        } else if (s.kind === 'gru') {
          const r = sig(x(j) + hw[j]);
          const z = sig(x(H + j) + hw[H + j]);
          const n = Math.tanh(x(2 * H + j) + r * hw[2 * H + j]);
          hv = (1 - z) * n + z * h[b * H + j];
        } else {
          const a = x(j) + hw[j];
          hv = s.kind === 'rnn-tanh' ? Math.tanh(a) : Math.max(0, a);
        }
        hNext[b * H + j] = hv;
        out[(t * B + b) * width + j] = hv;
        if (s.kind === 'lstm') out[(t * B + b) * width + H + j] = cNext[b * H + j];
      }
    }
    h = hNext;
    c = cNext;
  }
  return out;
}

/** ∂(Σ out·w)/∂ each input by central differences (step 1e-6) of sequenceRef: [x, h0, c0, whh, bhh]. */
export function sequenceGradRef(s: SeqInputs, w: Float64Array): Float64Array[] {
  const loss = () => sequenceRef(s).reduce((acc, v, i) => acc + v * w[i], 0);
  const eps = 1e-6;
  const arrays = [s.x, s.h0, s.c0, s.whh, s.bhh ?? new Float64Array(0)];
  return arrays.map((a) =>
    a.map((v, i) => {
      a[i] = v + eps;
      const up = loss();
      a[i] = v - eps;
      const down = loss();
      a[i] = v;
      return (up - down) / (2 * eps);
    }),
  );
}
