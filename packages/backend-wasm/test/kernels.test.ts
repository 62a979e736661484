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
  //
  // Every record from here on was taken again when the three backward gate passes began
  // writing gradients under 2⁻¹⁰⁰ as +0 (GRADIENT_FLUSH_BELOW): hashing each kernel alone
  // before and after that change showed lstmGatesBackward, gruGatesBackward and
  // rnnGatesBackward changed, in both builds, and no other kernel.
  const THROUGH_GEMM_BATCH = [
    { shared: false, fma: false, bytes: 68161, sha256: '3eb39304247c740451b40f6253fe529b6029882fd6e67ec40e03c79f3499f3f7' },
    { shared: false, fma: true, bytes: 67891, sha256: '6e65376f1ba8125f7d8656641cb676f85477e14ca0c045e72d421f83ff4a860a' },
    { shared: true, fma: false, bytes: 68161, sha256: '5872eda6b86da4739405ee37d0689732e9ccc5ca65ac82fd3649b24587966e64' },
    { shared: true, fma: true, bytes: 67891, sha256: '2236d5b3840f5c3d25b28f60ac8ef3e4cbab9394f104a59cf94db03213221267' },
  ];

  // The records below (up to gemmBias and later) were taken again when colSums went
  // sixteen columns a pass (issue 22, seventh pass): hashing each kernel alone before and
  // after that change showed colSums' bytes changed and no other kernel's.
  //
  // SHA-256 of the kernels up to gemmBias in a module of their own: the whole module when
  // exp last changed, before conv3x3Tiles was appended after them.
  const THROUGH_GEMM_BIAS = [
    { shared: false, fma: false, bytes: 70038, sha256: '4245042921f60f23b6aa565ff68ba8eb519696a9ec691611754fc006d3daebb7' },
    { shared: false, fma: true, bytes: 69744, sha256: '8bc9604c383b2d628d4eef502e92baacd99627d4cff8edcf1c97572746ab80e8' },
    { shared: true, fma: false, bytes: 70038, sha256: 'd558a5d3554837c6c2d2c4c48abe74b3b2eee191943e8a0a84c0fbc037737d11' },
    { shared: true, fma: true, bytes: 69744, sha256: 'c8ca197522280bb6cf94a37f332b942a88e250738e611305f9fd6597032fad57' },
  ];

  // SHA-256 of the kernels up to conv3x3Tiles in a module of their own: the whole module
  // before transposeTiled was appended after them.
  const THROUGH_CONV3X3_TILES = [
    { shared: false, fma: false, bytes: 71243, sha256: '0d625c3c581b8ed4dfa5891e901344de392c394367527e84cae56c9dab53cb68' },
    { shared: false, fma: true, bytes: 70913, sha256: '9d068bcf58f4fcd8da75f90267e950cee62a6bdfdb020a42f4e1e55b4618f14a' },
    { shared: true, fma: false, bytes: 71243, sha256: 'b9ddc115e6e4f28acabf658abf3682f31a85c63ebfa174446e9852f4bbf6f216' },
    { shared: true, fma: true, bytes: 70913, sha256: '728a67a956e8620d7cca7fc51735426d3775a5dc58733ab2fc3b2e2fd8c4ca35' },
  ];

  // SHA-256 of the kernels up to transposeTiled in a module of their own: the whole module
  // before the Winograd F(4×4, 3×3) kernels were appended after them.
  const THROUGH_TRANSPOSE_TILED = [
    { shared: false, fma: false, bytes: 73814, sha256: '72239adc70dd58356853f223f869c219ae6f19d6d3195584b6550616675c9b04' },
    { shared: false, fma: true, bytes: 73484, sha256: 'c93b17f3643d40dd6dbefed4fb081215b4829c575014962db88a64c7c4414e35' },
    { shared: true, fma: false, bytes: 73814, sha256: 'e774aba37758168effa48dafd3772116e7ad3e21659cb400e8018532bb44303a' },
    { shared: true, fma: true, bytes: 73484, sha256: 'f80f3525b170468aab309e26e701bff942f34853a838ca8862ac1c2e0273a1f0' },
  ];
  // SHA-256 of the kernels up to winograd4GradConv in a module of their own: the whole
  // module before the attention kernels were appended after them (the transformer family's
  // lane sums, since moved to kernels/shared.ts, still give these bytes).
  const THROUGH_WINOGRAD4 = [
    { shared: false, fma: false, bytes: 109470, sha256: 'd8f3c1c60c09461f951425732269be50bad1333a120d2165f1e557223d1f3f9f' },
    { shared: false, fma: true, bytes: 109140, sha256: '02c072d65fc8da88cf39bb2740ab7e83d1c62d0c9324202241e1e56d0058fbbe' },
    { shared: true, fma: false, bytes: 109470, sha256: '222dcfc541a6b23c31724d926d7d084fe8173c35572ab15ad067514a78f8476b' },
    { shared: true, fma: true, bytes: 109140, sha256: 'fe28fe06746f661361dc07f1697e2ce4162712abfb53bc626b9b2bc26aba1b7a' },
  ];
  // SHA-256 of the kernels up to attentionBackward in a module of their own: the whole
  // module before recurrentSteps was appended after them.
  const THROUGH_ATTENTION = [
    { shared: false, fma: false, bytes: 116150, sha256: '2f3e0a32c5271d8432213367e9c86dcf12c669ff7d3ed737908a08f2b05d24fc' },
    { shared: false, fma: true, bytes: 115724, sha256: '2b3074ec1529e4200a1fa102ad32b637da9eea16ea581cde0da214852845c4f7' },
    { shared: true, fma: false, bytes: 116150, sha256: '90e721f69de11a56df2da38ca91e2831c85a50068eb377ee92d403ee875a0ed2' },
    { shared: true, fma: true, bytes: 115724, sha256: 'b1b0804169512534903ba5b2817163f65fad4000c83195832ae36e1d95c489a6' },
  ];
  // SHA-256 of the kernels up to recurrentSteps in a module of their own: the whole
  // module before recurrentStepsBack was appended after them.
  const THROUGH_RECURRENT_STEPS = [
    { shared: false, fma: false, bytes: 116469, sha256: '91f23f50e1943299ce281b2ab01a129816a4b52dcc73747f5b684ca1aa10d3aa' },
    { shared: false, fma: true, bytes: 116043, sha256: '9bc38277b5d4714b46a2d30862ab0bf2e9dfe926f50446444f94b2aaffd0dbd2' },
    { shared: true, fma: false, bytes: 116469, sha256: 'a476217833408c718dddda4734d668d8eaa205565d0749fc17e5009c05943d9b' },
    { shared: true, fma: true, bytes: 116043, sha256: 'd6d825edfa0c5a9dca5eadb135fa11a214f2afe30c6dafc433e2a02114ec96e5' },
  ];
  // SHA-256 of the whole module, recorded when it last changed (recurrentStepsBack
  // appended): a change to any kernel's instructions shows here.
  const NOW = [
    { shared: false, fma: false, bytes: 116828, sha256: '2e98b17f51dc69322e8b4b3a85bd5cb668d3a92687b7a17b9a213ff6e1acf5e5' },
    { shared: false, fma: true, bytes: 116402, sha256: 'e0a83ee3dec38383404af1af5c2888b3debae839ca549ffd33a65e623c069c87' },
    { shared: true, fma: false, bytes: 116828, sha256: '482dc8a11cf31dfaae969805682a6dae77a6c854f186e690f5127686db710f2c' },
    { shared: true, fma: true, bytes: 116402, sha256: 'ac7d9490c7bc5a3d6a1811c001acfccfdd389aac85d10fcee5aa86b258327768' },
  ];
  const RECORDED = [
    { what: 'the module of the hand-numbered kernels', wants: BEFORE, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('lstmGates'), shared, fma) },
    { what: 'the recorded module up to gemmBatch', wants: THROUGH_GEMM_BATCH, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('gemmBatch') + 1, shared, fma) },
    { what: 'the recorded module up to gemmBias', wants: THROUGH_GEMM_BIAS, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('gemmBias') + 1, shared, fma) },
    { what: 'the recorded module up to conv3x3Tiles', wants: THROUGH_CONV3X3_TILES, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('conv3x3Tiles') + 1, shared, fma) },
    { what: 'the recorded module up to transposeTiled', wants: THROUGH_TRANSPOSE_TILED, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('transposeTiled') + 1, shared, fma) },
    { what: 'the recorded module up to winograd4GradConv', wants: THROUGH_WINOGRAD4, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('winograd4GradConv') + 1, shared, fma) },
    { what: 'the recorded module up to attentionBackward', wants: THROUGH_ATTENTION, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('attentionBackward') + 1, shared, fma) },
    { what: 'the recorded module up to recurrentSteps', wants: THROUGH_RECURRENT_STEPS, bytesOf: (shared: boolean, fma: boolean) => firstKernels(names.indexOf('recurrentSteps') + 1, shared, fma) },
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
