/** The fused Adam step of @ml/optim. */
import { f32, i32, op, v128 } from '../assembler.js';
import { kernel } from './kernel.js';
import { flushBelowLanes, flushLanes } from './shared.js';

/**
 * adam(p, g, m, v, out, n4, b1, c1, b2, c2, isbc2, eps, stepSize, decay, l2, sign): one Adam
 * step over n4 groups of four floats, in the fused JavaScript loop's order of operations
 * except for one division (vector divisions are slow; the results differ in the last bit):
 *   d = sign·g + l2·p;  m ← b1·m + c1·d;  v ← b2·v + c2·d²;
 *   out = p·decay − (m / (√v·isbc2 + eps))·stepSize      (c1 = 1 − b1, c2 = 1 − b2, isbc2 = 1/√(1 − b2ᵗ))
 * m and v are updated in place, each lane under 2⁻¹⁰⁰ in magnitude written as +0 (as the
 * JavaScript loop's flushTiny does): a gradient that stops, an MNIST pixel no later image
 * lights, leaves m shrinking by b1 a step, through the subnormal floats otherwise, which
 * made this step 2.7× slower in the MNIST classifier's training on an Intel Xeon.
 */
export const adam = kernel({
  params: {
    p: i32, g: i32, m: i32, v: i32, out: i32, n4: i32,
    b1: f32, c1: f32, b2: f32, c2: f32, isbc2: f32, eps: f32, stepSize: f32, decay: f32, l2: f32, sign: f32,
  },
  locals: { i: i32, d: v128, mi: v128, vi: v128, P: v128, t: v128, tiny: v128 },
  split: { units: 'n4', pointers: ['p', 'g', 'm', 'v', 'out'] },
  body: (f) => {
    type Name = 'p' | 'g' | 'm' | 'v' | 'out' | 'b1' | 'c1' | 'b2' | 'c2' | 'isbc2' | 'eps' | 'stepSize' | 'decay' | 'l2' | 'sign';
    const splat = (x: Name) => [...f.get(x), ...op.f32x4Splat];
    const at = (base: Name) => [...f.get(base), ...f.get('i'), ...op.i32(4), ...op.i32Shl, ...op.i32Add];
    return [...flushBelowLanes(), ...f.set('tiny'), ...f.forUp('i', f.get('n4'), [
      ...at('p'), ...op.v128Load(0), ...f.set('P'),
      // d = sign·g + l2·p
      ...splat('sign'), ...at('g'), ...op.v128Load(0), ...op.f32x4Mul, ...splat('l2'), ...f.get('P'), ...op.f32x4Mul, ...op.f32x4Add, ...f.set('d'),
      // m = b1·m + c1·d
      ...flushLanes([...splat('b1'), ...at('m'), ...op.v128Load(0), ...op.f32x4Mul, ...splat('c1'), ...f.get('d'), ...op.f32x4Mul, ...op.f32x4Add], f.ref('t'), f.get('tiny')), ...f.set('mi'),
      ...at('m'), ...f.get('mi'), ...op.v128Store(0),
      // v = b2·v + c2·d²
      ...flushLanes([...splat('b2'), ...at('v'), ...op.v128Load(0), ...op.f32x4Mul, ...splat('c2'), ...f.get('d'), ...f.get('d'), ...op.f32x4Mul, ...op.f32x4Mul, ...op.f32x4Add], f.ref('t'), f.get('tiny')), ...f.set('vi'),
      ...at('v'), ...f.get('vi'), ...op.v128Store(0),
      // out = p·decay − (m / (√v·isbc2 + eps))·stepSize
      ...at('out'),
      ...f.get('P'), ...splat('decay'), ...op.f32x4Mul,
      ...f.get('mi'), ...f.get('vi'), ...op.f32x4Sqrt, ...splat('isbc2'), ...op.f32x4Mul, ...splat('eps'), ...op.f32x4Add, ...op.f32x4Div, ...splat('stepSize'), ...op.f32x4Mul,
      ...op.f32x4Sub,
      ...op.v128Store(0),
    ])];
  },
});
