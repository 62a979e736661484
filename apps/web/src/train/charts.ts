/**
 * The Train page's charts, all through @ml/plot (Vega-Lite specs rendered to SVG in the
 * page by toSvg): the live loss and accuracy per step (lossCurves with steps on x), and the
 * confusion matrix after training.
 */
import { confusionMatrix, lossCurves, toSvg, type TopLevelSpec } from '@ml/plot';

/** Points of the live chart: each the mean over a window of steps. */
export interface Series {
  step: number[];
  loss: number[];
  accuracy: number[];
}

/** lossCurves titles its x axis "epoch"; here each point is a step. */
function stepsOnX(spec: TopLevelSpec): TopLevelSpec {
  const panels = ('vconcat' in spec ? spec.vconcat : [spec]) as unknown as Record<string, unknown>[];
  for (const panel of panels) {
    const x = (panel.encoding as { x?: Record<string, unknown> } | undefined)?.x;
    if (x) {
      x.title = 'step';
      x.axis = { tickMinStep: 1, format: 'd' };
    }
  }
  return spec;
}

export function liveChart(s: Series, width: number): Promise<string> {
  const spec = lossCurves({ epoch: s.step, history: { loss: s.loss, accuracy: s.accuracy } }, { width, height: 110 });
  return toSvg(stepsOnX(spec));
}

export function confusionChart(matrix: number[][], labels: readonly string[], width: number): Promise<string> {
  return toSvg(confusionMatrix(matrix, labels, { width, height: width }));
}
