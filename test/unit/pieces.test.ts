/**
 * Big results reach the panel in two phases (src/protocol/pieces.ts): a lean report first, then
 * the bulk tensors in bounded pieces. Splitting then collecting gives back every number; no
 * message is bigger than its bound; what the first paint draws is never deferred.
 */
import * as assert from 'assert';
import * as v8 from 'v8';
import { bulkBytes, isPending, PieceCollector, pieceMessages, splitModels } from '../../src/protocol/pieces';
import type { PanelModel } from '../../src/protocol/panel';
import type { Report, Tensor } from '../../src/report/types';

function filled(n: number, f64 = false, k = 1): Float32Array | Float64Array {
  const a = f64 ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.sin(i * k) * 1e-3 * (i % 17);
  return a;
}

function bigModel(T: number, H: number): PanelModel {
  const t3 = (k: number): Tensor => ({ dims: [T, 1, H], data: filled(T * H, false, k) });
  const report = {
    schema: 'gradient-lens/report@2',
    outputs: { Y: t3(9), y: { dims: [1], data: Float32Array.from([0.5]) } },
    inputValues: { x: t3(10) },
    layers: [{
      op: 'LSTM', seqLen: T, hiddenSize: H, directions: [{
        direction: 'forward',
        gates: { input: t3(1), forget: t3(2), output: t3(3), cell: t3(4) },
        hidden: t3(5), cell: t3(6), gradHidden: t3(7), gradCell: t3(8),
        jacobianNorm: { state: { dims: [T], data: filled(T, true) }, hidden: { dims: [T], data: filled(T, true) }, method: 'probes', probes: 8 },
        weightGrads: { W: { dims: [4 * H, 3], data: filled(12 * H) }, R: { dims: [4 * H, H], data: filled(4 * H * H, false, 11) }, B: { dims: [8 * H], data: filled(8 * H) } },
        metrics: { gradNorm: Array.from({ length: T }, (_, t) => t) },
      }],
    }],
    warnings: [],
  } as unknown as Report;
  return { label: 'big.onnx', path: '/m/big.onnx', report };
}

describe('panel delivery in two phases: lean report first, bulk tensors in bounded pieces', () => {
  it('a small result travels whole', () => {
    assert.strictEqual(splitModels([bigModel(50, 32)]), null);
  });

  it('split, cut into messages of at most the bound, collected: every number back, the first-paint data never deferred', () => {
    const T = 1000;
    const H = 72;
    const model = bigModel(T, H);
    const original = JSON.parse(JSON.stringify(model.report, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)));
    assert.strictEqual(splitModels([model]), null, 'under the default threshold');
    const split = splitModels([model], 1024 * 1024)!;
    assert.ok(split, 'split above a 1 MiB threshold');
    assert.strictEqual(split.bytes, bulkBytes([model]));
    const lean = split.lean[0].report;
    const d = lean.layers[0].directions[0];
    // Bulk: per-step tensors, the per-step output, the inputs fed (72 × 1000 × 4 B = 288 KB each).
    // (Every gate: the LSTM's 'input' gate shares its key with the report's input settings, which stay.)
    for (const [name, t] of Object.entries({ ...d.gates, hidden: d.hidden, gradHidden: d.gradHidden!, Y: lean.outputs.Y, x: lean.inputValues!.x })) {
      assert.ok(isPending(t) && t.data.length === 0, `${name} deferred`);
    }
    assert.ok(v8.serialize(lean).length < 200_000, `the lean report is ${v8.serialize(lean).length} bytes`);
    // Kept: the Jacobian curves, the metrics, small tensors (a prediction, W and B of a small I).
    assert.ok(!isPending(d.jacobianNorm!.state) && d.jacobianNorm!.state.data.length === T);
    assert.strictEqual(d.metrics, model.report.layers[0].directions[0].metrics);
    assert.ok(!isPending(lean.outputs.y) && !isPending(d.weightGrads!.B) && !isPending(d.weightGrads!.R), 'tensors under 256 KiB stay');
    // The original is untouched.
    assert.strictEqual(model.report.layers[0].directions[0].hidden.data.length, T * H);

    const bound = 256 * 1024;
    const collector = new PieceCollector(split.lean);
    assert.strictEqual(collector.totalBytes, split.bytes);
    let messages = 0;
    for (const pieces of pieceMessages(split.bulk, bound)) {
      messages++;
      const bytes = pieces.reduce((s, p) => s + p.data.byteLength, 0);
      assert.ok(bytes <= bound, `a message of ${bytes} bytes`);
      assert.ok(!collector.done);
      // Structured clone, as postMessage does: no shared buffers.
      collector.add(structuredClone(pieces));
    }
    assert.ok(collector.done && messages >= split.bytes / bound, `${messages} messages`);
    assert.strictEqual(collector.receivedBytes, split.bytes);
    const back = JSON.parse(JSON.stringify(lean, (_k, v) => (ArrayBuffer.isView(v) ? Array.from(v as Float32Array) : v)));
    assert.deepStrictEqual(back, original);
    assert.ok(lean.layers[0].directions[0].hidden.data instanceof Float32Array);
    assert.ok(!isPending(lean.layers[0].directions[0].hidden));
  });

  it('a piece that does not fit its tensor, or holds no float array, is refused, naming it', () => {
    const split = splitModels([bigModel(3000, 128)])!;
    const c = new PieceCollector(split.lean);
    assert.throws(() => c.add([{ id: 0, offset: 3000 * 128 - 2, data: new Float32Array(5) }]), /tensor 0 does not fit/);
    assert.throws(() => c.add([{ id: 1, offset: 0, data: [1, 2] as unknown as Float32Array }]), /tensor 1 holds no float array/);
  });

  it("the way back (an export after the host let its copy go): the panel's collected tensors, sent again, fill a copy of the lean models", () => {
    const model = bigModel(3000, 128);
    const split = splitModels([model])!;
    // The panel: receives the pieces, keeps the completed tensors by id.
    const panel = new PieceCollector(structuredClone(split.lean));
    for (const pieces of pieceMessages(split.bulk)) panel.add(structuredClone(pieces));
    assert.ok(panel.done && panel.bulk.length === split.bulk.length);
    // The host: a copy of its lean models, filled from what the panel sends back; its own lean models stay lean.
    const copy = structuredClone(split.lean);
    const host = new PieceCollector(copy);
    for (const pieces of pieceMessages(panel.bulk)) host.add(structuredClone(pieces));
    assert.ok(host.done);
    const a = model.report.layers[0].directions[0];
    const b = copy[0].report.layers[0].directions[0];
    assert.deepStrictEqual(Array.from(b.gradCell!.data), Array.from(a.gradCell!.data));
    assert.deepStrictEqual(Array.from(copy[0].report.outputs.Y.data), Array.from(model.report.outputs.Y.data));
    assert.ok(isPending(split.lean[0].report.layers[0].directions[0].gradCell));
  });
});
