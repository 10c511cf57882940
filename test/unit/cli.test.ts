/**
 * `gradient-lens analyze` (SPEC §5–§7): usage errors, the human summary, the JSON report's shape
 * and numbers (against the PyTorch oracle's .npy files of the fixtures), execution-provider
 * choice, seeds, and sequence/batch sizes on symbolic and static models. Most cases drive
 * `runCli` in-process; a few run the bundled `bin/gradient-lens.js` as a child process.
 */
import * as assert from 'assert';
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { assertClose, fixture, loadArray, REPO } from './helpers';
import {
  assertOneErrorLine, BIN, cli, ensureBundle, lstmModelBytes, removeTempDirs, runBin, tempDir,
} from './cliHelpers';

/** The JSON report as parsed from text (numbers are plain arrays). */
interface JsonTensor { dims: number[]; data: (number | null)[] }
interface JsonReport {
  schema: string;
  model: { path: string; irVersion: number; opset: number; producer: string; graphInputs: { name: string; elemType: string; shape: unknown }[]; graphOutputs: { name: string }[] };
  runtime: { executionProvider: string; onnxruntime: string; timingsMs: Record<string, number> };
  input: { seqLen: number; batch: number; seed: number; sources: Record<string, string>; axes?: Record<string, { time?: number; batch?: number }> };
  outputs: Record<string, JsonTensor>;
  layers: {
    node: string; nodeIndex: number; op: string; direction: string; layout: number; hiddenSize: number; inputSize: number;
    seqLen: number; batch: number;
    directions: {
      direction: string; gates?: Record<string, JsonTensor>; hidden?: JsonTensor; cell?: JsonTensor;
      metrics: { saturation: { low: number; high: number; gates: Record<string, { left: number; right: number; leftPerUnit: number[]; rightPerUnit: number[]; low?: number; high?: number; range?: string }> }; retention?: { meanForget: number[]; horizon: (number | null)[]; cellHighway: number[] }; spectrum: { sigmaMaxAll: number; gates: { gate: string; sigmaMax: number }[] } };
    }[];
  }[];
  warnings: string[];
}

const FORGET = fixture('forward', 'lstm_forget_bias');
const FORGET_MODEL = path.join(FORGET, 'model.onnx');
const FORGET_X = `x=${path.join(FORGET, 'input_x.npy')}`;
const BIDIR = fixture('forward', 'lstm_seq_lens_bidir');
const BASIC_MODEL = fixture('forward', 'lstm_basic', 'model.onnx');

/** Whether onnxruntime-node on this machine ships the CUDA provider library next to its binding. */
function cudaProviderInstalled(): boolean {
  const dir = path.join(REPO, 'node_modules', 'onnxruntime-node', 'bin', 'napi-v6', process.platform, process.arch);
  return fs.existsSync(path.join(dir, 'libonnxruntime_providers_cuda.so')) || fs.existsSync(path.join(dir, 'onnxruntime_providers_cuda.dll'));
}

function readJson(file: string): JsonReport {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as JsonReport;
}

function nums(t: JsonTensor): number[] {
  return t.data.map((v) => (v === null ? NaN : v));
}

describe('cli: usage errors (exit 2)', () => {
  const usage: [string, string[], (string | RegExp)[]][] = [
    ['no model', ['analyze'], ['needs a model']],
    ['no command', [], ['no command', 'analyze']],
    ['an unknown command', ['analyse', FORGET_MODEL], ["unknown command 'analyse'"]],
    ['an unknown flag', ['analyze', FORGET_MODEL, '--frobnicate'], ["unknown option '--frobnicate'", '--help']],
    ['two models', ['analyze', FORGET_MODEL, BASIC_MODEL], ['one model']],
    ['--seq-len 0', ['analyze', FORGET_MODEL, '--seq-len', '0'], ['--seq-len', 'positive integer', "'0'"]],
    ['--seq-len abc', ['analyze', FORGET_MODEL, '--seq-len', 'abc'], ['--seq-len', 'positive integer', "'abc'"]],
    ['--seq-len 2.5', ['analyze', FORGET_MODEL, '--seq-len=2.5'], ['--seq-len', "'2.5'"]],
    ['--seq-len without a value', ['analyze', FORGET_MODEL, '--seq-len'], ['--seq-len', 'needs a value']],
    ['--batch -1', ['analyze', FORGET_MODEL, '--batch', '-1'], ['--batch', "'-1'"]],
    ['--seed x', ['analyze', FORGET_MODEL, '--seed', 'x'], ['--seed', "'x'"]],
    ['--saturation HIGH<LOW', ['analyze', FORGET_MODEL, '--saturation', '0.9,0.1'], ['--saturation', 'LOW,HIGH', "'0.9,0.1'"]],
    ['--saturation one number', ['analyze', FORGET_MODEL, '--saturation', '0.5'], ['--saturation', "'0.5'"]],
    ['--saturation above 1', ['analyze', FORGET_MODEL, '--saturation=0.1,1.5'], ['--saturation', "'0.1,1.5'"]],
    ['--saturation not numbers', ['analyze', FORGET_MODEL, '--saturation', 'a,b'], ['--saturation', "'a,b'"]],
    ['--ep gpu', ['analyze', FORGET_MODEL, '--ep', 'gpu'], ['--ep', 'auto, cpu or cuda', "'gpu'"]],
    ['--detail all', ['analyze', FORGET_MODEL, '--detail', 'all'], ['--detail', 'full or metrics']],
    ['--input without =', ['analyze', FORGET_MODEL, '--input', 'input_x.npy'], ['--input', 'NAME=VALUE', "'input_x.npy'"]],
    ['--input with an empty file name', ['analyze', FORGET_MODEL, '--input', 'x='], ['--input', 'NAME=VALUE']],
    ['--dim with a bad value', ['analyze', FORGET_MODEL, '--dim', 'feat=zero'], ['--dim feat', 'positive integer']],
  ];
  for (const [what, argv, keys] of usage) {
    it(`${what} → exit 2 and one error line`, async () => {
      const r = await cli(...argv);
      assert.strictEqual(r.code, 2, `exit code for ${argv.join(' ')}: stderr ${r.stderr}`);
      assert.strictEqual(r.stdout, '', 'nothing on stdout');
      // The 'no command' / 'unknown command' answers append the usage text after the error line.
      const first = r.stderr.split('\n')[0];
      assertOneErrorLine(argv[0] === 'analyze' ? r.stderr : `${first}\n`, ...keys);
    });
  }

  it('--help and -h exit 0 with the usage on stdout', async () => {
    for (const argv of [['--help'], ['analyze', '--help'], ['analyze', FORGET_MODEL, '-h']]) {
      const r = await cli(...argv);
      assert.strictEqual(r.code, 0, argv.join(' '));
      assert.match(r.stdout, /^usage: gradient-lens analyze MODEL\.onnx/);
      for (const flag of ['--input', '--seq-len', '--batch', '--seed', '--dim', '--ep', '--saturation', '--detail', '--json']) {
        assert.ok(r.stdout.includes(flag), `usage lacks ${flag}`);
      }
      assert.strictEqual(r.stderr, '');
    }
  });
});

describe('cli: summary and JSON report of an LSTM (lstm_forget_bias)', function () {
  this.timeout(60000);
  let dir: string;
  before(() => { dir = tempDir(); });
  after(removeTempDirs);

  it('prints a summary naming the layer-direction and its forget-gate saturation (exit 0)', async () => {
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu');
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stderr, '');
    // The oracle (case.json): units 0-2 have forget ≈ 0.98 (right-saturated), units 3-5 ≈ 0.02 (left).
    assert.match(r.stdout, /LSTM '\/lstm\/LSTM' forward · H = 6, I = 3, T = 12, B = 2/);
    assert.match(r.stdout, /Forget gates: 50% right-saturated \(> 0\.9[^)]*\), 50% left-saturated \(< 0\.1/);
    assert.match(r.stdout, /3 of 6 units remember at least T = 12 steps/);
    assert.match(r.stdout, /on CPU/);
    assert.match(r.stdout, /timings: load \d+ ms, build \d+ ms, run \d+ ms, metrics \d+ ms, total \d+ ms/);
    assert.doesNotMatch(r.stdout, /warning:/);
  });

  it('names both directions of a bidirectional layer, and honours --saturation', async () => {
    const r = await cli('analyze', path.join(BIDIR, 'model.onnx'), '--input', `X=${path.join(BIDIR, 'input_X.npy')}`,
      '--input', `seq_lens=${path.join(BIDIR, 'input_seq_lens.npy')}`, '--ep', 'cpu', '--saturation', '0.2,0.8');
    assert.strictEqual(r.code, 0, r.stderr);
    assert.match(r.stdout, /LSTM 'lstm_seq_bidir' forward · H = 5, I = 3, T = 7, B = 3/);
    assert.match(r.stdout, /LSTM 'lstm_seq_bidir' reverse · H = 5, I = 3, T = 7, B = 3/);
    assert.strictEqual((r.stdout.match(/Forget gates: /g) ?? []).length, 2);
    assert.match(r.stdout, /right-saturated \(> 0\.8: long-memory cells\)/);
    assert.match(r.stdout, /left-saturated \(< 0\.2: reset every step\)/);
    // The cell candidate is tanh-valued: 0.2, 0.8 map to 2·0.2 − 1 and 2·0.8 − 1.
    assert.match(r.stdout, /Cell candidate c̃ \(Tanh\): [\d.]+% above 0\.6, [\d.]+% below -0\.6/);
  });

  it('--json FILE writes a SPEC §7 report whose numbers match the oracle', async () => {
    const sub = fs.mkdtempSync(path.join(dir, 'json-'));
    const out = path.join(sub, 'report.json');
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', '--json', out);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.ok(r.stdout.includes(`report written to ${out}`), r.stdout);
    assert.match(r.stdout, /Forget gates: 50% right-saturated/, 'the summary is still printed');
    assert.deepStrictEqual(fs.readdirSync(sub), ['report.json'], 'no temporary file is left beside the report');
    const j = readJson(out);

    assert.strictEqual(j.schema, 'gradient-lens/report@2');
    assert.strictEqual(j.model.path, FORGET_MODEL);
    assert.strictEqual(j.model.irVersion, 7);
    assert.strictEqual(j.model.opset, 14);
    assert.match(j.model.producer, /^pytorch/);
    assert.deepStrictEqual(j.model.graphInputs, [{ name: 'x', elemType: 'float32', shape: [12, 2, 3] }]);
    assert.deepStrictEqual(j.model.graphOutputs.map((o) => o.name), ['y', 'h_n', 'c_n']);

    assert.strictEqual(j.runtime.executionProvider, 'cpu');
    assert.match(j.runtime.onnxruntime, /^\d+\.\d+\.\d+/);
    assert.deepStrictEqual(Object.keys(j.runtime.timingsMs).sort(), ['build', 'load', 'metrics', 'run', 'total']);
    for (const [k, v] of Object.entries(j.runtime.timingsMs)) assert.ok(typeof v === 'number' && v >= 0, `timingsMs.${k} = ${v}`);
    const t = j.runtime.timingsMs;
    assert.ok(t.total >= Math.max(t.load, t.build, t.run, t.metrics), 'total covers every phase');

    assert.deepStrictEqual(j.input, { seqLen: 12, batch: 2, seed: 0, sources: { x: `file:${path.join(FORGET, 'input_x.npy')}` }, axes: { x: { time: 0, batch: 1 } } });

    for (const [name, file] of [['y', 'output_y.npy'], ['h_n', 'output_h_n.npy'], ['c_n', 'output_c_n.npy']]) {
      const ref = loadArray(path.join(FORGET, file));
      assert.deepStrictEqual(j.outputs[name].dims, ref.shape, `outputs.${name}.dims`);
      assertClose(nums(j.outputs[name]), ref.data, 1e-5, 0, `outputs.${name}`);
    }

    assert.strictEqual(j.layers.length, 1);
    const l = j.layers[0];
    assert.deepStrictEqual(
      [l.node, l.op, l.direction, l.layout, l.hiddenSize, l.inputSize, l.seqLen, l.batch],
      ['/lstm/LSTM', 'LSTM', 'forward', 0, 6, 3, 12, 2],
    );
    assert.ok(Number.isInteger(l.nodeIndex) && l.nodeIndex >= 0, `nodeIndex ${l.nodeIndex}`);
    assert.strictEqual(l.directions.length, 1);
    const d = l.directions[0];
    assert.strictEqual(d.direction, 'forward');
    assert.deepStrictEqual(Object.keys(d.gates!).sort(), ['cell', 'forget', 'input', 'output']);
    for (const gate of ['input', 'forget', 'output', 'cell']) {
      const ref = loadArray(path.join(FORGET, `layer0_forward_gate_${gate}.npy`));
      assert.deepStrictEqual(d.gates![gate].dims, [12, 2, 6], `gates.${gate}.dims`);
      assertClose(nums(d.gates![gate]), ref.data, 1e-5, 0, `gates.${gate}`);
    }
    for (const [key, file] of [['hidden', 'layer0_forward_state_hidden.npy'], ['cell', 'layer0_forward_state_cell.npy']] as const) {
      const ref = loadArray(path.join(FORGET, file));
      assert.deepStrictEqual(d[key]!.dims, [12, 2, 6], `${key}.dims`);
      assertClose(nums(d[key]!), ref.data, 1e-5, 0, key);
    }
    const sat = d.metrics.saturation;
    assert.deepStrictEqual([sat.low, sat.high], [0.1, 0.9]);
    assert.deepStrictEqual(sat.gates.forget, {
      low: 0.1, high: 0.9, activation: 'Sigmoid', range: 'sigmoid', left: 0.5, right: 0.5, leftPerUnit: [0, 0, 0, 1, 1, 1], rightPerUnit: [1, 1, 1, 0, 0, 0],
    });
    assert.deepStrictEqual([sat.gates.cell.low, sat.gates.cell.high, sat.gates.cell.range], [2 * 0.1 - 1, 2 * 0.9 - 1, 'tanh']);
    const caseJson = JSON.parse(fs.readFileSync(path.join(FORGET, 'case.json'), 'utf8'));
    const refRet = caseJson.layers[0].directions[0].metrics.retention;
    assertClose(d.metrics.retention!.meanForget, refRet.meanForget, 1e-5, 0, 'retention.meanForget');
    assertClose(d.metrics.retention!.cellHighway, refRet.cellHighway, 1e-4, 1e-5, 'retention.cellHighway');
    const refSpec = caseJson.layers[0].directions[0].metrics.spectrum;
    assertClose([d.metrics.spectrum.sigmaMaxAll], [refSpec.all], 1e-5, 1e-5, 'spectrum.sigmaMaxAll');
    for (const g of d.metrics.spectrum.gates) assertClose([g.sigmaMax], [refSpec[g.gate]], 1e-5, 1e-5, `spectrum ${g.gate}`);
    assert.deepStrictEqual(j.warnings, []);
  });

  it('--json - writes only the JSON report to stdout', async () => {
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', '--json', '-');
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stderr, '');
    const j = JSON.parse(r.stdout) as JsonReport; // throws if a summary line were mixed in
    assert.strictEqual(j.schema, 'gradient-lens/report@2');
    assert.deepStrictEqual(j.layers[0].directions[0].gates!.forget.dims, [12, 2, 6]);
  });

  it('--detail metrics leaves out the bulk tensors (per-step, weight matrices, outputs), keeps every metric, and says what it left out', async () => {
    const full = path.join(dir, 'full.json');
    const lean = path.join(dir, 'lean.json');
    assert.strictEqual((await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', '--json', full, '--quiet')).code, 0);
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', '--json', lean, '--detail', 'metrics', '--quiet');
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stdout, '', '--quiet prints nothing');
    // (Read untyped: this test reads fields the shared JsonReport type leaves out.)
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const a = readJson(full) as any;
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const b = readJson(lean) as any;
    const d = b.layers[0].directions[0];
    for (const key of ['gates', 'hidden', 'cell', 'gradHidden', 'gradCell', 'weightGrads']) assert.ok(!(key in d), `${key} left out`);
    assert.strictEqual(d.direction, 'forward');
    assert.deepStrictEqual(d.metrics, a.layers[0].directions[0].metrics);
    assert.deepStrictEqual(d.jacobianNorm, a.layers[0].directions[0].jacobianNorm);
    // The weight gradients' norms per gate stay, and match the full matrices.
    const wg = a.layers[0].directions[0].weightGrads;
    const n = d.metrics.weightGradNorms;
    const H = a.layers[0].hiddenSize;
    const I = wg.W.dims[1];
    n.gates.forEach((_: string, k: number) => {
      const block = (wg.W.data as number[]).slice(k * H * I, (k + 1) * H * I);
      const ref = Math.sqrt(block.reduce((s, v) => s + v * v, 0));
      assert.ok(Math.abs(n.W[k] - ref) <= 1e-6 * ref, `‖dW‖ gate ${k}: ${n.W[k]} vs ${ref}`);
    });
    // Small outputs (a final state) stay; only outputs of more than 4096 values are left out.
    assert.deepStrictEqual(b.outputs, a.outputs);
    assert.strictEqual(b.omitted.detail, 'metrics');
    assert.ok(b.omitted.fields.some((f: string) => /weightGrads.*weightGradNorms/.test(f)), b.omitted.fields.join('; '));
    assert.match(b.omitted.how, /--detail full/);
    assert.strictEqual(a.omitted, undefined);
    assert.deepStrictEqual(b.model, a.model);
    assert.deepStrictEqual(b.input, a.input);
    const { directions: _a, ...layerA } = a.layers[0];
    const { directions: _b, ...layerB } = b.layers[0];
    assert.deepStrictEqual(layerB, layerA);
    assert.ok(fs.statSync(lean).size < fs.statSync(full).size / 2, 'the metrics report is much smaller');
  });

  it('--json into a missing folder is a usage error naming the path, before any analysis', async () => {
    const out = path.join(dir, 'no', 'such', 'folder', 'r.json');
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', '--json', out);
    assert.strictEqual(r.code, 2);
    assertOneErrorLine(r.stderr, out, 'does not exist');
    assert.ok(!fs.existsSync(path.dirname(out)));
  });
});

describe('cli: execution providers', function () {
  this.timeout(60000);
  const hasCuda = cudaProviderInstalled();

  it(hasCuda
    ? '--ep cuda runs on CUDA or fails with one error line (the CUDA provider library is installed here)'
    : '--ep cuda fails with one error line saying how to install the CUDA provider (none installed here)', async () => {
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cuda', '--json', '-');
    if (!hasCuda) {
      assert.strictEqual(r.code, 1, `stdout ${r.stdout.slice(0, 300)}`);
      assert.strictEqual(r.stdout, '');
      assertOneErrorLine(r.stderr, 'CUDA execution provider', 'ONNXRUNTIME_NODE_INSTALL=cuda', '--ep cpu');
      // --verbose adds only what the line left out: here nothing, never the same text again.
      const v = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cuda', '--json', '-', '--verbose');
      assert.strictEqual(v.code, 1);
      assertOneErrorLine(v.stderr, 'CUDA execution provider');
    } else if (r.code === 0) {
      const j = JSON.parse(r.stdout) as JsonReport;
      assert.strictEqual(j.runtime.executionProvider, 'cuda');
      assert.ok(!j.warnings.some((w) => /CUDA/.test(w) && /\bCPU\b/.test(w)), 'no CPU fallback with --ep cuda');
    } else {
      assert.strictEqual(r.code, 1);
      assertOneErrorLine(r.stderr, 'CUDA');
    }
  });

  it('--ep auto without the CUDA provider installed runs on CPU and says nothing about CUDA (or runs on CUDA)', async () => {
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'auto', '--json', '-');
    assert.strictEqual(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as JsonReport;
    const fallback = j.warnings.filter((w) => /CUDA execution provider/.test(w));
    if (j.runtime.executionProvider === 'cpu') {
      // A machine that never installed the CUDA provider has nothing to try and nothing to be told on every run.
      if (!cudaProviderInstalled()) assert.deepStrictEqual(fallback, [], `warnings: ${JSON.stringify(j.warnings)}`);
      else assert.strictEqual(fallback.length, 1, 'installed but unusable: said once in the report');
      const s = await cli('analyze', FORGET_MODEL, '--input', FORGET_X); // auto is the default
      assert.strictEqual(s.code, 0, s.stderr);
      assert.match(s.stdout, /on CPU/);
      if (!cudaProviderInstalled()) assert.doesNotMatch(s.stdout, /CUDA/);
      assert.strictEqual(s.stderr, '');
    } else {
      assert.ok(hasCuda, 'ran on CUDA although no CUDA provider library is installed');
      assert.strictEqual(j.runtime.executionProvider, 'cuda');
      assert.deepStrictEqual(fallback, []);
    }
    assert.strictEqual(j.runtime.executionProvider, hasCuda ? j.runtime.executionProvider : 'cpu');
  });

  it('--ep auto gives the numbers of --ep cpu (exactly, when it fell back to CPU)', async () => {
    const a = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'auto', '--json', '-');
    const c = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', '--json', '-');
    assert.strictEqual(a.code, 0, a.stderr);
    assert.strictEqual(c.code, 0, c.stderr);
    const ja = JSON.parse(a.stdout) as JsonReport;
    const jc = JSON.parse(c.stdout) as JsonReport;
    assert.deepStrictEqual(jc.warnings, [], '--ep cpu never warns about CUDA');
    if (ja.runtime.executionProvider === 'cpu') {
      assert.deepStrictEqual(ja.outputs, jc.outputs);
      assert.deepStrictEqual(ja.layers, jc.layers);
    } else {
      for (const name of Object.keys(jc.outputs)) assertClose(nums(ja.outputs[name]), nums(jc.outputs[name]), 1e-5, 1e-5, `CUDA vs CPU ${name}`);
    }
  });
});

describe('cli: seeds and sequence/batch sizes', function () {
  this.timeout(60000);
  let dir: string;
  let symbolic: string;
  before(() => {
    dir = tempDir();
    symbolic = path.join(dir, 'symbolic.onnx');
    fs.writeFileSync(symbolic, lstmModelBytes({ xShape: ['seq', 'batch', 3], inputSize: 3, hiddenSize: 4, nodeName: 'sym_lstm' }));
  });
  after(removeTempDirs);

  const runJson = async (...argv: string[]): Promise<JsonReport> => {
    const r = await cli('analyze', ...argv, '--ep', 'cpu', '--json', '-');
    assert.strictEqual(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as JsonReport;
  };

  it('the same --seed gives identical outputs, another seed different ones', async () => {
    const a = await runJson(BASIC_MODEL, '--seed', '7');
    const b = await runJson(BASIC_MODEL, '--seed', '7');
    const c = await runJson(BASIC_MODEL, '--seed', '8');
    const d = await runJson(BASIC_MODEL);
    assert.deepStrictEqual(a.input.sources, { x: 'random' });
    assert.deepStrictEqual([a.input.seed, c.input.seed, d.input.seed], [7, 8, 0]);
    assert.deepStrictEqual(a.outputs, b.outputs);
    assert.deepStrictEqual(a.layers, b.layers);
    const ya = nums(a.outputs.y);
    const yc = nums(c.outputs.y);
    const yd = nums(d.outputs.y);
    assert.strictEqual(ya.length, 7 * 2 * 6);
    assert.ok(ya.some((v, i) => v !== yc[i]), 'seed 8 differs from seed 7');
    assert.ok(ya.some((v, i) => v !== yd[i]), 'the default seed 0 differs from seed 7');
    assert.ok(ya.every(Number.isFinite) && ya.some((v) => v !== 0));
  });

  it('--seq-len and --batch size the symbolic axes of a model built with dim_params seq and batch', async () => {
    const dflt = await runJson(symbolic);
    assert.deepStrictEqual([dflt.input.seqLen, dflt.input.batch], [32, 1], 'defaults: T = 32, B = 1');
    assert.deepStrictEqual(dflt.model.graphInputs, [{ name: 'X', elemType: 'float32', shape: ['seq', 'batch', 3] }]);
    const j = await runJson(symbolic, '--seq-len', '9', '--batch', '3', '--seed', '2');
    assert.deepStrictEqual([j.input.seqLen, j.input.batch], [9, 3]);
    const l = j.layers[0];
    assert.deepStrictEqual([l.node, l.op, l.hiddenSize, l.inputSize, l.seqLen, l.batch], ['sym_lstm', 'LSTM', 4, 3, 9, 3]);
    for (const g of ['input', 'forget', 'output', 'cell']) assert.deepStrictEqual(l.directions[0].gates![g].dims, [9, 3, 4]);
    assert.deepStrictEqual(l.directions[0].hidden!.dims, [9, 3, 4]);
    assert.deepStrictEqual(j.outputs.Y.dims, [9, 1, 3, 4]);
    assert.deepStrictEqual(j.outputs.Y_h.dims, [1, 3, 4]);
    // Y[last] is Y_h: the run really used the sizes it reports.
    assertClose(nums(j.outputs.Y).slice(8 * 12), nums(j.outputs.Y_h), 0, 0, 'Y[T-1] = Y_h');
    const k = await runJson(symbolic, '--seq-len=5', '--batch=2');
    assert.deepStrictEqual([k.layers[0].seqLen, k.layers[0].batch], [5, 2]);
  });

  it('a --seq-len that contradicts a static sequence length is an error naming the fixed value', async () => {
    const r = await cli('analyze', BASIC_MODEL, '--seq-len', '20', '--ep', 'cpu');
    assert.strictEqual(r.code, 1);
    assertOneErrorLine(r.stderr, '--seq-len 20', 'fixed at 7', 'dynamic axis');
    const b = await cli('analyze', BASIC_MODEL, '--batch', '5', '--ep', 'cpu');
    assert.strictEqual(b.code, 1);
    assertOneErrorLine(b.stderr, '--batch 5', 'fixed at 2');
    // Agreeing with the static value is fine.
    const ok = await cli('analyze', BASIC_MODEL, '--seq-len', '7', '--batch', '2', '--ep', 'cpu', '--quiet');
    assert.strictEqual(ok.code, 0, ok.stderr);
  });

  it('a --seq-len that contradicts the input file is a usage error naming the file\'s length', async () => {
    const r = await cli('analyze', FORGET_MODEL, '--input', FORGET_X, '--seq-len', '5', '--ep', 'cpu');
    assert.strictEqual(r.code, 2);
    assertOneErrorLine(r.stderr, '--seq-len 5', 'input files', '12');
  });
});

describe('cli: the bundled command (node bin/gradient-lens.js)', function () {
  this.timeout(120000);
  before(async () => { await ensureBundle(); });

  it('analyzes a fixture, writes JSON to stdout and exits 0', async () => {
    const r = await runBin(['analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', '--json', '-', '--detail', 'metrics']);
    assert.strictEqual(r.code, 0, r.stderr);
    assert.strictEqual(r.stderr, '');
    const j = JSON.parse(r.stdout) as JsonReport;
    assert.strictEqual(j.schema, 'gradient-lens/report@2');
    assert.deepStrictEqual(j.layers[0].directions[0].metrics.saturation.gates.forget.rightPerUnit, [1, 1, 1, 0, 0, 0]);
    const ref = loadArray(path.join(FORGET, 'output_h_n.npy'));
    assertClose(nums(j.outputs.h_n), ref.data, 1e-5, 0, 'h_n from the bundled CLI');
  });

  for (const flag of ['--json', '--html']) {
    it(`${flag} - into a reader that stops early (\`| head\`) ends quietly with 0`, async () => {
      const child = spawn(process.execPath, [BIN, 'analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu', flag, '-'], { cwd: REPO });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
      child.stdout.once('data', () => child.stdout.destroy()); // the reader goes away after its first bytes
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.strictEqual(stderr, '');
      assert.strictEqual(code, 0);
    });
  }

  it('prints the summary, and exits 2 / 1 with one error line on bad usage / a bad model', async () => {
    const ok = await runBin(['analyze', FORGET_MODEL, '--input', FORGET_X, '--ep', 'cpu']);
    assert.strictEqual(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /LSTM '\/lstm\/LSTM' forward/);
    assert.match(ok.stdout, /Forget gates: 50% right-saturated/);
    const usage = await runBin(['analyze', FORGET_MODEL, '--saturation', '2,3']);
    assert.strictEqual(usage.code, 2);
    assertOneErrorLine(usage.stderr, '--saturation');
    const bad = await runBin(['analyze', fixture('forward', '_bad', 'norecurrent.onnx')]);
    assert.strictEqual(bad.code, 1);
    assertOneErrorLine(bad.stderr, 'norecurrent.onnx', 'MatMul');
    const help = await runBin(['--help']);
    assert.strictEqual(help.code, 0);
    assert.match(help.stdout, /^usage: gradient-lens analyze/);
  });
});

describe('cli: the example models (examples/README.md)', function () {
  this.timeout(60000);
  const examples = path.join(REPO, 'examples');
  const readme = fs.readFileSync(path.join(examples, 'README.md'), 'utf8');
  // The README quotes PyTorch's predictions on adding-sample.npy: an oracle independent of onnxruntime.
  const m = /Predictions: RNN (-?\d+(?:\.\d+)?), GRU (-?\d+(?:\.\d+)?), LSTM (-?\d+(?:\.\d+)?)/.exec(readme);
  const predictions: Record<string, number> = m ? { RNN: Number(m[1]), GRU: Number(m[2]), LSTM: Number(m[3]) } : {};

  for (const op of ['RNN', 'GRU', 'LSTM']) {
    it(`adding-${op.toLowerCase()}.onnx with adding-sample.npy: the README's command works and predicts what PyTorch did`, async () => {
      assert.ok(m, 'examples/README.md quotes the predictions on adding-sample.npy');
      const r = await cli('analyze', path.join(examples, `adding-${op.toLowerCase()}.onnx`), '--input', `x=${path.join(examples, 'adding-sample.npy')}`,
        '--ep', 'cpu', '--json', '-', '--detail', 'metrics');
      assert.strictEqual(r.code, 0, r.stderr);
      const j = JSON.parse(r.stdout) as JsonReport;
      assert.deepStrictEqual(j.layers.map((l) => [l.op, l.node, l.hiddenSize, l.inputSize, l.seqLen, l.batch]), [[op, `/rnn/${op}`, 32, 2, 50, 1]]);
      assert.deepStrictEqual(j.outputs.y.dims, [1, 1]);
      assertClose(nums(j.outputs.y), [predictions[op]], 1e-4, 0, `adding-${op.toLowerCase()} prediction`);
    });
  }
});

