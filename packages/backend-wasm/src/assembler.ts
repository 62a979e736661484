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
  i32Eq: [0x46],
  i32LtS: [0x48],
  i32LeS: [0x4c],
  /** select: a, b, condition on the stack → a if the condition is non-zero, else b */
  select: [0x1b],
  i32GeS: [0x4e],
  i32And: [0x71],
  i32Or: [0x72],
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
  i32x4ExtractLane: (lane: number) => [0xfd, ...uleb(27), lane],
  i32x4ReplaceLane: (lane: number) => [0xfd, ...uleb(28), lane],
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
  f32x4ReplaceLane: (lane: number) => [0xfd, ...uleb(32), lane],
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
  /** f32.const of any value (rounded to float32) */
  f32Const: (v: number) => [0x43, ...new Uint8Array(Float32Array.of(v).buffer)],
  /** v128.const of four equal f32 lanes (v rounded to float32) */
  f32x4Const: (v: number) => [0xfd, ...uleb(12), ...new Uint8Array(Float32Array.of(v, v, v, v).buffer)],
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

/** WebAssembly value types, by their binary codes. */
export const i32 = 0x7f as const;
export const f32 = 0x7d as const;
export const f64 = 0x7c as const;
export const v128 = 0x7b as const;
export type ValueType = typeof i32 | typeof f32 | typeof f64 | typeof v128;
/** the types JavaScript can pass to an exported function (all arrive as numbers) */
export type ParamType = typeof i32 | typeof f32 | typeof f64;

/** `count` locals of one type, reached by position: `f.get('acc', r)`. */
export interface LocalArray {
  readonly type: ValueType;
  readonly count: number;
}

/** `count` locals of `type` under one name (accumulators, row pointers, a tile's values). */
export const array = (type: ValueType, count: number): LocalArray => ({ type, count });

/** A function's parameters by name, in order (JavaScript keeps a record's string keys in insertion order). */
export type Params = Record<string, ParamType>;
/** A function's locals by name, in order after the parameters: one value each, or an `array`. */
export type Locals = Record<string, ValueType | LocalArray>;

/** The names of `L` whose locals are arrays. */
export type ArrayNames<L> = { [K in keyof L]: L[K] extends LocalArray ? K : never }[keyof L] & string;
/** The names of `P` and `L` that are one value each. */
export type ScalarNames<P, L> = (keyof P & string) | Exclude<keyof L & string, ArrayNames<L>>;

/**
 * The instructions of one function with named parameters and locals: `f.get('x')` is
 * `local.get` of x's number. Single names are `S`, arrays `A` (`f.get('acc', r)`); a name
 * the function does not declare is a type error.
 */
export interface Fn<S extends string, A extends string = never> {
  get(name: S): number[];
  get(name: A, i: number): number[];
  set(name: S): number[];
  set(name: A, i: number): number[];
  tee(name: S): number[];
  tee(name: A, i: number): number[];
  /** one local's three instructions, for helpers that work on any local (an accumulator, a row pointer) */
  ref(name: S): Ref;
  ref(name: A, i: number): Ref;
  /** `for (v = 0; v < limit; v++) body`, `limit` instructions leaving an i32 */
  forUp(v: S, limit: number[], body: number[]): number[];
  /** `for (v = start; v < limit; v += step) body`, `start` and `limit` instructions leaving i32s */
  forStep(v: S, start: number[], limit: number[], step: number, body: number[]): number[];
}

/** A local's `local.get`, `local.set` and `local.tee`. */
export interface Ref {
  readonly get: number[];
  readonly set: number[];
  readonly tee: number[];
}

/**
 * A function from named, typed parameters and locals: each name gets its local number
 * (parameters first, then locals, both in the records' order) and the locals are declared
 * in runs of one type. `body` writes the instructions with the names.
 */
export function fn<P extends Params, L extends Locals>(name: string, params: P, locals: L, body: (f: Fn<ScalarNames<P, L>, ArrayNames<L>>) => number[]): FunctionDef {
  // each name's first local number, and its length when it is an array (null: one value)
  const index = new Map<string, { at: number; length: number | null }>();
  const declared: { count: number; type: number }[] = [];
  const declare = (key: string, type: number, length: number | null, local: boolean) => {
    // integer-like keys would come first in a record, whatever their place
    if (index.has(key) || /^\d+$/.test(key)) throw new Error(`fn ${name}: '${key}' is declared twice, or is a number`);
    const count = length ?? 1;
    const at = [...index.values()].reduce((n, slot) => n + (slot.length ?? 1), 0);
    index.set(key, { at, length });
    if (!local) return;
    const last = declared[declared.length - 1];
    if (last?.type === type) last.count += count;
    else declared.push({ count, type });
  };
  for (const [key, type] of Object.entries(params)) declare(key, type, null, false);
  for (const [key, l] of Object.entries(locals)) {
    if (typeof l === 'number') declare(key, l, null, true);
    else declare(key, l.type, l.count, true);
  }
  const at = (key: string, i?: number): number => {
    const slot = index.get(key);
    if (slot === undefined) throw new Error(`fn ${name}: no local '${key}'`);
    const fits = slot.length === null ? i === undefined : i !== undefined && i >= 0 && i < slot.length;
    if (!fits) throw new Error(`fn ${name}: '${key}' used ${i === undefined ? 'without an index' : `with index ${i}`}`);
    return slot.at + (i ?? 0);
  };
  const f: Fn<string, string> = {
    get: (key: string, i?: number) => op.get(at(key, i)),
    set: (key: string, i?: number) => op.set(at(key, i)),
    tee: (key: string, i?: number) => op.tee(at(key, i)),
    ref: (key: string, i?: number) => {
      const k = at(key, i);
      return { get: op.get(k), set: op.set(k), tee: op.tee(k) };
    },
    forUp: (v, limit, loop) => forStep(at(v), op.i32(0), limit, 1, loop),
    forStep: (v, start, limit, step, loop) => forStep(at(v), start, limit, step, loop),
  };
  return { name, params: Object.values(params), locals: declared, body: body(f) };
}

/** `for (v = start; v < limit; v += step) body` over local number v (unsigned compare). */
function forStep(v: number, start: number[], limit: number[], step: number, body: number[]): number[] {
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
