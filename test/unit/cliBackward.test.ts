/**
 * The command line's backward options (SPEC §6) and the backward half of the JSON report (§7).
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { assertOneErrorLine, cli, removeTempDirs, tempDir } from './cliHelpers';
import { REPO } from './helpers';
import { decodeStandaloneData } from '../../src/protocol/standalone';

const LSTM = path.join(REPO, 'examples', 'adding-lstm.onnx');
const SAMPLE = `x=${path.join(REPO, 'examples', 'adding-sample.npy')}`;

describe('cli: backward options', function () {
  this.timeout(120000);
  after(removeTempDirs);

  for (const [args, key] of [
    [['--objective', 'max'], '--objective'],
    [['--jacobian', 'probes:0'], '--jacobian'],
    [['--jacobian', 'some'], '--jacobian'],
    [['--target', 't.npy'], '--objective target'],
    [['--objective', 'target'], '--target'],
    [['--time-axis', '1'], '--objective last'],
    [['--objective', 'last', '--time-axis', 'x'], '--time-axis'],
  ] as [string[], string][]) {
    it(`${args.join(' ')} is a usage error (exit 2)`, async () => {
      const r = await cli('analyze', LSTM, ...args);
      assert.strictEqual(r.code, 2, r.stderr);
      assertOneErrorLine(r.stderr, key);
    });
  }

  it('an unknown --output is a usage error listing the outputs', async () => {
    const r = await cli('analyze', LSTM, '--output', 'logits');
    assert.strictEqual(r.code, 2, r.stderr);
    assertOneErrorLine(r.stderr, 'logits', 'y');
  });

  it('the summary tells the gradient story and the JSON carries the backward half', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'r.json');
    const r = await cli('analyze', LSTM, '--input', SAMPLE, '--ep', 'cpu', '--objective', 'l2', '--jacobian', 'probes:16', '--json', out);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ {2}(vanishing|stable|exploding): the (cell|hidden) path (keeps|falls|grows) .*; ρ = [\d.]+ per step/m);
    assert.match(r.stdout, /objective: l2 of 'y'/);
    assert.match(r.stdout, /clipping what-if: global weight-gradient norm/);
    const j = JSON.parse(fs.readFileSync(out, 'utf8'));
    assert.strictEqual(j.objective.kind, 'l2');
    assert.strictEqual(j.objective.output, 'y');
    assert.strictEqual(typeof j.objective.value, 'number');
    assert.strictEqual(typeof j.clipping.globalNorm, 'number');
    assert.deepStrictEqual(Object.keys(j.clipping.factors).sort(), ['1', '5']);
    const d = j.layers[0].directions[0];
    assert.deepStrictEqual(d.gradHidden.dims, [50, 1, 32]);
    assert.deepStrictEqual(d.gradCell.dims, [50, 1, 32]);
    assert.deepStrictEqual(d.jacobianNorm.hidden.dims, [50]);
    assert.deepStrictEqual(d.jacobianNorm.cell.dims, [50]);
    assert.strictEqual(d.jacobianNorm.method, 'probes');
    assert.deepStrictEqual(d.weightGrads.W.dims, [128, 2]);
    assert.deepStrictEqual(d.weightGrads.R.dims, [128, 32]);
    assert.deepStrictEqual(d.weightGrads.B.dims, [256]);
    assert.strictEqual(d.metrics.gradNorm.length, 50);
    assert.ok(['vanishing', 'stable', 'exploding'].includes(d.metrics.decay.verdict));
    // l2: dL/dy = y, so the last step's hidden gradient is y·W_head (non-zero).
    assert.ok(d.metrics.gradNorm[49] > 0);
  });

  it('--html writes one standalone page whose embedded report is the analysis (per-step tensors left out with --detail metrics)', async () => {
    const dir = tempDir();
    const embedded = (file: string) => {
      const html = fs.readFileSync(file, 'utf8');
      assert.match(html, /<script[^>]*id="gradient-lens-data"/);
      assert.doesNotMatch(html, /<script[^>]*src=/, 'a standalone page loads no external script');
      const data = /<script[^>]*id="gradient-lens-data"[^>]*>([^<]*)<\/script>/.exec(html)![1].trim();
      return decodeStandaloneData(data);
    };
    const full = path.join(dir, 'full.html');
    const r = await cli('analyze', LSTM, '--input', SAMPLE, '--ep', 'cpu', '--html', full, '--json', path.join(dir, 'r.json'));
    assert.strictEqual(r.code, 0, r.stderr);
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'r.json'), 'utf8'));
    const [model] = embedded(full);
    assert.strictEqual(model.label, 'adding-lstm.onnx');
    assert.strictEqual(model.report.objective!.value, json.objective.value);
    const d = model.report.layers[0].directions[0];
    assert.ok(d.gradHidden!.data instanceof Float32Array, 'per-step tensors travel as float32');
    // The JSON holds the shortest decimals that read back to the same float32 values.
    assert.deepStrictEqual(Array.from(d.gradHidden!.data), (json.layers[0].directions[0].gradHidden.data as number[]).map(Math.fround));
    const lean = path.join(dir, 'lean.html');
    assert.strictEqual((await cli('analyze', LSTM, '--input', SAMPLE, '--ep', 'cpu', '--detail', 'metrics', '--html', lean)).code, 0);
    const leanDir = embedded(lean)[0].report.layers[0].directions[0];
    assert.strictEqual(leanDir.gradHidden, undefined);
    assert.ok(leanDir.jacobianNorm && leanDir.metrics.weightGradNorms && leanDir.metrics.decay);
    assert.strictEqual(leanDir.weightGrads, undefined);
    assert.ok(embedded(lean)[0].report.omitted?.fields.length);
    assert.ok(fs.statSync(lean).size < fs.statSync(full).size);
  });

  it('--detail metrics drops gradHidden/gradCell and the weight matrices but keeps jacobianNorm and the per-gate weight norms', async () => {
    const dir = tempDir();
    const out = path.join(dir, 'm.json');
    const r = await cli('analyze', LSTM, '--input', SAMPLE, '--ep', 'cpu', '--detail', 'metrics', '--json', out);
    assert.strictEqual(r.code, 0, r.stderr);
    const d = JSON.parse(fs.readFileSync(out, 'utf8')).layers[0].directions[0];
    for (const k of ['gates', 'hidden', 'cell', 'gradHidden', 'gradCell', 'weightGrads']) assert.strictEqual(d[k], undefined, k);
    assert.ok(d.jacobianNorm && d.metrics.weightGradNorms && d.metrics.decay);
  });
});
