import * as assert from 'assert';
import { PassThrough } from 'stream';
import type { PanelModel } from '../../src/protocol/panel';
import {
  base64FromBytes, bytesFromBase64, decodeStandaloneData, encodeStandaloneData, renderStandaloneHtml, reportFromJson,
} from '../../src/protocol/standalone';
import { writeReportJson } from '../../src/report/jsonWriter';
import { embeddedBytes, fitsInPage, HTML_MAX_EMBEDDED_BYTES, metricsOnly, standaloneHtml } from '../../src/report/htmlReport';
import { OMITTED_TOO_BIG_HOW } from '../../src/report/detail';
import { REPORT_SCHEMA, type Report } from '../../src/report/types';

function bits(a: ArrayBufferView): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** Float32 values that stress printing and parsing: subnormals, extremes, −0, NaN, ±∞, ties. */
function awkwardFloats(): Float32Array {
  const a = new Float32Array(4096);
  const u = new Uint32Array(a.buffer);
  let x = 12345;
  for (let i = 0; i < a.length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    u[i] = x;
  }
  a.set([0, -0, 1e-45, -1e-45, 1.1754942e-38, 3.4028235e38, -3.4028235e38, 0.1, 1 / 3, 16777217, NaN, Infinity, -Infinity], 0);
  return a;
}

function tinyReport(data: Float32Array, f64: Float64Array): Report {
  const T = 2;
  return {
    schema: REPORT_SCHEMA,
    model: { path: '/m.onnx', irVersion: 7, opset: 14, producer: 'test', graphInputs: [], graphOutputs: [] },
    runtime: { executionProvider: 'cpu', onnxruntime: '1.30.0', timingsMs: { load: 1, build: 2, run: 3, metrics: 4, total: 10 } },
    input: { seqLen: T, batch: 1, seed: 0, sources: {} },
    outputs: { y: { dims: [f64.length], data: f64 } },
    layers: [{
      node: 'rnn', nodeIndex: 0, op: 'RNN', direction: 'forward', layout: 0, hiddenSize: data.length / T, inputSize: 1, seqLen: T, batch: 1,
      attributes: { activations: ['Tanh'], activationAlpha: [], activationBeta: [], clip: null, inputForget: false, linearBeforeReset: false, hasBias: true, hasPeepholes: false, hasSequenceLens: false, hasInitialH: false, hasInitialC: false },
      directions: [{
        direction: 'forward', gates: {}, hidden: { dims: [T, 1, data.length / T], data },
        metrics: { saturation: { low: 0.1, high: 0.9, gates: {} }, spectrum: { sigmaMaxAll: 1.5, gates: [] }, gradNorm: [1e-300, 2.5] },
      }],
    }],
    warnings: [],
  };
}

describe('standalone report data (src/protocol/standalone.ts)', () => {
  it('base64 matches Node\'s Buffer for every length and byte value', () => {
    for (let n = 0; n < 70; n++) {
      const bytes = Uint8Array.from({ length: n }, (_, i) => (i * 97 + n * 31) & 255);
      const expected = Buffer.from(bytes).toString('base64');
      assert.strictEqual(base64FromBytes(bytes), expected, `length ${n}`);
      assert.deepStrictEqual(Buffer.from(bytesFromBase64(expected)), Buffer.from(bytes), `length ${n}`);
    }
    assert.deepStrictEqual(Buffer.from(bytesFromBase64('AAEC\nAwQF')), Buffer.from([0, 1, 2, 3, 4, 5]));
    assert.throws(() => bytesFromBase64('AA$A'), /not valid base64/);
  });

  it('round-trips typed arrays bit for bit, views and non-finite numbers included', () => {
    const f32 = awkwardFloats();
    const f64 = Float64Array.from([Math.PI, -0, 5e-324, Number.MAX_VALUE, NaN]);
    const backing = new Float32Array(11).map((_, i) => i + 0.5);
    const view = backing.subarray(3, 8); // a view at a byte offset
    const models: PanelModel[] = [{ label: 'a', path: '/a.onnx', report: tinyReport(f32, f64) }];
    (models[0].report.layers[0].directions[0].metrics as Record<string, unknown>).extra = { view, i32: Int32Array.from([-1, 2 ** 31 - 1]), inf: Infinity, nan: NaN, neg: -Infinity };
    const back = decodeStandaloneData(encodeStandaloneData(models));
    const d = back[0].report.layers[0].directions[0];
    assert.ok(d.hidden.data instanceof Float32Array);
    assert.deepStrictEqual(bits(d.hidden.data), bits(f32));
    const y = back[0].report.outputs.y.data;
    assert.ok(y instanceof Float64Array);
    assert.deepStrictEqual(bits(y), bits(f64));
    const extra = (d.metrics as Record<string, unknown>).extra as { view: Float32Array; i32: Int32Array; inf: number; nan: number; neg: number };
    assert.deepStrictEqual(Array.from(extra.view), [3.5, 4.5, 5.5, 6.5, 7.5]);
    assert.deepStrictEqual(Array.from(extra.i32), [-1, 2 ** 31 - 1]);
    assert.strictEqual(extra.inf, Infinity);
    assert.ok(Number.isNaN(extra.nan));
    assert.strictEqual(extra.neg, -Infinity);
    assert.deepStrictEqual(d.metrics.gradNorm, [1e-300, 2.5]);
    assert.strictEqual(back[0].report.layers[0].attributes.clip, null);
  });

  it('rejects data that is not its own', () => {
    assert.throws(() => decodeStandaloneData(base64FromBytes(new TextEncoder().encode('{"not": "ours"}'))), /bad header/);
  });

  it('renders one self-contained HTML file whose scripts cannot be closed early', () => {
    const html = renderStandaloneHtml([{ label: 'a', path: '/a', report: tinyReport(new Float32Array(4), new Float64Array(1)) }],
      { js: 'var s = "</script><b>"; /* <!-- */', css: 'body{} /* </style> */' }, 'A <report> & "more"');
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.match(html, /<title>A &#60;report&#62; &#38; &#34;more&#34;<\/title>/);
    assert.strictEqual(html.match(/<\/script>/g)?.length, 2, 'only the data and code scripts close');
    assert.strictEqual(html.match(/<\/style>/g)?.length, 1);
    const data = /<script id="gradient-lens-data" type="application\/octet-stream">([A-Za-z0-9+/=]*)<\/script>/.exec(html);
    assert.ok(data, 'the data script holds base64 only');
    assert.strictEqual(decodeStandaloneData(data[1])[0].label, 'a');
    assert.doesNotMatch(html, /\b(src|href)=/, 'nothing is loaded from outside');
  });

  it('reportFromJson gives back the exact float32 values the JSON writer printed', async () => {
    const f32 = awkwardFloats();
    const f64 = Float64Array.from([0.1, Math.PI, 123456789012, -2.5]);
    const report = tinyReport(f32, f64);
    const stream = new PassThrough();
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await writeReportJson(report, stream);
    const back = reportFromJson(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    const hidden = back.layers[0].directions[0].hidden.data;
    assert.ok(hidden instanceof Float32Array, 'float32 data comes back as a Float32Array');
    // The writer prints non-finite values as null (they come back as NaN) and −0 as 0; everything else bit for bit.
    const expected = Float32Array.from(f32, (v) => (Number.isFinite(v) ? v + 0 : NaN));
    assert.deepStrictEqual(bits(hidden), bits(expected));
    const y = back.outputs.y.data;
    assert.ok(y instanceof Float64Array, 'float64 data with more than float32 precision stays Float64Array');
    assert.deepStrictEqual(Array.from(y), Array.from(f64));
    assert.deepStrictEqual(back.layers[0].directions[0].metrics.gradNorm, [1e-300, 2.5]);
  });

  it('reportFromJson names a wrong schema', () => {
    assert.throws(() => reportFromJson({ schema: 'something/else@2' }), /schema is "something\/else@2"/);
    assert.throws(() => reportFromJson(null), /not a JSON object/);
  });

  it('a page refuses more per-step data than one JavaScript string can hold, naming the way out; the lean page says where the data is', () => {
    // One script element's text is read as one string: at most 2^29 − 24 characters.
    assert.ok(HTML_MAX_EMBEDDED_BYTES < 2 ** 29 - 24 - 5e6);
    const report = tinyReport(new Float32Array(2 * 3000).fill(0.5), Float64Array.from([1]));
    const models: PanelModel[] = [{ label: 'big', path: '/m.onnx', report }];
    const bytes = embeddedBytes([report]);
    assert.ok(fitsInPage([report], bytes) && !fitsInPage([report], bytes - 1));
    assert.throws(() => standaloneHtml(models, 'big', bytes - 1), /more than one HTML page can hold.*--detail metrics.*--json/);
    const lean = metricsOnly(report, OMITTED_TOO_BIG_HOW);
    assert.strictEqual(lean.omitted?.how, OMITTED_TOO_BIG_HOW);
    assert.ok(embeddedBytes([lean]) < bytes / 10);
    assert.match(standaloneHtml([{ ...models[0], report: lean }], 'big', bytes - 1), /gradient-lens-data/);
  });
});
