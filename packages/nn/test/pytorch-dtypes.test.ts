import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { manualSeed, parseSafetensorsHeader, serializeSafetensors, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Linear, Sequential } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ml-nn-dtypes-'));

/** float32 values as IEEE half-precision bits (round to nearest even), as torch.float16 stores them. */
function toHalfBits(values: number[]): Uint16Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  return Uint16Array.from(values, (v) => {
    f[0] = v;
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const e = ((x >>> 23) & 0xff) - 127 + 15;
    const m = x & 0x7fffff;
    if (e <= 0 || e >= 31) throw new Error('test helper: normal halves only');
    let h = sign | (e << 10) | (m >>> 13);
    const rest = m & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
    return h;
  });
}

describe('state dicts in the dtypes PyTorch writes', () => {
  it('a BatchNorm model with an I64 num_batches_tracked and F16 weights loads (it failed: unsupported dtype I64)', async () => {
    manualSeed(1);
    const model = new Sequential([new Linear({ inFeatures: 3, outFeatures: 2 }), new BatchNorm1d({ numFeatures: 2 })]);
    // what torch.save_file(model.half().state_dict()) holds, with num_batches_tracked as int64
    const w = [0.5, -0.25, 1.5, 2, -3, 0.125];
    const b = [0.1, -0.2];
    const half = (v: number[], shape: number[]) => ({ v, shape });
    const file = await serializeSafetensors({
      '0.weight': tensor([[0, 0, 0], [0, 0, 0]]),
      '0.bias': tensor([0, 0]),
      '1.weight': tensor([1, 1]),
      '1.bias': tensor([0, 0]),
      '1.running_mean': tensor([0, 0]),
      '1.running_var': tensor([1, 1]),
      '1.num_batches_tracked': tensor(5, { dtype: 'int32' }),
    }, undefined, { int64: ['1.num_batches_tracked'] });
    // rewrite the two Linear tensors as F16 (same byte layout: a header rewrite plus packed data)
    const h = parseSafetensorsHeader(file);
    const data = file.subarray(h.headerBytes);
    const parts: Record<string, { dtype: string; shape: number[]; bytes: Uint8Array }> = {};
    for (const e of h.entries) parts[e.name] = { dtype: e.fileDtype, shape: e.shape, bytes: data.subarray(...e.dataOffsets) };
    for (const [name, { v, shape }] of [['0.weight', half(w, [2, 3])], ['0.bias', half(b, [2])]] as const) {
      parts[name] = { dtype: 'F16', shape: [...shape], bytes: new Uint8Array(toHalfBits([...v]).buffer) };
    }
    let offset = 0;
    const header: Record<string, unknown> = {};
    const names = Object.keys(parts).sort();
    for (const n of names) {
      header[n] = { dtype: parts[n].dtype, shape: parts[n].shape, data_offsets: [offset, offset + parts[n].bytes.length] };
      offset += parts[n].bytes.length;
    }
    const json = new TextEncoder().encode(JSON.stringify(header).padEnd(Math.ceil(JSON.stringify(header).length / 8) * 8, ' '));
    const out = new Uint8Array(8 + json.length + offset);
    new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
    out.set(json, 8);
    let at = 8 + json.length;
    for (const n of names) {
      out.set(parts[n].bytes, at);
      at += parts[n].bytes.length;
    }
    const path = join(dir, 'torch-half.safetensors');
    await (await import('node:fs/promises')).writeFile(path, out);
    await model.loadWeights(path);
    const sd = model.stateDict();
    expect(Array.from(await sd['0.weight'].data())).toEqual(w); // these halves are exact
    expect(Array.from(await (sd['0.bias'] as Tensor).data()).map((x) => Math.round(x * 1e4) / 1e4)).toEqual([0.1, -0.2]);
    expect(sd['1.num_batches_tracked'].dtype).toBe('int32');
    expect(Array.from(await sd['1.num_batches_tracked'].data())).toEqual([5]);
  });

  it('saveWeights(path, {}, { int64: true }) writes num_batches_tracked as I64, as PyTorch expects, and loads back', async () => {
    const model = new Sequential([new Linear({ inFeatures: 2, outFeatures: 2 }), new BatchNorm1d({ numFeatures: 2 })]);
    const path = join(dir, 'for-torch.safetensors');
    await model.saveWeights(path, {}, { int64: true });
    const h = parseSafetensorsHeader(new Uint8Array(await readFile(path)));
    expect(Object.fromEntries(h.entries.map((e) => [e.name, e.fileDtype]))).toMatchObject({ '0.weight': 'F32', '1.num_batches_tracked': 'I64', '1.running_mean': 'F32' });
    const again = new Sequential([new Linear({ inFeatures: 2, outFeatures: 2 }), new BatchNorm1d({ numFeatures: 2 })]);
    await again.loadWeights(path);
    expect(Array.from(await again.stateDict()['0.weight'].data())).toEqual(Array.from(await model.stateDict()['0.weight'].data()));
  });
});
