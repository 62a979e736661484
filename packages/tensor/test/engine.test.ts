import { describe, expect, it } from 'vitest';
import * as T from '../src/index.js';
import type { DataId, View } from '../src/backend-api.js';
import { CpuBackend } from '../src/backend-api.js';

describe('views share storage instead of copying', () => {
  it('reshape/transpose/slice/expand are views; contiguous() copies only when needed', () => {
    const x = T.arange(6, undefined, 1, { dtype: 'float32' }).reshape(2, 3);
    const bytes = T.memory().numBytes;
    const t = x.transpose(0, 1);
    const s = x.index(null, [0, 3, 2]);
    const e = T.tensor([1, 2, 3]).reshape(1, 3).expand(4, 3);
    expect(t.strides).toEqual([1, 3]);
    expect(s.shape).toEqual([2, 2]);
    expect(s.strides).toEqual([3, 2]);
    expect(e.strides).toEqual([0, 1]);
    expect(T.memory().numBytes - bytes).toBe(12); // only the new [1,2,3] buffer
    expect(x.contiguous()).toBe(x);
    expect(t.contiguous().arraySync()).toEqual([[0, 3], [1, 4], [2, 5]]);
    expect(s.arraySync()).toEqual([[0, 2], [3, 5]]);
  });

  it('view() refuses a layout no view can show, and says what to do', () => {
    expect(() => T.zeros([2, 3]).transpose(0, 1).view(6)).toThrow(/view: tensor \[3,2\] is not contiguous.*use reshape\(\) or contiguous\(\)/);
  });

  it('reshape of a strided tensor is a view whenever its strides allow one (as in PyTorch), else a copy', () => {
    const x = T.arange(24, undefined, 1, { dtype: 'float32' }).reshape(2, 3, 4);
    const cases: [T.Tensor, number[], number[] | null][] = [
      [x.transpose(1, 2).unsqueeze(0), [2, 4, 3], [12, 1, 4]], // size-1 dims come and go
      [x.transpose(0, 1), [3, 8], null], // dims 0 and 1 swapped: no longer one run
      [x.permute(2, 0, 1), [4, 6], [1, 4]], // dims 0, 1 still one run of stride 4
      [x.permute(2, 0, 1), [4, 2, 3, 1], [1, 12, 4, 4]], // a size-1 dim's stride is never used
      [x.index(null, null, [1, 3]), [6, 2], [4, 1]], // a slice of the last dim, rows regrouped
      [x.transpose(1, 2), [2, 2, 2, 3], [12, 2, 1, 4]], // a dim split in place
      [x.expand(2, 2, 3, 4).reshape(4, 3, 4), [2, 2, 12], [24, 12, 1]],
    ];
    for (const [t, shape, strides] of cases) {
      const bytes = T.memory().numBytes;
      const r = t.reshape(shape);
      const copied = T.memory().numBytes > bytes;
      expect(r.arraySync()).toEqual(t.contiguous().reshape(shape).arraySync());
      expect(copied).toBe(strides === null);
      if (strides === null) {
        expect(() => t.view(shape)).toThrow(/view: tensor/);
      } else {
        expect(r.strides).toEqual(strides);
        expect(t.view(shape).strides).toEqual(strides);
      }
    }
  });
});

describe('memory accounting', () => {
  it('a buffer is freed when its last view is disposed', () => {
    const m0 = T.memory();
    const x = T.zeros([10]);
    const v = x.reshape(2, 5);
    expect(T.memory().numTensors).toBe(m0.numTensors + 2);
    expect(T.memory().numBytes).toBe(m0.numBytes + 40);
    x.dispose();
    expect(T.memory().numBytes).toBe(m0.numBytes + 40); // v still holds it
    v.dispose();
    expect(T.memory().numBytes).toBe(m0.numBytes);
    expect(T.memory().backends.cpu.numTensors).toBe(m0.backends.cpu?.numTensors ?? 0);
    expect(() => v.add(1)).toThrow(/already disposed/);
  });

  it('tidy keeps returned tensors (in arrays and objects) and kept ones, frees the rest', () => {
    const before = T.memory().numTensors;
    let kept: T.Tensor | null = null;
    const out = T.tidy(() => {
      const a = T.ones([3]).mul(2);
      kept = T.keep(a.add(1));
      return { sum: a.sum(), parts: [a.neg()] };
    });
    expect(T.memory().numTensors).toBe(before + 3);
    expect(out.sum.item()).toBe(6);
    expect(kept!.arraySync()).toEqual([3, 3, 3]);
    out.sum.dispose();
    out.parts[0].dispose();
    kept!.dispose();
    expect(T.memory().numTensors).toBe(before);
  });

  it('tidy disposes everything when the function throws, and rejects async functions', () => {
    const before = T.memory().numTensors;
    expect(() => T.tidy(() => {
      T.ones([4]).add(1);
      throw new Error('boom');
    })).toThrow('boom');
    expect(T.memory().numTensors).toBe(before);
    expect(() => T.tidy(() => Promise.resolve(1) as unknown as number)).toThrow(/returned a Promise/);
  });

  it('assign replaces values in place and frees the old buffer', () => {
    const w = T.zeros([3]);
    const bytes = T.memory().numBytes;
    T.tidy(() => w.assign(T.tensor([1, 2, 3]).mul(2)));
    expect(w.arraySync()).toEqual([2, 4, 6]);
    expect(T.memory().numBytes).toBe(bytes);
    expect(() => w.assign(T.zeros([2]))).toThrow(/assign: value \[2\] \(float32\) does not match tensor \[3\] \(float32\)/);
  });
});

describe('fused kernels: optional methods of the backend contract', () => {
  it("a backend's method replaces the composite op, and declining (null) falls back to the composite", () => {
    let calls = 0;
    let decline = false;
    /** a backend that offers a fused softmax over the last dim and counts its calls */
    class SoftmaxCpu extends CpuBackend {
      override readonly name = 'cpu-fused-softmax';
      softmax(x: View, dim: number): DataId | null {
        calls++;
        if (decline || dim !== x.shape.length - 1) return null;
        const v = this.readSync(this.copy(x)) as Float32Array;
        const C = x.shape[dim];
        for (let r = 0; r < v.length; r += C) {
          const row = v.subarray(r, r + C);
          const m = Math.max(...row);
          let s = 0;
          for (let i = 0; i < C; i++) s += (row[i] = Math.exp(row[i] - m));
          for (let i = 0; i < C; i++) row[i] /= s;
        }
        return this.write(v, 'float32');
      }
    }
    T.registerBackend(new SoftmaxCpu());
    const x = T.tensor([[0, Math.log(3)]], { backend: 'cpu-fused-softmax' });
    const y = T.softmax(x);
    expect(calls).toBe(1);
    expect(Array.from(y.dataSync()).map((v) => Number(v.toFixed(6)))).toEqual([0.25, 0.75]);
    decline = true;
    expect(Array.from(T.softmax(x).dataSync()).map((v) => Number(v.toFixed(6)))).toEqual([0.25, 0.75]);
    expect(calls).toBe(2);
    // the plain cpu backend has no fused softmax: the composite runs
    expect(T.getBackend('cpu').softmax).toBeUndefined();
  });
});

describe('printing like PyTorch', () => {
  it('formats floats, ints, bools, scalars and empty tensors', () => {
    expect(T.tensor([[1, 2], [3, 4]]).toString()).toBe('tensor([[1., 2.],\n        [3., 4.]])');
    expect(T.tensor([0.5, -1.25]).toString()).toBe('tensor([ 0.5000, -1.2500])');
    expect(T.arange(3).toString()).toBe('tensor([0, 1, 2], dtype=int32)');
    expect(T.tensor([true, false]).toString()).toBe('tensor([ true, false])');
    expect(T.scalar(3.5).toString()).toBe('tensor(3.5000)');
    expect(T.zeros([0, 3]).toString()).toBe('tensor([], size=(0, 3))');
    expect(T.tensor([1], { requiresGrad: true }).mul(2).toString()).toBe('tensor([2.], gradFn=<mul>)');
  });
  it('summarizes large tensors with ...', () => {
    const s = T.arange(2000).toString();
    expect(s).toContain('...');
    expect(s.startsWith('tensor([   0,    1,    2, ..., 1997, 1998, 1999]')).toBe(true);
  });
});

describe('errors name the op and both shapes', () => {
  it.each([
    [() => T.matmul(T.zeros([32, 784]), T.zeros([128, 10])), /matmul: \[32,784\] x \[128,10\] — inner dims 784 and 128 differ/],
    [() => T.add(T.zeros([2, 3]), T.zeros([4])), /add: shapes \[2,3\] and \[4\] cannot be broadcast/],
    [() => T.zeros([2, 3]).reshape(4, 2), /reshape: cannot reshape \[2,3\] \(6 elements\) into \[4,2\]/],
    [() => T.zeros([2, 3]).sum(2), /sum: dim 2 is out of range for a tensor with 2 dims/],
    [() => T.conv2d(T.zeros([1, 1, 3, 3]), T.zeros([1, 1, 5, 5])), /conv2d: kernel 5x5 \(dilated 5x5\) is larger than the padded input 3x3/],
    [() => T.conv2d(T.zeros([1, 3, 8, 8]), T.zeros([4, 2, 3, 3])), /conv2d: input \[1,3,8,8\] has 3 channels but weight \[4,2,3,3\] expects 2/],
    [() => T.concat([T.zeros([2, 3]), T.zeros([3, 3])], 1), /concat: shapes \[2,3\] and \[3,3\] differ outside dim 1/],
    [() => T.tensor([[1, 2], [3]]), /tensor: ragged nested array/],
    [() => T.gather(T.zeros([2, 2]), 0, T.zeros([2, 2])), /gather: index must be int32, got float32/],
    [() => T.oneHot(T.tensor([0, 3], { dtype: 'int32' }), 3), /oneHot: class index 3 is outside \[0, 3\)/],
    [() => T.setBackend('tpu'), /no backend named 'tpu' is registered \(registered: cpu/],
    // a value that is not a tensor, where one was expected
    [() => T.conv2d(T.zeros([1, 1, 4, 4]), T.zeros([1, 1, 3, 3]), { stride: 1 } as never), /conv2d: bias \(the third argument.*must be a tensor, got an object with keys stride/],
    [() => T.conv2d(Promise.resolve(T.zeros([1, 1, 4, 4])) as never, T.zeros([1, 1, 3, 3])), /conv2d: the input must be a tensor, got a Promise \(a missing await\?\)/],
    [() => T.conv2d(T.zeros([1, 1, 4, 4]), [[1]] as never), /conv2d: weight must be a tensor, got an array/],
    [() => T.add(T.zeros([2]), undefined as never), /add: an operand must be a tensor, a number or a boolean, got undefined/],
    [() => T.mul(T.zeros([2]), '2' as never), /mul: an operand must be a tensor, a number or a boolean, got a string \(2\)/],
    [() => T.relu({ shape: [2] } as never), /relu: an input must be a tensor, got an object with keys shape/],
  ])('%#', (fn, pattern) => {
    expect(fn).toThrow(pattern);
  });
});

describe('randomness', () => {
  it('manualSeed makes rand/randn/randint/randperm repeat exactly', () => {
    const draw = () => [T.rand([5]), T.randn([5]), T.randint(0, 10, [5]), T.randperm(6)].map((t) => Array.from(t.dataSync()));
    T.manualSeed(123);
    const a = draw();
    T.manualSeed(123);
    expect(draw()).toEqual(a);
    T.manualSeed(124);
    expect(draw()).not.toEqual(a);
  });
  it('randn has mean ≈ 0 and std ≈ 1; rand stays in [0, 1)', () => {
    T.manualSeed(5);
    const n = T.randn([20000]);
    expect(Math.abs(n.mean().item())).toBeLessThan(0.03);
    expect(Math.abs(n.std().item() - 1)).toBeLessThan(0.03);
    const u = T.rand([20000]);
    expect(u.min().item()).toBeGreaterThanOrEqual(0);
    expect(u.max().item()).toBeLessThan(1);
  });
});

describe('ML_DEBUG', () => {
  it('logs each primitive with its backend, shapes and time', async () => {
    const { spawnSync } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const script = `import('${dist.replace(/\\/g, '/')}').then((T) => T.tensor([1, 2]).add(T.tensor([3])))`;
    const res = spawnSync(process.execPath, ['-e', script], { env: { ...process.env, ML_DEBUG: '1' }, encoding: 'utf8' });
    expect(res.stderr).toMatch(/\[ml\] add on cpu \[2\] \[2\] \d+\.\d{3} ms/);
  });
});
