/**
 * Long backward recurrences run in chunks of bounded native calls (analysis/stages.ts,
 * runtime/stagedRun.ts). Chunking moves where onnxruntime calls begin and end, not the
 * arithmetic: every number must equal the single-call result.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { analyze, fixture } from './helpers';
import { Report } from '../../src/report/types';
import { planStages } from '../../src/analysis/stages';
import { EngineCounts } from '../../src/runtime/protocol';

function flatten(r: Report): Map<string, ArrayLike<number>> {
  const m = new Map<string, ArrayLike<number>>();
  r.layers.forEach((l, i) => l.directions.forEach((d) => {
    const p = `${i}/${d.direction}/`;
    m.set(`${p}gradHidden`, d.gradHidden!.data);
    if (d.gradCell) m.set(`${p}gradCell`, d.gradCell.data);
    if (d.jacobianNorm) m.set(`${p}jacobian`, d.jacobianNorm.hidden.data);
    for (const [k, t] of Object.entries(d.weightGrads!)) m.set(`${p}${k}`, t.data);
    for (const [k, t] of Object.entries(d.gates)) m.set(`${p}gate/${k}`, t.data);
    m.set(`${p}hidden`, d.hidden.data);
    if (d.cell) m.set(`${p}cell`, d.cell.data);
  }));
  for (const [k, t] of Object.entries(r.inputGrads ?? {})) m.set(`input/${k}`, t.data);
  return m;
}

function assertSameNumbers(whole: Report, other: Report): void {
  const a = flatten(whole);
  const b = flatten(other);
  assert.deepStrictEqual([...b.keys()], [...a.keys()]);
  for (const [k, v] of a) {
    const w = b.get(k)!;
    for (let i = 0; i < v.length; i++) {
      assert.ok(Math.abs(v[i] - w[i]) <= 1e-6 * (1 + Math.abs(v[i])), `${k}[${i}]: ${w[i]} vs ${v[i]}`);
    }
  }
  assert.strictEqual(other.objective!.value, whole.objective!.value);
}

describe('big analysis graphs in pieces (session creation grows faster than linearly with a graph)', function () {
  this.timeout(120000);
  for (const name of ['stacked_bidir_torch', 'encdec', 'two_layers_ops']) {
    it(`${name}: run in stages of at most 40 nodes, the numbers equal one call`, async () => {
      const dir = fixture('backward', name);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const files = Object.fromEntries(Object.entries(spec.inputs as Record<string, string>).map(([k, v]) => [k, path.join(dir, v)]));
      const whole = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact' });
      const pieces = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact', maxStageNodes: 40 });
      assertSameNumbers(whole, pieces);
    });
  }

  it('planStages cuts a level into consecutive pieces of at most N nodes, each reading only earlier ones', () => {
    const node = (i: number) => ({ op_type: 'Neg', input: [i === 0 ? 'x' : `t${i - 1}`], output: [`t${i}`], name: `n${i}`, attribute: [], domain: '' });
    const graph = { name: 'g', node: Array.from({ length: 25 }, (_, i) => node(i)), initializer: [], input: [{ name: 'x' }], output: [{ name: 't24' }], value_info: [] };
    const stages = planStages(graph, new Set(), ['t24'], 10);
    assert.deepStrictEqual(stages.map((s) => (s.kind === 'graph' ? s.proto.graph.node.length : -1)), [10, 10, 5]);
    assert.deepStrictEqual(stages.map((s) => (s.kind === 'graph' ? [s.inputs, s.outputs] : [])), [[['x'], ['t9']], [['t9'], ['t19']], [['t19'], ['t24']]]);
  });
});

describe('chunked backward recurrences', function () {
  this.timeout(120000);
  for (const name of ['lstm_bidir_seqlens', 'encdec', 'gru_lbr0_activations', 'two_layers_ops', 'lstm_peephole_clip', 'rnn_relu_explode']) {
    it(`${name}: chunked (from 1 step) equals one call`, async () => {
      const dir = fixture('backward', name);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const files = Object.fromEntries(Object.entries(spec.inputs as Record<string, string>).map(([k, v]) => [k, path.join(dir, v)]));
      const whole = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact' });
      const chunked = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact', chunkedScanMinSteps: 1 });
      assertSameNumbers(whole, chunked);
    });
  }
});

describe('time-local regions a range of steps at a time (long sequences: no [T, B, 4H] intermediate whole)', function () {
  this.timeout(120000);
  // Gate recomputation and the backward factors run in chunks of a few steps (most chunks one
  // step: 64 bytes of inputs), the factors inside the chunked backward Scan (its prelude).
  const cases = ['lstm_bidir_seqlens', 'gru_bidir_seqlens', 'gru_lbr0_activations', 'lstm_peephole_clip', 'lstm_input_forget_reverse',
    'rnn_relu_explode', 'two_layers_ops', 'stacked_bidir_torch', 'encdec', 'lstm_in_loop', 'gru_in_scan', 'lstm_conv_batch', 'stream_hn_cn'];
  for (const name of cases) {
    // Layers inside a Loop/Scan body (and streaming calls) have their backward in that body: no top-level Scan to join.
    const withScan = !['lstm_in_loop', 'gru_in_scan', 'stream_hn_cn'].includes(name);
    it(`${name}: every number equals one call`, async () => {
      const dir = fixture('backward', name);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const files = Object.fromEntries(Object.entries(spec.inputs as Record<string, string>).map(([k, v]) => [k, path.join(dir, v)]));
      const whole = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact' });
      let counts: EngineCounts | undefined;
      const local = await analyze(path.join(dir, 'model.onnx'), {
        files, jacobian: 'exact', timeLocalMinBytes: 0, localChunkBytes: 64, chunkedScanMinSteps: 1, onCounts: (c) => { counts = c; },
      });
      assertSameNumbers(whole, local);
      // (Not a silent fallback to whole runs: the gate recomputation ran in chunks, the factors with the Scan's.)
      assert.ok(counts!.timeLocalChunked > 0, 'no time-local stage ran in chunks');
      if (withScan) assert.ok(counts!.timeLocalWithScan > 0, 'no backward Scan ran its factors and weight gradients per chunk');
    });
  }

  for (const name of ['stacked_bidir_torch', 'gru_lbr0_activations']) {
    it(`${name}: with the rest of the graph also cut into pieces of 8 nodes, every number equals one call`, async () => {
      const dir = fixture('backward', name);
      const spec = JSON.parse(fs.readFileSync(path.join(dir, 'case.json'), 'utf8'));
      const files = Object.fromEntries(Object.entries(spec.inputs as Record<string, string>).map(([k, v]) => [k, path.join(dir, v)]));
      const whole = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact' });
      const cut = await analyze(path.join(dir, 'model.onnx'), { files, jacobian: 'exact', timeLocalMinBytes: 0, localChunkBytes: 64, chunkedScanMinSteps: 1, maxStageNodes: 8 });
      assertSameNumbers(whole, cut);
    });
  }
});
