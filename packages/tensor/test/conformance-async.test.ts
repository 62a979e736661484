import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Backend, getBackend, ones, registerBackend, setBackend, tensor } from '../src/index.js';
import { assertClose, describeConformance } from '../src/testing/index.js';
import { AsyncCpuBackend } from './async-backend.js';

registerBackend(new AsyncCpuBackend());

describeConformance('async-cpu', { describe, it, beforeAll, afterAll });

describe('async-cpu backend without synchronous reads', () => {
  const onAsync = <T>(fn: () => T): T => {
    const prev = getBackend().name;
    setBackend('async-cpu');
    try {
      return fn();
    } finally {
      setBackend(prev);
    }
  };

  it('has no readSync', () => {
    const b: Backend = new AsyncCpuBackend();
    expect(b.readSync).toBeUndefined();
    expect('readSync' in b).toBe(false);
  });

  it('dataSync(), arraySync() and item() throw a clear error', () => {
    const t = onAsync(() => tensor([1, 2, 3]));
    expect(t.backend.name).toBe('async-cpu');
    expect(() => t.dataSync()).toThrow(/dataSync: backend 'async-cpu' cannot read synchronously/);
    expect(() => t.arraySync()).toThrow(/cannot read synchronously/);
    expect(() => onAsync(() => ones([1])).item()).toThrow(/cannot read synchronously/);
  });

  it('toString() does not throw and says how to read', async () => {
    const t = onAsync(() => tensor([[1, 2], [3, 4]]));
    let text = '';
    expect(() => {
      text = t.toString();
    }).not.toThrow();
    expect(text).toContain('async-cpu');
    expect(text).toContain('shape=[2, 2]');
    await assertClose(t, [[1, 2], [3, 4]]);
    t.dispose();
    expect(() => t.toString()).not.toThrow();
  });

  it('dispose() while data() is in flight keeps the buffer until the read resolves', async () => {
    const t = onAsync(() => tensor([1, 2, 3]));
    const pending = t.data();
    t.dispose();
    expect(Array.from(await pending)).toEqual([1, 2, 3]);
  });
});
