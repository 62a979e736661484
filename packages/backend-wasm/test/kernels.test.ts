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

  // The records below (up to gemmBias and later) were taken again when colSums went
  // sixteen columns a pass (issue 22, seventh pass): hashing each kernel alone before and
  // after that change showed colSums' bytes changed and no other kernel's.
  //
  // SHA-256 of the kernels up to gemmBias in a module of their own: the whole module when
  // exp last changed, before conv3x3Tiles was appended after them.
  const THROUGH_GEMM_BIAS = [
    { shared: false, fma: false, bytes: 69666, sha256: '7e37da076c19ea4fd91abb707811ef9c75ee57ee2cfe6068a231b58681fb1a16' },
    { shared: false, fma: true, bytes: 69372, sha256: '92eee06e9be515b18303aafe98d513e7caa6eac491f116947a59e8e23cdb14a7' },
    { shared: true, fma: false, bytes: 69666, sha256: 'dffaf01bf8cc78970a0da919876f5e7c084fa3da848ab95935479371075822c3' },
    { shared: true, fma: true, bytes: 69372, sha256: '7def8d3b872a18b1f479ea93ad7c4dd00fea24a53cc40a771b4128b3e90e549d' },
  ];

  // SHA-256 of the kernels up to conv3x3Tiles in a module of their own: the whole module
  // before transposeTiled was appended after them.
  const THROUGH_CONV3X3_TILES = [
    { shared: false, fma: false, bytes: 70871, sha256: '15c84eba5d32f6b6ebefabbc24aeb7415d92d89739a5f655ac7723313c060e9c' },
    { shared: false, fma: true, bytes: 70541, sha256: '5b705d7b28a4e460c6d5644620be79731a6987218fdcdd944462997faae0495f' },
    { shared: true, fma: false, bytes: 70871, sha256: 'bef04e88c2f7ebc60845db472de4d293a863c9fd16a4cb24663b9726c4d18085' },
    { shared: true, fma: true, bytes: 70541, sha256: '0bab917b99d0f19b1472e975f5d75cbce419393cf9b83eb95a49a32f689112b0' },
  ];

  // SHA-256 of the kernels up to transposeTiled in a module of their own: the whole module
  // before the Winograd F(4×4, 3×3) kernels were appended after them.
  const THROUGH_TRANSPOSE_TILED = [
    { shared: false, fma: false, bytes: 73442, sha256: '1877da1f2ccfa9373265446478d0254d14f0277bc958e7f96b84ef3f48746a10' },
    { shared: false, fma: true, bytes: 73112, sha256: 'ee3972c9b1c2374567e1cedd452a3cb42a81f3d6c8b59b69b0e70d90a284c6f9' },
    { shared: true, fma: false, bytes: 73442, sha256: 'daa88ce8829703baba8c4fa71cb966d141fc1369fc4a0cdb430ed92b206753ba' },
    { shared: true, fma: true, bytes: 73112, sha256: '09801b4411f19dafba4cfc51455466ccf13986a6cf5814c1a0765aa9fb9c5489' },
  ];
  // SHA-256 of the kernels up to winograd4GradConv in a module of their own: the whole
  // module before the attention kernels were appended after them (the transformer family's
  // lane sums, since moved to kernels/shared.ts, still give these bytes).
  const THROUGH_WINOGRAD4 = [
    { shared: false, fma: false, bytes: 109098, sha256: '3707a590e82a83307612d07e1563248cc57b66b5c7bad2484094b872db732d6b' },
    { shared: false, fma: true, bytes: 108768, sha256: '32778ef26f5eef94e3fce6002aaebe9e1fb7fdd57427158793860fcf6560f955' },
    { shared: true, fma: false, bytes: 109098, sha256: '21e594dc7c2b5bfaffede09806c22229dc529bded506fa5fd10be713c2267146' },
    { shared: true, fma: true, bytes: 108768, sha256: 'ea7ef98e134f68d275a50cc38a2ee42af7a48ab2a5000d4ef5196f40eb8093aa' },
  ];
  // SHA-256 of the kernels up to attentionBackward in a module of their own: the whole
  // module before recurrentSteps was appended after them.
  const THROUGH_ATTENTION = [
    { shared: false, fma: false, bytes: 115778, sha256: 'c0c43312a2f273d0cfe3c20ba0f4c06936a8de90409fd268cbdb4c45e3f76a2a' },
    { shared: false, fma: true, bytes: 115352, sha256: 'febbf717e7fc5f1c2870f2a2ecfa06f2fb3006617f540675ee1c9458ed241a4e' },
    { shared: true, fma: false, bytes: 115778, sha256: 'd9e58d1689a4c2f8d7b08a11f32f9bca161bb3ce461701753866edad30de328c' },
    { shared: true, fma: true, bytes: 115352, sha256: '11a6b3e80903bfbb0515756b0593b4556b5ebdb303b71998afcf882c1acbcac1' },
  ];
  // SHA-256 of the kernels up to recurrentSteps in a module of their own: the whole
  // module before recurrentStepsBack was appended after them.
  const THROUGH_RECURRENT_STEPS = [
    { shared: false, fma: false, bytes: 116097, sha256: '76f85a08fcccec8631830c7c701148769831b870059d0ed00752e7ea81e6be8b' },
    { shared: false, fma: true, bytes: 115671, sha256: '81daec3d8a01fc27e2f0ed64f34cfbc35b44d128f2ada08251cbe97b6096bbc1' },
    { shared: true, fma: false, bytes: 116097, sha256: '551421478ffc9fa1c1f3d4e1f3ebfd7d83311b76a34d181c7b6532a6d80f45e5' },
    { shared: true, fma: true, bytes: 115671, sha256: '45b0507401517ac4e98408f80160ce8d4ddb023d9daf1aae928f33a9891de914' },
  ];
  // SHA-256 of the whole module, recorded when it last changed (recurrentStepsBack
  // appended): a change to any kernel's instructions shows here.
  const NOW = [
    { shared: false, fma: false, bytes: 116456, sha256: 'f9c8fe66febdf91155683dcd5c15b21a2de8335e73c9192228a1c4473693af0a' },
    { shared: false, fma: true, bytes: 116030, sha256: '837e7c7ce33ead22cdc74a8c06b27a7210777c2f017f14a27f97d232dce5aac3' },
    { shared: true, fma: false, bytes: 116456, sha256: '15ceb2d28ded607fc136fa9aae234145eef4c81384d8def6ec4bc571377aac43' },
    { shared: true, fma: true, bytes: 116030, sha256: '73aa00d0c2a7a76654f31d5b81976dcd5088196979ddab740f05d11679aaa929' },
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
