/**
 * Convolution and pooling on the WebAssembly kernels, for the wasm backend: the patch
 * matrix, the product and the layout changes (or Winograd's transforms, or the direct
 * 3×3 kernels) run on the operands where they lie in the module memory. The backend
 * decides which cases come here (float32, groups = 1, operands with elements) and runs
 * each call in a primitive's scope, so the work blocks taken here go back when it returns.
 */
import { sizeOf, type Im2ColParams, type Shape4 } from '@ml/tensor';
import { patchOutputSize, type DataId, type SaveForBackward, type View } from '@ml/tensor/backend';
import type { WasmGemm } from './gemm.js';
import type { HeapAllocator } from './heap-allocator.js';
import { GEMM_ROWS } from './kernels.js';
import { roundUp, values, wrap, type Operands } from './operands.js';

/** Which convolutions run on the special kernels (see WasmOptions). */
export interface ConvSettings {
  /** true: Winograd's F(4×4, 3×3) or F(2×2, 3×3), whichever multiplies less; 2 or 4: that one; false: neither */
  readonly winograd: boolean | 2 | 4;
  readonly direct: boolean;
}

/** Counts of convolution primitives run by Winograd's method and directly. */
export interface ConvStats {
  winograd: number;
  direct: number;
}

export class WasmConvolution {
  readonly #gemm: WasmGemm;
  readonly #memory: HeapAllocator;
  readonly #io: Operands;
  readonly #settings: ConvSettings;
  readonly #stats: ConvStats;
  readonly #report: (route: string) => void;

  /** `report`: called with the route of a convolution done another way than by the patch matrix, for the debug log. */
  constructor(gemm: WasmGemm, memory: HeapAllocator, io: Operands, settings: ConvSettings, stats: ConvStats, report: (route: string) => void) {
    this.#gemm = gemm;
    this.#memory = memory;
    this.#io = io;
    this.#settings = settings;
    this.#stats = stats;
    this.#report = report;
  }

  /** The convolution's patch matrix (see CpuBackend.im2row) built by the kernel (float32 x). */
  im2row(x: View, p: Im2ColParams): DataId {
    const g = patchGeometry(x.shape as Shape4, p);
    const xAt = this.#io.in(x);
    const [rowsAt, done] = this.#io.out(g.rows);
    this.#patches('im2row', g, p, xAt, rowsAt);
    return done();
  }

  /** The adjoint of im2row on the kernel (float32 rows). */
  row2im(rows: View, outShape: Shape4, p: Im2ColParams): DataId {
    const g = patchGeometry(outShape, p);
    const rowsAt = this.#io.in(rows);
    const [imgAt, done] = this.#io.out(g.n, true);
    this.#patches('row2im', g, p, imgAt, rowsAt);
    return done();
  }

  /**
   * Run im2row or row2im between the image at byte address `imgAt` and the rows at
   * `rowsAt`, rows `rowStride` floats apart (default: packed, C·kh·kw).
   */
  #patches(kernel: 'im2row' | 'row2im', g: ReturnType<typeof patchGeometry>, p: Im2ColParams, imgAt: number, rowsAt: number, rowStride = g.R): void {
    const [kh, kw] = p.kernel;
    const vec = p.dilation[1] === 1 && kw <= 4 ? 1 : 0;
    const skip = 4 * (rowStride - g.R);
    const args = [imgAt, rowsAt, g.N, g.C, g.H, g.W, kh, kw, p.stride[0], p.stride[1], p.dilation[0], p.dilation[1], p.pad[0], p.pad[2], g.oh, g.ow, vec, skip, p.padValue];
    // by images; with vectors, each range's last image runs without them (their last
    // store reaches into the next image, which another thread may have written)
    const [imageBytes, rowsBytes] = [4 * g.C * g.H * g.W, 4 * g.L * rowStride];
    const plan = { count: 2, ptrs: [[0, imageBytes], [1, rowsBytes]] as const, last: vec ? ([16, 0] as const) : undefined, floats: [18] };
    this.#gemm.parallel(kernel, args, plan, g.N, g.N * (imageBytes + rowsBytes));
  }

  /**
   * y [N, O, Hp − 2, Wp − 2] at outAt = the 3×3 convolution of the padded x at xpAt with w
   * [O, C, 3, 3] at wAt (+ bias at biasAt, or 0) by conv3x3Tiles: the weights packed by
   * fours of output channels, the window's offsets and the bias rows in a work block.
   */
  #tiles(xpAt: number, wAt: number, biasAt: number, outAt: number, N: number, C: number, Hp: number, Wp: number, O: number): void {
    const [K, groups] = [9 * C, Math.ceil(O / 4)];
    const [wpAt, offsAt, bAt] = this.#io.layout([groups * K * 4, K, groups * 4]);
    const f = this.#gemm.heap.f32;
    const [wp, w, b] = [wpAt >> 2, wAt >> 2, bAt >> 2];
    f.fill(0, wp, wp + groups * K * 4);
    for (let o = 0; o < O; o++) for (let k = 0; k < K; k++) f[wp + ((o >> 2) * K + k) * 4 + (o & 3)] = f[w + o * K + k];
    f.fill(0, b, b + groups * 4);
    if (biasAt !== 0) f.set(f.subarray(biasAt >> 2, (biasAt >> 2) + O), b);
    const offs = new Int32Array(f.buffer, offsAt, K);
    for (let c = 0; c < C; c++) for (let q = 0; q < 9; q++) offs[9 * c + q] = 4 * ((c * Hp + Math.floor(q / 3)) * Wp + (q % 3));
    const L = (Hp - 2) * (Wp - 2);
    const args = { x: xpAt, wp: wpAt, offs: offsAt, bias: bAt, y: outAt, N, C, Hp, Wp, O };
    this.#gemm.split('conv3x3Tiles', args, { x: 4 * C * Hp * Wp, y: 4 * O * L }, 4 * N * (C * Hp * Wp + O * L));
  }

  /** The transpose kernel (see kernels.ts), its N blocks split across the threads. */
  #transpose(src: number, dst: number, N: number, R: number, C: number, ss: number, ds: number, sb: number, db: number, bias: number): void {
    this.#gemm.parallel('transposeTiled', [src, dst, N, R, C, ss, ds, sb, db, bias], { count: 2, ptrs: [[0, 4 * sb], [1, 4 * db]] }, N, 8 * N * R * C);
  }

  /** x [N,C,H,W] ⋆ w [O,C,kh,kw] (+ bias [O]) → [N,O,oh,ow] (float32, groups = 1, no empty operand). */
  conv2d(x: View, w: View, bias: View | null, p: Im2ColParams, save: SaveForBackward): DataId {
    const g = patchGeometry(x.shape as Shape4, p);
    const O = w.shape[0];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(NL, GEMM_ROWS), roundUp(O, 8)];
    const [xAt, wAt, biasAt] = [this.#io.in(x), this.#io.in(w), bias ? this.#io.in(bias) : 0];
    if (this.#directFits(p, g.C, g.ow)) {
      const [outAt, done] = this.#io.out(g.N * O * L);
      this.#direct();
      const { xpAt, Hp, Wp } = this.#padded(xAt, g.N * g.C, g.H, g.W, p.pad);
      if (O >= TILES_MIN_CHANNELS) {
        this.#tiles(xpAt, wAt, biasAt, outAt, g.N, g.C, Hp, Wp, O);
        return done();
      }
      const ptrs = [[0, 4 * g.C * Hp * Wp], [3, 4 * O * L]] as const;
      this.#gemm.parallel('conv3x3', [xpAt, wAt, biasAt, outAt, g.N, g.C, Hp, Wp, O], { count: 4, ptrs }, g.N, 4 * g.N * (g.C * Hp * Wp + O * L));
      return done();
    }
    const m = this.#winogradTile(p, g.C, O, g.oh, g.ow);
    if (m !== 0) {
      const [outAt, done] = this.#io.out(g.N * O * L);
      const { Hp, Wp } = winogradTiles(g.H, g.W, p.pad, m);
      if (m === 4 && unpadded(p)) {
        // F(4×4) reads an input without padding where it lies; its weight gradient too
        this.#winograd(m, xAt, g.N, g.C, g.H, g.W, p.pad, O, wAt, biasAt, outAt, xAt);
        return done();
      }
      // the padded input, kept for the weight gradient as a patch matrix would be
      const padded = this.#keepForBackward(save, 4 * g.N * g.C * Hp * Wp);
      this.#winograd(m, xAt, g.N, g.C, g.H, g.W, p.pad, O, wAt, biasAt, outAt, padded.at);
      padded.commit();
      return done();
    }
    const [packAt, cAt] = this.#io.layout([Np * R, Mp * Np]);
    const rows = this.#keepForBackward(save, 4 * (Mp * R + 4));
    const rowsAt = rows.at;
    this.#patches('im2row', g, p, xAt, rowsAt);
    this.#gemm.kernels.fill32(rowsAt + 4 * NL * R, (Mp - NL) * R, 0); // padding rows
    this.#gemm.run(rowsAt, packAt, cAt, Mp, R, Np, { from: wAt, transposed: true, N: O }); // B = wᵀ, stored transposed
    const [outAt, done] = this.#io.out(g.N * O * L);
    this.#transpose(cAt, outAt, g.N, L, O, Np, L, L * Np, O * L, biasAt); // rows (n, l) of Np → [N, O, L], + bias
    rows.commit();
    return done();
  }

  /** ∂L/∂x of conv2d (float32, groups = 1, no empty operand). */
  conv2dBackwardInput(dy: View, w: View, xShape: Shape4, p: Im2ColParams): DataId {
    const g = patchGeometry(xShape, p);
    const O = dy.shape[1];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(NL, GEMM_ROWS), roundUp(R, 8)];
    const [dyAt, wAt] = [this.#io.in(dy), this.#io.in(w)];
    if (this.#directFits(p, g.C, g.ow) && p.pad.every((v) => v <= 2) && g.W >= 4) {
      // the adjoint: a direct convolution of dy padded by 2 − p from O channels to C, with
      // the kernel turned 180° and its channel axes swapped
      this.#direct();
      const [dxAt, done] = this.#io.out(g.n);
      const turnedAt = this.#io.work(4 * O * R);
      const [f, wOff, tOff] = [this.#gemm.heap.f32, wAt >> 2, turnedAt >> 2];
      for (let o = 0; o < O; o++) for (let c = 0; c < g.C; c++) for (let q = 0; q < 9; q++) f[tOff + (c * O + o) * 9 + q] = f[wOff + (o * g.C + c) * 9 + 8 - q];
      const { xpAt, Hp, Wp } = this.#padded(dyAt, g.N * O, g.oh, g.ow, p.pad.map((v) => 2 - v) as unknown as Im2ColParams['pad']);
      const ptrs = [[0, 4 * O * Hp * Wp], [3, 4 * g.C * g.H * g.W]] as const;
      this.#gemm.parallel('conv3x3', [xpAt, turnedAt, 0, dxAt, g.N, O, Hp, Wp, g.C], { count: 4, ptrs }, g.N, 4 * g.N * (O * Hp * Wp + g.C * g.H * g.W));
      return done();
    }
    const m = this.#winogradTile(p, g.C, O, g.oh, g.ow);
    if (m !== 0) {
      const [dxAt, done] = this.#io.out(g.n);
      this.#winogradInputGrad(m, dyAt, g.N, g.C, g.H, g.W, p.pad, O, wAt, dxAt);
      return done();
    }
    const [aAt, packAt, cAt] = this.#io.layout([Mp * O, Np * O, Mp * Np + 4]);
    this.#transpose(dyAt, aAt, g.N, O, L, L, O, O * L, L * O, 0); // [N, O, L] → rows (n, l) of O
    this.#gemm.kernels.fill32(aAt + 4 * NL * O, (Mp - NL) * O, 0);
    this.#gemm.run(aAt, packAt, cAt, Mp, O, Np, { from: wAt, transposed: false, N: R });
    const [imgAt, done] = this.#io.out(g.n, true);
    this.#patches('row2im', g, p, imgAt, cAt, Np); // the product's rows are Np wide
    return done();
  }

  /** ∂L/∂w of conv2d (float32, groups = 1, no empty operand); `saved`: what conv2d kept for it. */
  conv2dBackwardWeight(dy: View, x: View, p: Im2ColParams, saved: readonly View[]): DataId {
    const g = patchGeometry(x.shape as Shape4, p);
    const O = dy.shape[1];
    const { R, L, NL } = g;
    const [Mp, Np] = [roundUp(O, GEMM_ROWS), roundUp(R, 8)];
    const dyAt = this.#io.in(dy);
    if (this.#directFits(p, g.C, g.ow)) {
      const [dwAt, done] = this.#io.out(O * R);
      this.#direct();
      const { xpAt, Hp, Wp } = this.#padded(this.#io.in(x), g.N * g.C, g.H, g.W, p.pad);
      const ptrs = [[1, 4 * L], [2, 4 * R]] as const; // output channels split across the threads
      this.#gemm.parallel('conv3x3Grad', [xpAt, dyAt, dwAt, g.N, g.C, Hp, Wp, O, O], { count: 8, ptrs }, O, 4 * g.N * (O * g.C * Hp * Wp + O * L));
      return done();
    }
    const m = this.#winogradTile(p, g.C, O, g.oh, g.ow);
    if (m !== 0) {
      const [dwAt, done] = this.#io.out(O * R);
      // the padded input its forward kept (0: none, pad it again)
      const { Hp, Wp } = winogradTiles(g.H, g.W, p.pad, m);
      const xIn = this.#io.in(x);
      const kept = m === 4 && unpadded(p) ? xIn : this.#savedAt(saved, 4 * g.N * g.C * Hp * Wp);
      this.#winogradWeightGrad(m, xIn, dyAt, g.N, g.C, g.H, g.W, p.pad, O, dwAt, kept);
      return done();
    }
    const [packAt, aAt, cAt] = this.#io.layout([Np * NL, Mp * NL, Mp * Np]);
    let rowsAt = this.#savedAt(saved, 4 * (roundUp(NL, GEMM_ROWS) * R + 4));
    if (rowsAt === 0) {
      rowsAt = this.#io.work(4 * (NL * R + 4));
      this.#patches('im2row', g, p, this.#io.in(x), rowsAt);
    }
    const swapArgs = [dyAt, aAt, g.N, O, L, NL]; // [N, O, L] → [O, N·L], split by images
    this.#gemm.parallel('swapBlocks', swapArgs, { count: 2, ptrs: [[0, 4 * O * L], [1, 4 * L]] }, g.N, 8 * g.N * O * L);
    this.#gemm.kernels.fill32(aAt + 4 * O * NL, (Mp - O) * NL, 0);
    this.#gemm.run(aAt, packAt, cAt, Mp, NL, Np, { from: rowsAt, transposed: false, N: R });
    const out = this.#memory.array('float32', O * R) as Float32Array;
    const f = this.#gemm.heap.f32;
    const c = cAt >> 2;
    if (Np === R) out.set(f.subarray(c, c + O * R));
    else for (let o = 0; o < O; o++) out.set(f.subarray(c + o * Np, c + o * Np + R), o * R);
    return wrap(out);
  }

  /**
   * Whether a convolution with `p` from C channels to ow output columns runs directly
   * (conv3x3, conv3x3Grad): 3×3 windows of stride 1 without dilation over at most
   * DIRECT_MAX_CHANNELS input channels (an image's first layer), at least 4 columns.
   */
  #directFits(p: Im2ColParams, C: number, ow: number): boolean {
    return this.#settings.direct && isPlain3x3(p) && C <= DIRECT_MAX_CHANNELS && ow >= 4;
  }

  /** Count and report a convolution primitive done directly. */
  #direct(): void {
    this.#report('wasm (direct)');
    this.#stats.direct++;
  }

  /** `planes` H×W planes at xAt padded by `pad` (a work block; xAt itself when there is no padding). */
  #padded(xAt: number, planes: number, H: number, W: number, pad: Im2ColParams['pad']): { xpAt: number; Hp: number; Wp: number } {
    const [pt, pb, pl, pr] = pad;
    const [Hp, Wp] = [H + pt + pb, W + pl + pr];
    if (pt + pb + pl + pr === 0) return { xpAt: xAt, Hp, Wp };
    const xpAt = this.#io.work(4 * planes * Hp * Wp);
    this.#pad(xAt, xpAt, planes, H, W, Hp, Wp, pt, pl);
    return { xpAt, Hp, Wp };
  }

  /**
   * The output tile of the Winograd method a convolution with `p` from C to O channels,
   * oh×ow outputs, runs by: 4 for F(4×4, 3×3), 2 for F(2×2, 3×3), 0 for neither. Both need
   * 3×3 windows of stride 1 without dilation and enough channels for their products to pay
   * (C-long rows; 4× and 2.25× fewer multiplications than the patch-matrix product, before
   * the last tiles' overlap or padding); F(2×2, 3×3) also needs four tiles in a row (its
   * kernels take a row's neighbours four at a time), F(4×4, 3×3) a 4×4 output (its last
   * tiles move back to end at the output's edge). With the default setting (true) F(4×4,
   * 3×3) runs where its tiles multiply less than F(2×2, 3×3)'s would.
   */
  #winogradTile(p: Im2ColParams, C: number, O: number, oh: number, ow: number): 0 | 2 | 4 {
    const setting = this.#settings.winograd;
    if (setting === false || !isPlain3x3(p) || C < WINOGRAD_MIN_CHANNELS || O < WINOGRAD_MIN_CHANNELS) return 0;
    const twoFits = Math.ceil(ow / 2) >= 4;
    const fourFits = oh >= 4 && ow >= 4;
    if (setting === 2) return twoFits ? 2 : 0;
    if (setting === 4) return fourFits ? 4 : 0;
    const multiplies = (m: number) => (m + 2) * (m + 2) * Math.ceil(oh / m) * Math.ceil(ow / m);
    if (fourFits && multiplies(4) < multiplies(2)) return 4;
    return twoFits ? 2 : 0;
  }

  /** The names and sizes that differ between the two Winograd methods (output tile m×m). */
  #scheme(m: 2 | 4) {
    return m === 4
      ? { points: 36, route: 'wasm (Winograd 4×4)', weights: 'winograd4Weights', forward: 'winograd4Conv', inputGrad: 'winograd4InputGradConv', weightGrad: 'winograd4GradConv', weightsGrad: 'winograd4WeightsGrad' } as const
      : { points: 16, route: 'wasm (Winograd)', weights: 'winogradWeights', forward: 'winogradConv', inputGrad: 'winogradInputGradConv', weightGrad: 'winogradGradConv', weightsGrad: 'winogradWeightsGrad' } as const;
  }

  /**
   * y [N, O, oh, ow] at outAt = the 3×3, stride-1 convolution of x [N, C, H, W] at xAt,
   * padded by `pad`, by Winograd's F(2×2, 3×3): x is padded into whole 4×4 tiles with a
   * stride of 2, each tile transformed (Bᵀ·d·B, winogradIn), then for each of the 16
   * transformed positions ξ one product U_ξ [O, C] · V_ξ [C, tiles], and each tile's 16
   * results back to a 2×2 block of y (Aᵀ·m·A, winogradOut, + bias); U_ξ = G·g·Gᵀ comes
   * from the weights [O, C, 3, 3] at wAt. The images go in chunks, one per part of a
   * thread-pool job, a few images' transformed tiles and products at a time in the part's
   * own scratch block (winogradConv), so they stay in the cache. With m = 4, the same by
   * F(4×4, 3×3) (6×6 tiles, 36 products, winograd4Conv) on x padded only as the
   * convolution says (`padAt` = xAt: not at all).
   */
  #winograd(m: 2 | 4, xAt: number, N: number, C: number, H: number, W: number, pad: Im2ColParams['pad'], O: number, wAt: number, biasAt: number, outAt: number, padAt: number): void {
    const scheme = this.#scheme(m);
    const X = scheme.points;
    this.#report(scheme.route);
    this.#stats.winograd++;
    const { pt, pl, oh, ow, th, tw, Hp, Wp, Tn } = winogradTiles(H, W, pad, m);
    const Mp = roundUp(O, GEMM_ROWS);
    const { per, used, countsAt } = this.#io.chunks(N);
    // images multiplied together: as many as keep the transformed tiles and products in a
    // core's cache (≈ 512 KiB), so the products are wider (less padding to 8 columns)
    const group = Math.max(1, Math.min(per, Math.floor(WINOGRAD_CHUNK_FLOATS / (X * (C + Mp) * Tn))));
    const Np = roundUp(group * Tn, 8);
    // F(4×4): V's rows are Np floats long (its kernels write tiles four at a time)
    const scratch = m === 4 ? X * (C + Mp) * Np + 2 * X * SPREAD + winograd4Work(group * Tn) : X * C * group * Tn + 8 + X * Mp * Np;
    const [uAt, sAt] = this.#io.layout([X * Mp * C, used * scratch]);
    const padPlane = 4 * Hp * Wp;
    if (padAt !== xAt) this.#pad(xAt, padAt, N * C, H, W, Hp, Wp, pt, pl);
    if (Mp !== O) this.#gemm.kernels.fill32(uAt, X * Mp * C, 0);
    this.#gemm.kernels[scheme.weights](wAt, uAt, Mp, O, C, 0);
    const args = [padAt, uAt, outAt, biasAt, sAt, countsAt, used, C, O, th, tw, Hp, Wp, oh, ow, Mp, group];
    const ptrs = [[0, per * C * padPlane], [2, 4 * per * O * oh * ow], [4, 4 * scratch], [5, 4]] as const;
    this.#gemm.parallel(scheme.forward, args, { count: 6, ptrs }, used, N * (C * padPlane + 4 * O * oh * ow));
  }

  /**
   * dx [N, C, H, W] at dxAt: the input gradient of #winograd's convolution for dy [N, O,
   * oh, ow] at dyAt and the weights [O, C, 3, 3] at wAt, by the adjoint of its steps: each
   * dy tile transformed (A·dY·Aᵀ), for each ξ the product U_ξᵀ [C, O] · (its tiles [O,
   * tiles]), each tile's 16 results back to a 4×4 block (B·m·Bᵀ) added into the padded
   * input's planes (blocks overlap by two rows and columns), the planes cropped into dx.
   * Images go in chunks over the threads, a few at a time (winogradInputGradConv); the
   * same tiles as the forward's: th·tw products' columns an image. With m = 4, by F(4×4,
   * 3×3) (winograd4InputGradConv: dy read where it lies, the blocks added into dx itself
   * when there is no padding).
   */
  #winogradInputGrad(m: 2 | 4, dyAt: number, N: number, C: number, H: number, W: number, pad: Im2ColParams['pad'], O: number, wAt: number, dxAt: number): void {
    const scheme = this.#scheme(m);
    const X = scheme.points;
    this.#report(scheme.route);
    this.#stats.winograd++;
    const { pt, pl, oh, ow, th, tw, Hp, Wp, Tn } = winogradTiles(H, W, pad, m);
    const Cp = roundUp(C, GEMM_ROWS);
    const { per, used, countsAt } = this.#io.chunks(N);
    const group = Math.max(1, Math.min(per, Math.floor(WINOGRAD_CHUNK_FLOATS / (X * (O + Cp) * Tn))));
    const Np = roundUp(group * Tn, 8);
    // F(4×4): Z and M with rows Np floats long, a group's padded planes (none without padding)
    const scratch = m === 4
      ? X * (O + Cp) * Np + 2 * X * SPREAD + (unpadded({ pad }) ? 0 : group * C * Hp * Wp) + winograd4Work(group * Tn)
      : 4 * O * Tn + X * O * group * Tn + 8 + X * Cp * Np + C * Hp * Wp;
    const [utAt, sAt] = this.#io.layout([X * Cp * O, used * scratch]);
    if (Cp !== C) this.#gemm.kernels.fill32(utAt, X * Cp * O, 0);
    this.#gemm.kernels[scheme.weights](wAt, utAt, Cp, C, O, 1);
    const args = [dyAt, utAt, dxAt, sAt, countsAt, used, C, O, th, tw, Hp, Wp, H, W, oh, ow, pt, pl, Cp, group];
    const ptrs = [[0, 4 * per * O * oh * ow], [2, 4 * per * C * H * W], [3, 4 * scratch], [4, 4]] as const;
    this.#gemm.parallel(scheme.inputGrad, args, { count: 5, ptrs }, used, 4 * N * (O * oh * ow + C * H * W));
  }

  /**
   * dw [O, C, 3, 3] at dwAt: the weight gradient of #winograd's convolution for x [N, C, H,
   * W] at xAt and dy [N, O, oh, ow] at dyAt, Gᵀ·(Σ over tiles of (A·dY·Aᵀ) ⊙ (Bᵀ·d·B))·G:
   * per unit of images (units spread over the parts of a thread-pool job) the 16 products
   * of the transformed dy tiles [O, tiles] with the transformed input tiles [tiles, C]
   * (winogradGradConv), then the units' sums added (sumBlocks) and transformed back
   * (winogradWeightsGrad). `kept`: the padded input its forward kept, or 0 to pad again.
   * With m = 4, by F(4×4, 3×3) (winograd4GradConv, winograd4WeightsGrad; dy read where it lies).
   */
  #winogradWeightGrad(m: 2 | 4, xAt: number, dyAt: number, N: number, C: number, H: number, W: number, pad: Im2ColParams['pad'], O: number, dwAt: number, kept: number): void {
    const scheme = this.#scheme(m);
    const X = scheme.points;
    this.#report(scheme.route);
    this.#stats.winograd++;
    const { pt, pl, oh, ow, th, tw, Hp, Wp, Tn } = winogradTiles(H, W, pad, m);
    const [Mp, Cp] = [roundUp(O, GEMM_ROWS), roundUp(C, 8)];
    // 8 units of images (fewer for a small batch), each summed in its own block, images
    // taken as many at a time as keep their transformed tiles in a core's cache (≈ 512 KiB);
    // the partial sums, and so the bits of the result, do not depend on the number of threads
    const { per: unit, used, countsAt } = this.#io.chunks(N, Math.ceil(N / 8));
    const per = Math.max(1, Math.min(unit, Math.floor(WINOGRAD_CHUNK_FLOATS / ((X * C + X * Mp + Cp) * Tn))));
    // F(4×4): the products run over the tiles rounded up to 4 columns
    const scratch = m === 4 ? (X * C + X * Mp + Cp) * roundUp(per * Tn, 4) + 2 * X * SPREAD + winograd4Work(per * Tn) : (X * C + X * Mp + Cp) * per * Tn;
    // F(2×2): dy padded to whole tiles (F(4×4) reads it where it lies)
    const dPadPlane = m === 4 ? oh * ow : 4 * Tn;
    const [padAt, dPadAt, dUAt, sAt] = this.#io.layout([kept === 0 ? N * C * Hp * Wp : 0, m === 4 ? 0 : N * O * dPadPlane, used * X * Mp * Cp, used * scratch]);
    const padPlane = 4 * Hp * Wp;
    if (kept === 0) this.#pad(xAt, padAt, N * C, H, W, Hp, Wp, pt, pl);
    const xPadAt = kept === 0 ? padAt : kept;
    if (m === 2) this.#pad(dyAt, dPadAt, N * O, oh, ow, 2 * th, 2 * tw, 0, 0); // dy to whole tiles, zeros below and right
    const args = m === 4
      ? [xPadAt, dyAt, dUAt, sAt, countsAt, used, C, O, th, tw, Hp, Wp, oh, ow, Mp, Cp, per]
      : [xPadAt, dPadAt, dUAt, sAt, countsAt, used, C, O, th, tw, Hp, Wp, Mp, Cp, per];
    const ptrs = [[0, unit * C * padPlane], [1, 4 * unit * O * dPadPlane], [2, 4 * X * Mp * Cp], [3, 4 * scratch], [4, 4]] as const;
    this.#gemm.parallel(scheme.weightGrad, args, { count: 5, ptrs }, used, N * (C * padPlane + 4 * O * dPadPlane));
    const block = X * Mp * Cp; // floats, a multiple of 4
    this.#gemm.parallel('sumBlocks', [dUAt, block / 4, used, 4 * block], { count: 1, ptrs: [[0, 16]] }, block / 4, used * 4 * block);
    this.#gemm.kernels[scheme.weightsGrad](dUAt, dwAt, Mp, Cp, O, C);
  }

  /** `planes` H×W planes at src into zero-bordered Hp×Wp planes at dst (row pt, column pl), split by planes. */
  #pad(src: number, dst: number, planes: number, H: number, W: number, Hp: number, Wp: number, pt: number, pl: number): void {
    const [inPlane, outPlane] = [4 * H * W, 4 * Hp * Wp];
    this.#gemm.parallel('pad2d', [src, dst, planes, H, W, Hp, Wp, pt, pl], { count: 2, ptrs: [[0, inPlane], [1, outPlane]] }, planes, planes * (inPlane + outPlane));
  }

  /**
   * A block for what a forward convolution builds and its weight gradient reads again (the
   * patch matrix, or Winograd's padded input): building it twice costs as much as keeping
   * it, so when a gradient will be asked for it is saved on the graph node (an array of the
   * memory, freed with the node), else it is a work block. `commit()`, once the block is
   * written, hands it to `save`; until then it is the running primitive's, so a kernel that
   * fails (the memory is full) saves nothing half-built.
   */
  #keepForBackward(save: SaveForBackward, bytes: number): { at: number; commit: () => void } {
    const kept = save === null ? null : this.#memory.array('float32', bytes >> 2);
    if (save === null || kept === null || !this.#memory.owns(kept)) {
      if (kept !== null) this.#memory.recycle(kept); // the memory is full: the gradient builds it again
      return { at: this.#io.work(bytes), commit: () => undefined };
    }
    const commit = () => {
      this.#memory.detach(kept);
      save(wrap(kept), [bytes >> 2], 'float32');
    };
    return { at: kept.byteOffset, commit };
  }

  /** The address of what the forward saved (see #keepForBackward), or 0 when it saved nothing of that size. */
  #savedAt(saved: readonly View[], bytes: number): number {
    if (saved.length !== 1 || saved[0].dtype !== 'float32' || 4 * sizeOf(saved[0].shape) !== bytes) return 0;
    const a = values(saved[0]);
    return this.#memory.owns(a) ? a.byteOffset : 0;
  }



  /** Max pooling on the kernel for windows that tile the image (`g`, see tiledPool). */
  maxPool2d(x: View, g: TiledPool): DataId {
    const xAt = this.#io.in(x);
    const [outAt, done] = this.#io.out(g.L);
    const [inBytes, outBytes] = [4 * g.H * g.W, 4 * g.oh * g.ow];
    const split = (kernel: 'maxpool2x2' | 'maxpool', args: number[]) =>
      this.#gemm.parallel(kernel, args, { count: 2, ptrs: [[0, inBytes], [1, outBytes]] }, g.planes, g.planes * (inBytes + outBytes));
    if (g.kh === 2 && g.kw === 2) split('maxpool2x2', [xAt, outAt, g.planes, g.H, g.W, g.oh, g.ow]);
    else split('maxpool', [xAt, outAt, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow]);
    return done();
  }

  /** ∂L/∂x of max pooling for windows that tile the image (`g`, see tiledPool), given its output y. */
  maxPool2dBackward(x: View, y: View, dy: View, g: TiledPool): DataId {
    const [xAt, yAt, dyAt] = [this.#io.in(x), this.#io.in(y), this.#io.in(dy)];
    // the kernels write every element a window covers; the others (a ragged edge) are
    // zeroed first, except by the 2×2 kernel, which writes their zeros itself
    const two = g.kh === 2 && g.kw === 2;
    const [outAt, done] = this.#io.out(g.n, !two && (g.oh * g.kh !== g.H || g.ow * g.kw !== g.W));
    const [inBytes, outBytes] = [4 * g.H * g.W, 4 * g.oh * g.ow];
    const split = (kernel: 'maxpoolBack2x2' | 'maxpoolBack', args: number[]) =>
      this.#gemm.parallel(kernel, args, { count: 4, ptrs: [[0, inBytes], [1, outBytes], [2, outBytes], [3, inBytes]] }, g.planes, g.planes * 2 * (inBytes + outBytes));
    if (two) split('maxpoolBack2x2', [xAt, yAt, dyAt, outAt, g.planes, g.H, g.W, g.oh, g.ow]);
    else split('maxpoolBack', [xAt, yAt, dyAt, outAt, g.planes, g.H, g.W, g.kh, g.kw, g.oh, g.ow]);
    return done();
  }
}

/** The geometry of a float32 max pooling whose windows tile the planes. */
export interface TiledPool {
  planes: number;
  H: number;
  W: number;
  kh: number;
  kw: number;
  oh: number;
  ow: number;
  /** elements of the input and of the output */
  n: number;
  L: number;
}

/** The geometry of a float32 max pooling whose windows tile the planes (stride = kernel, no padding or dilation), else null. */
export function tiledPool(x: View, p: Im2ColParams): TiledPool | null {
  const [kh, kw] = p.kernel;
  const tiles = p.stride[0] === kh && p.stride[1] === kw && p.dilation[0] === 1 && p.dilation[1] === 1 && p.pad.every((q) => q === 0);
  if (!tiles || x.dtype !== 'float32') return null;
  const [N, C, H, W] = x.shape;
  const [oh, ow] = patchOutputSize(x.shape, p);
  return { planes: N * C, H, W, kh, kw, oh, ow, n: N * C * H * W, L: N * C * oh * ow };
}

/** Sizes of an image [N,C,H,W] and its patch matrix. */
function patchGeometry(shape: Shape4, p: Im2ColParams) {
  const [N, C, H, W] = shape;
  const [kh, kw] = p.kernel;
  const [oh, ow] = patchOutputSize(shape, p);
  const n = N * C * H * W;
  const [R, L] = [C * kh * kw, oh * ow];
  // R: values per patch row; L: output positions per image; NL: patch rows in all
  return { N, C, H, W, oh, ow, n, R, L, NL: N * L, rows: N * L * R };
}

/**
 * The tiles of a Winograd F(m×m, 3×3) convolution of an H×W input padded by `pad`: output
 * oh×ow, th×tw tiles of m×m outputs, the padded planes Hp×Wp (F(2×2): holding whole 4×4 tiles).
 */
function winogradTiles(H: number, W: number, pad: Im2ColParams['pad'], m: 2 | 4) {
  const [pt, pb, pl, pr] = pad;
  const [oh, ow] = [H + pt + pb - 2, W + pl + pr - 2];
  const [th, tw] = [Math.ceil(oh / m), Math.ceil(ow / m)];
  // F(4×4): the last tiles move back to end at the output's edge, so the planes are padded only as the convolution says
  const [Hp, Wp] = m === 4 ? [oh + 2, ow + 2] : [m * th + 2, m * tw + 2];
  return { pt, pl, oh, ow, th, tw, Hp, Wp, Tn: th * tw };
}

/** Whether a convolution has no padding. */
const unpadded = (p: Pick<Im2ColParams, 'pad'>): boolean => p.pad.every((v) => v === 0);

/** 3×3 windows, stride 1, no dilation, zero padding: the convolutions the direct and Winograd kernels do */
const isPlain3x3 = (p: Im2ColParams): boolean =>
  p.kernel[0] === 3 && p.kernel[1] === 3 && p.stride[0] === 1 && p.stride[1] === 1 && p.dilation[0] === 1 && p.dilation[1] === 1 && p.padValue === 0;

/** most input channels for a direct 3×3 convolution (more: the patch-matrix product's K = 9·C pays) */
const DIRECT_MAX_CHANNELS = 4;
/** output channels from which the direct convolution runs by tiles of four channels (conv3x3Tiles) */
const TILES_MIN_CHANNELS = 4;
/** fewest input and output channels for a Winograd convolution (fewer: the products are too thin to gain) */
const WINOGRAD_MIN_CHANNELS = 8;
/**
 * Floats of the F(4×4, 3×3) transforms' work block for calls of up to T tiles: 36 vectors
 * between their two passes and a spare, then three int32s a tile (their tile table).
 */
const winograd4Work = (T: number): number => 148 + 3 * roundUp(T, 4);
/** Floats an F(4×4, 3×3) matrix of a set may take past its own (its stride is spread over the cache's sets: see winograd-conv.ts) */
const SPREAD = 32;
/** floats of transformed tiles and products a Winograd job keeps at once per thread (512 KiB: measured best of 0.25–2 MiB) */
const WINOGRAD_CHUNK_FLOATS = 1 << 17;

/**
 * Whether an operand of a convolution has no elements (no images, or no channels in or out):
 * the kernels would sum over nothing without writing their zeros (the direct one with no
 * input channels, the Winograd weight gradient over no images), so the CPU code runs.
 */
export function empty(...views: View[]): boolean {
  return views.some((v) => sizeOf(v.shape) === 0);
}
