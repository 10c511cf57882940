/**
 * The CodeLens's words (pure, no VS Code API, so the unit tests check them): one line per layer or
 * model, the verdict word first, from report/story.ts like every other view.
 */
import type { DirectionReport, LayerReport, RecurrentOp, Report } from '../report/types';
import { flowStory } from '../report/story';

const ONNX_REFERENCE = /["'`]([^"'`\n]*\.onnx)["'`]/g;
const CONSTRUCTOR = /\b(?:torch\.)?(?:nn\.(LSTM|GRU|RNN)|(?:tf\.)?(?:keras\.)?layers\.(LSTM|GRU|SimpleRNN))\s*\(/g;

/** Quoted `.onnx` file names in a source text, with their offsets. */
export function onnxReferences(text: string): { index: number; reference: string }[] {
  return [...text.matchAll(ONNX_REFERENCE)].map((m) => ({ index: m.index!, reference: m[1] }));
}

/**
 * One lens per recurrent-layer constructor in `text` (`nn.LSTM(`, `keras.layers.GRU(`, …): the
 * k-th constructor of an op maps to the model's k-th layer of that op when the counts agree;
 * otherwise the lens summarises the whole model and says why.
 */
export function constructorLenses(text: string, report: Report): { index: number; title: string }[] {
  const constructors = [...text.matchAll(CONSTRUCTOR)].map((m) => ({
    index: m.index!, op: (m[1] ?? (m[2] === 'SimpleRNN' ? 'RNN' : m[2])) as RecurrentOp, text: m[0].replace(/\s*\($/, '('),
  }));
  return constructors.map((c) => {
    const same = constructors.filter((x) => x.op === c.op);
    const layers = report.layers.filter((l) => l.op === c.op);
    const title = same.length === layers.length && layers.length > 0
      ? `Gradient Lens: ${layerSummary(layers[same.indexOf(c)])}`
      : `Gradient Lens (whole model: ${c.text} does not map to one ${c.op} layer): ${modelSummary(report)}`;
    return { index: c.index, title };
  });
}

const pct = (x: number) => `${Math.round(100 * x)}%`;

/** One line per layer-direction: the verdict word first (every op), then what carries or loses the signal, then the key gate. */
export function directionSummary(layer: LayerReport, d: DirectionReport): string {
  const story = flowStory(layer, d);
  const parts = [story.verdict === 'unmeasured' ? 'not measured' : story.verdict, story.short];
  const sat = d.metrics.saturation.gates;
  if (!d.metrics.nonFinite) {
    if (layer.op === 'LSTM' && sat.forget) parts.push(`forget gates ${pct(sat.forget.right)} right-saturated, ${pct(sat.forget.left)} left`);
    if (layer.op === 'GRU' && sat.update) parts.push(`update gates ${pct(sat.update.right)} right-saturated, ${pct(sat.update.left)} left`);
  }
  return parts.join(' · ');
}

export function layerSummary(l: LayerReport): string {
  return l.directions.map((d) => `${l.directions.length > 1 ? `${d.direction}: ` : ''}${directionSummary(l, d)}`).join(' | ');
}

/**
 * The layer-direction that most needs attention speaks for the model: one without a valid
 * verdict first, then the one whose state keeps the least of the signal (the bottleneck).
 */
export function modelSummary(r: Report): string {
  let worst: { l: LayerReport; d: DirectionReport } | undefined;
  const score = (d: DirectionReport) => {
    const v = d.metrics.decay;
    if (!v) return 2;
    if (v.verdict === 'invalid' || v.verdict === 'n/a') return -1;
    if (v.verdict === 'exploding') return 0;
    return v.survival === null ? 1 : Math.min(1, v.survival);
  };
  for (const l of r.layers) for (const d of l.directions) if (!worst || score(d) < score(worst.d)) worst = { l, d };
  if (!worst) return 'no recurrent layer';
  const where = r.layers.length > 1 || worst.l.directions.length > 1 ? ` (${worst.l.op} '${worst.l.node}' ${worst.d.direction})` : '';
  return directionSummary(worst.l, worst.d) + where;
}
