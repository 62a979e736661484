import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import * as browser from '../src/index.js';
import * as node from '../src/node.js';

// plain IDX: magic 00 00 08 01, one dim of 3, then the bytes 7 8 9
const PLAIN = new Uint8Array([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9]);
// its MD5, computed with `printf '\x00\x00\x08\x01\x00\x00\x00\x03\x07\x08\x09' | md5sum`
const PLAIN_MD5 = 'ef4e9cfa3865d09d89855aa0771f360f';

describe('the browser-safe entry', () => {
  it('has no file readers or MNIST loaders; the Node entry adds them under the same names', () => {
    for (const name of ['readCsv', 'readJsonRecords', 'readIdx', 'mnist', 'fashionMnist']) {
      expect(name in browser, name).toBe(false);
      expect(typeof (node as Record<string, unknown>)[name], name).toBe('function');
    }
  });

  it('keeps the parsers, the class names and the errors, shared with the Node entry', () => {
    expect(browser.parseCsv).toBe(node.parseCsv);
    expect(browser.parseJsonRecords).toBe(node.parseJsonRecords);
    expect(browser.IdxError).toBe(node.IdxError);
    expect(browser.DatasetNotFoundError).toBe(node.DatasetNotFoundError);
    expect(browser.FASHION_MNIST_CLASSES[9]).toBe('Ankle boot');
  });

  it('parses plain IDX bytes', () => {
    const a = browser.parseIdx(PLAIN);
    expect(a.shape).toEqual([3]);
    expect(Array.from(a.data)).toEqual([7, 8, 9]);
  });

  it('refuses gzip data with an IdxError that says how to unpack it', () => {
    const gz = gzipSync(PLAIN);
    expect(() => browser.parseIdx(gz, { name: 'labels.gz' })).toThrow(browser.IdxError);
    expect(() => browser.parseIdx(gz, { name: 'labels.gz' })).toThrow(/labels\.gz: gzip-compressed IDX data; unpack it first .*DecompressionStream/);
    // the Node entry's parseIdx unpacks it
    expect(Array.from(node.parseIdx(gz).data)).toEqual([7, 8, 9]);
  });

  it('refuses a checksum it cannot compute, and the Node entry checks it', () => {
    expect(() => browser.parseIdx(PLAIN, { expectedMd5: PLAIN_MD5 })).toThrow(/md5 of IDX data needs Node's crypto/);
    expect(node.parseIdx(PLAIN, { expectedMd5: PLAIN_MD5 }).shape).toEqual([3]);
    expect(() => node.parseIdx(PLAIN, { expectedMd5: '0'.repeat(32) })).toThrow(/md5 is [0-9a-f]{32}, expected 0{32}/);
  });
});
