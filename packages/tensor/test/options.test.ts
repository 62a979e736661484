import { describe, expect, it } from 'vitest';
import { checkOptions, closest, editDistance } from '../src/index.js';

describe('checkOptions: no option is ignored silently', () => {
  const valid = ['epochs', 'batchSize', 'validationSplit'] as const;
  it('passes valid keys, undefined and null options', () => {
    expect(() => checkOptions('fit', { epochs: 3, batchSize: undefined }, valid)).not.toThrow();
    expect(() => checkOptions('fit', undefined, valid)).not.toThrow();
    expect(() => checkOptions('fit', null, valid)).not.toThrow();
  });
  it("names Keras's and PyTorch's snake_case spelling's camelCase twin", () => {
    expect(() => checkOptions('fit', { batch_size: 100 }, valid)).toThrow(new TypeError("fit: unknown option 'batch_size'; did you mean 'batchSize'?"));
    expect(() => checkOptions('fit', { validation_split: 0.2 }, valid)).toThrow(/did you mean 'validationSplit'\?/);
  });
  it('names the closest valid keys for a typo, or lists the valid ones; aliases lead where spelling does not', () => {
    expect(() => checkOptions('fit', { epoch: 3 }, valid)).toThrow(/unknown option 'epoch'; did you mean 'epochs'\?/);
    expect(() => checkOptions('fit', { zzzzzz: 1 }, valid)).toThrow(/unknown option 'zzzzzz' \(valid: epochs, batchSize, validationSplit\)/);
    expect(() => checkOptions('attend', { mask: 1 }, ['attnMask'], { mask: 'attnMask' })).toThrow(/unknown option 'mask'; did you mean 'attnMask'\?/);
    // a key named like an Object.prototype member is unknown too
    expect(() => checkOptions('fit', JSON.parse('{"toString": 1}'), valid)).toThrow(/unknown option 'toString'/);
    expect(() => checkOptions('fit', [1], valid)).toThrow(/fit: options must be an object, got an array/);
  });
  it('editDistance and closest', () => {
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(closest('batch', ['batchSize', 'epochs'])).toEqual(['batchSize']);
  });
});
