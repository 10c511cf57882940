/**
 * What users read against the numbers it is about: for every direction of every backward fixture
 * the CLI summary and the panel's verdict card say the same words (both from report/story.ts),
 * and every figure in those words — the verdict, survival, ρ, half-life, the step the hidden path
 * falls below 0.1%, the cell highway's share, the forget/update saturation — is recomputed here
 * from the report's own arrays, independently of the code that printed it (so a summary that
 * read the wrong end of a reverse direction, or a broken rule, fails here).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatSummary } from '../../src/cli/summary';
import { directionSummary } from '../../src/extension/codeLensText';
import { flowLine, flowStory, highwayPhrase, memoryStory, num } from '../../src/report/story';
import { DirectionReport, LayerReport, Report } from '../../src/report/types';
import { directionVerdict } from '../../webview/src/verdict';
import { analyze, fixture, listCases, REPO } from './helpers';
import { syntheticRecurrentModelBytes } from './synthetic';
import { jacobianDecay } from '../../src/metrics/gradients';

const ROOT = fixture('backward');

/** The direction's valid window in processing order: [J at the last step, …, J at the first]. */
function processingOrder(values: ArrayLike<number>, d: DirectionReport, window: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < window; k++) out.push(values[d.direction === 'forward' ? window - 1 - k : k]);
  return out;
}

const pctRe = '([\\d.]+(?:e[-+]?\\d+)?)%';

/** "22%" → 0.22, checked against `expected` to the two significant digits printed. */
function assertPercent(text: string, expected: number, what: string): void {
  const shown = Number(text) / 100;
  assert.ok(Math.abs(shown - expected) <= 0.051 * Math.abs(expected) + 5e-7, `${what}: printed ${text}%, the report says ${(100 * expected).toPrecision(4)}%`);
}

function checkFigures(layer: LayerReport, d: DirectionReport, line: string, where: string): void {
  const decay = d.metrics.decay!;
  assert.ok(line.startsWith(`${decay.verdict}: `), `${where}: the line starts with the verdict ${decay.verdict}: ${line}`);
  if (decay.verdict === 'n/a' || decay.verdict === 'invalid') return;
  const J = processingOrder(d.jacobianNorm!.state.data, d, decay.window);
  // The verdict, recomputed from J with SPEC v2's rule.
  const survival = J[J.length - 1] / J[0];
  const verdict = survival > 1e3 || decay.rhoTail! > 1.05 ? 'exploding' : survival < 1e-3 || decay.rhoTail! < 0.95 ? 'vanishing' : 'stable';
  assert.strictEqual(decay.verdict, verdict, `${where}: verdict from survival ${survival} and ρ_tail ${decay.rhoTail}`);
  // ρ as printed.
  const rho = /; ρ = ([\d.e-]+) per (?:step|call)/.exec(line);
  assert.ok(rho, `${where}: ρ printed: ${line}`);
  assert.ok(Math.abs(Number(rho[1]) - decay.rho!) <= 5e-3 * decay.rho!, `${where}: ρ ${rho[1]} vs ${decay.rho}`);
  // Which path carries the signal, and how much it keeps, from the paths' own curves.
  const paths = d.metrics.decayPaths;
  if (layer.op === 'LSTM') {
    assert.ok(paths, `${where}: an LSTM reports its paths`);
    const share = (values: ArrayLike<number>) => { const c = processingOrder(values, d, decay.window); return c[c.length - 1] / c[0]; };
    const cell = share(d.jacobianNorm!.cell!.data);
    const hidden = share(d.jacobianNorm!.hidden.data);
    const carrier = cell >= hidden ? 'cell' : 'hidden';
    assert.match(line, new RegExp(`: the ${carrier} path `), `${where}: the ${carrier} path carries (cell ${cell}, hidden ${hidden})`);
    const kept = new RegExp(`the ${carrier} path keeps ${pctRe} across (\\d+) (?:steps|calls)`).exec(line);
    if (kept) {
      assertPercent(kept[1], Math.max(cell, hidden), `${where}: ${carrier} path share`);
      assert.strictEqual(Number(kept[2]), decay.window);
    }
    const other = carrier === 'cell' ? hidden : cell;
    const fell = /alone falls 1000× within (\d+) (?:steps|calls)/.exec(line);
    if (other < 1e-3) {
      assert.ok(fell, `${where}: the other path's collapse is named: ${line}`);
      // The first distance at which that path is below 0.1% of its value at the last step.
      const c = processingOrder(carrier === 'cell' ? d.jacobianNorm!.hidden.data : d.jacobianNorm!.cell!.data, d, decay.window);
      const first = c.findIndex((v) => v < 1e-3 * c[0]);
      assert.strictEqual(Number(fell[1]), first, `${where}: below 0.1% within ${first} steps`);
    }
  } else {
    assert.match(line, /: the state (keeps|falls|grows) /);
    const kept = new RegExp(`the state keeps ${pctRe} across (\\d+) (?:steps|calls)`).exec(line);
    if (kept) assertPercent(kept[1], survival, `${where}: survival`);
  }
}

function checkMemory(layer: LayerReport, d: DirectionReport, sentences: string[], where: string): void {
  if (d.metrics.nonFinite) return;
  const sat = d.metrics.saturation;
  const cellOp = layer.op === 'state' ? layer.cell : layer.op;
  if (cellOp === 'LSTM') {
    const f = sat.gates.forget;
    const m = new RegExp(`^Forget gates: ${pctRe} right-saturated \\(> ([\\d.]+)[^)]*\\), ${pctRe} left-saturated \\(< ([\\d.]+)`).exec(sentences[0]);
    assert.ok(m, `${where}: ${sentences[0]}`);
    assertPercent(m[1], f.right, `${where}: forget right`);
    assertPercent(m[3], f.left, `${where}: forget left`);
    assert.deepStrictEqual([Number(m[2]), Number(m[4])], [sat.high, sat.low]);
    // The cell highway's share across all T steps: its value at the first processed step over the last's.
    const ret = d.metrics.retention!;
    const n = ret.cellHighway.length;
    const share = d.direction === 'forward' ? ret.cellHighway[0] / ret.cellHighway[n - 1] : ret.cellHighway[n - 1] / ret.cellHighway[0];
    const text = sentences.join(' ');
    const highway = new RegExp(`the additive cell path ∏f alone keeps ${pctRe} across all (\\d+) (?:steps|calls)`).exec(text);
    if (share >= 1e-3) {
      assert.ok(highway, `${where}: cell highway sentence: ${text}`);
      assertPercent(highway[1], share, `${where}: cell highway share (${d.direction})`);
    } else {
      // Below 0.1%: where it fell 1000×, and the share left as a number.
      const fell = /the additive cell path ∏f alone falls 1000× within (\d+) (?:steps|calls); (\S+) of it is left/.exec(text);
      assert.ok(fell, `${where}: cell highway sentence: ${text}`);
      // (Printed with 2 significant digits: within half a unit of the second digit.)
      assert.ok(Math.abs(Number(fell[2]) - share) <= 0.05 * share, `${where}: ∏f share ${fell[2]} vs ${share}`);
    }
    assert.ok(share <= 1 + 1e-9, `${where}: ∏f of gates in (0, 1) cannot exceed its value at the last step`);
    // The candidate is judged at the tanh-mapped thresholds.
    const c = sat.gates.cell;
    assert.deepStrictEqual([c.low, c.high].map((x) => Math.round(x! * 1e9) / 1e9), [2 * sat.low - 1, 2 * sat.high - 1]);
  } else if (cellOp === 'GRU') {
    const z = sat.gates.update;
    const m = new RegExp(`^Update gates: ${pctRe} right-saturated.*, ${pctRe} left-saturated`).exec(sentences[0]);
    assert.ok(m, `${where}: ${sentences[0]}`);
    assertPercent(m[1], z.right, `${where}: update right`);
    assertPercent(m[2], z.left, `${where}: update left`);
  }
}

describe('the words users read agree with the report (every backward fixture, every direction)', function () {
  this.timeout(120000);
  for (const name of listCases(ROOT)) {
    it(name, async () => {
      const dir = path.join(ROOT, name);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const files = Object.fromEntries(Object.entries(spec.inputs as Record<string, string>).map(([k, v]) => [k, path.join(dir, v)]));
      const report: Report = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact' });
      const summary = formatSummary(report);
      for (const layer of report.layers) {
        for (const d of layer.directions) {
          const where = `${name} ${layer.node} ${d.direction}`;
          const line = flowLine(layer, d);
          const memory = memoryStory(layer, d);
          // The CLI prints these very words …
          assert.ok(summary.includes(`  ${line}\n`), `${where}: the summary prints the flow line\n${line}\n---\n${summary}`);
          for (const sentence of memory) assert.ok(summary.includes(`  ${sentence}\n`), `${where}: the summary prints "${sentence}"`);
          // … and so do the panel's card and the CodeLens.
          const card = directionVerdict(report, layer, d);
          const story = flowStory(layer, d);
          assert.strictEqual(card.kind, story.verdict);
          assert.strictEqual(card.flow, `${story.sentence}${story.shape ? `; ${story.shape}` : ''}.`);
          assert.deepStrictEqual(card.memory, memory);
          assert.ok(directionSummary(layer, d).startsWith(`${story.verdict} · ${story.short}`), `${where}: CodeLens`);
          checkFigures(layer, d, line, where);
          checkMemory(layer, d, memory, where);
        }
      }
    });
  }
});

describe('story: the cell highway ∏f in words, at any length', () => {
  it('a share while it keeps ≥ 0.1%; where it fell 1000× and what is left; below the double range said so, never "0%"', () => {
    const T = 5000;
    const curve = (f: number) => Array.from({ length: T }, (_, t) => f ** (T - 1 - t));
    assert.strictEqual(highwayPhrase(curve(0.9999), 'forward'), 'keeps 61% across all 5000 steps');
    const tiny = highwayPhrase(curve(0.98), 'forward');
    // 0.98^d < 1e-3 from d = 342 on; 0.98^4999 ≈ 1.9e-44.
    assert.match(tiny, /^falls 1000× within 342 steps; 1\.\de-44 of it is left across all 5000 steps$/);
    const gone = highwayPhrase(curve(0.5), 'forward');
    assert.match(gone, /within 10 steps; less than 1e-307 of it is left across all 5000 steps \(below the smallest double\)/);
    assert.doesNotMatch(gone, /0%/);
    // Reverse: the last step is t = 0.
    assert.strictEqual(highwayPhrase(curve(0.9999).reverse(), 'reverse', 'call'), 'keeps 61% across all 5000 calls');
  });
});

describe('numbers in the words', () => {
  it('num: whole numbers below 10⁴ never in exponent form; tiny and huge ones are', () => {
    assert.strictEqual(num(192.3, 2), '192'); // a half-life of 192 steps, not 1.9e2
    assert.strictEqual(num(99.6, 2), '100');
    assert.strictEqual(num(-1234.6, 2), '-1235');
    assert.strictEqual(num(9.99, 2), '10');
    assert.strictEqual(num(0.5, 2), '0.5');
    assert.strictEqual(num(192.3), '192');
    assert.strictEqual(num(12345, 2), '1.2e4');
    assert.strictEqual(num(0.0001234, 2), '1.2e-4');
    assert.strictEqual(num(0.0012), '0.0012');
  });
});

describe('Pascanu\'s condition in the summary', function () {
  this.timeout(60000);
  it('a GRU names the block it is evaluated on (R_h) and the summary says it once', async () => {
    const report = await analyze(path.join(REPO, 'examples', 'adding-gru.onnx'));
    const summary = formatSummary(report);
    const hidden = report.layers[0].directions[0].metrics.spectrum!.gates.find((g) => g.gate === 'hidden')!;
    assert.ok(summary.includes(`Pascanu's condition on the candidate's block: σ_max(R_h) = ${num(hidden.sigmaMax)}`), summary);
    assert.strictEqual(summary.match(/explosion is possible|must vanish|force the gradients to vanish/g)?.length, 1, summary);
  });
});

describe('a one-step sequence', function () {
  this.timeout(60000);
  it('tells no retention finding (every unit "remembers" one step trivially) and prints percentages one way', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-story-'));
    try {
      const file = path.join(dir, 'lstm.onnx');
      fs.writeFileSync(file, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 8, input: 3 }));
      const summary = formatSummary(await analyze(file, { seqLen: 1 }));
      assert.match(summary, /Retention: n\/a — a single step has nothing to remember across\./);
      assert.doesNotMatch(summary, /remember at least T = 1 step|across all 1 step/);
      assert.doesNotMatch(summary, /\d\.0%/, 'percentages as percent() writes them (0%, not 0.0%)');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the curve\'s shape in the headline', function () {
  this.timeout(60000);
  it('an early drop of a few times then a plateau is said, with the plateau\'s rate (the demo\'s LSTM: 3.3× in 2 steps)', async () => {
    const report = await analyze(path.join(REPO, 'examples', 'adding-lstm.onnx'), { files: { x: path.join(REPO, 'examples', 'adding-sample.npy') } });
    const d = report.layers[0].directions[0];
    const line = flowLine(report.layers[0], d);
    const m = /falls ([\d.]+)× in the last (\d+) steps?, then holds \(ρ = ([\d.]+) per step beyond\)/.exec(line);
    assert.ok(m, line);
    const J = d.jacobianNorm!.state.data;
    const last = J.length - 1;
    const k = Number(m[2]);
    assert.strictEqual(m[1], num(J[last] / J[last - k], 2), 'the drop is the curve\'s own over those steps');
    assert.ok(Number(m[1]) > 2 && Number(m[1]) < 10, `a moderate drop (${m[1]}×), said since the plateau holds`);
    assert.strictEqual(Number(m[3]), Number(d.metrics.decay!.rhoTail!.toPrecision(4)));
  });
});

describe('the shape phrase tells a drop then a plateau from a steady decay', () => {
  /** A forward RNN direction of T steps whose jacobianNorm.state is `J` (index = step). */
  const story = (J: Float64Array): string => {
    const T = J.length;
    const decay = jacobianDecay(J, T - 1, 0, 'state');
    const d = { direction: 'forward', gates: {}, jacobianNorm: { hidden: { dims: [T], data: J }, state: { dims: [T], data: J }, method: 'exact' }, metrics: { decay } } as unknown as DirectionReport;
    const layer = { op: 'RNN', seqLen: T, batch: 1, directions: [d] } as unknown as LayerReport;
    return flowLine(layer, d);
  };
  const curve = (T: number, f: (dist: number) => number) => Float64Array.from({ length: T }, (_, t) => f(T - 1 - t));

  it('a steady 0.99 per step over 200 steps (2.5× over its near half) is no "then holds"', () => {
    for (const [rho, T] of [[0.99, 200], [0.985, 100], [0.97, 64]]) {
      assert.doesNotMatch(story(curve(T, (d) => rho ** d)), /then holds/, `ρ = ${rho}, T = ${T}`);
    }
  });

  it('a 3× drop in 2 steps, then 0.999 per step, is said', () => {
    const line = story(curve(100, (d) => (d < 2 ? [1, 0.55][d] : (1 / 3) * 0.999 ** (d - 2))));
    assert.match(line, /falls 3× in the last 2 steps, then holds \(ρ = 0\.999 per step beyond\)/, line);
  });
});
