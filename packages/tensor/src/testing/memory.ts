/** Conformance cases: tidy, dispose and storage sharing between views. */
import {
  arange,
  exp,
  full,
  memory,
  ones,
  tensor,
  tidy,
  zeros,
  type Tensor,
} from '../index.js';
import { assertClose, assertThrows, assertRejects, assert } from './assert.js';
import { type CaseDef, f32, backendStats } from './case-helpers.js';

export const MEMORY_CASES: CaseDef[] = [
  // ------------------------------------------------------------ memory
  [
    'memory: tidy returns its result and frees everything else (baseline + 1)',
    async () => {
      const base = memory().numTensors;
      const r = tidy(() => {
        const a = ones([3]);
        const b = a.add(1);
        const c = exp(b).log();
        return c.mul(2);
      });
      assert(memory().numTensors === base + 1, `after tidy: ${memory().numTensors} tensors, expected ${base + 1}`);
      await assertClose(r, [4, 4, 4], f32);
      r.dispose();
      assert(memory().numTensors === base, `after dispose: ${memory().numTensors} tensors, expected ${base}`);
    },
  ],
  [
    'memory: tidy keeps keep()-ed tensors and every tensor in a returned array/object',
    async () => {
      const base = memory().numTensors;
      const kept: Tensor[] = [];
      const out = tidy(() => {
        kept.push(ones([2]).add(1).keep());
        zeros([5]);
        return { x: ones([1]), list: [zeros([1]), full([1], 2)] };
      });
      assert(memory().numTensors === base + 4, `after tidy: ${memory().numTensors} tensors, expected ${base + 4}`);
      await assertClose(kept[0], [2, 2], f32);
      await assertClose(out.list[1], [2], f32);
      for (const t of [...kept, out.x, ...out.list]) t.dispose();
      assert(memory().numTensors === base, `after dispose: ${memory().numTensors} tensors, expected ${base}`);
    },
  ],
  [
    'memory: nested tidy moves the inner result to the outer scope, which frees it',
    async () => {
      const base = memory().numTensors;
      const inner: Tensor[] = [];
      const r = tidy(() => {
        const t = tidy(() => ones([2]).add(1));
        inner.push(t);
        return t.mul(3);
      });
      assert(inner[0].isDisposed, 'the inner tidy result should be freed by the outer tidy');
      assert(memory().numTensors === base + 1, `after tidy: ${memory().numTensors} tensors, expected ${base + 1}`);
      await assertClose(r, [6, 6], f32);
      r.dispose();
    },
  ],
  [
    // regression: tidy() once moved every returned tensor to the parent scope, including tensors
    // created outside the inner tidy, so the outer tidy disposed them.
    'memory: a nested tidy returning a tensor created outside it does not dispose it',
    async () => {
      const a = ones([2]);
      tidy(() => {
        tidy(() => a);
        return null;
      });
      assert(!a.isDisposed, 'a tensor created before both tidy scopes was disposed by the outer tidy');
      await assertClose(a, [1, 1], f32);
      a.dispose();
    },
  ],
  [
    'memory: tidy frees its tensors when fn throws',
    async () => {
      const base = memory().numTensors;
      assertThrows(() => tidy(() => {
        ones([4]).add(2);
        throw new Error('boom');
      }), /boom/);
      assert(memory().numTensors === base, `after a throwing tidy: ${memory().numTensors} tensors, expected ${base}`);
    },
  ],
  [
    'memory: dispose decreases numTensors and numBytes; disposing twice is a no-op',
    async () => {
      const m0 = memory();
      const t = zeros([10, 10]);
      const m1 = memory();
      assert(m1.numTensors === m0.numTensors + 1, `numTensors ${m0.numTensors} → ${m1.numTensors}`);
      assert(m1.numBytes === m0.numBytes + 400, `numBytes grew by ${m1.numBytes - m0.numBytes}, expected 400`);
      t.dispose();
      t.dispose();
      const m2 = memory();
      assert(m2.numTensors === m0.numTensors && m2.numBytes === m0.numBytes, `after dispose: ${m2.numTensors} tensors, ${m2.numBytes} bytes`);
      assert(t.isDisposed, 'isDisposed is false after dispose()');
    },
  ],
  [
    'memory: reading a disposed tensor rejects with /disposed/; ops on it throw',
    async () => {
      const t = tensor([1, 2, 3]);
      t.dispose();
      await assertRejects(() => t.data(), /disposed/);
      await assertRejects(() => t.array(), /disposed/);
      assertThrows(() => t.add(1), /disposed/);
      assertThrows(() => exp(t), /disposed/);
      assertThrows(() => t.reshape(3, 1), /disposed/);
    },
  ],
  [
    'memory: views share storage — disposing the base keeps the view readable',
    async () => {
      const s0 = backendStats();
      const a = arange(6, undefined, 1, f32);
      const r = a.reshape(2, 3);
      const v = r.T;
      const s1 = backendStats();
      assert(s1.numStorages === s0.numStorages + 1, `views allocated storage (${s0.numStorages} → ${s1.numStorages})`);
      assert(s1.numTensors === s0.numTensors + 3, `numTensors ${s0.numTensors} → ${s1.numTensors}, expected +3`);
      a.dispose();
      r.dispose();
      await assertClose(v, [[0, 3], [1, 4], [2, 5]], f32);
      assert(backendStats().numStorages === s0.numStorages + 1, 'storage was freed while a view still uses it');
      v.dispose();
      const s2 = backendStats();
      assert(s2.numStorages === s0.numStorages && s2.numTensors === s0.numTensors && s2.numBytes === s0.numBytes,
        `after disposing every view: ${s2.numStorages} storages / ${s2.numTensors} tensors / ${s2.numBytes} bytes, expected ${s0.numStorages} / ${s0.numTensors} / ${s0.numBytes}`);
    },
  ],
];
