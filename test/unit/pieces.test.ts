/**
 * Big results reach the panel in two phases (src/protocol/pieces.ts): a lean report first, then
 * the bulk tensors in bounded pieces. Splitting then collecting gives back every number; no
 * message is bigger than its bound; what the first paint draws is never deferred.
 */
import * as assert from 'assert';
import * as v8 from 'v8';
import { binOf, binStarts, bulkBytes, heatPreview, isPending, PieceCollector, pieceMessages, PREVIEW_BUDGET_BYTES, previewsOf, splitModels, type HeatPreview, type PendingTensor } from '../../src/protocol/pieces';
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

  describe('heatmap previews, decimated on the host', () => {
    /** The value the heatmap draws at (t, u) by default: the batch mean of |x| or x (webview/src/heatmap.ts rowValues). */
    const valueAt = (x: Tensor, t: number, u: number, abs: boolean): number => {
      const [, B, H] = x.dims;
      let s = 0;
      for (let b = 0; b < B; b++) { const v = x.data[(t * B + b) * H + u]; s += abs ? Math.abs(v) : v; }
      return B > 1 ? s / B : s;
    };
    /** Brute force over one bin's cells: the oracle for the preview's one pass. */
    const binOracle = (x: Tensor, kind: HeatPreview['kind'], t0: number, t1: number, u0: number, u1: number): number => {
      let best = -Infinity;
      let sum = 0;
      let n = 0;
      for (let t = t0; t < t1; t++) {
        for (let u = u0; u < u1; u++) {
          const v = valueAt(x, t, u, kind === 'max');
          if (v > best) best = v;
          if (!Number.isNaN(v)) { sum += v; n++; }
        }
      }
      return kind === 'max' ? best : n ? sum / n : NaN;
    };
    const randomTensor = (T: number, B: number, H: number, seed: number): Tensor => {
      let s = seed;
      const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
      const data = new Float32Array(T * B * H);
      // Signs, six decades, a few exact zeros and NaNs: what gradients and gates hold.
      for (let i = 0; i < data.length; i++) {
        const r = rnd();
        data[i] = r < 0.01 ? NaN : r < 0.03 ? 0 : (rnd() - 0.5) * 10 ** (-6 * rnd());
      }
      return { dims: [T, B, H], data };
    };

    it('the panel finds the preview bin of a step or unit (binOf) exactly where the host put it (binStarts)', () => {
      for (const length of [1, 2, 3, 7, 64, 72, 97, 1000, 1024, 4999, 5000, 10000, 99991]) {
        for (const n of new Set([1, 2, 3, 7, 100, 128, 512, length - 1, length].filter((k) => k >= 1 && k <= length))) {
          const at = binStarts(length, n);
          for (let k = 0; k < n; k++) {
            assert.ok(at[k + 1] > at[k], `bin ${k} of ${n} over ${length} is empty`);
            for (const i of [at[k], at[k + 1] - 1]) assert.strictEqual(binOf(i, length, n), k, `item ${i} of ${length} in ${n} bins`);
          }
        }
      }
    });

    for (const [T, B, H, cols, rows] of [[1000, 1, 72, 512, 72], [997, 3, 50, 123, 7], [40, 2, 9, 40, 9], [5, 1, 3, 1, 1]]) {
      for (const kind of ['max', 'mean'] as const) {
        it(`${kind} per bin is the exact ${kind} over its cells (T = ${T}, B = ${B}, H = ${H} on ${cols} × ${rows} bins); the colour scale's range is the whole tensor's`, () => {
          const x = randomTensor(T, B, H, T + B + H);
          const p = heatPreview(x, kind, cols, rows);
          assert.strictEqual(p.values.length, cols * rows);
          for (let r = 0; r < rows; r++) {
            for (let c = 0; c < cols; c++) {
              const want = binOracle(x, kind, Math.floor((c * T) / cols), Math.floor(((c + 1) * T) / cols), Math.floor((r * H) / rows), Math.floor(((r + 1) * H) / rows));
              const got = p.values[r * cols + c];
              if (kind === 'max') assert.strictEqual(got, Math.fround(want), `bin (${c}, ${r})`);
              else assert.ok(Number.isNaN(want) ? Number.isNaN(got) : Math.abs(got - want) <= 1e-6 * Math.abs(want) + 1e-30, `bin (${c}, ${r}): ${got} vs ${want}`);
            }
          }
          let lo = Infinity;
          let hi = -Infinity;
          let minPositive = Infinity;
          for (let t = 0; t < T; t++) {
            for (let u = 0; u < H; u++) {
              const v = valueAt(x, t, u, kind === 'max');
              if (v < lo) lo = v;
              if (v > hi) hi = v;
              if (v > 0 && v < minPositive) minPositive = v;
            }
          }
          assert.deepStrictEqual([p.lo, p.hi, p.minPositive], [lo, hi, minPositive]);
          // The largest bin is the tensor's maximum: no spike is lost.
          if (kind === 'max') assert.strictEqual(Math.max(...p.values), Math.fround(hi));
        });
      }
    }

    it('previews come for exactly the heatmap tensors, within the budget; the panel puts them on its pending tensors, and the data replace them', () => {
      const model = bigModel(3000, 128);
      const split = splitModels([model])!;
      const byId = new Map([...previewsOf(split)].map((p) => [p.id, p.preview]));
      const panelModels = structuredClone(split.lean);
      const panel = new PieceCollector(panelModels);
      assert.strictEqual(panel.addPreviews(structuredClone([...previewsOf(split)])), byId.size);
      const lean = split.lean[0].report;
      const ld = lean.layers[0].directions[0];
      const idOf = (t: Tensor | undefined) => (t as PendingTensor).pending;
      for (const [name, t, kind] of [['gradHidden', ld.gradHidden, 'max'], ['gradCell', ld.gradCell, 'max'], ['hidden', ld.hidden, 'mean'], ['cell', ld.cell, 'mean'],
        ...Object.entries(ld.gates!).map(([g, t]) => [`gate ${g}`, t, 'mean'])] as [string, Tensor, string][]) {
        const p = byId.get(idOf(t));
        assert.strictEqual(p?.kind, kind, name);
        assert.deepStrictEqual([p!.cols, p!.rows], [512, 128], name);
      }
      assert.ok(!byId.has(idOf(lean.outputs.Y)) && !byId.has(idOf(lean.inputValues!.x)), 'outputs and inputs: no heatmap, no preview');
      assert.deepStrictEqual(byId.get(idOf(ld.gradHidden))!.values, heatPreview(model.report.layers[0].directions[0].gradHidden!, 'max', 512, 128).values);
      // Many layers: the grids shrink so that all previews fit the budget.
      const many = splitModels(Array.from({ length: 6 }, () => bigModel(3000, 128)))!;
      const bytes = [...previewsOf(many)].reduce((n, p) => n + p.preview.values.byteLength, 0);
      assert.ok(bytes <= PREVIEW_BUDGET_BYTES && bytes > PREVIEW_BUDGET_BYTES / 2, `${bytes} bytes of previews`);
      // The panel's copy: previews on the pending tensors until their data are in.
      const pd = panelModels[0].report.layers[0].directions[0].gradHidden as PendingTensor;
      assert.strictEqual(pd.preview?.kind, 'max');
      for (const pieces of pieceMessages(split.bulk)) panel.add(structuredClone(pieces));
      assert.ok(panel.done && !('preview' in pd) && pd.data.length === 3000 * 128 && !isPending(pd));
    });
  });
});
