/**
 * The course notes' Keras and PyTorch snippets, translated line for line (the Python is
 * quoted above each block), with their numbers checked: parameter counts against the
 * notes' own `model.summary()` output, a training step against one computed by hand in
 * float64, `evaluate`'s list against a mean computed from `predict`'s outputs.
 */
import { Dense, Linear, Module, ReLU, Sequential, concatenate, input, Model, summary } from '@ml/nn';
import { SGD } from '@ml/optim';
import { Generator, manualSeed, tensor, type Tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import '../src/index.js';

const quiet = { printFn: null } as const;

/** A standard normal draw (Box–Muller) from a seeded generator. */
const normal = (g: Generator): number => Math.sqrt(-2 * Math.log(1 - g.random())) * Math.cos(2 * Math.PI * g.random());

/** Total parameters from a summary table ("Total params: 751"). */
const totalParams = (table: string): number => Number(/Total params: ([\d,]+)/.exec(table)?.[1].replaceAll(',', ''));

/** The notes' regression data: y = Σ_j j·x_j^j for x uniform in [0, 1)^d. */
function notesRegression(n: number, d: number, seed: number): { x: number[][]; y: number[][] } {
  const g = new Generator(seed);
  const x = Array.from({ length: n }, () => Array.from({ length: d }, () => g.random()));
  const y = x.map((row) => [row.reduce((t, v, j) => t + j * v ** j, 0)]);
  return { x, y };
}

describe("the notes' Keras snippets", () => {
  it('Sequential().add(Dense(100, input_dim=d)); compile(mse, Adam); fit(validation_split); evaluate → score list', async () => {
    manualSeed(1);
    const d = 3;
    const train = notesRegression(200, d, 7);
    const test = notesRegression(64, d, 8);
    // model = Sequential()
    // model.add(Dense(100, input_dim=d))
    // model.add(Dense(1))
    const model = new Sequential();
    model.add(new Dense(100, { inputDim: d }));
    model.add(new Dense(1));
    // model.compile(loss='mse', optimizer='Adam', metrics=['mse'])
    model.compile({ loss: 'mse', optimizer: 'Adam', metrics: ['mse'] });
    // model.summary()
    const table = summary(model, quiet);
    expect(totalParams(table)).toBe(d * 100 + 100 + 100 + 1);
    expect(table).toContain('(None, 100)');
    expect(table).toContain('(None, 1)');
    // history = model.fit(x_train, y_train, epochs=10, batch_size=10, validation_split=0.2)
    const history = await model.fit(train.x, train.y, { epochs: 10, batchSize: 10, validationSplit: 0.2, verbose: 0 });
    expect(history.history.loss).toHaveLength(10);
    expect(history.history.val_loss).toHaveLength(10);
    expect(history.history.loss[9]).toBeLessThan(history.history.loss[0] / 2);
    // score = model.evaluate(x_test, y_test, batch_size=64)
    const score = await model.evaluate(test.x, test.y, { batchSize: 64 });
    const [loss, mse] = score;
    expect(score[0]).toBe(score.loss);
    expect(score[1]).toBe(score.mse);
    // the same mean squared error, computed here from predict's outputs
    const p = (await model.predict(test.x)).arraySync() as number[][];
    const byHand = p.reduce((t, row, i) => t + (row[0] - test.y[i][0]) ** 2, 0) / p.length;
    expect(loss).toBeCloseTo(byHand, 5);
    expect(mse).toBeCloseTo(byHand, 5);
  });

  it("Dense(25, input_shape=(2,), activation='sigmoid') ×3: the notes' summary (75, 650, 26; 751)", () => {
    // model.add(Dense(25, input_shape=(2,), activation='sigmoid'))
    // model.add(Dense(25, activation='sigmoid'))
    // model.add(Dense(1, activation='sigmoid'))
    const model = new Sequential([
      new Dense(25, { inputShape: [2], activation: 'sigmoid' }),
      new Dense(25, { activation: 'sigmoid' }),
      new Dense(1, { activation: 'sigmoid' }),
    ]);
    const table = summary(model, quiet);
    const rows = table.split('\n').filter((l) => l.includes('(Dense)'));
    expect(rows.map((r) => Number(r.trim().split(/\s+/).at(-1)))).toEqual([75, 650, 26]);
    expect(rows.map((r) => /\(None, \d+\)/.exec(r)?.[0])).toEqual(['(None, 25)', '(None, 25)', '(None, 1)']);
    expect(totalParams(table)).toBe(751);
  });

  it("compile(loss='binary_crossentropy', optimizer=SGD(lr)): one step equals the step computed by hand", async () => {
    manualSeed(3);
    const model = new Sequential([new Dense(2, { inputDim: 2, activation: 'sigmoid' }), new Dense(1, { activation: 'sigmoid' })]);
    const x = [[0.5, -1], [1.5, 0.25], [-0.75, 2], [0.1, 0.2]];
    const y = [[1], [0], [1], [0]];
    const [l1, l2] = model.children() as Linear[];
    const W1 = l1.weight.arraySync() as number[][];
    const b1 = l1.bias!.arraySync() as number[];
    const W2 = l2.weight.arraySync() as number[][];
    const b2 = l2.bias!.arraySync() as number[];
    // by hand, float64: forward, binary cross-entropy on probabilities, δ rules, SGD
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    const n = x.length;
    const gW1 = W1.map((r) => r.map(() => 0));
    const gb1 = b1.map(() => 0);
    const gW2 = W2.map((r) => r.map(() => 0));
    const gb2 = [0];
    for (let i = 0; i < n; i++) {
      const a1 = W1.map((r, k) => sig(r[0] * x[i][0] + r[1] * x[i][1] + b1[k]));
      const p = sig(W2[0][0] * a1[0] + W2[0][1] * a1[1] + b2[0]);
      const d2 = (p - y[i][0]) / n; // ∂(mean BCE)/∂z₂ for a sigmoid output
      gb2[0] += d2;
      a1.forEach((a, k) => (gW2[0][k] += d2 * a));
      a1.forEach((a, k) => {
        const d1 = d2 * W2[0][k] * a * (1 - a);
        gb1[k] += d1;
        gW1[k][0] += d1 * x[i][0];
        gW1[k][1] += d1 * x[i][1];
      });
    }
    const lr = 0.5;
    // model.compile(loss='binary_crossentropy', optimizer=SGD(0.5))
    model.compile({ loss: 'binary_crossentropy', optimizer: (params: Tensor[]) => new SGD(params, { lr }) });
    // model.fit(x, y, batch_size, epochs, verbose=0)
    await model.fit(x, y, { batchSize: n, epochs: 1, shuffle: false, verbose: 0 });
    const close = (got: unknown, want: number[] | number[][]) =>
      (got as number[]).flat().forEach((v, i) => expect(v).toBeCloseTo((want.flat() as number[])[i], 5));
    close(l1.weight.arraySync(), W1.map((r, k) => r.map((w, j) => w - lr * gW1[k][j])));
    close(l1.bias!.arraySync(), b1.map((b, k) => b - lr * gb1[k]));
    close(l2.weight.arraySync(), W2.map((r, k) => r.map((w, j) => w - lr * gW2[k][j])));
    close(l2.bias!.arraySync(), [b2[0] - lr * gb2[0]]);
  });

  it("compile(loss='binary_crossentropy', optimizer=SGD(0.9), metrics=['accuracy']) learns the notes' two-class points", async () => {
    manualSeed(5);
    const g = new Generator(11);
    // two blobs in the plane, as in the notes' decision-boundary pictures
    const x: number[][] = [];
    const y: number[][] = [];
    for (let i = 0; i < 200; i++) {
      const c = i % 2;
      x.push([normal(g) * 0.5 + (c ? 1.5 : -1.5), normal(g) * 0.5 + (c ? 1 : -1)]);
      y.push([c]);
    }
    const model = new Sequential([
      new Dense(25, { inputShape: [2], activation: 'sigmoid' }),
      new Dense(25, { activation: 'sigmoid' }),
      new Dense(1, { activation: 'sigmoid' }),
    ]);
    model.compile({ loss: 'binary_crossentropy', optimizer: 'SGD', lr: 0.9, metrics: ['acc'] });
    await model.fit(x, y, { batchSize: 100, epochs: 60, verbose: 0 });
    const score = await model.evaluate(x, y);
    expect(score.accuracy ?? score.acc).toBeGreaterThan(0.95);
    expect(score[1]).toBe(score.accuracy ?? score.acc);
  });

  it('the functional API: two inputs, concatenate, two outputs (Model([input1, input2], [output1, output2]))', () => {
    manualSeed(2);
    // input1 = Input(shape=(10,)); x1 = Dense(128)(input1); x1 = Dense(128)(x1); x1 = Dense(32)(x1)
    const input1 = input({ shape: [10] });
    let x1 = new Dense(128).call(input1);
    x1 = new Dense(128).call(x1);
    x1 = new Dense(32).call(x1);
    // input2 = Input(shape=(8,)); x2 = Dense(32)(input2) ×3
    const input2 = input({ shape: [8] });
    let x2 = new Dense(32).call(input2);
    x2 = new Dense(32).call(x2);
    x2 = new Dense(32).call(x2);
    // con = concatenate([x1, x2]); con = Dense(28)(con)
    let con = concatenate([x1, x2]);
    con = new Dense(28).call(con);
    // x = Dense(64)(con); output1 = Dense(1)(x); x = Dense(16)(con); output2 = Dense(1)(x)
    const output1 = new Dense(1).call(new Dense(64).call(con));
    const output2 = new Dense(1).call(new Dense(16).call(con));
    // model = Model([input1, input2], [output1, output2])
    const model = new Model<Tensor[]>({ inputs: [input1, input2], outputs: [output1, output2] });
    const dense = (i: number, o: number) => i * o + o;
    const expected =
      dense(10, 128) + dense(128, 128) + dense(128, 32) + dense(8, 32) * 1 + dense(32, 32) * 2 + dense(64, 28) + dense(28, 64) + dense(64, 1) + dense(28, 16) + dense(16, 1);
    expect(totalParams(summary(model, quiet))).toBe(expected);
    const [o1, o2] = model.forward(tensor(Array.from({ length: 3 }, () => new Array<number>(10).fill(0.1))), tensor(Array.from({ length: 3 }, () => new Array<number>(8).fill(-0.2))));
    expect(o1.shape).toEqual([3, 1]);
    expect(o2.shape).toEqual([3, 1]);
  });
});

describe("the notes' PyTorch snippet", () => {
  it('class Model(nn.Module) with self.model = nn.Sequential(Linear(25, 25), ReLU(), Linear(25, 2)) as a field', async () => {
    manualSeed(4);
    // class Model(nn.Module):
    //     def __init__(self):
    //         super().__init__()
    //         self.model = nn.Sequential(nn.Linear(25, 25), nn.ReLU(), nn.Linear(25, 2))
    //     def forward(self, x):
    //         return self.model(x)
    class Net extends Module {
      model = new Sequential([new Linear(25, 25), new ReLU(), new Linear(25, 2)]);
      forward(x: Tensor): Tensor {
        return this.model.call(x);
      }
    }
    const net = new Net();
    // sum(p.numel() for p in net.parameters()) == 25·25 + 25 + 25·2 + 2
    expect(net.parameters().reduce((t, p) => t + p.size, 0)).toBe(702);
    expect(Object.keys(net.stateDict())).toEqual(['model.0.weight', 'model.0.bias', 'model.2.weight', 'model.2.bias']);
    // a plain PyTorch loop: opt = SGD(net.parameters(), lr=0.1); loss.backward(); opt.step()
    const g = new Generator(9);
    const x = tensor(Array.from({ length: 32 }, () => Array.from({ length: 25 }, () => normal(g))));
    const labels = tensor(Array.from({ length: 32 }, (_, i) => i % 2), { dtype: 'int32' });
    const { crossEntropy } = await import('@ml/nn');
    const opt = new SGD(net.parameters(), { lr: 0.1 });
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      opt.zeroGrad();
      const loss = crossEntropy(net.call(x), labels);
      losses.push(loss.item());
      loss.backward();
      opt.step();
    }
    expect(losses[29]).toBeLessThan(losses[0] * 0.7);
  });
});
