import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { array, f32, fn, i32, moduleBytes, op, v128 } from '../src/assembler.js';
import { WasmGemm } from '../src/gemm.js';
import { KERNELS, MAX_PAGES, SPLIT_KERNELS, enableRelaxedSimd, kernelModule, kernelOf, positional, relaxedSimdSupported, type KernelExports, type KernelName } from '../src/kernels/index.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

describe('the kernels module', () => {
  // SHA-256 of kernelModule(shared, fma) as built by the hand-numbered kernels.ts of commit
  // ee8ec1a, recorded before the kernels moved to named locals (a script importing that
  // kernels.ts and hashing each configuration): the same bytes mean the same instructions,
  // so no kernel changed and none got slower.
  const BEFORE = [
    { shared: false, fma: false, bytes: 23165, sha256: '3149e1ceb3abc3144e3e74470469ba0ef6263bd627786c3f6c225b5b637a12e3' },
    { shared: false, fma: true, bytes: 22895, sha256: '14257172b006bcc25e442b8c8243d4337784d8516762fbd6d713e0d6cc6525d9' },
    { shared: true, fma: false, bytes: 23165, sha256: '6758edb4f7474c34ca24e155918ac5768ac54aa46bb08349c685c4db986d5a5b' },
    { shared: true, fma: true, bytes: 22895, sha256: '58f3930a71812f5f5d6451c85b928efb4be3b799fef45db5bee737f15651aa8f' },
  ];
  // The recurrent gate kernels (issue 22) came after them in the table: the kernels before
  // them, built into a module of their own the way kernelModule builds it, are still those bytes.
  const names = Object.keys(KERNELS) as KernelName[];
  /** The table's first `count` kernels in a module of their own, built the way kernelModule builds it. */
  const firstKernels = (count: number, shared: boolean, fma: boolean) => {
    const kernels = names.slice(0, count);
    return moduleBytes(kernels.map((n) => kernelOf(n).build(n, { fma, call: (k) => op.call(kernels.indexOf(k as KernelName)) })), { initialPages: 16, maximumPages: shared ? 16384 : MAX_PAGES, shared });
  };

  // SHA-256 of the kernels up to gemmBatch (the recurrent gate kernels of kernels/recurrent.ts,
  // the transformer's row kernels of kernels/transformer.ts, gemmBatch) built into a module of
  // their own, recorded when their exp last changed (its clamp by f32x4.pmin/pmax, its
  // rounding by 1.5·2²³: the same values, fewer instructions): colSums, copyBlocks and
  // gemmBias, appended after them, changed none of them.
  const THROUGH_GEMM_BATCH = [
    { shared: false, fma: false, bytes: 67789, sha256: '4dbea54e5860f8498976e643d14f4b3f2a78a070b2118b054bcc95ac946d4ff7' },
    { shared: false, fma: true, bytes: 67519, sha256: '1c050430a1401af6fb60bba798f6c74cc80948fb8ec6cd7426baa4822851f0ff' },
    { shared: true, fma: false, bytes: 67789, sha256: 'f5a7384c7f67c23faeb5e596f24ba444d06e030ed5a46d0c856dc489c283263a' },
    { shared: true, fma: true, bytes: 67519, sha256: '337747a0982b3fd2891f3fbc7c263911f57ab764cdf187dde152b1f56e52823b' },
  ];

  // SHA-256 of the kernels up to gemmBias in a module of their own: the whole module when
  // exp last changed, before conv3x3Tiles was appended after them.
  const THROUGH_GEMM_BIAS = [
    { shared: false, fma: false, bytes: 68906, sha256: '3fe33481e9c0d171b5cb2b6ae70efb5d9e1ff934d7aaa77452533a521130691d' },
    { shared: false, fma: true, bytes: 68612, sha256: '73dbd97d09cd122e3369ef3b389480676a0e6f1db87b8a14bd9c1280487639da' },
    { shared: true, fma: false, bytes: 68906, sha256: '1b6b6321a9289409a6f84974e9294bbacebd61bdcfbd50609a7659e454e5e1dd' },
    { shared: true, fma: true, bytes: 68612, sha256: 'a3c15e03f932e56c920f54abaa9a1339210c836746b2c4b8600782b2ec48e992' },
  ];

  // SHA-256 of the kernels up to conv3x3Tiles in a module of their own: the whole module
  // before transposeTiled was appended after them.
  const THROUGH_CONV3X3_TILES = [
    { shared: false, fma: false, bytes: 70111, sha256: 'a0959affa063bea88394e24d983cff607681acd8dff0c609443580b259ba6111' },
    { shared: false, fma: true, bytes: 69781, sha256: '5f4e1ecb1b7fd027d9e02a40673f0b897460cb2fab88d3d43af43126a3889da0' },
    { shared: true, fma: false, bytes: 70111, sha256: '65e45400afb24eaf880b141a5ac379062fc4f5fa19b4988156b7476afd9c74a3' },
    { shared: true, fma: true, bytes: 69781, sha256: '22cc2c6e5dc8587b26a5e49afe01d10546da0b4bd7c526a4cf65fa6e2c516d48' },
  ];

  // SHA-256 of the kernels up to transposeTiled in a module of their own: the whole module
  // before the Winograd F(4×4, 3×3) kernels were appended after them.
  const THROUGH_TRANSPOSE_TILED = [
    { shared: false, fma: false, bytes: 72682, sha256: '66000c436a81d69f50fcfbd6dcc53b1f3a661407ba4ce34a2a8fe1cb0cd44630' },
    { shared: false, fma: true, bytes: 72352, sha256: '7899adb3fed3d8ab8996cacd6cf27be383c4f0695f17e68282d150ea48b2344c' },
    { shared: true, fma: false, bytes: 72682, sha256: 'e9c478acdc3f759a5cfc2472d6ed22fd29518bae6b83e26fc281952d6b603ad5' },
    { shared: true, fma: true, bytes: 72352, sha256: 'e1e086a58d903181e98906c70e5c005198aecd1dbc9e9ccae43244f263cedc9a' },
  ];
  // SHA-256 of the kernels up to winograd4GradConv in a module of their own: the whole
  // module before the attention kernels were appended after them (the transformer family's
  // lane sums, since moved to kernels/shared.ts, still give these bytes).
  const THROUGH_WINOGRAD4 = [
    { shared: false, fma: false, bytes: 108338, sha256: '0f243f71f10575a883a24476b983596c2648a273dd3aebbe61008902c364a25d' },
    { shared: false, fma: true, bytes: 108008, sha256: '2eac4a71c261b03469aae74087361120547c88dea78076b7b40031833f731be5' },
    { shared: true, fma: false, bytes: 108338, sha256: '529c610a7085aef6e0d8c746b419380f7101ab720fbf47c4ab65c913d0511b3c' },
    { shared: true, fma: true, bytes: 108008, sha256: 'cb9e3f39e2a349b49ea606dd0d9e3ad502daef62cbb184c73f5f7057172a7861' },
  ];
  // SHA-256 of the whole module, recorded when it last changed (the attention kernels
  // appended): a change to any kernel's instructions shows here.
  const NOW = [
    { shared: false, fma: false, bytes: 115018, sha256: 'e61d331a1fd2a8e902b51cbe48dc5c1d4be63e6187b17c14a6e858619009b934' },
    { shared: false, fma: true, bytes: 114592, sha256: '3ff13456f707388888de19c5847e7462b5b792d61d683e18397f46d284934c65' },
    { shared: true, fma: false, bytes: 115018, sha256: '532e4e724726c5b6bce589a30e1832567c44f50bfb2222c29b1876977bc59fea' },
    { shared: true, fma: true, bytes: 114592, sha256: '68c8a9baa33bd3496abec214aedcdce1dae2f83eaca41ada8e4b01c6e4dd766a' },
  ];
  const RECORDED = [
    { what: 'the module of the hand-numbered kernels', wants: BEFORE, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('lstmGates'), shared, fma) },
    { what: 'the recorded module up to gemmBatch', wants: THROUGH_GEMM_BATCH, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('gemmBatch') + 1, shared, fma) },
    { what: 'the recorded module up to gemmBias', wants: THROUGH_GEMM_BIAS, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('gemmBias') + 1, shared, fma) },
    { what: 'the recorded module up to conv3x3Tiles', wants: THROUGH_CONV3X3_TILES, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('conv3x3Tiles') + 1, shared, fma) },
    { what: 'the recorded module up to transposeTiled', wants: THROUGH_TRANSPOSE_TILED, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('transposeTiled') + 1, shared, fma) },
    { what: 'the recorded module up to winograd4GradConv', wants: THROUGH_WINOGRAD4, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('winograd4GradConv') + 1, shared, fma) },
    { what: 'the recorded module', wants: NOW, bytesOf: kernelModule },
  ];
  for (const { what, wants, bytesOf } of RECORDED) {
    for (const want of wants) {
      it(`is byte for byte ${what} (shared ${want.shared}, fma ${want.fma})`, () => {
        const bytes = bytesOf(want.shared, want.fma);
        expect(bytes.length).toBe(want.bytes);
        expect(sha256(bytes)).toBe(want.sha256);
      });
    }
  }

  it('exports every kernel of the table under its name, each taking its parameters', () => {
    const exports = new WebAssembly.Instance(new WebAssembly.Module(kernelModule(false)), { env: { memory: new WebAssembly.Memory({ initial: 16, maximum: 32 }) } }).exports;
    expect(Object.keys(exports)).toEqual(Object.keys(KERNELS));
    for (const name of Object.keys(KERNELS) as KernelName[]) {
      expect((exports[name] as (...a: number[]) => void).length, name).toBe(Object.keys(kernelOf(name).params).length);
    }
  });

  it('types each export from its parameter record (a call with the wrong arity does not compile)', () => {
    const check = (k: KernelExports): void => {
      k.fill32(16, 4, 0);
      // @ts-expect-error fill32 takes (dst, n, value)
      k.fill32(16, 4);
      // @ts-expect-error no kernel has this name
      void k.fill64;
    };
    expect(typeof check).toBe('function');
  });

  it('lists as splittable exactly the kernels with a split, whose units and pointers are i32 parameters', () => {
    const names = Object.keys(KERNELS) as KernelName[];
    expect([...SPLIT_KERNELS]).toEqual(names.filter((k) => kernelOf(k).split !== undefined));
    expect(SPLIT_KERNELS).toContain('adam');
    expect(SPLIT_KERNELS).not.toContain('gemm'); // products split by panels, not units
    for (const k of SPLIT_KERNELS) {
      const { params, split } = kernelOf(k);
      for (const arg of [split!.units, ...split!.pointers, ...(split!.last ? [split!.last.arg] : [])]) expect(params[arg], `${k}.${arg}`).toBe(i32);
      expect(Object.values(params)).not.toContain(0x7c); // f64 cannot travel in the control array
    }
  });

  it('puts arguments by name into the parameters\' order', () => {
    expect(positional('fill32', { value: 7, n: 3, dst: 64 })).toEqual([64, 3, 7]);
  });
});

describe('relaxed SIMD (fused multiply-add)', () => {
  it('is used where the engine validates it, and the package turns on no engine flag by itself', () => {
    const before = relaxedSimdSupported();
    const g = new WasmGemm({ threads: 1 });
    expect(g.fma).toBe(before);
    expect(relaxedSimdSupported()).toBe(before);
    expect(new WasmGemm({ threads: 1, fma: false }).fma).toBe(false);
  });

  it('enableRelaxedSimd() makes it available (Node 20: V8\'s flag, on request), and products built after it fuse', () => {
    expect(enableRelaxedSimd()).toBe(true);
    expect(relaxedSimdSupported()).toBe(true);
    expect(new WasmGemm({ threads: 1 }).fma).toBe(true);
  });
});

describe('fn: functions with named, typed parameters and locals', () => {
  it('numbers parameters then locals in order and declares the locals in runs of one type', () => {
    const def = fn('f', { a: i32, b: f32 }, { i: i32, j: i32, acc: array(v128, 3), m: f32, n: f32, k: i32 }, (f) => [
      ...f.get('a'), ...f.set('k'), // local 0 to local 9
      ...f.get('acc', 2), ...f.set('acc', 0), // locals 6, 4
      ...f.get('b'), ...f.tee('n'), ...op.f32Add, ...f.set('m'), // 1, 8, 7
    ]);
    expect(def.params).toEqual([0x7f, 0x7d]);
    expect(def.locals).toEqual([{ count: 2, type: 0x7f }, { count: 3, type: 0x7b }, { count: 2, type: 0x7d }, { count: 1, type: 0x7f }]);
    // local.get 0, local.set 9, local.get 6, local.set 4, local.get 1, local.tee 8, f32.add, local.set 7
    expect(def.body).toEqual([0x20, 0, 0x21, 9, 0x20, 6, 0x21, 4, 0x20, 1, 0x22, 8, 0x92, 0x21, 7]);
  });

  it('writes a counted loop over a named local', () => {
    const def = fn('f', { n: i32 }, { i: i32 }, (f) => f.forUp('i', f.get('n'), []));
    // i32.const 0, local.set 1, block, loop, local.get 1, local.get 0, i32.ge_u, br_if 1,
    // local.get 1, i32.const 1, i32.add, local.set 1, br 0, end, end
    expect(def.body).toEqual([0x41, 0, 0x21, 1, 0x02, 0x40, 0x03, 0x40, 0x20, 1, 0x20, 0, 0x4f, 0x0d, 1, 0x20, 1, 0x41, 1, 0x6a, 0x21, 1, 0x0c, 0, 0x0b, 0x0b]);
  });

  it('rejects a misspelt name (a type error, and at build time), an array used without its index, a name declared twice', () => {
    // @ts-expect-error 'y' is neither a parameter nor a local
    expect(() => fn('f', { x: i32 }, {}, (f) => f.get('y'))).toThrow("no local 'y'");
    // @ts-expect-error acc is an array: it takes an index
    expect(() => fn('f', {}, { acc: array(v128, 2) }, (f) => f.get('acc'))).toThrow("'acc' used without an index");
    expect(() => fn('f', {}, { acc: array(v128, 2) }, (f) => f.get('acc', 2))).toThrow("'acc' used with index 2");
    expect(() => fn('f', { x: i32 }, { x: f32 }, () => [])).toThrow("'x' is declared twice");
    expect(() => fn('f', { x: i32 }, { 7: i32 }, () => [])).toThrow("'7' is declared twice, or is a number"); // would sort first
  });

  it('builds a module that runs: a named-local function adding its two arguments', () => {
    const add = fn('add2', { a: i32, b: i32 }, { s: i32 }, (f) => [...f.get('a'), ...f.get('b'), ...op.i32Add, ...f.set('s'), ...op.i32(0), ...f.get('s'), ...op.i32Store(0)]);
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
    const { add2 } = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes([add], { initialPages: 1, maximumPages: 1, shared: false })), { env: { memory } }).exports as { add2(a: number, b: number): void };
    add2(40, 2);
    expect(new Int32Array(memory.buffer)[0]).toBe(42);
  });
});

describe('WasmGemm.call and WasmGemm.split: kernels called with arguments by name', () => {
  const g = new WasmGemm({ threads: 2 });
  it('call fills a block with a value\'s bits', () => {
    const at = g.alloc(64);
    g.call('fill32', { dst: at, n: 5, value: 0x3f800000 });
    expect(Array.from(g.heap.f32.subarray(at >> 2, (at >> 2) + 5))).toEqual([1, 1, 1, 1, 1]);
    g.heap.free(at);
  });

  it('split runs relu over ranges of vectors on both threads: max(x, 0) for every element', async () => {
    await g.whenReady();
    const n = 1 << 16; // 256 KiB in and out: past the threshold for splitting
    const [x, out] = [g.alloc(4 * n), g.alloc(4 * n)];
    const f = g.heap.f32;
    for (let i = 0; i < n; i++) f[(x >> 2) + i] = ((i * 7919) % 201) - 100;
    const before = g.splitCalls;
    g.split('relu', { x, out, n4: n / 4 }, { x: 16, out: 16 }, 8 * n);
    expect(g.splitCalls).toBe(before + 1);
    let wrong = 0;
    for (let i = 0; i < n; i++) if (f[(out >> 2) + i] !== Math.max(((i * 7919) % 201) - 100, 0)) wrong++;
    expect(wrong).toBe(0);
    g.heap.free(x);
    g.heap.free(out);
    await g.close();
  });
});
