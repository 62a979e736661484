/**
 * Just enough of a WebAssembly binary writer to build this package's kernels at load time
 * (no toolchain, nothing downloaded): LEB128 numbers, sections, and the opcodes the
 * kernels use, SIMD included.
 */

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

const utf8 = (s: string): number[] => [...new TextEncoder().encode(s)];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

/** Instructions, as byte arrays to concatenate. */
export const op = {
  block: [0x02, 0x40],
  if: [0x04, 0x40],
  /** an `if` whose arms leave one f32 */
  ifF32: [0x04, 0x7d],
  else: [0x05],
  loop: [0x03, 0x40],
  end: [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  get: (i: number) => [0x20, ...uleb(i)],
  set: (i: number) => [0x21, ...uleb(i)],
  tee: (i: number) => [0x22, ...uleb(i)],
  i32: (v: number) => [0x41, ...sleb(v)],
  i32Eqz: [0x45],
  i32LtS: [0x48],
  i32LeS: [0x4c],
  /** select: a, b, condition on the stack → a if the condition is non-zero, else b */
  select: [0x1b],
  i32GeS: [0x4e],
  i32And: [0x71],
  i32GtU: [0x4b],
  i32GeU: [0x4f],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Mul: [0x6c],
  /** f32.load with a byte offset (alignment hint 4 bytes) */
  f32Load: (offset = 0) => [0x2a, 2, ...uleb(offset)],
  v128Load: (offset = 0) => [0xfd, ...uleb(0), 4, ...uleb(offset)],
  v128Store: (offset = 0) => [0xfd, ...uleb(11), 4, ...uleb(offset)],
  /** load one f32 and splat it to all four lanes (alignment hint 4 bytes) */
  v128Load32Splat: (offset = 0) => [0xfd, ...uleb(9), 2, ...uleb(offset)],
  v128Zero: [0xfd, ...uleb(12), ...new Array<number>(16).fill(0)],
  /** v128.const of four i32 lanes */
  v128ConstI32x4: (lanes: [number, number, number, number]) => [0xfd, ...uleb(12), ...lanes.flatMap((v) => [v & 255, (v >> 8) & 255, (v >> 16) & 255, (v >>> 24) & 255])],
  i32x4Splat: [0xfd, ...uleb(17)],
  i32x4LtS: [0xfd, ...uleb(57)],
  f32x4Splat: [0xfd, ...uleb(19)],
  f32x4Add: [0xfd, ...uleb(228)],
  f32x4Sub: [0xfd, ...uleb(229)],
  f32x4Mul: [0xfd, ...uleb(230)],
  f32x4Div: [0xfd, ...uleb(231)],
  f32x4Sqrt: [0xfd, ...uleb(227)],
  f32x4Max: [0xfd, ...uleb(233)],
  /** relaxed SIMD: a·b + c with the stack holding a, b, c (fused or not, as the engine does it) */
  f32x4RelaxedMadd: [0xfd, ...uleb(0x105)],
  f32x4Gt: [0xfd, ...uleb(68)],
  f32x4Eq: [0xfd, ...uleb(65)],
  f32x4Neg: [0xfd, ...uleb(225)],
  f32x4ConvertI32x4S: [0xfd, ...uleb(250)],
  i32x4Add: [0xfd, ...uleb(174)],
  /** load two f32 (8 bytes) into both halves of a vector */
  v128Load64Splat: (offset = 0) => [0xfd, ...uleb(10), 3, ...uleb(offset)],
  f32Const1: [0x43, 0x00, 0x00, 0x80, 0x3f],
  v128And: [0xfd, ...uleb(78)],
  /** i8x16.shuffle of the two vectors on the stack: 16 byte indices (0–15 first, 16–31 second) */
  i8x16Shuffle: (lanes: number[]) => [0xfd, ...uleb(13), ...lanes],
  f32x4ExtractLane: (lane: number) => [0xfd, ...uleb(31), lane],
  f64x2ExtractLane: (lane: number) => [0xfd, ...uleb(33), lane],
  /** the two low f32 lanes widened to an f64x2 */
  f64x2PromoteLowF32x4: [0xfd, ...uleb(95)],
  f64x2Add: [0xfd, ...uleb(240)],
  f64Add: [0xa0],
  f64PromoteF32: [0xbb],
  f32DemoteF64: [0xb6],
  i32Shl: [0x74],
  i32ShrU: [0x76],
  /** memory.fill (bulk memory): dst, byte value, byte count on the stack */
  memoryFill: [0xfc, ...uleb(11), 0x00],
  /** memory.copy (bulk memory): dst, src, byte count on the stack; overlapping ranges allowed */
  memoryCopy: [0xfc, ...uleb(10), 0x00, 0x00],
  i32DivU: [0x6e],
  f32Const0: [0x43, 0, 0, 0, 0],
  /** f32.const ½ */
  f32ConstHalf: [0x43, 0x00, 0x00, 0x00, 0x3f],
  f32Sub: [0x93],
  f64Const0: [0x44, 0, 0, 0, 0, 0, 0, 0, 0],
  i32Xor: [0x73],
  i32Rotl: [0x77],
  f64ConvertI32U: [0xb8],
  i32ReinterpretF32: [0xbc],
  f64Mul: [0xa2],
  f64Ge: [0x66],
  f32Ge: [0x60],
  /** f64.const of any value */
  f64Const: (v: number) => [0x44, ...new Uint8Array(Float64Array.of(v).buffer)],
  /** f64.store with a byte offset (alignment hint 4 bytes: two floats' bits) */
  f64Store: (offset = 0) => [0x39, 2, ...uleb(offset)],
  /** f32.store with a byte offset (alignment hint 4 bytes) */
  f32Store: (offset = 0) => [0x38, 2, ...uleb(offset)],
  /** i32.store with a byte offset (alignment hint 4 bytes) */
  i32Store: (offset = 0) => [0x36, 2, ...uleb(offset)],
  /** i32.load with a byte offset (alignment hint 4 bytes) */
  i32Load: (offset = 0) => [0x28, 2, ...uleb(offset)],
  /** call the module's function number `index` (its arguments on the stack) */
  call: (index: number) => [0x10, ...uleb(index)],
  f32Eq: [0x5b],
  f32Add: [0x92],
  f32Mul: [0x94],
  f32Div: [0x95],
  f32Max: [0x97],
  f32ConvertI32S: [0xb2],
};

/** `for (v = 0; v < limit; v++) body`, `limit` an instruction sequence giving an i32. */
export function forUp(v: number, limit: number[], body: number[]): number[] {
  return forStep(v, op.i32(0), limit, 1, body);
}

/** `for (v = start; v < limit; v += step) body`, `start` and `limit` instruction sequences giving i32s. */
export function forStep(v: number, start: number[], limit: number[], step: number, body: number[]): number[] {
  return [
    ...start, ...op.set(v),
    ...op.block, ...op.loop,
    ...op.get(v), ...limit, ...op.i32GeU, ...op.brIf(1),
    ...body,
    ...op.get(v), ...op.i32(step), ...op.i32Add, ...op.set(v),
    ...op.br(0),
    ...op.end, ...op.end,
  ];
}

export interface FunctionDef {
  name: string;
  params: number[];
  /** extra locals after the parameters, by type */
  locals: { count: number; type: number }[];
  body: number[];
}

/**
 * A module importing its memory as env.memory (shared when `shared`, so worker threads can
 * run the same kernels on the same data) and exporting each function by name.
 */
export function moduleBytes(functions: FunctionDef[], memory: { initialPages: number; maximumPages: number; shared: boolean }): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((p) => [p])), 0]);
  const limits = memory.shared ? [0x03, ...uleb(memory.initialPages), ...uleb(memory.maximumPages)] : [0x01, ...uleb(memory.initialPages), ...uleb(memory.maximumPages)];
  const imports = vec([[...uleb(3), ...utf8('env'), ...uleb(6), ...utf8('memory'), 0x02, ...limits]]);
  const funcs = vec(functions.map((_, i) => uleb(i)));
  const exports = vec(functions.map((f, i) => [...uleb(utf8(f.name).length), ...utf8(f.name), 0x00, ...uleb(i)]));
  const bodies = vec(
    functions.map((f) => {
      const body = [...vec(f.locals.map((l) => [...uleb(l.count), l.type])), ...f.body, ...op.end];
      return [...uleb(body.length), ...body];
    }),
  );
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...section(1, vec(types)), ...section(2, imports), ...section(3, funcs), ...section(7, exports), ...section(10, bodies)]);
}
