import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeOptionsContract, type NamedRecipe, type Recipe } from '@ml/api-check';
import { describe, expect, it } from 'vitest';
import { arange, attentionWeights, avgPool1d, avgPool2d, checkOptions, cholesky, closest, conv1d, conv2d, dropoutMask, editDistance, eigh, eigvalsh, eye, fromArray, fromFill, full, fullLike, gruSequence, gruSequenceBackward, linspace, loadSafetensors, lstmSequence, lstmSequenceBackward, maxPool1d, maxPool2d, normal, ones, onesLike, parseSafetensors, parseSafetensorsHeader, rand, randint, randLike, randn, randnLike, randperm, registerBackend, rnnSequence, rnnSequenceBackward, saveSafetensors, scalar, scaledDotProductAttention, scaledDotProductAttentionBackward, serializeSafetensors, std, tensor, uniform, var_, variance, zeros, zerosLike } from '../src/node.js';
import { CpuBackend, HostAllocator } from '../src/backend-api.js';
import { assertClose, describeConformance } from '../src/testing/index.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

describe('checkOptions: no option is ignored silently', () => {
  const valid = ['epochs', 'batchSize', 'validationSplit'] as const;
  it('passes valid keys, undefined and null options', () => {
    expect(() => checkOptions('fit', { epochs: 3, batchSize: undefined }, valid)).not.toThrow();
    expect(() => checkOptions('fit', undefined, valid)).not.toThrow();
    expect(() => checkOptions('fit', null, valid)).not.toThrow();
    expect(() => checkOptions('StandardScaler', { with_mean: false }, [])).toThrow("StandardScaler: unknown option 'with_mean': it takes no options");
    expect(() => checkOptions('Dense', { units: 3 }, ['activation'], { units: 'the first argument' })).toThrow("Dense: unknown option 'units'; give it as the first argument");
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

describe('every exported options-taker rejects an unknown option (read from the source)', () => {
  const x = randn([1, 2, 4, 4]);
  const w = randn([3, 2, 3, 3]);
  const spd = tensor([[2, 1], [1, 2]]);
  const dir = mkdtempSync(join(tmpdir(), 'ml-options-'));
  const stPath = join(dir, 'a.safetensors');
  const st = { a: tensor([1, 2, 3]) };
  const recipes: Record<string, Recipe | NamedRecipe> = {
    arange: (o) => arange(0, 3, 1, o),
    assertClose: (o) => assertClose(tensor([1, 2]), [1, 2], o),
    cholesky: (o) => cholesky(spd, o),
    // with a harness that registers nothing
    describeConformance: (o) => describeConformance('cpu', { describe: () => undefined, it: () => undefined }, o),
    eigh: (o) => eigh(spd, o),
    eigvalsh: (o) => eigvalsh(spd, o),
    avgPool1d: (o) => avgPool1d(randn([1, 2, 6]), { kernelSize: 2, ...o }),
    avgPool2d: (o) => avgPool2d(x, { kernelSize: 2, ...o }),
    CpuBackend: (o) => new CpuBackend(o),
    HostAllocator: (o) => new HostAllocator(o),
    conv1d: (o) => conv1d(randn([1, 2, 6]), randn([3, 2, 3]), null, o),
    conv2d: (o) => conv2d(x, w, null, o),
    dropoutMask: (o) => dropoutMask([4], 0.5, 2, o),
    eye: (o) => eye(2, 2, o),
    fromArray: (o) => fromArray([1, 2], [2], o),
    fromFill: (o) => fromFill([2], (out) => out.fill(1), o),
    full: (o) => full([2], 1, o),
    fullLike: (o) => fullLike(x, 1, o),
    linspace: (o) => linspace(0, 1, 3, o),
    loadSafetensors: async (o) => {
      await saveSafetensors(stPath, st);
      return loadSafetensors(stPath, o);
    },
    maxPool1d: (o) => maxPool1d(randn([1, 2, 6]), { kernelSize: 2, ...o }),
    maxPool2d: (o) => maxPool2d(x, { kernelSize: 2, ...o }),
    normal: (o) => normal([2], 0, 1, o),
    ones: (o) => ones([2], o),
    onesLike: (o) => onesLike(x, o),
    parseSafetensors: async (o) => parseSafetensors(await serializeSafetensors(st), o),
    parseSafetensorsHeader: async (o) => parseSafetensorsHeader(await serializeSafetensors(st), o),
    rand: (o) => rand([2], o),
    randLike: (o) => randLike(x, o),
    randint: (o) => randint(0, 3, [2], o),
    randn: (o) => randn([2], o),
    randnLike: (o) => randnLike(x, o),
    randperm: (o) => randperm(3, o),
    // a backend under a name of its own, so the tests' cpu backend stays the default
    registerBackend: (o) => registerBackend(Object.assign(new CpuBackend(), { name: 'cpu-options-test' }), o),
    saveSafetensors: (o) => saveSafetensors(stPath, st, undefined, o),
    scalar: (o) => scalar(1, o),
    serializeSafetensors: (o) => serializeSafetensors(st, undefined, o),
    std: (o) => std(x, 1, o),
    'Tensor.prototype.std': (o) => x.std(1, o),
    'Tensor.prototype.var': (o) => x.var(1, o),
    tensor: (o) => tensor([1, 2], o),
    uniform: (o) => uniform([2], 0, 1, o),
    // var_ is `var` (a reserved word in JavaScript) under an exported name; it reports as variance
    var_: { call: (o: Record<string, unknown>) => var_(x, 1, o), op: 'variance' },
    variance: (o) => variance(x, 1, o),
    zeros: (o) => zeros([2], o),
    zerosLike: (o) => zerosLike(x, o),
    // the whole-sequence recurrent ops: L = 2, batch 1, hidden 1
    lstmSequence: (o) => lstmSequence(randn([2, 1, 4]), zeros([1, 1]), zeros([1, 1]), randn([4, 1]), o),
    lstmSequenceBackward: (o) => lstmSequenceBackward(randn([2, 1, 4]), zeros([1, 1]), zeros([1, 1]), randn([4, 1]), randn([2, 1, 2]), randn([2, 1, 2]), o),
    gruSequence: (o) => gruSequence(randn([2, 1, 3]), zeros([1, 1]), randn([3, 1]), null, o),
    gruSequenceBackward: (o) => gruSequenceBackward(randn([2, 1, 3]), zeros([1, 1]), randn([3, 1]), null, randn([2, 1, 1]), randn([2, 1, 1]), o),
    rnnSequence: (o) => rnnSequence(randn([2, 1, 1]), zeros([1, 1]), randn([1, 1]), o),
    rnnSequenceBackward: (o) => rnnSequenceBackward(randn([2, 1, 1]), zeros([1, 1]), randn([1, 1]), randn([2, 1, 1]), randn([2, 1, 1]), o),
    // attention: q [2, 3], k and v [4, 3]
    attentionWeights: (o) => attentionWeights(randn([2, 3]), randn([4, 3]), o),
    scaledDotProductAttention: (o) => scaledDotProductAttention(randn([2, 3]), randn([4, 3]), randn([4, 3]), o),
    scaledDotProductAttentionBackward: (o) => scaledDotProductAttentionBackward(randn([2, 3]), randn([4, 3]), randn([4, 3]), randn([2, 3]), o),
  };
  describeOptionsContract(packageDir, { describe, it }, { entries: ['src/node.ts', 'src/testing/index.ts', 'src/backend-api.ts'], recipes });
});

describe("README: options are checked", () => {
  it("zeros([2], { requires_grad: true }) names requiresGrad", () => {
    expect(() => zeros([2], { requires_grad: true } as never)).toThrow(new TypeError("zeros: unknown option 'requires_grad'; did you mean 'requiresGrad'?"));
  });
});
