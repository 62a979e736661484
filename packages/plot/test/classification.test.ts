import { tensor } from '@ml/tensor';
import { describe, expect, it } from 'vitest';
import { confusionMatrix, decisionRegions, toSvg } from '../src/node.js';
import { layerValues, marks, parseXml, render, translation } from './helpers.js';

const BLUE = '#4c78a8';
const ORANGE = '#f58518';

describe('decisionRegions', () => {
  // data symmetric about 0 on [-1, 1]², so with padding 0.5 the grid spans [-1.5, 1.5]² and,
  // with an even resolution, the boundary x₁ = 0 falls on a cell edge
  const x = [[-1, -1], [-0.5, 0.2], [-0.2, 1], [0.3, -0.4], [0.8, 0.9], [1, 1]];
  const y = [0, 0, 0, 1, 1, 1];
  const halfPlane = (pts: number[][]) => pts.map(([a]) => (a > 0 ? 1 : 0));

  it('asks predict for the centers of a resolution × resolution grid around the padded data', () => {
    let seen: number[][] = [];
    decisionRegions({ predict: (pts) => ((seen = pts), halfPlane(pts)), x, y, resolution: 6, padding: 0.5 });
    expect(seen).toHaveLength(36);
    // cells are 0.5 wide: centers at -1.25, -0.75, …, 1.25
    expect(seen[0][0]).toBeCloseTo(-1.25, 12);
    expect(seen[0][1]).toBeCloseTo(-1.25, 12);
    expect(seen[5][0]).toBeCloseTo(1.25, 12);
    expect(seen[6][1]).toBeCloseTo(-0.75, 12);
    expect(seen[35][0]).toBeCloseTo(1.25, 12);
    expect(seen[35][1]).toBeCloseTo(1.25, 12);
  });

  it('takes scores (argmax), probabilities (≥ 0.5) and async predictors returning tensors, as a model gives them', async () => {
    const classesOf = (spec: ReturnType<typeof decisionRegions>) => (spec as { layer: { data: { values: { class: string }[] } }[] }).layer[0].data.values.map((r) => r.class);
    const want = classesOf(decisionRegions({ predict: halfPlane, x, y, resolution: 4, padding: 0.5 }));
    expect(want).toEqual(['0', '1', '0', '1', '0', '1', '0', '1']);
    // softmax-like scores [m, 2]: class 1 scores higher right of x₁ = 0
    const scores = (pts: number[][]) => pts.map(([a]) => [0.5 - a, 0.5 + a]);
    expect(classesOf(decisionRegions({ predict: scores, x, y, resolution: 4, padding: 0.5 }))).toEqual(want);
    // a sigmoid output [m, 1]: probabilities, not classes
    const probs = (pts: number[][]) => pts.map(([a]) => [1 / (1 + Math.exp(-4 * a))]);
    expect(classesOf(decisionRegions({ predict: probs, x, y, resolution: 4, padding: 0.5 }))).toEqual(want);
    // an async model: a promise of a [m, 2] tensor of scores
    const spec = decisionRegions({ predict: async (pts) => tensor(scores(pts)), x, y, resolution: 4, padding: 0.5 });
    expect(spec).toBeInstanceOf(Promise);
    expect(classesOf(await spec)).toEqual(want);
    // values that are neither classes nor probabilities are refused
    expect(() => decisionRegions({ predict: (pts) => pts.map(() => 1.5), x, y, resolution: 4, padding: 0.5 })).toThrow(/decisionRegions/);
  });

  it('draws each grid row as one rectangle per run of a class, and one symbol per data point', async () => {
    const { doc } = await render(decisionRegions({ predict: halfPlane, x, y, resolution: 10, padding: 0.5 }));
    // every row: class 0 on the left half, class 1 on the right half
    expect(marks(doc, 'rect')).toHaveLength(2 * 10);
    expect(marks(doc, 'symbol')).toHaveLength(x.length);
  });

  it('colors the points by their true class and the regions in pale versions of the same colors', async () => {
    const spec = decisionRegions({ predict: halfPlane, x, y, resolution: 4, padding: 0.5, labels: ['no', 'yes'] });
    const { doc } = await render(spec);
    expect(marks(doc, 'symbol').map((s) => s.getAttribute('fill'))).toEqual(y.map((c) => (c ? ORANGE : BLUE)));
    const rects = marks(doc, 'rect');
    // the left rectangle of each row is class 0 ("no"): pale blue; the right is pale orange
    expect(rects.map((r) => /class: (\w+)/.exec(r.getAttribute('aria-label')!)![1])).toEqual(['no', 'yes', 'no', 'yes', 'no', 'yes', 'no', 'yes']);
    const pale = (hex: string) => `#${[1, 3, 5].map((k) => Math.round(parseInt(hex.slice(k, k + 2), 16) * 0.3 + 255 * 0.7).toString(16).padStart(2, '0')).join('')}`;
    expect(rects[0].getAttribute('fill')).toBe(pale(BLUE));
    expect(rects[1].getAttribute('fill')).toBe(pale(ORANGE));
  });

  it('renders a 100×100 grid of a curved boundary: rectangles = runs along the rows', async () => {
    const pts = Array.from({ length: 200 }, (_, i) => [Math.sin(i * 1.3) * 3, Math.cos(i * 0.7) * 3]);
    const inside = (a: number, b: number) => (a * a + b * b < 4 ? 1 : 0);
    const spec = decisionRegions({ predict: (p) => p.map(([a, b]) => inside(a, b)), x: pts, y: pts.map(([a, b]) => inside(a, b)), resolution: 100, padding: 0 });
    // count runs independently: rows that meet the disk of radius 2 have 3 runs, the others 1
    const [lo, hi] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
    const [blo, bhi] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
    let expected = 0;
    for (let j = 0; j < 100; j++) {
      const b = blo + ((j + 0.5) * (bhi - blo)) / 100;
      const row = Array.from({ length: 100 }, (_, i) => inside(lo + ((i + 0.5) * (hi - lo)) / 100, b));
      expected += 1 + row.filter((c, i) => i > 0 && c !== row[i - 1]).length;
    }
    const t0 = performance.now();
    const doc = parseXml(await toSvg(spec));
    const ms = performance.now() - t0;
    expect(marks(doc, 'rect')).toHaveLength(expected);
    expect(marks(doc, 'symbol')).toHaveLength(200);
    expect(ms).toBeLessThan(10_000);
  });

  it('takes Tensors for x, y and the predictions', () => {
    const a = decisionRegions({ predict: (p) => tensor(halfPlane(p), { dtype: 'int32' }), x: tensor(x, { dtype: 'float64' }), y: tensor(y, { dtype: 'int32' }), resolution: 4 });
    const b = decisionRegions({ predict: halfPlane, x, y, resolution: 4 });
    expect(layerValues(a, 0)).toEqual(layerValues(b, 0));
    expect(layerValues(a, 1)).toEqual(layerValues(b, 1));
  });

  it('rejects mismatched x/y, rows that are not 2-D and predictions of the wrong size', () => {
    expect(() => decisionRegions({ predict: halfPlane, x, y: [0, 1] })).toThrow('decisionRegions: x has 6 values but y has 2; they must have the same length');
    expect(() => decisionRegions({ predict: halfPlane, x: [[1, 2, 3]], y: [0] })).toThrow(/row 0 has 3 values, expected 2/);
    expect(() => decisionRegions({ predict: halfPlane, x: tensor([[1, 2, 3]]), y: [0] })).toThrow(/shape \[n, 2\]/);
    expect(() => decisionRegions({ predict: (p) => p.slice(1).map(() => 0), x, y, resolution: 3 })).toThrow(/returned 8 classes for 9 points/);
    expect(() => decisionRegions({ predict: (p) => p.map((_, i) => (i ? 0.5 : -0.5)), x, y, resolution: 3 })).toThrow(/neither classes \(whole numbers\) nor probabilities/);
    expect(() => decisionRegions({ predict: (p) => p.map(() => NaN), x, y, resolution: 3 })).toThrow(/returned NaN for point/);
    expect(() => decisionRegions({ predict: halfPlane, x: [], y: [] })).toThrow(/x is empty/);
    expect(() => decisionRegions({ predict: halfPlane, x, y, resolution: 1 })).toThrow(/resolution must be an integer ≥ 2/);
  });
});

describe('confusionMatrix', () => {
  const m = [
    [50, 2, 1],
    [3, 40, 7],
    [0, 5, 44],
  ];

  it('draws k×k cells and k×k count labels, row i = true class i, column j = predicted j', async () => {
    const { doc } = await render(confusionMatrix(m, ['cat', 'dog', 'bird']));
    const rects = marks(doc, 'rect');
    const texts = marks(doc, 'text');
    expect(rects).toHaveLength(9);
    expect(texts).toHaveLength(9);
    expect(texts.map((t) => t.textContent)).toEqual(m.flat().map(String));
    // positions: x grows with the column, y (down the page) with the row
    const pos = texts.map(translation);
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        if (j > 0) expect(pos[3 * i + j][0]).toBeGreaterThan(pos[3 * i + j - 1][0]);
        if (i > 0) expect(pos[3 * i + j][1]).toBeGreaterThan(pos[3 * (i - 1) + j][1]);
      }
    }
    const label = (t: (typeof texts)[number]) => t.getAttribute('aria-label')!;
    expect(label(texts[5])).toMatch(/predicted: bird; true: dog/);
    // white text on the dark cells (more than half the largest count)
    expect(texts.map((t) => t.getAttribute('fill'))).toEqual(m.flat().map((v) => (v > 25 ? 'white' : '#222')));
  });

  it('normalizes over true classes (rows), predicted classes (columns) or everything', () => {
    const texts = (normalize: 'true' | 'pred' | 'all') =>
      (confusionMatrix([[3, 1], [0, 4]], undefined, { normalize }) as { data: { values: { text: string }[] } }).data.values.map((c) => c.text);
    expect(texts('true')).toEqual(['0.75', '0.25', '0.00', '1.00']);
    expect(texts('pred')).toEqual(['1.00', '0.20', '0.00', '0.80']);
    expect(texts('all')).toEqual(['0.38', '0.13', '0.00', '0.50']);
  });

  it('takes a [k, k] tensor', async () => {
    const { doc } = await render(confusionMatrix(tensor([[1, 2], [3, 4]], { dtype: 'int32' })));
    expect(marks(doc, 'text').map((t) => t.textContent)).toEqual(['1', '2', '3', '4']);
  });

  it('rejects non-square matrices, a wrong number of labels, repeated labels and negative counts', () => {
    expect(() => confusionMatrix([[1, 2, 3], [4, 5, 6]])).toThrow('confusionMatrix: expected a square matrix [k, k]: 2 rows, but row 0 has 3 values');
    expect(() => confusionMatrix(tensor([[1, 2, 3], [4, 5, 6]]))).toThrow(/square matrix \[k, k\], got shape \[2, ?3\]/);
    expect(() => confusionMatrix([])).toThrow(/empty/);
    expect(() => confusionMatrix([[1, 2], [3, 4]], ['a'])).toThrow('confusionMatrix: 1 labels for a 2×2 matrix; give one label per class');
    expect(() => confusionMatrix([[1, 2], [3, 4]], ['a', 'a'])).toThrow(/distinct/);
    expect(() => confusionMatrix([[1, -2], [3, 4]])).toThrow(/entry \[0\]\[1\] is -2/);
  });
});
