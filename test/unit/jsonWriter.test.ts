import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Writable } from 'stream';
import { AnalysisError } from '../../src/onnx/errors';
import { countNonFinite, formatFloat32, nonFiniteWarning, writeReportJson } from '../../src/report/jsonWriter';
import { DirectionReport, REPORT_SCHEMA, Report } from '../../src/report/types';
import { SeededRandom } from '../../src/inputs/random';

/** Collects everything written, one entry per write() call, answering after a turn of the event loop. */
class Collector extends Writable {
  readonly chunks: string[] = [];
  maxBuffered = 0;
  constructor(highWaterMark = 16 * 1024, private readonly failAfter = Infinity) {
    super({ highWaterMark, decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (e?: Error | null) => void): void {
    this.maxBuffered = Math.max(this.maxBuffered, this.writableLength);
    this.chunks.push(chunk.toString());
    const total = this.chunks.reduce((s, c) => s + c.length, 0);
    setImmediate(() => done(total > this.failAfter ? new Error('disk full (simulated)') : null));
  }
  text(): string {
    return this.chunks.join('');
  }
}

function direction(extra: Record<string, unknown> = {}): DirectionReport {
  return {
    direction: 'forward',
    gates: { forget: { dims: [2, 1, 2], data: Float32Array.from([0.1, 0.2, 0.3, 0.4]) } },
    hidden: { dims: [2, 1, 2], data: Float32Array.from([1, 2, 3, 4]) },
    cell: { dims: [2, 1, 2], data: Float32Array.from([5, 6, 7, 8]) },
    gradHidden: { dims: [2, 1, 2], data: Float32Array.from([-1, -2, -3, -4]) },
    gradCell: { dims: [2, 1, 2], data: Float32Array.from([9, 9, 9, 9]) },
    jacobianNorm: { hidden: { dims: [2], data: Float64Array.from([0.5, Math.SQRT2]) } },
    weightGrads: { R: { dims: [1, 2], data: Float32Array.from([0.25, -0.75]) } },
    metrics: {
      saturation: { low: 0.1, high: 0.9, gates: { forget: { left: 0, right: 0.25, leftPerUnit: [0, 0], rightPerUnit: [0.5, 0] } } },
      spectrum: { sigmaMaxAll: 1.5, gates: [{ gate: 'forget', sigmaMax: 1.5, activation: 'Sigmoid', gamma: 0.25, sufficientForVanishing: true, necessaryForExplodingMet: false }] },
      decay: { rho: 0.9, halfLife: 6.578813478960585, verdict: 'stable', reach: null },
      gradNorm: [3, 4],
    },
    ...extra,
  } as unknown as DirectionReport;
}

function report(dirs: DirectionReport[] = [direction()], extra: Partial<Report> = {}): Report {
  return {
    schema: REPORT_SCHEMA,
    warnings: ['a "quoted" warning — with ünïcode'],
    model: { path: 'm.onnx', irVersion: 8, opset: 17, producer: 'pytorch', graphInputs: [{ name: 'x', elemType: 'float32', shape: ['T', 1, 3] }], graphOutputs: [] },
    runtime: { executionProvider: 'cpu', onnxruntime: '1.20.0', timingsMs: { load: 1, build: 2, run: 3, metrics: 4, total: 10 } },
    input: { seqLen: 2, batch: 1, seed: 0, sources: { x: 'random' } },
    objective: { kind: 'sum', output: 'y', value: 12.5 },
    outputs: { y: { dims: [2], data: Float32Array.from([1.5, -0.5]) } },
    layers: [{
      node: 'lstm', nodeIndex: 3, op: 'LSTM', direction: 'forward', layout: 0, hiddenSize: 2, inputSize: 3, seqLen: 2, batch: 1,
      attributes: { activations: ['Sigmoid', 'Tanh', 'Tanh'], activationAlpha: [], activationBeta: [], clip: null, inputForget: false, linearBeforeReset: false, hasBias: true, hasPeepholes: false, hasSequenceLens: false, hasInitialH: false, hasInitialC: false },
      directions: dirs,
    }],
    clipping: { globalNorm: 5, factors: { '1': 0.2, '5': 1 } },
    ...extra,
  };
}

async function toJson(r: Report, detail: 'full' | 'metrics' = 'full'): Promise<{ text: string; value: Record<string, unknown> }> {
  const out = new Collector();
  await writeReportJson(r, out, { detail });
  const text = out.text();
  return { text, value: JSON.parse(text) as Record<string, unknown> };
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'gl-json-'));
}

describe('report: JSON writer', () => {
  it('writes the structure JSON.parse reads back, tensors as {dims, data}', async () => {
    const { value } = await toJson(report());
    const f = Math.fround;
    const expected = {
      schema: 'gradient-lens/report@2',
      model: { path: 'm.onnx', irVersion: 8, opset: 17, producer: 'pytorch', graphInputs: [{ name: 'x', elemType: 'float32', shape: ['T', 1, 3] }], graphOutputs: [] },
      runtime: { executionProvider: 'cpu', onnxruntime: '1.20.0', timingsMs: { load: 1, build: 2, run: 3, metrics: 4, total: 10 } },
      input: { seqLen: 2, batch: 1, seed: 0, sources: { x: 'random' } },
      objective: { kind: 'sum', output: 'y', value: 12.5 },
      outputs: { y: { dims: [2], data: [1.5, -0.5] } },
      layers: [{
        node: 'lstm', nodeIndex: 3, op: 'LSTM', direction: 'forward', layout: 0, hiddenSize: 2, inputSize: 3, seqLen: 2, batch: 1,
        attributes: { activations: ['Sigmoid', 'Tanh', 'Tanh'], activationAlpha: [], activationBeta: [], clip: null, inputForget: false, linearBeforeReset: false, hasBias: true, hasPeepholes: false, hasSequenceLens: false, hasInitialH: false, hasInitialC: false },
        directions: [{
          direction: 'forward',
          gates: { forget: { dims: [2, 1, 2], data: [0.1, 0.2, 0.3, 0.4] } },
          hidden: { dims: [2, 1, 2], data: [1, 2, 3, 4] },
          cell: { dims: [2, 1, 2], data: [5, 6, 7, 8] },
          gradHidden: { dims: [2, 1, 2], data: [-1, -2, -3, -4] },
          gradCell: { dims: [2, 1, 2], data: [9, 9, 9, 9] },
          jacobianNorm: { hidden: { dims: [2], data: [0.5, Math.SQRT2] } },
          weightGrads: { R: { dims: [1, 2], data: [0.25, -0.75] } },
          metrics: {
            saturation: { low: 0.1, high: 0.9, gates: { forget: { left: 0, right: 0.25, leftPerUnit: [0, 0], rightPerUnit: [0.5, 0] } } },
            spectrum: { sigmaMaxAll: 1.5, gates: [{ gate: 'forget', sigmaMax: 1.5, activation: 'Sigmoid', gamma: 0.25, sufficientForVanishing: true, necessaryForExplodingMet: false }] },
            decay: { rho: 0.9, halfLife: 6.578813478960585, verdict: 'stable', reach: null },
            gradNorm: [3, 4],
          },
        }],
      }],
      clipping: { globalNorm: 5, factors: { '1': 0.2, '5': 1 } },
      warnings: ['a "quoted" warning — with ünïcode'],
    };
    // Float32 gate values print as the short decimals that read back to the same float32.
    const gate = (((value.layers as unknown[])[0] as { directions: { gates: { forget: { data: number[] } } }[] }).directions[0].gates.forget.data);
    assert.deepStrictEqual(gate.map(f), [0.1, 0.2, 0.3, 0.4].map(f));
    assert.deepStrictEqual(value, expected);
  });

  it('puts the top-level keys in SPEC order, extra keys after them and warnings last', async () => {
    const r = { ...report(), extraTopLevel: { n: 1 } } as Report;
    const { value, text } = await toJson(r);
    assert.deepStrictEqual(Object.keys(value), ['schema', 'model', 'runtime', 'input', 'objective', 'outputs', 'layers', 'clipping', 'extraTopLevel', 'warnings']);
    assert.ok(text.endsWith('}\n'));
  });

  it('float32 data round-trips exactly, with at most 9 significant digits', async () => {
    const special = [0.1, 1 / 3, -2.5e-38, 1e-45, 1.401298464324817e-45, 1.1754943508222875e-38, 3.4028234663852886e38, -3.4028234663852886e38, 16777216, 123456792, 1e-7, 0, -0, 0.30000001192092896];
    const rnd = ((): (() => number) => {
      let s = 12345;
      return () => {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        return s;
      };
    })();
    const bits = new Uint32Array(20000);
    for (let i = 0; i < bits.length; i++) {
      let b = rnd();
      while (((b >>> 23) & 0xff) === 0xff) b = rnd(); // not NaN / ±Infinity
      bits[i] = b;
    }
    const data = new Float32Array(special.length + bits.length);
    data.set(special);
    data.set(new Float32Array(bits.buffer), special.length);
    const r = report();
    r.outputs = { y: { dims: [data.length], data } };
    const { value, text } = await toJson(r);
    const parsed = (value.outputs as { y: { data: number[] } }).y.data;
    assert.strictEqual(parsed.length, data.length);
    for (let i = 0; i < data.length; i++) assert.ok(Math.fround(parsed[i]) === data[i], `index ${i}: ${data[i]} wrote ${parsed[i]}`);
    const list = text.slice(text.indexOf('"y": {'));
    const numbers = list.slice(list.indexOf('"data": [') + 9, list.indexOf(']')).split(',');
    for (const s of numbers) assert.ok(s.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').length <= 9, s);
  });

  it('formatFloat32 prints short decimals short', () => {
    assert.strictEqual(formatFloat32(Math.fround(0.1)), '0.1');
    assert.strictEqual(formatFloat32(Math.fround(1e-7)), '1e-7');
    assert.strictEqual(formatFloat32(Math.fround(2.5)), '2.5');
    assert.strictEqual(formatFloat32(16777216), '16777216');
    // FLT_MAX: 8 digits suffice (numpy prints np.float32 max as 3.4028235e+38).
    assert.strictEqual(formatFloat32(Math.fround(3.4028234663852886e38)), '3.4028235e+38');
    assert.strictEqual(formatFloat32(Math.fround(-0.3)), '-0.3');
  });

  it('float32 values from 1e-14 to 1e9 take the shortest decimal that reads back (as a brute force finds)', () => {
    // Brute force: the fewest significant digits p whose toPrecision(p) reads back as v.
    const shortest = (v: number): number => {
      for (let p = 1; p <= 9; p++) if (Math.fround(Number(v.toPrecision(p))) === v) return p;
      return 9;
    };
    // Significant digits written (an integer's trailing zeros are not).
    const digits = (s: string) => s.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
    const rnd = SeededRandom.forInput(3, 'shortest');
    const u = rnd.normal(20000);
    for (let i = 0; i < u.length; i++) {
      const v = Math.fround(Math.sign(u[i]) * 10 ** (-14 + ((i * 7919) % 2300) / 100)); // 1e-14 … 1e9
      const s = formatFloat32(v);
      assert.strictEqual(Math.fround(Number(s)), v, `${v} wrote ${s}`);
      // At least 6 digits are tried, so one more than the brute force's fewest may remain below 6;
      // from 1e7 on every float32 is an integer, written whole (no exponent).
      if (Math.abs(v) < 1e7) assert.ok(digits(s) <= Math.max(6, shortest(v)), `${v} wrote ${s}, ${shortest(v)} digits suffice`);
    }
    // Below 1e-6 (a leading digit at 10⁻⁷ or less) in exponent form, as toPrecision writes.
    assert.strictEqual(formatFloat32(Math.fround(1.5e-7)), '1.5e-7');
    assert.strictEqual(formatFloat32(Math.fround(-2.5e-14)), '-2.5e-14');
    assert.strictEqual(formatFloat32(Math.fround(1e-10)), '1e-10');
    assert.strictEqual(formatFloat32(Math.fround(1e-6)), '0.000001'); // float32 1e-6 is 9.99999997e-7
    assert.strictEqual(formatFloat32(Math.fround(1.2345678e-9)), '1.2345678e-9');
  });

  it('float64 data and plain numbers round-trip exactly', async () => {
    const d = Float64Array.from([0.1, 1 / 3, 5e-324, 1.7976931348623157e308, -1e-300, 2 ** 53 + 2]);
    const r = report();
    r.outputs = { y: { dims: [d.length], data: d } };
    (r.objective as { value: number }).value = Math.PI;
    const { value } = await toJson(r);
    assert.deepStrictEqual((value.outputs as { y: { data: number[] } }).y.data, Array.from(d));
    assert.strictEqual((value.objective as { value: number }).value, Math.PI);
  });

  it('NaN and ±Infinity become null and the file gains a warning saying how many and where', async () => {
    const dir = direction({ gradHidden: { dims: [2, 1, 2], data: Float32Array.from([NaN, 1, Infinity, -Infinity]) } });
    (dir.metrics as Record<string, unknown>).gradNorm = [NaN, 2];
    const r = report([dir]);
    const { value } = await toJson(r);
    const d = ((value.layers as { directions: Record<string, { data: unknown[] }>[] }[])[0].directions[0]);
    assert.deepStrictEqual(d.gradHidden.data, [null, 1, null, null]);
    const warnings = value.warnings as string[];
    assert.strictEqual(warnings.length, 2);
    assert.strictEqual(warnings[0], r.warnings[0]);
    assert.match(warnings[1], /^4 non-finite values \(NaN or ±Infinity\) written as null/);
    assert.ok(warnings[1].includes('3 in layers[0].directions[0].gradHidden.data'), warnings[1]);
    assert.ok(warnings[1].includes('1 in layers[0].directions[0].metrics.gradNorm'), warnings[1]);
    // The in-memory report is left as it was.
    assert.strictEqual(r.warnings.length, 1);
    // countNonFinite finds the same places, and the warning it produces is not added twice.
    const counted = countNonFinite(r);
    assert.strictEqual(counted.total, 4);
    assert.deepStrictEqual(counted.places, [{ path: 'layers.0.directions.0.gradHidden.data', count: 3 }, { path: 'layers.0.directions.0.metrics.gradNorm', count: 1 }].map((p) => ({ ...p, path: p.path.replace(/\.(\d+)/g, '[$1]') })));
    r.warnings.push(nonFiniteWarning(counted) as string);
    const again = await toJson(r);
    assert.strictEqual((again.value.warnings as string[]).length, 2);
    assert.strictEqual(nonFiniteWarning(countNonFinite(report())), null);
  });

  it("detail 'metrics' leaves out exactly the bulk tensors of each direction and the outputs, and lists them in `omitted`", async () => {
    const r = report([direction(), direction({ direction: 'reverse' })]);
    const full = (await toJson(r, 'full')).value;
    const { value } = await toJson(r, 'metrics');
    const dirs = (value.layers as { directions: Record<string, unknown>[] }[])[0].directions;
    for (const d of dirs) {
      assert.deepStrictEqual(Object.keys(d), ['direction', 'jacobianNorm', 'metrics']);
      // jacobianNorm.hidden shares a per-step key's name but is not per-step data: it stays.
      assert.deepStrictEqual((d.jacobianNorm as { hidden: { data: number[] } }).hidden.data, [0.5, Math.SQRT2]);
    }
    for (const key of ['schema', 'model', 'runtime', 'input', 'objective', 'clipping', 'warnings']) assert.deepStrictEqual(value[key], full[key]);
    assert.deepStrictEqual(value.outputs, full.outputs, 'small outputs stay');
    assert.deepStrictEqual(Object.keys(value).slice(0, 6), ['schema', 'model', 'runtime', 'input', 'objective', 'omitted']);
    assert.strictEqual((value.omitted as { detail: string }).detail, 'metrics');
    assert.strictEqual(full.omitted, undefined);
    // A per-step output (more than 4096 values) is left out and named; the small one stays.
    r.outputs.Y = { dims: [5000], data: new Float32Array(5000) };
    const big = (await toJson(r, 'metrics')).value;
    assert.deepStrictEqual(Object.keys(big.outputs as object), ['y']);
    assert.ok((big.omitted as { fields: string[] }).fields.some((f) => /outputs 'Y'/.test(f)));
  });

  it('writes generic values: nested arrays, empty containers, bigint arrays, toJSON, undefined and functions skipped', async () => {
    const extra = {
      nested: [[1, 2], [{ a: 'x' }], []],
      empty: {},
      ids: BigInt64Array.from([-(2n ** 40n), 7n]),
      ints: Int32Array.from([-1, 2]),
      when: new Date(Date.UTC(2024, 0, 2)),
      skipped: undefined,
      fn: () => 1,
      mixed: [1, 'two', null, true],
    };
    const r = report([direction({ extras: extra })]);
    const { value } = await toJson(r);
    const got = (value.layers as { directions: { extras: unknown }[] }[])[0].directions[0].extras;
    assert.deepStrictEqual(got, { nested: [[1, 2], [{ a: 'x' }], []], empty: {}, ids: [-(2 ** 40), 7], ints: [-1, 2], when: '2024-01-02T00:00:00.000Z', mixed: [1, 'two', null, true] });
  });

  it('streams in chunks of at most ~64 KiB and waits for drain', async () => {
    const r = report();
    const data = new Float32Array(300000).map((_, i) => Math.fround(Math.sin(i)));
    r.outputs = { y: { dims: [data.length], data } };
    const out = new Collector(1024);
    await writeReportJson(r, out, { detail: 'full' });
    assert.ok(out.chunks.length > 20, `${out.chunks.length} writes`);
    const biggest = Math.max(...out.chunks.map((c) => c.length));
    assert.ok(biggest < 160 * 1024, `largest write ${biggest} chars`);
    // With a 1 KiB high-water mark the writer waits for 'drain' once 1 MiB is queued (the report is over 3 MB).
    assert.ok(out.chunks.join('').length > 3 * 1024 * 1024);
    assert.ok(out.maxBuffered <= 1024 * 1024 + biggest, `queued ${out.maxBuffered} chars`);
    const parsed = JSON.parse(out.text()) as { outputs: { y: { data: number[] } } };
    assert.strictEqual(parsed.outputs.y.data.length, data.length);
  });

  it('rejects with the stream’s error when the stream fails', async () => {
    const r = report();
    r.outputs = { y: { dims: [200000], data: new Float32Array(200000).fill(0.5) } };
    await assert.rejects(writeReportJson(r, new Collector(1024, 100000)), /disk full/);
  });

  it('writes a file through a temporary name and leaves no temporary behind', async () => {
    const dir = tmpDir();
    try {
      const file = path.join(dir, 'report.json');
      fs.writeFileSync(file, 'old');
      await writeReportJson(report(), file, { detail: 'metrics' });
      const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { schema: string };
      assert.strictEqual(parsed.schema, REPORT_SCHEMA);
      assert.deepStrictEqual(fs.readdirSync(dir), ['report.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('abort: rejects with CancelledError, removes the temporary file and keeps the old report', async () => {
    const dir = tmpDir();
    try {
      const file = path.join(dir, 'report.json');
      fs.writeFileSync(file, 'old');
      const r = report();
      r.outputs = { y: { dims: [1000000], data: new Float32Array(1000000).map((_, i) => i / 7) } };
      const ac = new AbortController();
      const pending = writeReportJson(r, file, { detail: 'full', signal: ac.signal });
      // Abort once the temporary file has started to fill.
      // (A fresh temporary name: report.json.tmp-<pid>-<random>.)
      const tmpOf = () => fs.readdirSync(dir).find((f) => f.startsWith(`report.json.tmp-${process.pid}-`));
      for (let t = tmpOf(); !t || fs.statSync(path.join(dir, t)).size === 0; t = tmpOf()) await new Promise((res) => setTimeout(res, 1));
      ac.abort();
      await assert.rejects(pending, (e: Error) => e.name === 'CancelledError');
      assert.deepStrictEqual(fs.readdirSync(dir), ['report.json']);
      assert.strictEqual(fs.readFileSync(file, 'utf8'), 'old');
      // An already-aborted signal creates nothing.
      await assert.rejects(writeReportJson(r, path.join(dir, 'other.json'), { signal: ac.signal }), (e: Error) => e.name === 'CancelledError');
      assert.deepStrictEqual(fs.readdirSync(dir), ['report.json']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an unwritable path is an AnalysisError naming it, with nothing left behind', async () => {
    const dir = tmpDir();
    try {
      const file = path.join(dir, 'missing-folder', 'r.json');
      await assert.rejects(writeReportJson(report(), file), (e: Error) => e instanceof AnalysisError && e.message.includes(file) && /folder exists/.test(e.message));
      assert.deepStrictEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a self-referencing report is a TypeError, not a file error', async () => {
    const dir = tmpDir();
    try {
      const r = report();
      const loop: Record<string, unknown> = {};
      loop.self = loop;
      (r.layers[0].directions[0].metrics as Record<string, unknown>).loop = loop;
      await assert.rejects(writeReportJson(r, path.join(dir, 'r.json')), TypeError);
      assert.deepStrictEqual(fs.readdirSync(dir), []);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('big float32 arrays formatted on helper threads give the same bytes and non-finite counts', async () => {
    // 700 001 values (odd, so the parts differ in length) with every kind of value, NaN and ±∞ among them.
    const n = 700001;
    const data = new Float32Array(n);
    const bits = new Uint32Array(data.buffer);
    const rnd = SeededRandom.forInput(1, 'json-threads');
    for (let i = 0; i < n; i++) {
      if (i % 3 === 0) bits[i] = rnd.nextUint32(); // any float32, NaN and ±∞ included
      else data[i] = Math.fround(Math.sin(i) * 10 ** ((i % 17) - 8));
    }
    data[5] = -0;
    data[n - 1] = NaN;
    const big = direction({ gradHidden: { dims: [n, 1, 1], data } });
    const write = async (helperThreads: number) => {
      const out = new Collector(1 << 20);
      await writeReportJson(report([big]), out, { helperThreads });
      await new Promise<void>((resolve) => out.end(resolve)); // the last chunk may still sit in the stream's buffer
      return out.text();
    };
    const alone = await write(0);
    const helped = await write(2);
    assert.strictEqual(helped.length, alone.length);
    assert.ok(helped === alone, 'the text differs');
    const warnings = (JSON.parse(helped) as { warnings: string[] }).warnings;
    let expected = 0;
    for (const v of data) if (!Number.isFinite(v)) expected++;
    assert.ok(warnings.some((w) => w.includes(`${expected} in layers[0].directions[0].gradHidden.data`)), warnings.join('\n'));
  });

  it('a ~20 MB report reaches the stream in pieces of at most 256 KiB, never as one string', async () => {
    // 4 gates + hidden + cell + gradHidden + gradCell of [T=1000, B=1, H=256]: 2M float32 values, ~20 MB of JSON.
    const T = 1000, H = 256;
    const t = (k: number): { dims: number[]; data: Float32Array } => ({ dims: [T, 1, H], data: new Float32Array(T * H).map((_, i) => Math.sin(i * 0.37 + k)) });
    const d = direction({
      gates: { input: t(0), forget: t(1), output: t(2), cell: t(3) }, hidden: t(4), cell: t(5), gradHidden: t(6), gradCell: t(7),
    });
    // A stream that records the size of every write (and drops the bytes), slow enough to push back.
    let total = 0;
    let largest = 0;
    let writes = 0;
    const sink = new Writable({
      highWaterMark: 64 * 1024,
      write(chunk: Buffer, _enc, done) {
        writes++;
        total += chunk.length;
        largest = Math.max(largest, chunk.length);
        setImmediate(done);
      },
    });
    await writeReportJson(report([d]), sink, { helperThreads: 0 });
    assert.ok(total > 15e6, `report is ${total} bytes`);
    assert.ok(largest <= 256 * 1024, `one write of ${largest} bytes`);
    assert.ok(writes >= total / (256 * 1024), `${writes} writes`);
  });
});
