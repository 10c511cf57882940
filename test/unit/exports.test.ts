/**
 * Models as PyTorch exports them (test/fixtures/exports, written by scripts/make_export_models.py),
 * judged by the PyTorch module itself in float64: the sequence and batch axes are found through
 * the export's own plumbing, and the outputs and input gradients are the module's.
 */
import * as assert from 'assert';
import * as path from 'path';
import { assertClose, analyze, loadArray, REPO } from './helpers';
import { assertOneErrorLine, cli, removeTempDirs, tempDir } from './cliHelpers';
import * as fs from 'fs';

after(removeTempDirs);

const PACKED = path.join(REPO, 'test', 'fixtures', 'exports', 'lstm_packed_unsorted');
const MODEL = path.join(PACKED, 'model.onnx');
const LENS = path.join(PACKED, 'lens.npy');
const X = path.join(PACKED, 'x.npy');

/** float32 arithmetic over a 9-step LSTM and a Linear head: well within 1e-5 of the largest value (float32 ε ≈ 6e-8 per op). */
const REL = 1e-5;
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('exports: pack_padded_sequence(enforce_sorted=False) (the batch sorted by TopK, then Gather on axis 1)', function () {
  this.timeout(120000);

  it('the outputs and dL/dx are the module\'s own, in float64 by autograd', async () => {
    const report = await analyze(MODEL, { files: { x: X, lens: LENS } });
    const y = loadArray(path.join(PACKED, 'ref_y.npy')).data;
    assertClose(report.outputs.y.data, y, REL * maxAbs(y), 0, 'y');
    const g = loadArray(path.join(PACKED, 'ref_grad_x.npy')).data;
    assertClose(report.inputGrads!.x.data, g, REL * maxAbs(g), 0, 'dL/dx');
    assert.strictEqual(report.layers[0].seqLen, 9);
    assert.strictEqual(report.layers[0].batch, 3);
  });

  it('with only the lengths given, x is generated: T from --seq-len (the axis traced through the Gather), B from the lengths', async () => {
    const r = await cli('analyze', MODEL, '--input', `lens=${LENS}`, '--seq-len', '11', '--ep', 'cpu', '--json', '-', '--detail', 'metrics');
    assert.strictEqual(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { input: { seqLen: number; batch: number; sources: Record<string, string> } };
    assert.strictEqual(report.input.seqLen, 11);
    assert.strictEqual(report.input.batch, 3);
    assert.strictEqual(report.input.sources.x, 'random');
  });

  it('without the lengths the error asks for them; a length beyond T names the input and its file', async () => {
    const none = await cli('analyze', MODEL, '--ep', 'cpu');
    assert.strictEqual(none.code, 1);
    assertOneErrorLine(none.stderr, "input 'lens'", '--input lens=');
    const dir = tempDir('gl-exports-');
    const bad = path.join(dir, 'lens_long.npy');
    fs.copyFileSync(LENS, bad);
    // The same header; the first length 9 → 40 (int64 little-endian at the data's start).
    const bytes = fs.readFileSync(bad);
    const dataStart = bytes.length - 3 * 8;
    bytes.writeBigInt64LE(40n, dataStart);
    fs.writeFileSync(bad, bytes);
    const r = await cli('analyze', MODEL, '--input', `lens=${bad}`, '--seq-len', '20', '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, `input 'lens' (${bad}) holds a length outside 0 … 20`);
  });
});
