import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeOptionsContract } from '@ml/api-check';
import { describe, it } from 'vitest';
import { confusionMatrix, decisionRegions, forecast, lossCurves, lossSurface, savePng, saveSvg, scatterWithFit, toHtml, toPng, toSvg } from '../src/node.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ml-plot-options-'));
const spec = lossCurves({ loss: [1, 0.5, 0.25] });

describeOptionsContract(packageDir, { describe, it }, {
  entries: ['src/node.ts'],
  timeout: 60_000,
  recipes: {
    confusionMatrix: (o) => confusionMatrix([[3, 1], [0, 4]], ['a', 'b'], o),
    decisionRegions: (o) => decisionRegions({ x: [[0, 0], [1, 1]], y: [0, 1], predict: (pts) => pts.map((p) => (p[0] > 0.5 ? 1 : 0)), resolution: 4, ...o }),
    forecast: (o) => forecast({ t: [0, 1, 2], truth: [1, 2, 3], ...o }),
    lossCurves: (o) => lossCurves({ loss: [1, 0.5] }, o),
    lossSurface: (o) => lossSurface({ f: (w, b) => w * w + b * b, wRange: [-1, 1], bRange: [-1, 1], resolution: 4, ...o }),
    savePng: (o) => savePng(spec, join(dir, 'a.png'), o),
    saveSvg: (o) => saveSvg(spec, join(dir, 'a.svg'), o),
    scatterWithFit: (o) => scatterWithFit({ x: [0, 1, 2], y: [0, 1, 2], ...o }),
    toHtml: (o) => toHtml(spec, o),
    toPng: (o) => toPng(spec, o),
    toSvg: (o) => toSvg(spec, o),
  },
});
