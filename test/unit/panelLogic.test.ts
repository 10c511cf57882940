/**
 * The extension's and the panel's pure logic: messages that name the panel's controls instead of
 * CLI flags, which .npy beside a model is offered for which input, the toolbar's account of the
 * settings and the sizes a model fixes, and the panel settings → analysis settings mapping.
 */
import * as assert from 'assert';
import { panelWording } from '../../src/protocol/wording';
import { candidateNames, findCandidate, shapeFits } from '../../src/extension/inputCandidates';
import { fixedSizes, settingsSummary } from '../../webview/src/settingsText';
import { formatBytes, memoryRefusal } from '../../src/analysis/memory';
import type { PanelSettings } from '../../src/protocol/panel';
import { parseJacobian, toAnalysisSettings } from '../../src/extension/analysisSettings';
import type { Report } from '../../src/report/types';
import { aboveFloor, axisFloor, decadeRange, floorCut, floorLabel } from '../../webview/src/floors';
import { minMaxSteps } from '../../webview/src/decimate';

describe('panel wording: messages name controls, not CLI flags', () => {
  const cases: [string, RegExp, RegExp][] = [
    ["input 'sr' is an integer tensor that does not index an embedding, so random values would be meaningless; pass it with --input sr=FILE.npy.",
      /choose a \.npy for input 'sr' \(Settings → Inputs\)/, /--input/],
    ['--objective last: output \'y\' (shape [2, 3]) has no time axis — no recurrent layer precedes it; pass --time-axis K, choose an output with one (--output), or use another objective.',
      /the 'last step' objective: .*the Time axis setting, choose an output with one \(the Output setting\)/, /--time-axis|--output|--objective/],
    ['the CUDA execution provider is installed but could not be used (x); ran on CPU. See the README\'s "GPU" section, or choose the CPU execution provider to skip the attempt.',
      /choose the CPU execution provider/, /--ep/],
    ['LSTM \'l\': jacobianNorm is estimated with 8 random probes because B·H = 256 > 64 (relative error about 50% per step); pass --jacobian exact for the exact value.',
      /choose Jacobian: exact for the exact value/, /--jacobian/],
    ['x is a streaming model, analysed over 32 calls with the state fed back; choose how many with --calls N.', /with the Calls setting/, /--calls/],
    ["input 'x' has a symbolic dimension 'feat' (axis 2) that is neither the sequence nor the batch axis of a recurrent layer; pass --dim feat=VALUE or --input x=FILE.npy.",
      /give a \.npy for the input that has dimension 'feat'/, /--dim|--input/],
  ];
  for (const [message, want, notWant] of cases) {
    it(message.slice(0, 70), () => {
      const out = panelWording(message);
      assert.match(out, want);
      assert.doesNotMatch(out, notWant);
    });
  }

  it('the memory refusal (its every lever) reads without a CLI flag', () => {
    const text = memoryRefusal({ bytes: 8e10, perStepBytes: 7e10, jacobianBytes: 9e9 } as never, 4e9, { seqLen: 100000000, batch: 4, jacobian: true, explicitLimit: true });
    assert.ok(text, 'refused');
    const out = panelWording(text!);
    assert.doesNotMatch(out, /--[a-z]/, out);
    assert.match(out, /the Sequence length setting/);
    assert.match(out, /the Batch setting/);
    assert.match(out, /gradientLens\.maxMemory/);
    void formatBytes;
  });
});

describe('inputs beside the model: which .npy is offered for which input', () => {
  const shapes: Record<string, number[]> = {
    '/m/vad_x.npy': [2, 256],
    '/m/x.npy': [2, 256],
    '/m/state.npy': [2, 2, 16],
    '/m/wrong_x.npy': [3, 100],
    '/m/vad.npy': [2, 256],
  };
  const shapeOf = (f: string) => shapes[f];

  it('names: the model-specific name first, then the input\'s own, the model\'s name only for one-input models', () => {
    assert.deepStrictEqual(candidateNames('/m/vad.onnx', 'x', 3), ['vad_x.npy', 'vad.x.npy', 'input_x.npy', 'x.npy']);
    assert.deepStrictEqual(candidateNames('/m/vad.onnx', 'x', 1).slice(-2), ['vad.npy', 'input.npy']);
    assert.deepStrictEqual(candidateNames('/m/m.onnx', 'input:0', 2)[3], 'input_0.npy');
  });

  it('shapes: symbolic sizes fit anything, static ones must match, a leading calls axis fits a streaming model', () => {
    assert.ok(shapeFits([2, 256], ['batch', 256]));
    assert.ok(!shapeFits([2, 255], ['batch', 256]));
    assert.ok(!shapeFits([2, 256, 1], ['batch', 256]));
    assert.ok(shapeFits([5, 2, 256], ['batch', 256], 5));
    assert.ok(!shapeFits([4, 2, 256], ['batch', 256], 5));
    assert.ok(shapeFits([1, 2, 3], null));
  });

  it('the first existing file that fits wins; none when nothing fits', () => {
    const x = { name: 'x', elemType: 'float32', shape: ['batch', 256] as (number | string | null)[] };
    assert.strictEqual(findCandidate('/m/vad.onnx', x, 3, new Set(['x.npy', 'vad_x.npy']), shapeOf), '/m/vad_x.npy');
    assert.strictEqual(findCandidate('/m/vad.onnx', x, 3, new Set(['x.npy']), shapeOf), '/m/x.npy');
    assert.strictEqual(findCandidate('/m/vad.onnx', { ...x, shape: [3, 256] }, 3, new Set(['x.npy']), shapeOf), undefined);
    assert.strictEqual(findCandidate('/m/vad.onnx', x, 3, new Set(['vad.npy']), shapeOf), undefined, "the model's own name is for one-input models");
    assert.strictEqual(findCandidate('/m/vad.onnx', x, 1, new Set(['vad.npy']), shapeOf), '/m/vad.npy');
  });
});

describe('the settings toolbar and the sizes a model fixes', () => {
  const base: PanelSettings = { seed: 0, objective: 'sum', ep: 'auto', jacobian: 'auto', saturationLow: 0.1, saturationHigh: 0.9, inputs: {} };

  it('summarises the settings in one line, saying when inputs are random', () => {
    assert.strictEqual(settingsSummary(base), 'seed 0 · sum · Jacobian auto · random inputs');
    assert.strictEqual(settingsSummary({ ...base, seqLen: 100, calls: 8, objective: 'last', output: 'y', timeAxis: 1, ep: 'cpu', inputs: { x: '/d/x.npy' } }),
      '8 calls · T 100 · seed 0 · last of y (axis 1) · Jacobian auto · CPU · inputs: x=x.npy');
  });

  it('a static size on a traced time or batch axis fixes Sequence length or Batch', () => {
    const report = {
      model: { graphInputs: [{ name: 'x', elemType: 'float32', shape: [50, 'batch', 2] }, { name: 'h0', elemType: 'float32', shape: [1, 4, 8] }] },
      input: { axes: { x: { time: 0, batch: 1 }, h0: { batch: 1 } } },
    } as unknown as Report;
    assert.deepStrictEqual(fixedSizes(report), { seqLen: { size: 50, input: 'x' }, batch: { size: 4, input: 'h0' } });
    const free = { ...report, model: { graphInputs: [{ name: 'x', elemType: 'float32', shape: ['T', 'B', 2] }] }, input: { axes: { x: { time: 0, batch: 1 } } } } as unknown as Report;
    assert.deepStrictEqual(fixedSizes(free), {});
  });
});

describe('panel settings → analysis settings', () => {
  const base: PanelSettings = { seed: 3, objective: 'sum', ep: 'cpu', jacobian: 'auto', saturationLow: 0.2, saturationHigh: 0.8, inputs: { x: '/d/x.npy' } };

  it('carries every field the panel sets, with the Jacobian mode parsed', () => {
    const a = toAnalysisSettings('/d/m.onnx', { ...base, seqLen: 40, batch: 2, calls: 7, output: 'y', jacobian: 'probes:16' }, 123);
    assert.deepStrictEqual({ ...a }, {
      maxMemoryBytes: 123, modelPath: '/d/m.onnx', files: { x: '/d/x.npy' }, seqLen: 40, calls: 7, batch: 2, seed: 3, dims: {}, ep: 'cpu',
      saturation: { low: 0.2, high: 0.8 }, objective: { kind: 'sum', output: 'y', targetFile: undefined, timeAxis: undefined }, jacobian: { probes: 16 },
    });
  });

  it('the time axis goes with the last-step objective only; the target with the target objective', () => {
    assert.strictEqual(toAnalysisSettings('/m', { ...base, objective: 'last', timeAxis: 2 }).objective?.timeAxis, 2);
    assert.strictEqual(toAnalysisSettings('/m', { ...base, objective: 'sum', timeAxis: 2 }).objective?.timeAxis, undefined);
    assert.strictEqual(toAnalysisSettings('/m', { ...base, objective: 'target', target: '/t.npy' }).objective?.targetFile, '/t.npy');
  });

  it('an unknown Jacobian mode is refused, naming it', () => {
    assert.deepStrictEqual(parseJacobian('exact'), 'exact');
    assert.throws(() => parseJacobian('probes:0'), /'probes:0' is not one of auto, exact, off or probes:K/);
    assert.throws(() => parseJacobian('fast'), /'fast'/);
  });
});

describe('flow chart floors: curves end at 1e-30 of the axis maximum with a marker, never a denormal axis', () => {
  it('the floor is 1e-30 of the largest finite value and never below the smallest normal double', () => {
    assert.strictEqual(axisFloor([[1, 0.5, 0], [Infinity, NaN, 0.25]]), 1e-30);
    assert.strictEqual(axisFloor([[3e-290]]), 2.2250738585072014e-308);
    assert.strictEqual(axisFloor([[0, NaN, -1]]), null);
  });

  it('∏f underflowing over 3000 steps: cut where it crosses, the rest below throughout, walking the way the gradient flows', () => {
    const T = 3000;
    const f = Array.from({ length: T }, (_, t) => 0.97 ** (T - 1 - t));
    const floor = axisFloor([f])!;
    const cut = floorCut(f, floor, 'forward')!;
    // 0.97^d < 1e-30 from d = ⌈30 / −log10 0.97⌉ = 2268 on.
    const d = Math.ceil(-30 / Math.log10(0.97));
    assert.strictEqual(cut.t, T - 1 - d);
    assert.ok(f[cut.t] < floor && f[cut.t + 1] >= floor);
    assert.strictEqual(cut.throughout, true);
    assert.strictEqual(floorLabel('∏f', '1e-30', cut, 'forward'), `∏f < 1e-30 at t ≤ ${T - 1 - d}`);
    // Reverse: mirrored.
    const r = [...f].reverse();
    const rc = floorCut(r, floor, 'reverse')!;
    assert.strictEqual(rc.t, d);
    assert.strictEqual(floorLabel('∏f', '1e-30', rc, 'reverse'), `∏f < 1e-30 at t ≥ ${d}`);
    // The axis spans the drawn range only: its minimum is above 1e-40, not at a denormal.
    const range = decadeRange([f], floor);
    assert.ok(range.min! >= 1e-31 && range.max === 1, JSON.stringify(range));
  });

  it('a dip that comes back is "first at", NaN is a gap not a cut, and a curve above the floor has no cut', () => {
    const v = [1e-35, 1, 1, 1e-40, 1, 1];
    const cut = floorCut(v, 1e-30, 'forward')!;
    assert.deepStrictEqual(cut, { t: 3, throughout: false });
    assert.match(floorLabel('‖dL/dh‖', '1e-30', cut, 'forward'), /first at t = 3/);
    assert.strictEqual(floorCut([NaN, 1, 0.5], 1e-30, 'forward'), null);
    assert.deepStrictEqual(floorCut([0, 0, 1], 1e-30, 'forward'), { t: 1, throughout: true });
    assert.ok(aboveFloor(1e-30, 1e-30) && !aboveFloor(Infinity, 1e-30) && !aboveFloor(NaN, 1e-30));
  });
});

describe('long curves decimated for drawing: each bin keeps its min, its max and its first gap', () => {
  it('T = 10 000 into 800 bins: a one-step spike and dip survive, a gap stays a gap, steps in order, at most 3 per bin', () => {
    const T = 10000;
    const v = Float64Array.from({ length: T }, (_, t) => 1 + 0.5 * Math.sin(t / 50));
    v[4321] = 1e6; // a spike
    v[777] = 1e-9; // a dip
    for (let t = 6000; t < 6100; t++) v[t] = 0; // not drawable on a log axis
    const steps = minMaxSteps(v, 800, (x) => x > 0);
    assert.ok(steps.length <= 3 * 800 && steps.length < T / 3, `${steps.length} points`);
    for (let i = 1; i < steps.length; i++) assert.ok(steps[i] > steps[i - 1], 'in step order, each once');
    assert.ok(steps.includes(4321) && steps.includes(777), 'the spike and the dip are drawn');
    assert.ok([...steps].some((t) => t >= 6000 && t < 6100 && v[t] === 0), 'the gap is drawn as a gap');
    // Within every bin the drawn extremes are the bin's own.
    const per = Math.ceil(T / 800);
    for (let a = 0; a < T; a += per) {
      const inBin = [...steps].filter((t) => t >= a && t < a + per && v[t] > 0).map((t) => v[t]);
      const all = Array.from(v.subarray(a, Math.min(T, a + per))).filter((x) => x > 0);
      if (!all.length) continue;
      assert.strictEqual(Math.max(...inBin), Math.max(...all));
      assert.strictEqual(Math.min(...inBin), Math.min(...all));
    }
  });

  it('a short curve (fewer steps than bins) keeps every step', () => {
    const v = [3, 1, 2, 5];
    assert.deepStrictEqual(Array.from(minMaxSteps(v, 800, (x) => x > 0)), [0, 1, 2, 3]);
  });
});
