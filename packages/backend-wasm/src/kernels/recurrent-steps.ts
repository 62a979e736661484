/**
 * A recurrent layer's forward pass over a block of batch rows, every step in one call: the
 * product h_{t−1}·W_hhᵀ (gemm, W_hhᵀ packed once), then the cell's gate pass (rnnGates,
 * lstmGates or gruGates), step after step. A batch row's state depends on that row alone
 * (its own h_{t−1} times W_hh), so the thread pool splits the batch into blocks of rows,
 * each running the whole sequence: a block's states stay in the cache of the core that
 * computes them, and the threads meet once a layer instead of twice a step (a product
 * and a gate pass, each handing rows from one core to the other).
 */
import { i32, op } from '../assembler.js';
import { kernel } from './kernel.js';

/** recurrentSteps' cells (its `cell` argument). */
export const CELL = { rnn: 0, lstm: 1, gru: 2 } as const;

/**
 * recurrentSteps(x, xt, xs, h0, h0s, c0, c0s, out, ot, os, acts, at, as, bh, w, hw, sa, Q,
 * H, Np, L, cell, mode): for L steps in the order they run, over B = 4·Q batch rows:
 *
 * - x: the step's input part x·W_ihᵀ + b (rows xs bytes apart), first at `x`, the next
 *   step's `xt` bytes on (negative when the layer runs in reverse);
 * - out, acts: the step's output rows (os apart) and saved activations (as apart; `mode`
 *   says whether they are written), moving on by ot and at;
 * - h_{t−1}: h0's rows (h0s apart) for the first step, then the last step's output rows
 *   (its first H floats); copied into `sa` ([B, H]) when its rows are not H floats apart;
 * - c_{t−1} (LSTM): c0's rows (c0s apart), then floats H … 2H − 1 of the last output rows;
 * - the product h_{t−1}·W_hhᵀ into `hw` ([B, Np]) from the panels at `w`;
 * - bh (GRU): its b_hn row, every row's (0: none).
 *
 * `mode` is the gate kernel's own. The gate kernels and gemm compute each row as they do
 * for the whole batch, so the states are those of the step-by-step loop, bit for bit.
 */
export const recurrentSteps = kernel({
  params: {
    x: i32, xt: i32, xs: i32, h0: i32, h0s: i32, c0: i32, c0s: i32, out: i32, ot: i32, os: i32,
    acts: i32, at: i32, as: i32, bh: i32, w: i32, hw: i32, sa: i32, Q: i32, H: i32, Np: i32, L: i32, cell: i32, mode: i32,
  },
  split: { units: 'Q', pointers: ['x', 'h0', 'c0', 'out', 'acts', 'hw', 'sa'] },
  locals: { s: i32, B: i32, hb: i32, prev: i32, ha: i32, hs: i32, a: i32, ca: i32, cs: i32, hwRow: i32 },
  body: (f, { call }) => {
    const is = (cell: number) => [...f.get('cell'), ...op.i32(cell), ...op.i32Xor, ...op.i32Eqz];
    return [
      ...f.get('Q'), ...op.i32(4), ...op.i32Mul, ...f.set('B'),
      ...f.get('H'), ...op.i32(4), ...op.i32Mul, ...f.set('hb'),
      ...f.get('Np'), ...op.i32(4), ...op.i32Mul, ...f.set('hwRow'),
      ...f.forUp('s', f.get('L'), [
        // h_{t−1} (ha, hs) and c_{t−1} (ca, cs): the initial states, then the last step's output rows
        ...f.get('prev'), ...f.get('h0'), ...f.get('s'), ...op.select, ...f.set('ha'),
        ...f.get('os'), ...f.get('h0s'), ...f.get('s'), ...op.select, ...f.set('hs'),
        ...f.get('prev'), ...f.get('hb'), ...op.i32Add, ...f.get('c0'), ...f.get('s'), ...op.select, ...f.set('ca'),
        ...f.get('os'), ...f.get('c0s'), ...f.get('s'), ...op.select, ...f.set('cs'),
        // the product's A: h_{t−1} where it lies when its rows are H floats apart, else copied
        ...f.get('ha'), ...f.set('a'),
        ...f.get('hs'), ...f.get('hb'), ...op.i32Xor, ...op.if,
        ...f.get('ha'), ...f.get('sa'), ...f.get('B'), ...f.get('H'), ...f.get('hs'), ...f.get('hb'), ...call('copyBlock'),
        ...f.get('sa'), ...f.set('a'),
        ...op.end,
        ...f.get('a'), ...f.get('w'), ...f.get('hw'), ...f.get('B'), ...f.get('H'), ...f.get('Np'), ...op.i32(0), ...f.get('Np'), ...op.i32(3), ...op.i32ShrU, ...call('gemm'),
        ...is(CELL.rnn), ...op.if,
        ...f.get('x'), ...f.get('xs'), ...f.get('hw'), ...f.get('hwRow'), ...f.get('out'), ...f.get('os'), ...f.get('B'), ...f.get('H'), ...f.get('mode'), ...call('rnnGates'),
        ...op.end,
        ...is(CELL.lstm), ...op.if,
        ...f.get('x'), ...f.get('xs'), ...f.get('hw'), ...f.get('hwRow'), ...f.get('ca'), ...f.get('cs'), ...f.get('out'), ...f.get('os'), ...f.get('acts'), ...f.get('as'),
        ...f.get('B'), ...f.get('H'), ...f.get('mode'), ...call('lstmGates'),
        ...op.end,
        ...is(CELL.gru), ...op.if,
        ...f.get('x'), ...f.get('xs'), ...f.get('hw'), ...f.get('hwRow'), ...f.get('bh'), ...op.i32(0), ...f.get('ha'), ...f.get('hs'), ...f.get('out'), ...f.get('os'),
        ...f.get('acts'), ...f.get('as'), ...f.get('B'), ...f.get('H'), ...f.get('mode'), ...call('gruGates'),
        ...op.end,
        ...f.get('out'), ...f.set('prev'),
        ...f.get('x'), ...f.get('xt'), ...op.i32Add, ...f.set('x'),
        ...f.get('out'), ...f.get('ot'), ...op.i32Add, ...f.set('out'),
        ...f.get('acts'), ...f.get('at'), ...op.i32Add, ...f.set('acts'),
      ]),
    ];
  },
});

/**
 * recurrentStepsBack(acts, aSt, aRow, d, dSt, dRow, y, ySt, yRow, h0, h0Row, g, gSt, gRow,
 * gh, dc, dcRow, w, carry, Q, H, K, Np, L, cell, tanh): the backward pass through time over
 * B = 4·Q batch rows, the steps in reverse of the order they ran (every pointer below is at
 * the first step the backward takes and moves on by its `…St`, signed):
 *
 * - acts, d, y: the step's saved activations, output gradient and output rows; the step
 *   before it read the output rows one step on (y + ySt), the first step the initial
 *   state's rows at h0 (LSTM: c0's; GRU: h0's);
 * - g: the step's gate gradients (rows gRow apart; the RNN's ∂pre-activation), gh (GRU)
 *   the gradient of h_{t−1}·W_hhᵀ + b_hh beside them (rows gRow apart too);
 * - dc: LSTM, the carried ∂c rows (read and written each step); GRU, the carried direct
 *   part ∂h·z;
 * - the carried ∂h_{t−1} = (g or gh)·W_hh (K = G·H columns, W_hh packed at w) into `carry`
 *   ([B, Np]): after the last step it holds ∂h0.
 *
 * The gate kernels and gemm compute each row as for the whole batch: the loop's bits.
 */
export const recurrentStepsBack = kernel({
  params: {
    acts: i32, aSt: i32, aRow: i32, d: i32, dSt: i32, dRow: i32, y: i32, ySt: i32, yRow: i32, h0: i32, h0Row: i32,
    g: i32, gSt: i32, gRow: i32, gh: i32, dc: i32, dcRow: i32, w: i32, carry: i32, Q: i32, H: i32, K: i32, Np: i32, L: i32, cell: i32, tanh: i32,
  },
  split: { units: 'Q', pointers: ['acts', 'd', 'y', 'h0', 'g', 'gh', 'dc', 'carry'] },
  locals: { i: i32, B: i32, hb: i32, pa: i32, ps: i32, dh: i32, given: i32, cRow: i32 },
  body: (f, { call }) => {
    const is = (cell: number) => [...f.get('cell'), ...op.i32(cell), ...op.i32Xor, ...op.i32Eqz];
    return [
      ...f.get('Q'), ...op.i32(4), ...op.i32Mul, ...f.set('B'),
      ...f.get('H'), ...op.i32(4), ...op.i32Mul, ...f.set('hb'),
      ...f.get('Np'), ...op.i32(4), ...op.i32Mul, ...f.set('cRow'),
      ...f.forUp('i', f.get('L'), [
        // the state before this step: the initial state's rows for the last step taken (i = L − 1)
        ...f.get('i'), ...op.i32(1), ...op.i32Add, ...f.get('L'), ...op.i32Xor, ...op.i32Eqz, ...op.if,
        ...f.get('h0'), ...f.set('pa'), ...f.get('h0Row'), ...f.set('ps'),
        ...op.else,
        ...f.get('y'), ...f.get('ySt'), ...op.i32Add, ...is(CELL.lstm), ...f.get('hb'), ...op.i32Mul, ...op.i32Add, ...f.set('pa'),
        ...f.get('yRow'), ...f.set('ps'),
        ...op.end,
        // the carried ∂h from the last product, from the second step taken on (else d, read and masked)
        ...f.get('i'), ...op.i32(0), ...op.i32GtU, ...f.set('given'),
        ...f.get('carry'), ...f.get('d'), ...f.get('given'), ...op.select, ...f.set('dh'),
        ...is(CELL.lstm), ...op.if,
        ...f.get('acts'), ...f.get('aRow'), ...f.get('d'), ...f.get('dRow'), ...f.get('dh'), ...f.get('cRow'), ...f.get('pa'), ...f.get('ps'),
        ...f.get('dc'), ...f.get('dcRow'), ...f.get('dc'), ...f.get('dcRow'), ...f.get('g'), ...f.get('gRow'),
        ...f.get('B'), ...f.get('H'), ...op.i32(2), ...f.get('given'), ...op.i32Or, ...call('lstmGatesBackward'),
        ...op.end,
        ...is(CELL.gru), ...op.if,
        ...f.get('acts'), ...f.get('aRow'), ...f.get('d'), ...f.get('dRow'), ...f.get('dc'), ...f.get('dcRow'), ...f.get('dh'), ...f.get('cRow'),
        ...f.get('pa'), ...f.get('ps'), ...f.get('g'), ...f.get('gRow'), ...f.get('gh'), ...f.get('gRow'),
        ...f.get('B'), ...f.get('H'), ...f.get('given'), ...call('gruGatesBackward'),
        ...op.end,
        ...is(CELL.rnn), ...op.if,
        ...f.get('y'), ...f.get('yRow'), ...f.get('d'), ...f.get('dRow'), ...f.get('dh'), ...f.get('cRow'), ...f.get('g'), ...f.get('gRow'),
        ...f.get('B'), ...f.get('H'), ...f.get('tanh'), ...f.get('given'), ...op.i32(1), ...op.i32Shl, ...op.i32Or, ...call('rnnGatesBackward'),
        ...op.end,
        // ∂h_{t−1} = (gh for the GRU, else g) · W_hh
        ...f.get('gh'), ...f.get('g'), ...is(CELL.gru), ...op.select,
        ...f.get('w'), ...f.get('carry'), ...f.get('B'), ...f.get('K'), ...f.get('Np'), ...op.i32(0), ...f.get('Np'), ...op.i32(3), ...op.i32ShrU, ...call('gemm'),
        ...(['acts', 'd', 'y', 'g', 'gh'] as const).flatMap((p) => [...f.get(p), ...f.get(p === 'acts' ? 'aSt' : p === 'd' ? 'dSt' : p === 'y' ? 'ySt' : 'gSt'), ...op.i32Add, ...f.set(p)]),
      ]),
    ];
  },
});
