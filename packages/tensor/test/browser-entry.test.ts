// Only the browser-safe entry is imported here (vitest gives each test file its own
// modules), so the Node entry has not filled in file access.
import { describe, expect, it } from 'vitest';
import { loadSafetensors, parseSafetensors, readSafetensorsHeader, saveSafetensors, serializeSafetensors, tensor } from '../src/index.js';

describe('the browser-safe entry', () => {
  it('serializes and parses safetensors bytes', async () => {
    const bytes = await serializeSafetensors({ w: tensor([1, 2, 3]) });
    expect(Array.from(parseSafetensors(bytes).tensors.w.dataSync())).toEqual([1, 2, 3]);
  });

  it('refuses the path-taking functions with an error that points at the bytes API', async () => {
    const hint = /needs Node: .*serializeSafetensors\(\) \/ parseSafetensors\(\)/;
    await expect(saveSafetensors('w.safetensors', { w: tensor([1]) })).rejects.toThrow(new RegExp(`^saveSafetensors reads or writes a file, which ${hint.source}`));
    await expect(loadSafetensors('w.safetensors')).rejects.toThrow(hint);
    await expect(readSafetensorsHeader('w.safetensors')).rejects.toThrow(hint);
  });
});
