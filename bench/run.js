#!/usr/bin/env node
'use strict';
/**
 * `npm run bench`: the cost of a Gradient Lens analysis against one plain onnxruntime forward
 * pass of the same model, measured in the same run (STYLE.md: performance claims are ratios
 * against a baseline measured alongside; tests never assert wall-clock times).
 *
 * Needs dist/ (esbuild.js) and out/ (tsc -p .); `npm run bench` builds both first.
 *
 * What it measures, all on CPU (`--ep cpu`), inputs x ~ N(0, 1) from the CLI's own seeded stream:
 *   headline  1-layer LSTM, I = H = 256, B = 1, T ∈ {1000, 4000}: the CLI's analysis `total`
 *             (the `timings:` line), its compute alone (`run` + `metrics`: the forward and backward
 *             native runs and the metrics, without reading the model, building graphs and creating
 *             sessions) and the whole process's wall time, with the default Jacobian mode, probes:8
 *             and off, median of 3, against the median plain forward pass; plus the extra time and
 *             size of `--json FILE --detail full`.
 *   grid      LSTM / GRU / RNN × H ∈ {64, 256} × T ∈ {100, 1000, 10000}, probes:8, 1 run each.
 *   exact     --jacobian exact (B·H seeds) for LSTM H = 64 at T ∈ {100, 1000} and H = 256 at T = 1000.
 *   floor     per headline T: the first session of a fresh process (a fixed cost of every run) and
 *             the leanest backward step as a Scan (see floorChild), against the forward's step.
 *   streaming a streaming LSTM (H = 128, one step per call, state h/c fed back) over N ∈ {100, 1000}
 *             calls (`--calls N`, default Jacobian), against the same N calls run plainly in a loop.
 *   big       LSTM H = 1024, I = 256, T = 10 000, --jacobian off --json, and again with --tensors:
 *             peak RSS against the data the report keeps, and the write rates (skipped by --quick).
 *   warm      the editor's re-run with another seed on a warm engine (in one process).
 *   targets   every target of "fast by default and at real sizes", met or NOT met, from the above;
 *             the panel's first paint of the T = 10 000, H = 1024 report from scripts/render-panel.mjs
 *             (headless Chromium) when /usr/bin/chromium and playwright-core are installed.
 *   memory    peak RSS of every process, from /usr/bin/time when it is installed.
 *   torch     PyTorch nn.LSTM / GRU / RNN forward and forward+backward on the same sizes, when
 *             /usr/bin/python3 can import torch (Debian's python3-torch), 2 threads.
 *
 * Options:
 *   --quick              headline T = 1000 only, grid T ∈ {100, 1000}, exact at H = 64 only
 *   --ops LSTM,GRU       grid ops            --hidden 64,256   grid hidden sizes
 *   --seq 100,1000       grid and headline sequence lengths (headline keeps those of 1000, 4000)
 *   --reps N             repetitions for medians [3]
 *   --skip headline,grid,streaming,exact,floor,torch,json,big,warm,panel
 *   --timeout S          kill a single run after S seconds [300]
 * A run longer than 120 s is noted and the larger sequence lengths of that configuration are skipped.
 *
 * Internal: `node bench/run.js --floor-child T REPS` measures the floors (floorChild).
 * Internal: `node bench/run.js --forward-child MODEL T REPS` times the plain forward pass in a
 * fresh process (so its peak RSS can be measured like the CLI's) and prints JSON.
 */
// As the extension's worker does: no onnxruntime telemetry log (/tmp/mat-debug-<pid>.log) from the bench's own children.
if (process.env.ORT_DISABLE_TELEMETRY === undefined) process.env.ORT_DISABLE_TELEMETRY = '1';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');

const ROOT = path.resolve(__dirname, '..');
const SLOW_RUN_S = 120;

// ---------------------------------------------------------------------------------------------
// The baseline: one plain forward pass with onnxruntime's default session options (as a user's own script).

async function forwardChild(modelPath, seqLen, reps) {
  const ort = require('onnxruntime-node');
  const { SeededRandom } = require(path.join(ROOT, 'out/src/inputs/random.js'));
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(modelPath, {
    graphOptimizationLevel: 'all', executionProviders: ['cpu'], logSeverityLevel: 4,
  });
  const sessionMs = performance.now() - t0;
  const dims = inputDims(session, seqLen);
  const n = dims.reduce((a, b) => a * b, 1);
  // The CLI's generated input for seed 0: the same stream, so the same numbers.
  const x = new ort.Tensor('float32', SeededRandom.forInput(0, 'x').normal(n), dims);
  const runsMs = await timedRuns(session, { x }, reps);
  await session.release();
  process.stdout.write(`${JSON.stringify({ sessionMs, runsMs, medianMs: median(runsMs) })}\n`);
}

/** `reps` timed runs of `session` on `feeds` after a warm-up, in ms. */
async function timedRuns(session, feeds, reps) {
  await session.run(feeds); // warm-up
  const runsMs = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    await session.run(feeds);
    runsMs.push(performance.now() - t);
  }
  return runsMs;
}

/**
 * Floors of this design, measured in a fresh process (`--floor-child T REPS`), LSTM I = H = 256, B = 1:
 * - the first InferenceSession.create of a process (onnxruntime's environment and thread pools,
 *   then a one-node model), a fixed cost of every CLI run;
 * - one reverse Scan with the body bptt.ts emits for an LSTM with one adjoint row and no
 *   padding (Add, Mul, Add, Concat, Mul, MatMul with R [4H, H], Mul: 7 nodes), warm: the least
 *   the backward recurrence can cost per step as standard ONNX ops; and the same with the 17
 *   rows of probes:8 (the objective's, 8 hidden and 8 cell probes);
 * - the five time-parallel products every analysis needs besides the recurrence, warm: the gate
 *   pre-activations X·Wᵀ and h_{t−1}·Rᵀ (onnxruntime's LSTM computes them but does not return
 *   them), dW = daᵀ·X, dR = daᵀ·h_{t−1} and dX = da·W: [T, 4H]-sized GEMMs, compute-bound;
 * - the inputs x ~ N(0, 1) of T steps (SPEC §5's generator).
 * The sum of these per step, against the plain forward pass's, is the marginal cost this design
 * cannot go below (the metrics and everything else come on top).
 */
async function floorChild(seqLen, reps) {
  const ort = require('onnxruntime-node');
  const { GraphBuilder, makeModel } = require(path.join(ROOT, 'out/src/onnx/builder.js'));
  const { encodeModel } = require(path.join(ROOT, 'out/src/onnx/model.js'));
  const { SeededRandom } = require(path.join(ROOT, 'out/src/inputs/random.js'));
  const F = 1; // FLOAT
  const options = { graphOptimizationLevel: 'all', executionProviders: ['cpu'], logSeverityLevel: 4 };
  const tiny = new GraphBuilder('t_');
  tiny.opInto('Identity', [tiny.input('x', F, [1])], ['y']);
  tiny.output('y', F, [1]);
  let t0 = performance.now();
  await ort.InferenceSession.create(encodeModel(makeModel(tiny.graph('tiny'))), options);
  const firstSessionMs = performance.now() - t0;

  const H = 256;
  const I = 256;
  const T = seqLen;
  const rnd = SeededRandom.forInput(0, 'floor');
  const normal = (n, scale) => rnd.normal(n).map((v) => v * scale);
  const timed = async (graph, feeds) => {
    const session = await ort.InferenceSession.create(encodeModel(makeModel(graph)), options);
    const runsMs = await timedRuns(session, feeds, reps);
    await session.release();
    return median(runsMs);
  };
  const tensor = (dims, scale) => new ort.Tensor('float32', normal(dims.reduce((a, b) => a * b, 1), scale), dims);

  // The backward recurrence with N adjoint rows.
  const scanMs = async (N) => {
    const b = new GraphBuilder('o_');
    const body = new GraphBuilder('b_');
    const [cH, cC, G, A, D, f] = ['cH', 'cC', 'G', 'A', 'D', 'f'].map((n) => body.input(n, F, null));
    const dh = body.add(cH, G);
    const dc = body.add(cC, body.mul(dh, A));
    const da = body.mul(body.concat([dc, dh, dc, dc], 2), D);
    body.output(body.matmul(da, body.initializer('R', [4 * H, H], normal(4 * H * H, 0.05))));
    body.output(body.mul(dc, f));
    for (const o of [dh, dc, da]) body.output(o);
    const widths = { G: H, A: H, D: 4 * H, f: H };
    const outer = Object.entries(widths).map(([k, w]) => b.input(`X${k}`, F, [T, 1, 1, w]));
    const states = [b.input('h0', F, [N, 1, H]), b.input('c0', F, [N, 1, H])];
    b.node('Scan', [...states, ...outer], { body: body.graph('bptt'), num_scan_inputs: 4, scan_input_directions: [1, 1, 1, 1], scan_output_directions: [1, 1, 1] }, 5, 'scan')
      .forEach((o) => b.output(o));
    const feeds = { h0: tensor([N, 1, H], 1), c0: tensor([N, 1, H], 1) };
    for (const [k, w] of Object.entries(widths)) feeds[`X${k}`] = tensor([T, 1, 1, w], 0.5);
    return timed(b.graph('floor'), feeds);
  };
  const scan1Ms = await scanMs(1);
  const scan17Ms = await scanMs(17);

  // The five [T, 4H]-sized products.
  const g = new GraphBuilder('g_');
  const [x, h, da] = [g.input('x', F, [T, I]), g.input('h', F, [T, H]), g.input('da', F, [T, 4 * H])];
  const WT = g.initializer('WT', [I, 4 * H], normal(I * 4 * H, 0.05));
  const RT = g.initializer('RT', [H, 4 * H], normal(H * 4 * H, 0.05));
  const W = g.initializer('W', [4 * H, I], normal(I * 4 * H, 0.05));
  const daT = g.op('Transpose', [da], { perm: [1, 0] });
  [g.matmul(x, WT), g.matmul(h, RT), g.matmul(daT, x), g.matmul(daT, h), g.matmul(da, W)].forEach((o) => g.output(o));
  const gemmMs = await timed(g.graph('gemms'), { x: tensor([T, I], 1), h: tensor([T, H], 0.5), da: tensor([T, 4 * H], 0.1) });

  const inputs = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    SeededRandom.forInput(i, 'x').normal(T * I);
    inputs.push(performance.now() - t);
  }
  process.stdout.write(`${JSON.stringify({ firstSessionMs, scanMs: scan1Ms, usPerStep: (1000 * scan1Ms) / T, scan17Ms, gemmMs, inputsMs: median(inputs) })}\n`);
}

/**
 * The plain way to run a streaming model (`--stream-child MODEL N REPS`): N session.run calls in
 * a loop, each call's state outputs fed back as the next call's state inputs. Prints JSON.
 */
async function streamChild(modelPath, calls, reps) {
  const ort = require('onnxruntime-node');
  const { SeededRandom } = require(path.join(ROOT, 'out/src/inputs/random.js'));
  const session = await ort.InferenceSession.create(modelPath, { graphOptimizationLevel: 'all', executionProviders: ['cpu'], logSeverityLevel: 4 });
  const xMeta = session.inputMetadata.find((m) => m.name === 'x');
  const dims = xMeta.shape.map((d) => (typeof d === 'number' ? d : 1));
  const n = dims.reduce((a, b) => a * b, 1);
  const xs = SeededRandom.forInput(0, 'x').normal(n * calls);
  const stateNames = session.inputNames.filter((k) => k !== 'x');
  const H = session.inputMetadata.find((m) => m.name === stateNames[0]).shape[2];
  const once = async () => {
    let state = Object.fromEntries(stateNames.map((k) => [k, new ort.Tensor('float32', new Float32Array(H), [1, 1, H])]));
    const t = performance.now();
    for (let i = 0; i < calls; i++) {
      const out = await session.run({ x: new ort.Tensor('float32', xs.subarray(i * n, (i + 1) * n), dims), ...state });
      state = Object.fromEntries(stateNames.map((k) => [k, out[`${k}n`]]));
    }
    return performance.now() - t;
  };
  await once(); // warm-up
  const runsMs = [];
  for (let i = 0; i < reps; i++) runsMs.push(await once());
  process.stdout.write(`${JSON.stringify({ runsMs, medianMs: median(runsMs) })}\n`);
}

/**
 * `--cancel-child MODEL CALLS`: start a streaming analysis of CALLS calls in the worker, cancel it
 * once its calls are running, and print how long the worker took to end after the cancel.
 */
async function cancelChild(modelPath, calls) {
  const { analyzeModel } = require(path.join(ROOT, 'out/src/analysis/analyze.js'));
  const controller = new AbortController();
  let worker;
  let phase = '';
  const run = analyzeModel({
    modelPath, files: {}, seed: 0, dims: {}, ep: 'cpu', saturation: { low: 0.1, high: 0.9 }, calls,
    signal: controller.signal, onStart: (w) => { worker = w; }, onProgress: (m) => { phase = m; },
  });
  run.catch(() => undefined);
  while (!/^(Running the model \(|Backpropagating \()/.test(phase)) await new Promise((r) => setTimeout(r, 2));
  const t0 = performance.now();
  controller.abort();
  await run.catch(() => undefined);
  const rejectMs = performance.now() - t0;
  await worker.exited;
  process.stdout.write(`${JSON.stringify({ phase, rejectMs, exitMs: performance.now() - t0 })}\n`);
}

/**
 * The editor's re-run with another seed (`--warm-child MODEL T`): two warm analyses in one
 * process, seeds 0 then 1 (default Jacobian mode); the second's wall time against its own
 * run + metrics, and the sessions it created, graphs it built and graphs it encoded. Prints JSON.
 */
async function warmChild(modelPath, seqLen) {
  const { analyzeModel, endWarmWorker } = require(path.join(ROOT, 'out/src/analysis/analyze.js'));
  const counts = [];
  const once = async (seed) => {
    const t0 = performance.now();
    const report = await analyzeModel({
      modelPath, files: {}, seed, seqLen, dims: {}, ep: 'cpu', saturation: { low: 0.1, high: 0.9 }, warm: true, onCounts: (c) => counts.push(c),
    });
    const t = report.runtime.timingsMs;
    return { wallMs: performance.now() - t0, runMs: t.run, metricsMs: t.metrics, totalMs: t.total, loadMs: t.load, buildMs: t.build };
  };
  const cold = await once(0);
  const warm = await once(1);
  await endWarmWorker();
  const made = (what) => [counts[0][what], counts[1][what] - counts[0][what]];
  const [sessionsCold, sessionsWarm] = made('sessionsCreated');
  const [graphsCold, graphsWarm] = made('graphsBuilt');
  const [encodedCold, encodedWarm] = made('modelsEncoded');
  process.stdout.write(`${JSON.stringify({ cold, warm, sessionsCold, sessionsWarm, graphsCold, graphsWarm, encodedCold, encodedWarm })}\n`);
}

function inputDims(session, seqLen) {
  const meta = session.inputMetadata && session.inputMetadata[0];
  const shape = meta && meta.shape;
  if (!shape) throw new Error('cannot read the input shape of the benchmark model');
  // [seq, batch, I]: symbolic seq → T, symbolic batch → 1.
  return shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? seqLen : 1));
}

// ---------------------------------------------------------------------------------------------

function parseOptions(argv) {
  const o = { quick: false, reps: 3, skip: new Set(), timeoutS: 300, ops: null, hidden: null, seq: null };
  for (let i = 0; i < argv.length; i++) {
    const raw = argv[i];
    const eq = raw.indexOf('=');
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = () => (eq > 0 ? raw.slice(eq + 1) : argv[++i]);
    const list = () => String(value()).split(',').map((s) => s.trim()).filter(Boolean);
    const nums = (f) => list().map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${f} expects positive integers, got '${s}'`);
      return n;
    });
    switch (flag) {
      case '--quick': o.quick = true; break;
      case '--reps': o.reps = nums(flag)[0]; break;
      case '--timeout': o.timeoutS = nums(flag)[0]; break;
      case '--skip': list().forEach((s) => o.skip.add(s)); break;
      case '--ops': o.ops = list().map((s) => s.toUpperCase()); break;
      case '--hidden': o.hidden = nums(flag); break;
      case '--seq': case '--sizes': o.seq = nums(flag); break;
      case '-h': case '--help':
        process.stdout.write(fs.readFileSync(__filename, 'utf8').split('*/')[0].replace(/^[\s\S]*?\/\*\*/, '').replace(/^ \* ?/gm, ''));
        process.exit(0);
        break;
      default: throw new Error(`unknown option '${raw}' (see node bench/run.js --help)`);
    }
  }
  return o;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function haveGnuTime() {
  try {
    return spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0;
  } catch {
    return false;
  }
}

/**
 * Spawns `cmd args` (under /usr/bin/time for the peak RSS when available), in its own process
 * group so that a timeout kills the whole tree. Resolves with stdout, stderr, wall ms, peak RSS MB.
 */
function runProcess(cmd, args, { timeoutS, gnuTime, env }) {
  return new Promise((resolve) => {
    const rssFile = gnuTime ? path.join(os.tmpdir(), `gl-bench-rss-${process.pid}-${Math.random().toString(36).slice(2)}`) : null;
    const [c, a] = gnuTime ? ['/usr/bin/time', ['-o', rssFile, '-f', '%M', cmd, ...args]] : [cmd, args];
    const t0 = performance.now();
    const child = spawn(c, a, { cwd: ROOT, detached: true, env: env || process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => {
      timedOut = true;
      try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
    }, timeoutS * 1000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      let peakRssMb = null;
      if (rssFile) {
        try {
          const kb = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop());
          if (Number.isFinite(kb)) peakRssMb = kb / 1024;
          fs.unlinkSync(rssFile);
        } catch { /* killed before time wrote it */ }
      }
      resolve({ code, stdout, stderr, wallMs, peakRssMb, timedOut });
    });
  });
}

const TIMINGS_RE = /timings: load (\d+) ms, build (\d+) ms, run (\d+) ms, metrics (\d+) ms, total (\d+) ms/;

class Bench {
  constructor(opts) {
    this.opts = opts;
    this.gnuTime = haveGnuTime();
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gl-bench-'));
    this.models = new Map();
    this.forwardCache = new Map();
    this.notes = [];
  }

  note(msg) {
    this.notes.push(msg);
    log(`  note: ${msg}`);
  }

  model(op, hidden, input = hidden) {
    const key = `${op}-H${hidden}-I${input}`;
    if (!this.models.has(key)) {
      const { syntheticRecurrentModelBytes } = require(path.join(ROOT, 'out/test/unit/synthetic.js'));
      const file = path.join(this.dir, `${key.toLowerCase()}.onnx`);
      fs.writeFileSync(file, syntheticRecurrentModelBytes({ op, hidden, input, direction: 'forward' }));
      this.models.set(key, file);
    }
    return this.models.get(key);
  }

  /** Median plain forward pass (ms) of `model` at T, in a fresh process; cached per (model, T). */
  async forward(model, seqLen, reps) {
    const key = `${model}@${seqLen}`;
    if (this.forwardCache.has(key)) return this.forwardCache.get(key);
    const r = await runProcess(process.execPath, [__filename, '--forward-child', model, String(seqLen), String(reps)],
      { timeoutS: this.opts.timeoutS, gnuTime: this.gnuTime });
    if (r.code !== 0) throw new Error(`plain forward pass failed (${model}, T=${seqLen}): ${r.stderr.trim() || `exit ${r.code}`}`);
    const parsed = JSON.parse(r.stdout.trim().split('\n').pop());
    const result = { ...parsed, processWallMs: r.wallMs, peakRssMb: r.peakRssMb };
    this.forwardCache.set(key, result);
    return result;
  }

  /** One `gradient-lens analyze` process; parses the `timings:` line. */
  async cli(model, seqLen, jacobian, extra = [], env = undefined) {
    // 'default': no --jacobian flag, what the panel and a plain CLI call do (SPEC v2 §9.3).
    const jac = jacobian === 'default' ? [] : ['--jacobian', jacobian];
    const args = [path.join(ROOT, 'bin/gradient-lens.js'), 'analyze', model, '--seq-len', String(seqLen), '--ep', 'cpu', ...jac, ...extra];
    const r = await runProcess(process.execPath, args, { timeoutS: this.opts.timeoutS, gnuTime: this.gnuTime, env });
    if (r.timedOut) return { ok: false, timedOut: true, wallMs: r.wallMs, error: `killed after ${this.opts.timeoutS} s` };
    if (r.code !== 0) return { ok: false, wallMs: r.wallMs, error: (r.stderr.trim().split('\n')[0] || `exit ${r.code}`).slice(0, 300) };
    const m = TIMINGS_RE.exec(r.stdout);
    if (!m) return { ok: false, wallMs: r.wallMs, error: 'no timings: line in the summary' };
    const [load, build, run, metrics, total] = m.slice(1).map(Number);
    // The Jacobian mode the run used, from its summary ("… (estimated from 8 probes, ±25%)").
    const probes = /estimated from (\d+) probes/.exec(r.stdout);
    const method = probes ? `probes:${probes[1]}` : /ρ = /.test(r.stdout) ? 'exact' : 'off';
    return { ok: true, wallMs: r.wallMs, peakRssMb: r.peakRssMb, timings: { load, build, run, metrics, total }, method, stderr: r.stderr };
  }

  /** `reps` CLI runs; medians of wall and of each timing. */
  async cliMedian(model, seqLen, jacobian, reps, extra = []) {
    const runs = [];
    for (let i = 0; i < reps; i++) {
      const r = await this.cli(model, seqLen, jacobian, extra);
      if (!r.ok) return { ...r, runs };
      runs.push(r);
      if (r.wallMs > SLOW_RUN_S * 1000) break; // one slow run is enough of a number
    }
    const pick = (f) => median(runs.map(f));
    return {
      ok: true,
      reps: runs.length,
      wallMs: pick((r) => r.wallMs),
      peakRssMb: runs.some((r) => r.peakRssMb != null) ? Math.max(...runs.map((r) => r.peakRssMb || 0)) : null,
      timings: Object.fromEntries(['load', 'build', 'run', 'metrics', 'total'].map((k) => [k, pick((r) => r.timings[k])])),
      method: runs[0] && runs[0].method,
      runs: runs.map((r) => ({ wallMs: r.wallMs, total: r.timings.total })),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Formatting.

function log(s = '') { process.stdout.write(`${s}\n`); }
const ms = (x) => (x == null ? '—' : x >= 10000 ? `${(x / 1000).toFixed(1)} s` : x >= 100 ? `${Math.round(x)} ms` : x >= 10 ? `${x.toFixed(1)} ms` : `${x.toFixed(2)} ms`);
const ratio = (a, b) => (a == null || b == null || b <= 0 ? '—' : `${(a / b).toFixed(1)}×`);
const mb = (x) => (x == null ? '—' : `${Math.round(x)} MB`);

function table(headers, rows) {
  const cells = [headers, ...rows].map((r) => r.map((c) => String(c)));
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => [...(r[i] || '')].length)));
  const line = (r) => r.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  log(line(cells[0]));
  log(widths.map((w) => '-'.repeat(w)).join('  '));
  cells.slice(1).forEach((r) => log(line(r)));
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const opts = parseOptions(process.argv.slice(2));
  for (const f of ['dist/cli.js', 'dist/worker.js', 'out/test/unit/synthetic.js', 'out/src/inputs/random.js']) {
    if (!fs.existsSync(path.join(ROOT, f))) throw new Error(`${f} is missing; run 'npm run bench' (it builds dist/ and out/ first).`);
  }
  const bench = new Bench(opts);
  const started = performance.now();
  const ortVersion = require(path.join(ROOT, 'node_modules/onnxruntime-node/package.json')).version;
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    onnxruntime: ortVersion,
    cpu: (os.cpus()[0] || {}).model,
    cpus: os.cpus().length,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    quick: opts.quick,
    reps: opts.reps,
    peakMemory: bench.gnuTime ? '/usr/bin/time %M (max RSS)' : 'not measured (/usr/bin/time missing: apt-get install time)',
  };
  log(`Gradient Lens benchmark — node ${meta.node}, onnxruntime-node ${ortVersion}, ${meta.cpus}× ${meta.cpu}, CPU EP${opts.quick ? ', --quick' : ''}`);
  log('baseline: one plain onnxruntime forward pass of the same model (graphOptimizationLevel all, CPU EP, default threads),');
  log(`median of ${Math.max(5, opts.reps)} after a warm-up; analysis = the CLI's 'timings: … total'; wall = the whole CLI process.`);
  if (!bench.gnuTime) bench.note('/usr/bin/time is missing, so peak memory is not measured (apt-get install time).');

  const results = { meta, headline: [], grid: [], exact: [], floor: null, torch: null, verdicts: [], notes: bench.notes };
  const fwdReps = Math.max(5, opts.reps);
  const seqFilter = (ts) => (opts.seq ? ts.filter((t) => opts.seq.includes(t)) : ts);

  // ---- headline ------------------------------------------------------------------------------
  if (!opts.skip.has('headline')) {
    log('\n== Headline: LSTM I = H = 256, B = 1 (median of ' + opts.reps + ') ==');
    const model = bench.model('LSTM', 256);
    const rows = [];
    for (const T of seqFilter(opts.quick ? [1000] : [1000, 4000])) {
      const fwd = await bench.forward(model, T, fwdReps);
      const entry = { op: 'LSTM', hidden: 256, input: 256, batch: 1, seq: T, forward: fwd, runs: {} };
      for (const jac of ['default', 'probes:8', 'off']) {
        const r = await bench.cliMedian(model, T, jac, opts.reps);
        entry.runs[jac] = r;
        if (!r.ok) bench.note(`LSTM H=256 T=${T} --jacobian ${jac} failed: ${r.error}`);
        const t = r.timings || {};
        rows.push([`T=${T}`, jac, jac === 'default' ? `(${r.method || '?'})` : '', ms(fwd.medianMs), ms(t.load), ms(t.build), ms(t.run), ms(t.metrics), ms(t.total), ms(r.wallMs),
          ratio(t.total, fwd.medianMs), ratio(t.run + t.metrics, fwd.medianMs), ratio(r.wallMs, fwd.medianMs), mb(r.peakRssMb), mb(fwd.peakRssMb)]);
      }
      if (!opts.skip.has('json') && entry.runs['probes:8'].ok) {
        const jsonFile = path.join(bench.dir, `report-T${T}.json`);
        const r = await bench.cliMedian(model, T, 'probes:8', opts.reps, ['--json', jsonFile, '--detail', 'full']);
        const base = entry.runs['probes:8'];
        if (r.ok) {
          const bytes = fs.statSync(jsonFile).size;
          fs.unlinkSync(jsonFile);
          // The JSON is written after the analysis, outside `total`: its cost is the extra process time.
          const extraMs = (r.wallMs - r.timings.total) - (base.wallMs - base.timings.total);
          entry.json = { ...r, bytes, extraMs, mbPerS: extraMs > 0 ? bytes / 2 ** 20 / (extraMs / 1000) : null, shareOfAnalysis: extraMs / base.timings.total };
        } else {
          entry.json = r;
          bench.note(`--json at T=${T} failed: ${r.error}`);
        }
      }
      results.headline.push(entry);
    }
    table(['size', 'jacobian', '', 'forward', 'load', 'build', 'run', 'metrics', 'total', 'wall', 'total/fwd', 'compute/fwd', 'wall/fwd', 'peak RSS', 'fwd RSS'], rows);
    const jsonRows = results.headline.filter((e) => e.json && e.json.ok).map((e) => {
      const j = e.json;
      return [`T=${e.seq}`, 'probes:8', '--detail full', `${(j.bytes / 2 ** 20).toFixed(1)} MB`, ms(j.extraMs),
        j.mbPerS == null ? '< noise' : `${j.mbPerS.toFixed(0)} MB/s`, ratio(j.extraMs, e.runs['probes:8'].timings.total), ms(j.wallMs), mb(j.peakRssMb)];
    });
    if (jsonRows.length) {
      log('\n-- JSON report (--json FILE --detail full) vs summary only --');
      table(['size', 'jacobian', 'detail', 'file', 'extra time', 'write rate', 'extra/total', 'wall', 'peak RSS'], jsonRows);
    }
  }

  // ---- grid ----------------------------------------------------------------------------------
  const gridOps = opts.ops || ['LSTM', 'GRU', 'RNN'];
  const gridH = opts.hidden || [64, 256];
  const gridT = seqFilter(opts.quick ? [100, 1000] : [100, 1000, 10000]);
  if (!opts.skip.has('grid')) {
    log('\n== Grid: --jacobian probes:8, B = 1, I = H, 1 run each ==');
    const rows = [];
    for (const op of gridOps) {
      for (const H of gridH) {
        const model = bench.model(op, H);
        let skipRest = false;
        for (const T of gridT) {
          if (skipRest) { bench.note(`${op} H=${H} T=${T} skipped: a smaller T took over ${SLOW_RUN_S} s`); continue; }
          const fwd = await bench.forward(model, T, fwdReps);
          const r = await bench.cli(model, T, 'probes:8');
          if (!r.ok) bench.note(`${op} H=${H} T=${T} failed: ${r.error}`);
          if (r.wallMs > SLOW_RUN_S * 1000) { skipRest = true; bench.note(`${op} H=${H} T=${T} took ${ms(r.wallMs)} (> ${SLOW_RUN_S} s)`); }
          results.grid.push({ op, hidden: H, input: H, batch: 1, seq: T, jacobian: 'probes:8', forward: fwd, ...r });
          const t = r.timings || {};
          rows.push([op, `H=${H}`, `T=${T}`, ms(fwd.medianMs), ms(t.build), ms(t.run), ms(t.metrics), ms(t.total), ms(r.wallMs),
            ratio(t.total, fwd.medianMs), ratio(t.run + t.metrics, fwd.medianMs), ratio(r.wallMs, fwd.medianMs), mb(r.peakRssMb), mb(fwd.peakRssMb)]);
        }
      }
    }
    table(['op', 'hidden', 'seq', 'forward', 'build', 'run', 'metrics', 'total', 'wall', 'total/fwd', 'compute/fwd', 'wall/fwd', 'peak RSS', 'fwd RSS'], rows);
  }

  // ---- streaming ----------------------------------------------------------------------------
  if (!opts.skip.has('streaming')) {
    log('\n== Streaming: LSTM H = 128, I = 64, 1 step per call, state h/c fed back (median of ' + opts.reps + ') ==');
    log('baseline: the N calls run plainly, one session.run per call in a loop, the state fed back.');
    const { syntheticRecurrentModelBytes } = require(path.join(ROOT, 'out/test/unit/synthetic.js'));
    const model = path.join(bench.dir, 'stream-lstm-h128.onnx');
    fs.writeFileSync(model, syntheticRecurrentModelBytes({ op: 'LSTM', hidden: 128, input: 64, streaming: { steps: 1 } }));
    const rows = [];
    results.streaming = [];
    for (const N of opts.quick ? [1000] : [100, 1000]) {
      const base = await runProcess(process.execPath, [__filename, '--stream-child', model, String(N), String(opts.reps)], { timeoutS: opts.timeoutS, gnuTime: false });
      if (base.code !== 0) { bench.note(`plain streaming run failed (N=${N}): ${base.stderr.trim().split('\n').pop()}`); continue; }
      const plain = JSON.parse(base.stdout.trim().split('\n').pop());
      const r = await bench.cliMedian(model, 1, 'auto', opts.reps, ['--calls', String(N)]);
      if (!r.ok) bench.note(`streaming N=${N} failed: ${r.error}`);
      const t = r.timings || {};
      results.streaming.push({ calls: N, plainMs: plain.medianMs, ...r });
      rows.push([`N=${N}`, 'auto', '', ms(plain.medianMs), ms(t.build), ms(t.run), ms(t.metrics), ms(t.total), ms(r.wallMs),
        ratio(t.total, plain.medianMs), ratio(t.run + t.metrics, plain.medianMs), mb(r.peakRssMb)]);
    }
    table(['calls', 'jacobian', '', 'N plain calls', 'build', 'run', 'metrics', 'total', 'wall', 'total/plain', 'compute/plain', 'peak RSS'], rows);
    // Cancelling a 20 000-call analysis: the worker ends after the chunk of calls in progress.
    const c = await runProcess(process.execPath, [__filename, '--cancel-child', model, '20000'], { timeoutS: opts.timeoutS, gnuTime: false });
    if (c.code === 0) {
      const r = JSON.parse(c.stdout.trim().split('\n').pop());
      results.streamingCancel = r;
      log(`cancel of a 20 000-call analysis (during "${r.phase.replace(/ \(.*/, '')}"): promise rejected after ${ms(r.rejectMs)}, worker ended after ${ms(r.exitMs)} — target < 1 s: ${r.exitMs < 1000 ? 'met' : 'NOT met'}`);
    } else bench.note(`cancel measurement failed: ${c.stderr.trim().split('\n').pop()}`);
  }

  // ---- exact Jacobian -----------------------------------------------------------------------
  if (!opts.skip.has('exact')) {
    log('\n== Exact Jacobian (--jacobian exact: B·H seeds) vs probes:8, LSTM, 1 run each ==');
    const sizes = [[64, 100], [64, 1000], [256, 1000]].filter(([H, T]) => !(opts.quick && H === 256)
      && (!opts.hidden || opts.hidden.includes(H)) && (!opts.seq || opts.seq.includes(T)));
    const rows = [];
    const slowH = new Set();
    for (const [H, T] of sizes) {
      if (slowH.has(H)) { bench.note(`exact LSTM H=${H} T=${T} skipped: a smaller T took over ${SLOW_RUN_S} s`); continue; }
      const model = bench.model('LSTM', H);
      const fwd = await bench.forward(model, T, fwdReps);
      const r = await bench.cli(model, T, 'exact');
      if (!r.ok) bench.note(`exact LSTM H=${H} T=${T} failed: ${r.error}`);
      if (r.wallMs > SLOW_RUN_S * 1000) { slowH.add(H); bench.note(`exact LSTM H=${H} T=${T} took ${ms(r.wallMs)} (> ${SLOW_RUN_S} s)`); }
      const probes = results.grid.find((g) => g.op === 'LSTM' && g.hidden === H && g.seq === T && g.ok)
        || (await bench.cli(model, T, 'probes:8'));
      results.exact.push({ op: 'LSTM', hidden: H, input: H, batch: 1, seq: T, jacobian: 'exact', forward: fwd, ...r, probes8Total: probes.ok ? probes.timings.total : null });
      const t = r.timings || {};
      rows.push(['LSTM', `H=${H}`, `T=${T}`, ms(fwd.medianMs), ms(t.build), ms(t.run), ms(t.metrics), ms(t.total), ms(r.wallMs),
        ratio(t.total, fwd.medianMs), probes.ok ? ratio(t.total, probes.timings.total) : '—', mb(r.peakRssMb)]);
    }
    table(['op', 'hidden', 'seq', 'forward', 'build', 'run', 'metrics', 'total', 'wall', 'total/fwd', 'exact/probes:8', 'peak RSS'], rows);
  }

  // ---- big: H = 1024, T = 10 000 ------------------------------------------------------------
  if (!opts.skip.has('big') && !opts.quick) {
    const H = 1024, I = 256, T = 10000;
    log(`\n== Big: LSTM H = ${H}, I = ${I}, T = ${T}, --jacobian off --json FILE (1 run) ==`);
    const model = bench.model('LSTM', H, I);
    const fwd = await bench.forward(model, T, 3);
    const jsonFile = path.join(bench.dir, 'big.json');
    // GL_PROFILE makes the CLI say how long the JSON took to write ("JSON written in N ms").
    const r = await bench.cli(model, T, 'off', ['--json', jsonFile], { ...process.env, GL_PROFILE: '1' });
    if (!r.ok) bench.note(`big case failed: ${r.error}`);
    else {
      const bytes = fs.statSync(jsonFile).size;
      fs.unlinkSync(jsonFile);
      const jsonMs = Number((/JSON written in (\d+) ms/.exec(r.stderr) || [])[1]);
      // What the report keeps (float32): 4 gates, h, c, dL/dh, dL/dc and the output Y per step and
      // unit; the input and its gradient per step; the weight gradients W, R, B.
      const keptMb = (4 * (T * H * 9 + 2 * T * I + 4 * H * I + 4 * H * H + 8 * H)) / 2 ** 20;
      results.big = { hidden: H, input: I, seq: T, forward: fwd, ...r, stderr: undefined, jsonBytes: bytes, jsonMs, keptMb,
        jsonMbPerS: Number.isFinite(jsonMs) && jsonMs > 0 ? bytes / 2 ** 20 / (jsonMs / 1000) : null,
        rssOverKept: r.peakRssMb == null ? null : r.peakRssMb / keptMb };
      // The same report with its tensors in a binary file (--tensors): the JSON keeps the rest.
      const binFile = path.join(bench.dir, 'big.bin');
      const t = await bench.cli(model, T, 'off', ['--json', jsonFile, '--tensors', binFile], { ...process.env, GL_PROFILE: '1' });
      if (t.ok) {
        const tBytes = fs.statSync(jsonFile).size + fs.statSync(binFile).size;
        const tMs = Number((/JSON written in (\d+) ms/.exec(t.stderr) || [])[1]);
        results.big.tensors = { bytes: tBytes, ms: tMs, peakRssMb: t.peakRssMb, mbPerS: Number.isFinite(tMs) && tMs > 0 ? tBytes / 2 ** 20 / (tMs / 1000) : null };
      } else bench.note(`big case with --tensors failed: ${t.error}`);
      for (const f of [jsonFile, binFile]) fs.rmSync(f, { force: true });
      const tt = results.big.tensors;
      const rate = (x) => (x == null ? '—' : `${x.toFixed(0)} MB/s`);
      table(['written as', 'forward', 'total', 'total/fwd', 'peak RSS', 'kept data', 'RSS/kept', 'files', 'write time', 'write rate'],
        [['--json', ms(fwd.medianMs), ms(r.timings.total), ratio(r.timings.total, fwd.medianMs), mb(r.peakRssMb), mb(keptMb),
          ratio(r.peakRssMb, keptMb), mb(bytes / 2 ** 20), ms(Number.isFinite(jsonMs) ? jsonMs : null), rate(results.big.jsonMbPerS)],
        ...(tt ? [['--json --tensors', ms(fwd.medianMs), ms(t.timings.total), ratio(t.timings.total, fwd.medianMs), mb(tt.peakRssMb), mb(keptMb),
          ratio(tt.peakRssMb, keptMb), mb(tt.bytes / 2 ** 20), ms(Number.isFinite(tt.ms) ? tt.ms : null), rate(tt.mbPerS)]] : [])]);
    }
  }

  // ---- warm re-run ----------------------------------------------------------------------------
  if (!opts.skip.has('warm')) {
    log('\n== Warm engine: the editor\'s re-run with another seed, LSTM H = 256, T = 1000, default Jacobian (one process) ==');
    const c = await runProcess(process.execPath, [__filename, '--warm-child', bench.model('LSTM', 256), '1000'], { timeoutS: opts.timeoutS, gnuTime: false });
    if (c.code !== 0) bench.note(`warm re-run measurement failed: ${c.stderr.trim().split('\n').pop()}`);
    else {
      const w = JSON.parse(c.stdout.trim().split('\n').pop());
      results.warm = w;
      table(['run', 'wall', 'run', 'metrics', 'build', 'wall/(run+metrics)', 'sessions created', 'graphs built', 'graphs encoded'],
        [['first (cold)', ms(w.cold.wallMs), ms(w.cold.runMs), ms(w.cold.metricsMs), ms(w.cold.buildMs), ratio(w.cold.wallMs, w.cold.runMs + w.cold.metricsMs),
          String(w.sessionsCold), String(w.graphsCold), String(w.encodedCold)],
        ['re-run, seed 1', ms(w.warm.wallMs), ms(w.warm.runMs), ms(w.warm.metricsMs), ms(w.warm.buildMs), ratio(w.warm.wallMs, w.warm.runMs + w.warm.metricsMs),
          String(w.sessionsWarm), String(w.graphsWarm), String(w.encodedWarm)]]);
    }
  }

  // ---- floors -------------------------------------------------------------------------------
  if (!opts.skip.has('floor') && results.headline.length) {
    log('\n== Floors of the design (fresh process, warm): first session; the leanest backward Scan (1 row, 17 rows); the five [T, 4H] GEMMs; generating x ==');
    const rows = [];
    results.floor = [];
    for (const e of results.headline) {
      const r = await runProcess(process.execPath, [__filename, '--floor-child', String(e.seq), String(fwdReps)], { timeoutS: opts.timeoutS });
      if (r.code !== 0) { bench.note(`floor child at T=${e.seq} failed: ${r.stderr.trim()}`); continue; }
      const f = JSON.parse(r.stdout.trim().split('\n').pop());
      const fwdStep = (1000 * e.forward.medianMs) / e.seq;
      results.floor.push({ seq: e.seq, ...f, forwardMs: e.forward.medianMs, forwardUsPerStep: fwdStep });
      rows.push([`T=${e.seq}`, ms(e.forward.medianMs), `${fwdStep.toFixed(1)} µs`, `${f.usPerStep.toFixed(1)} µs`, ratio(f.usPerStep, fwdStep),
        ms(f.scan17Ms), ms(f.gemmMs), ms(f.inputsMs), ms(f.firstSessionMs)]);
    }
    table(['size', 'forward', 'fwd step', 'bptt step', 'bptt/fwd', '17-row Scan', '5 GEMMs', 'inputs', 'first session'], rows);
  }

  // ---- PyTorch ------------------------------------------------------------------------------
  if (!opts.skip.has('torch')) {
    results.torch = await torchReference(bench, results, opts);
  }

  // ---- verdicts -----------------------------------------------------------------------------
  log('');
  for (const e of results.headline) {
    const r = e.runs['probes:8'];
    if (!r || !r.ok) continue;
    const x = r.timings.total / e.forward.medianMs;
    const compute = (t) => (t.run + t.metrics) / e.forward.medianMs;
    const v = `LSTM H=256 T=${e.seq}: analysis/forward = ${x.toFixed(1)}× (target ≤ 4×): ${x <= 4 ? 'met' : 'not met'}`
      + ` (process wall/forward ${(r.wallMs / e.forward.medianMs).toFixed(1)}×; with --jacobian off ${e.runs.off.ok ? (e.runs.off.timings.total / e.forward.medianMs).toFixed(1) + '×' : '—'};`
      + ` compute alone, run + metrics: ${compute(r.timings).toFixed(1)}×, off ${e.runs.off.ok ? compute(e.runs.off.timings).toFixed(1) + '×' : '—'})`;
    results.verdicts.push(v);
    log(v);
  }
  for (const e of results.headline) {
    if (!e.json || !e.json.ok) continue;
    const share = e.json.shareOfAnalysis;
    const v = `LSTM H=256 T=${e.seq}: --json full adds ${ms(e.json.extraMs)} = ${(share * 100).toFixed(0)}% of the analysis: ${share < 1 ? 'does not dominate' : 'DOMINATES'}`;
    results.verdicts.push(v);
    log(v);
  }

  // ---- the targets of "fast by default and at real sizes" -----------------------------------
  results.targets = await targets(bench, results, opts);

  results.meta.benchSeconds = (performance.now() - started) / 1000;
  const outDir = path.join(__dirname, 'out');
  fs.mkdirSync(outDir, { recursive: true });
  const outFile = path.join(outDir, 'results.json');
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  fs.rmSync(bench.dir, { recursive: true, force: true });
  log(`\nbenchmark took ${results.meta.benchSeconds.toFixed(0)} s; results written to ${path.relative(process.cwd(), outFile)}`);
}

/**
 * Each target, met or not, from this run's numbers. Marginal ratios: (T = 4000 − T = 1000) of the
 * whole CLI process against the same difference of the plain forward pass (what each extra 3000
 * steps cost, start-up costs cancelled).
 */
async function targets(bench, results, opts) {
  log('\n== Targets (fast by default and at real sizes) ==');
  const out = [];
  const say = (name, value, ok, detail = '') => {
    const line = `${ok === null ? 'not measured' : ok ? 'met    ' : 'NOT met'}  ${name}: ${value}${detail ? ` — ${detail}` : ''}`;
    out.push({ name, value, met: ok, detail });
    log(line);
  };
  const at = (T) => results.headline.find((e) => e.seq === T);
  const h1 = at(1000);
  const h4 = at(4000);
  // 1. The default mode: exact while B·H ≤ 64, else probes:8.
  if (h1 && h1.runs.default.ok) {
    const small = await bench.cli(bench.model('LSTM', 64), 100, 'default');
    const ok = h1.runs.default.method === 'probes:8' && small.ok && small.method === 'exact';
    say('default Jacobian mode (SPEC v2 §9.3)', `B·H = 256 → ${h1.runs.default.method}, B·H = 64 → ${small.ok ? small.method : small.error}`, ok, 'target: probes:8 above 64, exact at or below');
    say('default analysis, LSTM I = H = 256, T = 1000, whole CLI process', ms(h1.runs.default.wallMs), h1.runs.default.wallMs <= 1500, 'target ≤ 1.5 s');
  } else say('default mode and T = 1000 wall', '—', null, 'headline skipped or failed');
  const marginal = (jac) => {
    if (!h1 || !h4 || !h1.runs[jac].ok || !h4.runs[jac].ok) return null;
    return (h4.runs[jac].wallMs - h1.runs[jac].wallMs) / (h4.forward.medianMs - h1.forward.medianMs);
  };
  const m = { default: marginal('default'), probes: marginal('probes:8'), off: marginal('off') };
  const x = (v) => (v == null ? '—' : `${v.toFixed(1)}×`);
  // (A run that failed measures nothing: null, never "met".)
  const atMost = (v, limit) => (v == null || !Number.isFinite(v) ? null : v <= limit);
  const why = opts.quick ? '--quick runs T = 1000 only' : 'a headline run failed';
  const ratioPO = m.probes != null && m.off != null ? m.probes / m.off : null;
  // The least this design can cost per extra step (see floorChild): forward + backward Scan + the five GEMMs + inputs.
  const f1 = (results.floor || []).find((f) => f.seq === 1000);
  const f4 = (results.floor || []).find((f) => f.seq === 4000);
  const floorOf = (scan) => (f1 && f4 ? ((f4.forwardMs + f4[scan] + f4.gemmMs + f4.inputsMs) - (f1.forwardMs + f1[scan] + f1.gemmMs + f1.inputsMs)) / (f4.forwardMs - f1.forwardMs) : null);
  const floorNote = (scan) => { const v = floorOf(scan); return v == null ? '' : `; this design's floor here: ${v.toFixed(1)}× (forward + leanest backward Scan + five GEMMs + inputs, without metrics)`; };
  results.designFloor = { off: floorOf('scanMs'), probes8: floorOf('scan17Ms') };
  // A bound no standard-op design goes below: off's floor plus the 16 probe rows' [16, 4H] × [4H, H]
  // product per step at the rate this machine's five GEMMs ran (time-parallel, so at its peak).
  const H = 256, I = 256;
  const gemmFlopPerMs = f4 ? (5 * 2 * 4000 * I * 4 * H) / f4.gemmMs : null;
  const probeRowsUs = gemmFlopPerMs ? (1000 * 16 * 2 * 4 * H * H) / gemmFlopPerMs : null;
  const fwdStepUs = f1 && f4 ? (1000 * (f4.forwardMs - f1.forwardMs)) / 3000 : null;
  const flopBound = probeRowsUs != null && fwdStepUs && floorOf('scanMs') != null ? floorOf('scanMs') + probeRowsUs / fwdStepUs : null;
  results.designFloor.defaultFlopBound = flopBound;
  const boundNote = flopBound == null ? '' : `; any standard-op design: ≥ ${flopBound.toFixed(1)}× (off's floor + the 16 probe rows' product alone, ${probeRowsUs.toFixed(0)} µs per step at ${(gemmFlopPerMs / 1e6).toFixed(0)} GFLOP/s, the GEMMs' rate here)`;
  say('marginal cost, default mode (T 4000 − 1000, against the forward pass)', x(m.default), atMost(m.default, 6), m.default == null ? why : `target ≤ 6×${floorNote('scan17Ms')}${boundNote}`);
  say('marginal cost, --jacobian off', x(m.off), atMost(m.off, 3.5), m.off == null ? why : `target ≤ 3.5×${floorNote('scanMs')}`);
  say('probes:8 against --jacobian off, marginal', x(ratioPO), atMost(ratioPO, 2), ratioPO == null ? why : 'target ≤ 2×');
  // 4. H = 1024, T = 10 000.
  if (results.big && results.big.ok) {
    const b = results.big;
    say('H = 1024, T = 10 000: peak RSS against the data the report keeps', b.rssOverKept == null ? '—' : `${mb(b.peakRssMb)} / ${mb(b.keptMb)} = ${b.rssOverKept.toFixed(1)}×`,
      atMost(b.rssOverKept, 2.5), b.rssOverKept == null ? 'peak RSS not measured (/usr/bin/time missing: apt-get install time)' : 'target ≤ 2.5×');
    // Both ways measured: the text JSON (the default) and, opt-in, the tensors in a binary file (--tensors).
    const tt = b.tensors;
    const side = tt && tt.mbPerS != null ? `; with --tensors: ${mb(tt.bytes / 2 ** 20)} in ${ms(tt.ms)}, ${tt.mbPerS.toFixed(0)} MB/s (${(b.jsonMs / tt.ms).toFixed(1)}× faster)` : '; --tensors not measured';
    say('H = 1024, T = 10 000: report write rate, text JSON (the default) and with the tensors in a binary file (--tensors)', b.jsonMbPerS == null ? '—' : `JSON ${b.jsonMbPerS.toFixed(0)} MB/s${side}`,
      b.jsonMbPerS == null ? null : b.jsonMbPerS >= 150 || (tt?.mbPerS ?? 0) >= 150,
      b.jsonMbPerS == null ? 'the CLI did not say how long the JSON took' : 'target: JSON at ≥ 150 MB/s, or the tensors in an opt-in binary file; both measured');
  } else say('H = 1024, T = 10 000', '—', null, opts.quick ? '--quick skips it' : 'skipped (--skip big) or failed');
  // 5. The panel for that report: scripts/render-panel.mjs renders it in headless Chromium.
  const panel = opts.skip.has('panel') ? null : await panelTiming(bench);
  if (panel) {
    say('panel, T = 10 000, H = 1024: verdicts and flow chart on screen after the report is sent', ms(panel.firstPaintMs), panel.firstPaintMs <= 1500, 'target ≤ 1.5 s');
    say('panel: largest single message to the webview', `${panel.largestMb} MB (${panel.messages} messages)`, panel.largestMb <= 64, 'target ≤ ~64 MB');
    const hm = panel.heatmap;
    say('panel: heatmaps decimated on the host (max |·| or mean per bin), drawn before the per-step data arrive',
      hm ? `|dL/dh| preview of ${hm.bins} bins on screen ${ms(hm.onScreenMs)} after the report is sent, all data ${ms(hm.allDataMs)} (decimating every heatmap tensor: ${ms(hm.decimateMs)}, here on the page's own thread, in the editor on the host's)` : '—',
      hm ? hm.onScreenMs < hm.allDataMs : false, 'target: decimated on the host and drawn before the data arrive; single cells on zoom once they are in');
  } else say('panel timings', '—', null, opts.skip.has('panel') ? '--skip panel' : 'needs /usr/bin/chromium and playwright-core (see test/vscode/README.md)');
  // 6. The warm engine.
  if (results.warm) {
    const w = results.warm.warm;
    const r = w.wallMs / (w.runMs + w.metricsMs);
    const { sessionsWarm, graphsWarm, encodedWarm } = results.warm;
    say('warm re-run with another seed, against its own run + metrics', `${r.toFixed(2)}× (${sessionsWarm} sessions created, ${graphsWarm} graphs built, ${encodedWarm} encoded)`,
      r <= 1.3 && sessionsWarm === 0 && graphsWarm === 0 && encodedWarm === 0, 'target ≤ 1.3×, no session, no graph build');
  } else say('warm re-run', '—', null, 'skipped (--skip warm) or failed');
  return out;
}

/** First paint and message sizes of the large synthetic report in headless Chromium (scripts/render-panel.mjs), or null. */
async function panelTiming(bench) {
  let playwright = false;
  try { require.resolve('playwright-core', { paths: [ROOT] }); playwright = true; } catch { /* not installed */ }
  if (!playwright || !fs.existsSync(process.env.CHROMIUM || '/usr/bin/chromium')) return null;
  const r = await runProcess(process.execPath, [path.join(ROOT, 'scripts/render-panel.mjs'), '--no-build', '--out', path.join(bench.dir, 'panel')],
    { timeoutS: 600, gnuTime: false });
  const line = r.stdout.split('\n').find((l) => /first paint/.test(l)) || '';
  const paint = /first paint \(verdicts \+ flow chart\) (\d+) ms/.exec(line);
  const msgs = /(\d+) messages of at most ([\d.]+) MB/.exec(line);
  if (r.code !== 0 || !paint || !msgs) {
    bench.note(`panel timing failed: ${(r.stderr.trim().split('\n').pop() || `exit ${r.code}`).slice(0, 200)}`);
    return null;
  }
  const all = /all data in and every chart drawn (\d+) ms/.exec(line);
  const heat = /heatmap preview \((\d+)x(\d+) bins; decimating all took (\d+) ms\) on screen (\d+) ms/.exec(line);
  return {
    firstPaintMs: Number(paint[1]), messages: Number(msgs[1]), largestMb: Number(msgs[2]), line: line.trim(),
    heatmap: heat && all ? { bins: `${heat[1]} × ${heat[2]}`, decimateMs: Number(heat[3]), onScreenMs: Number(heat[4]), allDataMs: Number(all[1]) } : null,
  };
}

/** PyTorch forward+backward on the headline and grid sizes, beside our analysis. */
async function torchReference(bench, results, opts) {
  const python = '/usr/bin/python3';
  const probe = fs.existsSync(python) ? spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' }) : null;
  if (!probe || probe.status !== 0) {
    bench.note('PyTorch comparison skipped: /usr/bin/python3 cannot import torch (apt-get install python3-torch libopenblas0-pthread).');
    return null;
  }
  const ours = [
    ...results.headline.map((e) => ({ op: 'LSTM', hidden: 256, seq: e.seq, forwardMs: e.forward.medianMs, total: e.runs['probes:8'].ok ? e.runs['probes:8'].timings.total : null })),
    ...results.grid.map((g) => ({ op: g.op, hidden: g.hidden, seq: g.seq, forwardMs: g.forward.medianMs, total: g.ok ? g.timings.total : null })),
  ];
  const configs = ours
    .filter((o, i) => ours.findIndex((x) => x.op === o.op && x.hidden === o.hidden && x.seq === o.seq) === i)
    .map((o) => ({ op: o.op, hidden: o.hidden, input: o.hidden, seq: o.seq, batch: 1 }));
  if (configs.length === 0) return null;
  // Debian's torch parallelises with OpenMP (busy-waiting workers) and calls the pthread OpenBLAS,
  // which starts threads of its own. On 2 cores that oversubscription made fwd+bwd 5–10× slower and
  // erratic from one run to the next; passive OpenMP waits and one BLAS thread give stable numbers.
  const env = { OMP_WAIT_POLICY: 'PASSIVE', OPENBLAS_NUM_THREADS: '1' };
  log(`\n== PyTorch (${python}, torch.set_num_threads(2), ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}, median of ${opts.reps} after a warm-up) beside ours ==`);
  const r = await runProcess(python, [path.join(__dirname, 'torch_rnn.py'), JSON.stringify(configs), String(opts.reps), '2'],
    { timeoutS: Math.max(opts.timeoutS, 600), gnuTime: false, env: { ...process.env, ...env } });
  const lines = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
  if (r.code !== 0) bench.note(`PyTorch run ended early: ${r.timedOut ? 'timed out' : r.stderr.trim().split('\n').pop()}`);
  const meta = lines.find((l) => l.meta);
  const rows = [];
  const entries = [];
  for (const t of lines.filter((l) => !l.meta)) {
    const o = ours.find((x) => x.op === t.op && x.hidden === t.hidden && x.seq === t.seq);
    entries.push({ ...t, oursForwardMs: o.forwardMs, oursTotalMs: o.total });
    rows.push([t.op, `H=${t.hidden}`, `T=${t.seq}`, ms(t.forwardMs), ms(o.forwardMs), ms(t.forwardBackwardMs), ms(o.total),
      ratio(o.total, t.forwardBackwardMs), ratio(t.forwardBackwardMs, t.forwardMs)]);
  }
  table(['op', 'hidden', 'seq', 'torch fwd', 'ort fwd', 'torch fwd+bwd', 'our analysis', 'ours/torch f+b', 'torch f+b/f'], rows);
  return { meta: meta && { ...meta.meta, env }, entries };
}

if (['--forward-child', '--floor-child', '--stream-child', '--cancel-child', '--warm-child'].includes(process.argv[2])) {
  const child = process.argv[2] === '--warm-child' ? warmChild(process.argv[3], Number(process.argv[4]))
    : process.argv[2] === '--cancel-child' ? cancelChild(process.argv[3], Number(process.argv[4])) : process.argv[2] === '--forward-child'
    ? forwardChild(process.argv[3], Number(process.argv[4]), Number(process.argv[5]))
    : process.argv[2] === '--stream-child'
      ? streamChild(process.argv[3], Number(process.argv[4]), Number(process.argv[5]))
      : floorChild(Number(process.argv[3]), Number(process.argv[4]));
  child.catch((e) => {
    process.stderr.write(`${e.stack || e}\n`);
    process.exit(1);
  });
} else {
  main().catch((e) => {
    process.stderr.write(`bench: ${e.stack || e}\n`);
    process.exit(1);
  });
}
