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
  // so no kernel changed and none got slower. Taken again (as every record below) when the
  // fused Adam step began writing moments under 2⁻¹⁰⁰ as +0: hashing each kernel alone
  // before and after that change showed adam's bytes changed, in both builds, and no other's.
  const BEFORE = [
    { shared: false, fma: false, bytes: 23211, sha256: '87051388a10ba7541aba96c1eec2ad3bcf48bad4d42396f63694b52232da9ed9' },
    { shared: false, fma: true, bytes: 22941, sha256: '57f1ba92fffff3a5e4c19c322e9d0639194936994c08a4a4734a5c7adc7c93a9' },
    { shared: true, fma: false, bytes: 23211, sha256: '38e93febb1bb36ef7a4f2f1b93e941edda86c633d461c3470a6514ac790f3fa6' },
    { shared: true, fma: true, bytes: 22941, sha256: '10f8741a86999e263d90f43065713e32a53f637aa4401adc0e77be2abd8cf309' },
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
    { shared: false, fma: false, bytes: 68207, sha256: 'b1cf029a55c79095a791ff521fb9720dd32a285d8114a261fe4bd40a8abd23df' },
    { shared: false, fma: true, bytes: 67937, sha256: '82d04f1f3d9ee129b6e11fbc10b2b686d53f38a2e193fc449299f3e8e6b95bc5' },
    { shared: true, fma: false, bytes: 68207, sha256: 'ee3b09e8b4e2e190dd066aba48f0508dc56c24cbf49bca4b2fa72acab946036f' },
    { shared: true, fma: true, bytes: 67937, sha256: '5ba8e2a75dbaa53480fad28445bc540dc8bb1402dbc28b1e77770dd22dfaee81' },
  ];

  // The records below (up to gemmBias and later) were taken again when colSums went
  // sixteen columns a pass (issue 22, seventh pass): hashing each kernel alone before and
  // after that change showed colSums' bytes changed and no other kernel's.
  //
  // SHA-256 of the kernels up to gemmBias in a module of their own: the whole module when
  // exp last changed, before conv3x3Tiles was appended after them.
  const THROUGH_GEMM_BIAS = [
    { shared: false, fma: false, bytes: 70084, sha256: 'eda7641818caf8516869518d9647bd1b0b441b3cf3c646e80fdaf2d99c5e2464' },
    { shared: false, fma: true, bytes: 69790, sha256: 'beb6927ff2a6c00beb0618efa1671d8719e760e8e92b0fb81b21c13bd5cd88f1' },
    { shared: true, fma: false, bytes: 70084, sha256: 'bf3c357860fecf149d1c52b994cbf0d2c788a43947f64ab9ae69d9918beb43fe' },
    { shared: true, fma: true, bytes: 69790, sha256: 'd87f8e202a6586176b8e57ff75cf150c424f491dcfe437a7583fd8981aad214c' },
  ];

  // SHA-256 of the kernels up to conv3x3Tiles in a module of their own: the whole module
  // before transposeTiled was appended after them.
  const THROUGH_CONV3X3_TILES = [
    { shared: false, fma: false, bytes: 71289, sha256: 'd3999d18f39da9e752523c5b8420b168f8daa279296e14ca9a7db05ea2cd5e8e' },
    { shared: false, fma: true, bytes: 70959, sha256: '01b5db117c4b8a2bcd62203d67ab8928ce5207a984b9b6ce15d1e5770e3a4d2f' },
    { shared: true, fma: false, bytes: 71289, sha256: '9fff8b4e6e3e9bc85d76135609a3fff68e1b72e6f10b48b1c345f0145f082f36' },
    { shared: true, fma: true, bytes: 70959, sha256: '253cc46859766948cef5644b22e31c09284f265bad73126db36113097b527438' },
  ];

  // SHA-256 of the kernels up to transposeTiled in a module of their own: the whole module
  // before the Winograd F(4×4, 3×3) kernels were appended after them.
  const THROUGH_TRANSPOSE_TILED = [
    { shared: false, fma: false, bytes: 73860, sha256: 'c0571c555b216d8e9b718cd9c23810c25965c0b45c91b532c1310f4606a33b9e' },
    { shared: false, fma: true, bytes: 73530, sha256: 'dabfbbecd3ea83e2b4eac93fd0298ea71860402987f4e71bbfb875fb2e3c43ba' },
    { shared: true, fma: false, bytes: 73860, sha256: '73db360530414b8b8320451854e22dec5ae6a3ec12183aa81dd241c2ec2d2560' },
    { shared: true, fma: true, bytes: 73530, sha256: 'd84f7634f1679eb59495d1e5ccbe285baf8959c2b66a6cd40cf2132b6207ee5e' },
  ];
  // SHA-256 of the kernels up to winograd4GradConv in a module of their own: the whole
  // module before the attention kernels were appended after them (the transformer family's
  // lane sums, since moved to kernels/shared.ts, still give these bytes).
  const THROUGH_WINOGRAD4 = [
    { shared: false, fma: false, bytes: 109516, sha256: 'f1c10b558e90ade80fc3470e06be94803a9c3926d38b63c5868c099ca725910f' },
    { shared: false, fma: true, bytes: 109186, sha256: 'acfb81434b45437d4ca15ba54efc9d648b98a8bdd49cf046710611712b5c9256' },
    { shared: true, fma: false, bytes: 109516, sha256: '9d11054494bc89903c9215be7d7d543149344dd2acf9823dbea7951496785961' },
    { shared: true, fma: true, bytes: 109186, sha256: 'e1731780b653fd70d47c5d3ad3f84f3a90a71ccba2e1e3f274f35c9a62506544' },
  ];
  // SHA-256 of the kernels up to attentionBackward in a module of their own: the whole
  // module before recurrentSteps was appended after them.
  const THROUGH_ATTENTION = [
    { shared: false, fma: false, bytes: 116196, sha256: '7032eab903a95798ca0c88e2eb58be11c8cb17b3dca99407a2669f187b77650c' },
    { shared: false, fma: true, bytes: 115770, sha256: 'e1760cfd6b72a5ee7a7da5648080404382a4d67f4d9315f331201919aa6e1da2' },
    { shared: true, fma: false, bytes: 116196, sha256: '47ff1a584577bcfd507d746fec2b9be778812cdfcabbeaf206187f96d748bd7d' },
    { shared: true, fma: true, bytes: 115770, sha256: '48e09366d18a0dae3fcfd608289274c333cba05727d10944e229f9eafd6b0b16' },
  ];
  // SHA-256 of the kernels up to recurrentSteps in a module of their own: the whole
  // module before recurrentStepsBack was appended after them.
  const THROUGH_RECURRENT_STEPS = [
    { shared: false, fma: false, bytes: 116515, sha256: 'a63064f5aa411e10a8832c512a3b3ee534219e3877ba5e50681983353e227195' },
    { shared: false, fma: true, bytes: 116089, sha256: '8f1eaa09ffa3d35f424207aeb8808b131f00d5a383aa651324b863ad7ec20af1' },
    { shared: true, fma: false, bytes: 116515, sha256: '1565fbb7bbd18b19de5e4002a927f0ac3790e64949be24be3a79883b19deab75' },
    { shared: true, fma: true, bytes: 116089, sha256: '727b40ea081c5c6dc86dcc86d2dc20bd3bb0530b241e6cdca380cdc6199d6630' },
  ];
  // SHA-256 of the whole module, recorded when it last changed (recurrentStepsBack
  // appended): a change to any kernel's instructions shows here.
  const NOW = [
    { shared: false, fma: false, bytes: 116874, sha256: 'c03f83e27027fb00e14f1912da14e50bdca2dcf550bba46c6fc103ebbb4ace4e' },
    { shared: false, fma: true, bytes: 116448, sha256: 'b4b3aa4bf2f396104f98747a4ec95de182710f8ffaec1b7e000f50a0ded7ea9b' },
    { shared: true, fma: false, bytes: 116874, sha256: '33e9f5d7197615e8476cdb3567c621cfd0f1803475bbfe4634cc4ca53d0580c6' },
    { shared: true, fma: true, bytes: 116448, sha256: 'f7481543b38d43f62339e184603e7eb08640457a6b6b4d1f15b972c1686d97e7' },
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
