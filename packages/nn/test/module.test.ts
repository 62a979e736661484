import { mkdtempSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@ml/autograd';
import { full, listBackends, loadSafetensors, manualSeed, memory, randn, registerBackend, tensor, tidy, toBackend, type Backend, type Tensor } from '@ml/tensor';
import { CpuBackend } from '@ml/tensor/backend';
import { assertClose } from '@ml/tensor/testing';
import { describe, expect, it } from 'vitest';
import { BatchNorm1d, Dropout, Linear, Module, ModuleDict, ModuleList, ReLU, Sequential, type ModuleOptions } from '../src/index.js';

/** A small custom module in the PyTorch style: two submodules and a parameter of its own. */
class Net extends Module {
  readonly encoder: Sequential;
  readonly head: Linear;
  readonly scale: Tensor;
  constructor(options: ModuleOptions = {}) {
    super(options);
    this.encoder = this.registerModule('encoder', new Sequential([new Linear({ inFeatures: 4, outFeatures: 8 }), new BatchNorm1d({ numFeatures: 8 }), new ReLU()]));
    this.head = this.registerModule('head', new Linear({ inFeatures: 8, outFeatures: 2 }));
    this.scale = this.registerParameter('scale', full([1], 2));
  }
  forward(x: Tensor): Tensor {
    return this.head.forward(this.encoder.forward(x)).mul(this.scale);
  }
}

const tmp = () => mkdtempSync(join(tmpdir(), 'ml-nn-'));

describe('Module: parameters, buffers and submodules', () => {
  it('names parameters by dotted path, as PyTorch state-dict keys', () => {
    const net = new Net();
    expect([...net.namedParameters()].map(([k]) => k)).toEqual([
      'scale',
      'encoder.0.weight',
      'encoder.0.bias',
      'encoder.1.weight',
      'encoder.1.bias',
      'head.weight',
      'head.bias',
    ]);
    expect(Object.keys(net.stateDict())).toEqual([
      'scale',
      'encoder.0.weight',
      'encoder.0.bias',
      'encoder.1.weight',
      'encoder.1.bias',
      'encoder.1.running_mean',
      'encoder.1.running_var',
      'encoder.1.num_batches_tracked',
      'head.weight',
      'head.bias',
    ]);
    expect(net.numParameters()).toBe(1 + 32 + 8 + 8 + 8 + 16 + 2);
    expect(net.parameters().every((p) => p.requiresGrad)).toBe(true);
  });

  it('a layer shared twice contributes its parameters once', () => {
    const shared = new Linear({ inFeatures: 3, outFeatures: 3 });
    const seq = new Sequential([shared, new ReLU(), shared]);
    expect(seq.parameters()).toHaveLength(2);
    expect(Object.keys(seq.stateDict())).toEqual(['0.weight', '0.bias']);
  });

  it('train()/eval() set the mode of every submodule', () => {
    const net = new Net().eval();
    expect(net.modules().every((m) => !m.training)).toBe(true);
    net.train();
    expect(net.modules().every((m) => m.training)).toBe(true);
  });

  it('zeroGrad() clears every .grad; backward fills them', () => {
    const net = new Net();
    net.forward(randn([5, 4])).sum().backward();
    expect(net.parameters().every((p) => p.grad !== null)).toBe(true);
    net.zeroGrad();
    expect(net.parameters().every((p) => p.grad === null)).toBe(true);
  });

  it('apply(fn) visits children before parents', () => {
    const order: string[] = [];
    new Sequential([new Linear({ inFeatures: 2, outFeatures: 2, name: 'a' }), new Sequential([new ReLU({ name: 'b' })], { name: 'inner' })], { name: 'outer' }).apply((m) =>
      order.push(m.name),
    );
    expect(order).toEqual(['a', 'b', 'inner', 'outer']);
  });

  it('requiresGrad_(false) freezes parameters (no gradient flows to them)', () => {
    const lin = new Linear({ inFeatures: 2, outFeatures: 1 });
    lin.requiresGrad_(false);
    const x = randn([3, 2]).requiresGrad_();
    lin.forward(x).sum().backward();
    expect(lin.weight.grad).toBeNull();
    expect(x.grad).not.toBeNull();
    expect(lin.numParameters({ trainableOnly: true })).toBe(0);
  });

  it('double() casts parameters and float buffers in place; fields follow', () => {
    const net = new Net().double();
    expect(net.parameters().every((p) => p.dtype === 'float64')).toBe(true);
    expect(net.head.weight.dtype).toBe('float64');
    expect(net.scale.dtype).toBe('float64');
    const bn = net.encoder.at(1) as BatchNorm1d;
    expect(bn.runningMean!.dtype).toBe('float64');
    expect(bn.numBatchesTracked!.dtype).toBe('int32');
    expect(net.forward(randn([3, 4], { dtype: 'float64' })).dtype).toBe('float64');
  });

  it('to() moves to a backend by name', async () => {
    const net = new Net();
    await net.to('cpu');
    await net.to({ dtype: 'float64' });
    expect(net.head.bias!.dtype).toBe('float64');
  });

  it('prints a PyTorch-style tree', () => {
    const s = new Sequential([new Linear({ inFeatures: 4, outFeatures: 2 }), new ReLU(), new Dropout({ p: 0.1 })]).toString();
    expect(s).toBe('Sequential(\n  (0): Linear(inFeatures=4, outFeatures=2, bias=true)\n  (1): ReLU()\n  (2): Dropout(p=0.1)\n)');
  });

  it('ModuleList and ModuleDict register children under their index / key', () => {
    class Stack extends Module {
      readonly blocks = this.registerModule('blocks', new ModuleList([new Linear({ inFeatures: 2, outFeatures: 2 }), new Linear({ inFeatures: 2, outFeatures: 2 })]));
      readonly heads = this.registerModule('heads', new ModuleDict({ cls: new Linear({ inFeatures: 2, outFeatures: 3 }) }));
      forward(x: Tensor): Tensor {
        for (const b of this.blocks) x = (b as Linear).forward(x);
        return (this.heads.get('cls') as Linear).forward(x);
      }
    }
    const m = new Stack();
    expect(Object.keys(m.stateDict())).toEqual(['blocks.0.weight', 'blocks.0.bias', 'blocks.1.weight', 'blocks.1.bias', 'heads.cls.weight', 'heads.cls.bias']);
    expect(m.forward(randn([1, 2])).shape).toEqual([1, 3]);
    expect(() => m.heads.get('nope')).toThrow(/no module 'nope' \(have cls\)/);
  });

  it('rejects duplicate and dotted names', () => {
    class Bad extends Module {
      constructor(name: string) {
        super();
        this.registerParameter('w', full([1], 0));
        this.registerParameter(name, full([1], 0));
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    expect(() => new Bad('w')).toThrow(/'w' is already registered on Bad/);
    expect(() => new Bad('a.b')).toThrow(/invalid name 'a.b'/);
  });
});

describe('state dicts and safetensors files', () => {
  it('round-trips through safetensors bit-exactly, tensor names = state-dict keys', async () => {
    manualSeed(1);
    const a = new Net();
    a.forward(randn([6, 4])); // update BatchNorm's running stats
    const path = join(tmp(), 'net.safetensors');
    await a.saveWeights(path);
    const { tensors } = await loadSafetensors(path);
    expect(Object.keys(tensors).sort()).toEqual(Object.keys(a.stateDict()).sort());
    const b = new Net();
    await b.loadWeights(path);
    for (const [k, t] of Object.entries(a.stateDict())) {
      const got = await b.stateDict()[k].data();
      const want = await t.data();
      expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer, want.byteOffset, want.byteLength)), k).toBe(true);
    }
    b.eval();
    a.eval();
    const x = randn([3, 4]);
    expect(await b.forward(x).data()).toEqual(await a.forward(x).data());
  });

  it('a wrong shape names the key and both shapes, and loads nothing', async () => {
    const net = new Net();
    const before = await net.head.weight.data();
    const sd = { ...net.stateDict(), 'encoder.0.weight': randn([8, 5]), 'head.weight': randn([2, 8]) };
    expect(() => net.loadStateDict(sd)).toThrow("loadStateDict: size mismatch for 'encoder.0.weight': the file has [8,5], the model has [8,4]");
    expect(await net.head.weight.data()).toEqual(before);
  });

  it('a state on a backend that reads only asynchronously (a GPU) is refused with what to do, and loads nothing', async () => {
    // the cpu backend with its synchronous reads hidden stands in for a GPU backend
    const cpu = new CpuBackend();
    const hidden = new Set<string | symbol>(['readSync', 'hostArray']);
    const device = new Proxy(cpu, {
      get: (t, k) => (k === 'name' ? 'async-device' : hidden.has(k) ? undefined : typeof Reflect.get(t, k) === 'function' ? Reflect.get(t, k).bind(t) : Reflect.get(t, k)),
    }) as Backend;
    if (!listBackends().includes('async-device')) registerBackend(device);
    const net = new Net();
    const before = await net.head.weight.data();
    const sd: Record<string, Tensor> = {};
    for (const [k, t] of Object.entries(new Net().stateDict())) sd[k] = await toBackend(t, 'async-device');
    expect(() => net.loadStateDict(sd)).toThrow(
      /loadStateDict: '[\w.]+' is on backend 'async-device', which reads only asynchronously, and the model is on 'cpu' — move the state first \(await toBackend\(t, 'cpu'\)/,
    );
    expect(await net.head.weight.data()).toEqual(before);
  });

  it('missing and unexpected keys are listed (strict), or reported (non-strict)', () => {
    const net = new Net();
    const sd: Record<string, Tensor> = { ...net.stateDict(), 'head.wieght': randn([2, 8]) };
    delete sd['head.weight'];
    expect(() => net.loadStateDict(sd)).toThrow(/missing keys: 'head.weight'; unexpected keys: 'head.wieght'/);
    expect(net.loadStateDict(sd, { strict: false })).toEqual({ missingKeys: ['head.weight'], unexpectedKeys: ['head.wieght'] });
  });

  it('loading a file with a wrong key names the key and the file', async () => {
    const dir = tmp();
    const small = new Sequential([new Linear({ inFeatures: 4, outFeatures: 3 })]);
    await small.saveWeights(join(dir, 'small.safetensors'));
    const other = new Sequential([new Linear({ inFeatures: 4, outFeatures: 5 })]);
    await expect(other.loadWeights(join(dir, 'small.safetensors'))).rejects.toThrow(/size mismatch for '0.weight': the file has \[3,4\], the model has \[5,4\] \[file .*small.safetensors\]/);
  });

  it('a truncated file is rejected and the model keeps its weights', async () => {
    const dir = tmp();
    const net = new Net();
    await net.saveWeights(join(dir, 'w.safetensors'));
    const bytes = readFileSync(join(dir, 'w.safetensors'));
    writeFileSync(join(dir, 'cut.safetensors'), bytes.subarray(0, bytes.length - 10));
    const before = await net.scale.data();
    await expect(net.loadWeights(join(dir, 'cut.safetensors'))).rejects.toThrow(/safetensors:/);
    expect(await net.scale.data()).toEqual(before);
  });

  it('saving is atomic: no temp file is left and an existing file is replaced whole', async () => {
    const dir = tmp();
    const path = join(dir, 'm.safetensors');
    await new Net().saveWeights(path);
    await new Net().saveWeights(path);
    expect(readdirSync(dir)).toEqual(['m.safetensors']);
    expect(existsSync(path)).toBe(true);
  });

  it('values are cast to the parameter dtype (float64 file → float32 model)', async () => {
    const lin = new Linear({ inFeatures: 2, outFeatures: 1 });
    lin.loadStateDict({ weight: tensor([[0.5, 0.25]], { dtype: 'float64' }), bias: tensor([1], { dtype: 'float64' }) });
    expect(lin.weight.dtype).toBe('float32');
    await assertClose(lin.forward(tensor([[2, 4]])), [[3]]);
  });
});

describe('withParameters (functional call)', () => {
  it('runs forward with substitute tensors and restores the originals', async () => {
    const lin = new Linear({ inFeatures: 2, outFeatures: 1, bias: false });
    const w = tensor([[1, 2]]).requiresGrad_();
    const y = lin.withParameters({ weight: w }, () => lin.forward(tensor([[3, 4]])));
    await assertClose(y, [[11]]);
    y.sum().backward();
    await assertClose(w.grad!, [[3, 4]]);
    expect(lin.weight).not.toBe(w);
    expect(() => lin.withParameters({ weight: randn([2, 2]) }, () => 0)).toThrow(/'weight' has shape \[1,2\], got \[2,2\]/);
    expect(() => lin.withParameters({ bias: randn([1]) }, () => 0)).toThrow(/no parameter 'bias'/);
  });
});

describe('memory', () => {
  it('500 training steps inside tidy keep the tensor count flat', () => {
    manualSeed(0);
    const net = new Net();
    const x = randn([8, 4]);
    const step = () =>
      tidy(() => {
        net.zeroGrad();
        net.forward(x).square().mean().backward();
        for (const p of net.parameters()) p.assign(p.sub(p.grad!.mul(0.01)));
      });
    for (let i = 0; i < 10; i++) step();
    const before = memory().numTensors;
    for (let i = 0; i < 490; i++) step();
    expect(memory().numTensors).toBe(before);
  });
});

describe('PyTorch habits: a submodule assigned as a field', () => {
  // class Net(nn.Module): def __init__(self): self.fc1 = nn.Linear(4, 3); self.fc2 = nn.Linear(3, 2)
  class Net extends Module {
    fc1 = new Linear({ inFeatures: 4, outFeatures: 3 });
    fc2 = new Linear({ inFeatures: 3, outFeatures: 2 });
    kept = this.registerModule('head', new ReLU());
    notAChild = [new Linear({ inFeatures: 2, outFeatures: 2 })];
    forward(x: Tensor): Tensor {
      return this.fc2.forward(this.kept.forward(this.fc1.forward(x)));
    }
  }

  it('is adopted under its field name without registerModule: parameters, state dict, children, train/eval, summary tree', () => {
    const net = new Net();
    expect(net.parameters()).toHaveLength(4); // was 0: "Adam: got an empty parameter list"
    expect(Object.keys(net.stateDict())).toEqual(['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']);
    expect([...net.namedChildren()].map(([n]) => n)).toEqual(['head', 'fc1', 'fc2']);
    net.eval();
    expect(net.fc1.training).toBe(false);
    expect(net.toString()).toMatch(/\(fc1\): Linear/);
    // a registered module kept in a field is not counted twice; modules in arrays are not adopted (PyTorch needs a ModuleList)
    expect(net.modules()).toHaveLength(4);
  });
});

describe("Keras's model methods without @ml/train", () => {
  it('say which package to import, for each of compile, fit, evaluate, predict and save', () => {
    const m = new Linear(2, 1);
    for (const method of ['compile', 'fit', 'evaluate', 'predict', 'save'] as const) {
      const call = m[method] as (...args: unknown[]) => unknown;
      expect(() => call.call(m, {}), method).toThrow(new RegExp(`model\\.${method}: .*import '@ml/train'`));
    }
  });
});
