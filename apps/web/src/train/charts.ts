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

type Encoding = Partial<Record<'x' | 'y' | 'strokeDash', Record<string, unknown>>>;

/**
 * lossCurves titles its x axis "epoch" and has a train/validation legend; here each point
 * is a step and there is no validation, and the lower panel is the accuracy.
 */
function stepsOnX(spec: TopLevelSpec): TopLevelSpec {
  const panels = ('vconcat' in spec ? spec.vconcat : [spec]) as unknown as { encoding?: Encoding }[];
  panels.forEach((panel, i) => {
    const e = panel.encoding;
    if (!e) return;
    if (e.x) {
      e.x.title = 'step';
      e.x.axis = { tickMinStep: 1, format: 'd' };
    }
    if (e.y && i === 1) e.y.title = 'accuracy';
    if (e.strokeDash) e.strokeDash.legend = null;
  });
  return spec;
}

export function liveChart(s: Series, width: number): Promise<string> {
  const spec = lossCurves({ epoch: s.step, history: { loss: s.loss, accuracy: s.accuracy } }, { width, height: 110 });
  return toSvg(stepsOnX(spec));
}

export function confusionChart(matrix: number[][], labels: readonly string[], width: number): Promise<string> {
  return toSvg(confusionMatrix(matrix, labels, { width, height: width }));
}
