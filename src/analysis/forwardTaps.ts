/**
 * The instrumented forward pass (SPEC §2): an ONNX graph that recomputes every recurrent
 * layer's gates and cell states from the tensors onnxruntime produced running the model.
 *
 * Given the hidden states h_t of every step (the node's Y), the previous state h_{t−1} of every
 * step is known, so all gate pre-activations are time-parallel:
 *     a_t = X_t·Wᵀ + h_{t−1}·Rᵀ + Wb + Rb          (one batched MatMul each over all T steps)
 * Only the LSTM cell state needs a recurrence, c_t = f_t ⊙ c_{t−1} + i_t ⊙ c̃_t, which is
 * elementwise and runs in O(√T) Scan iterations (linearRecurrence.ts); peephole LSTMs, whose
 * i/f/o depend on c, scan the gate equations elementwise step by step. Padded positions (sequence_lens) come from a 0/1 mask:
 * state is carried through them and every reported value there is 0.
 */
import { GraphBuilder, makeModel } from '../onnx/builder';
import { DataType, ModelProto } from '../onnx/proto';
import { GATE_NAMES } from '../report/types';
import { emitActivation, emitClip } from './activations';
import { Activation, GATE_COUNT, RecurrentLayer } from './recurrent';
import { emitLinearRecurrence, oneFloat } from './linearRecurrence';

/** Names of the tap graph's inputs for one layer. */
export interface TapInputs {
  X: string;
  Y: string;
  initialH: string;
  initialC?: string;
  /** [T, B, 1] float: 1 at valid positions. */
  mask: string;
  /** [T, B, 1] float: 1 where direction d starts (t = 0 forward, t = len−1 reverse). */
  start: string[];
}

export interface TapOutputs {
  gates: Record<string, string>;
  hidden: string;
  cell?: string;
}

export interface ForwardTapGraph {
  proto: ModelProto;
  inputs: TapInputs[];
  /** outputs[layer][direction] */
  outputs: TapOutputs[][];
  /** The values the backward pass builds on, per layer and direction (tensors of the same graph). */
  internals: DirectionInternals[][];
  /** The builder, for graphs that extend the tap graph (the backward pass). */
  builder: GraphBuilder;
}

/**
 * A direction's forward quantities, unmasked unless said otherwise, all [T, B, ·] in input time order.
 * `pre` holds every gate's pre-activation before clip (peephole terms included), `post` its value.
 */
export interface DirectionInternals {
  direction: 'forward' | 'reverse';
  /** [T, B, 1]: 1 at valid steps. */
  mask: string;
  /** h_{t−1} of every step (the initial state where the direction starts). */
  Hprev: string;
  /** c_{t−1} of every step (LSTM). */
  cPrev?: string;
  /** Cell state c_t (LSTM), unmasked (carried through padded steps). */
  cell?: string;
  pre: Record<string, string>;
  post: Record<string, string>;
  /** GRU with linear_before_reset: h_{t−1}·Rhᵀ + Rbh. */
  hRh?: string;
}

export function directionNames(layer: RecurrentLayer): ('forward' | 'reverse')[] {
  if (layer.direction === 'bidirectional') return ['forward', 'reverse'];
  return [layer.direction];
}

/**
 * `seqLens[k]`, `batches[k]`: layer k's number of steps T and batch size B (known once the model has run); `padded[k]`: whether
 * some batch element of layer k has fewer (sequence_lens) — without, the mask is all ones and the
 * ops that apply it are left out.
 */
export function buildForwardTapGraph(layers: RecurrentLayer[], seqLens: number[], batches: number[], padded: boolean[], taken?: Set<string>,
  perStep: boolean[] = []): ForwardTapGraph {
  const b = new GraphBuilder('gl_', taken);
  const inputs: TapInputs[] = [];
  const outputs: TapOutputs[][] = [];
  const internals: DirectionInternals[][] = [];
  layers.forEach((layer, k) => {
    const D = layer.numDirections;
    const H = layer.hiddenSize;
    const I = layer.inputSize;
    // Each layer has its own T and B (an encoder and a decoder differ). Static sizes, known from
    // the model's run: onnxruntime's allocation planner is quadratic in the graph's size with
    // symbolic dims (2.6 s instead of 0.25 s to create the session of 50 stacked layers).
    const [T, B] = [seqLens[k], batches[k]];
    const inp: TapInputs = {
      X: b.input(`L${k}_X`, DataType.FLOAT, [T, B, I]),
      Y: b.input(`L${k}_Y`, DataType.FLOAT, [T, D, B, H]),
      // A layer inside a Loop/Scan body starts every iteration from that iteration's initial state: one per step, read where `start` is 1.
      initialH: b.input(`L${k}_h0`, DataType.FLOAT, perStep[k] ? [T, D, B, H] : [D, B, H]),
      initialC: layer.op === 'LSTM' ? b.input(`L${k}_c0`, DataType.FLOAT, perStep[k] ? [T, D, B, H] : [D, B, H]) : undefined,
      mask: b.input(`L${k}_mask`, DataType.FLOAT, [T, B, 1]),
      start: directionNames(layer).map((dir, d) => b.input(`L${k}_start${d}`, DataType.FLOAT, [T, B, 1])),
    };
    inputs.push(inp);
    const dirs: TapOutputs[] = [];
    const dirInternals: DirectionInternals[] = [];
    directionNames(layer).forEach((dir, d) => {
      const o = emitDirection(b, layer, k, d, dir, inp, seqLens[k], batches[k], padded[k], !!perStep[k]);
      dirInternals.push(o.internals);
      const named: TapOutputs = { gates: {}, hidden: b.expose(o.hidden, `L${k}_d${d}_state_hidden`) };
      for (const [gate, v] of Object.entries(o.gates)) named.gates[gate] = b.expose(v, `L${k}_d${d}_gate_${gate}`);
      if (o.cell) named.cell = b.expose(o.cell, `L${k}_d${d}_state_cell`);
      dirs.push(named);
    });
    outputs.push(dirs);
    internals.push(dirInternals);
  });
  return { proto: makeModel(b.graph('gradient_lens_forward_taps')), inputs, outputs, internals, builder: b };
}

/**
 * Float32 copy of rows [r0, r0+n) of a row-major [rows, cols] block, transposed to [cols, n]:
 * 32 × 32 tiles, so the strided writes stay in cache (about 4× faster for a 1024 × 256 block).
 */
function transposedBlock(values: Float64Array, offset: number, n: number, cols: number): Float32Array {
  const out = new Float32Array(cols * n);
  const TILE = 32;
  for (let r0 = 0; r0 < n; r0 += TILE) {
    const r1 = Math.min(n, r0 + TILE);
    for (let c0 = 0; c0 < cols; c0 += TILE) {
      const c1 = Math.min(cols, c0 + TILE);
      for (let r = r0; r < r1; r++) {
        const base = offset + r * cols;
        for (let c = c0; c < c1; c++) out[c * n + r] = values[base + c];
      }
    }
  }
  return out;
}

/**
 * From a cell state of this many bytes ([T, B, H] float32) the LSTM cell recurrence is one Scan
 * of T steps: the √T-chunked form (linearRecurrence.ts) is faster but holds several copies.
 */
export const SEQUENTIAL_CELL_MIN_BYTES = 32 * 2 ** 20;

interface DirectionValues { gates: Record<string, string>; hidden: string; cell?: string; internals: DirectionInternals }

/**
 * `perStep`: the layer runs inside a Loop/Scan body, its steps concatenated over the iterations;
 * inp.initialH/initialC hold each iteration's initial state at the steps where inp.start is 1,
 * and every such step starts from it instead of from the step before.
 */
export function emitDirection(b: GraphBuilder, layer: RecurrentLayer, k: number, d: number, dir: 'forward' | 'reverse', inp: TapInputs, T: number,
  B: number, padded: boolean, perStep = false): DirectionValues {
  const H = layer.hiddenSize;
  const I = layer.inputSize;
  const g = GATE_COUNT[layer.op];
  const acts = layer.activations[d];
  const tag = `L${k}d${d}`;
  const mask = inp.mask;
  const masked = (x: string) => (padded ? b.mul(x, mask) : x);

  // Hidden states of this direction, zeroed at padded positions: Ym [T, B, H].
  const Ym = masked(b.pick(inp.Y, d, 1));
  const notStart = perStep ? b.sub(b.constF(1), inp.start[d]) : undefined;
  // h_{t−1} at every step: the neighbour in processing order, or the initial state where the direction starts.
  const Hprev = shiftedState(b, Ym, b.pick(inp.initialH, d, perStep ? 1 : 0), inp.start[d], dir, padded, perStep);

  const W = layer.W.values;
  const R = layer.R.values;
  const bias = (part: 0 | 1, gate: number, count = 1): Float32Array => {
    const out = new Float32Array(count * H);
    if (layer.B) out.set(Float32Array.from(layer.B.values.subarray(d * 2 * g * H + part * g * H + gate * H, d * 2 * g * H + part * g * H + (gate + count) * H)));
    return out;
  };
  const WT = b.initializer(`${tag}_WT`, [I, g * H], transposedBlock(W, d * g * H * I, g * H, I));
  // Everything but h_{t−1}, c_{t−1} and the cell recurrence works step by step: a time-local region
  // (a long sequence's run computes it a range of steps at a time, see runtime/stagedRun.ts).
  const local = <R>(emit: () => R): R => b.timeLocal(tag, T, emit);
  const XW = local(() => b.matmul(inp.X, WT)); // [T, B, gH]

  if (layer.op === 'RNN') {
    const Bsum = new Float32Array(H);
    const wb = bias(0, 0);
    const rb = bias(1, 0);
    for (let j = 0; j < H; j++) Bsum[j] = wb[j] + rb[j];
    const RT = b.initializer(`${tag}_RT`, [H, H], transposedBlock(R, d * H * H, H, H));
    const pre = local(() => b.add(b.add(XW, b.matmul(Hprev, RT)), b.initializer(`${tag}_B`, [H], Bsum)));
    return { gates: {}, hidden: Ym, internals: { direction: dir, mask, Hprev, pre: { hidden: pre }, post: { hidden: Ym } } };
  }

  if (layer.op === 'GRU') return local(() => {
    // Gate order z, r, h. Wb for all three is added to X·Wᵀ; Rb_z, Rb_r to h·Rᵀ; Rb_h sits where linear_before_reset puts it.
    const Wb = new Float32Array(3 * H);
    for (let gi = 0; gi < 3; gi++) Wb.set(bias(0, gi), gi * H);
    const xzrh = b.add(XW, b.initializer(`${tag}_Wb`, [3 * H], Wb));
    const [xz, xr, xh] = b.split(xzrh, 3, 2);
    const RzrT = b.initializer(`${tag}_RzrT`, [H, 2 * H], transposedBlock(R, d * 3 * H * H, 2 * H, H));
    const RhT = b.initializer(`${tag}_RhT`, [H, H], transposedBlock(R, d * 3 * H * H + 2 * H * H, H, H));
    const Rbzr = new Float32Array(2 * H);
    Rbzr.set(bias(1, 0), 0);
    Rbzr.set(bias(1, 1), H);
    const hzr = b.add(b.matmul(Hprev, RzrT), b.initializer(`${tag}_Rbzr`, [2 * H], Rbzr));
    const [hz, hr] = b.split(hzr, 2, 2);
    const Rbh = b.initializer(`${tag}_Rbh`, [H], bias(1, 2));
    const z = emitActivation(b, acts[0], emitClip(b, layer.clip, b.add(xz, hz)));
    const r = emitActivation(b, acts[0], emitClip(b, layer.clip, b.add(xr, hr)));
    const hRh = layer.linearBeforeReset ? b.add(b.matmul(Hprev, RhT), Rbh) : undefined;
    const preH = hRh
      ? b.add(xh, b.mul(r, hRh))                                // h̃ = g(X·Whᵀ + Wbh + r ⊙ (h·Rhᵀ + Rbh))
      : b.add(xh, b.add(b.matmul(b.mul(r, Hprev), RhT), Rbh));  // h̃ = g(X·Whᵀ + Wbh + (r ⊙ h)·Rhᵀ + Rbh)
    const hTilde = emitActivation(b, acts[1], emitClip(b, layer.clip, preH));
    const [zn, rn, hn] = GATE_NAMES.GRU;
    return {
      gates: { [zn]: masked(z), [rn]: masked(r), [hn]: masked(hTilde) },
      hidden: Ym,
      internals: {
        direction: dir, mask, Hprev, hRh,
        pre: { update: b.add(xz, hz), reset: b.add(xr, hr), hidden: preH },
        post: { update: z, reset: r, hidden: hTilde },
      },
    };
  });

  // LSTM, gate order i, o, f, c.
  const Ball = new Float32Array(4 * H);
  for (let gi = 0; gi < 4; gi++) {
    const wb = bias(0, gi);
    const rb = bias(1, gi);
    for (let j = 0; j < H; j++) Ball[gi * H + j] = wb[j] + rb[j];
  }
  const RT = b.initializer(`${tag}_RT`, [H, 4 * H], transposedBlock(R, d * 4 * H * H, 4 * H, H));
  const pre = local(() => b.add(b.add(XW, b.matmul(Hprev, RT)), b.initializer(`${tag}_B`, [4 * H], Ball)));
  // [B, H]; per step [T, B, H] in a loop body (then the recurrence restarts from it at every start, below).
  const c0 = perStep ? b.pick(inp.initialC!, d, 1) : b.pick(inp.initialC!, d, 0);
  const scanDir = dir === 'reverse' ? 1 : 0;
  const [fAct, gAct] = [acts[0], acts[1]];

  if (!layer.P) {
    const [aiRaw, aoRaw, afRaw, acRaw] = local(() => b.split(pre, 4, 2));
    const [i, f, o, cTilde, gates, fPrimeLocal, uLocal] = local(() => {
      const [ai, ao, af, ac] = [aiRaw, aoRaw, afRaw, acRaw].map((a) => emitClip(b, layer.clip, a));
      // input_forget couples the gates as onnxruntime does: f = 1 − i (the forget rows go unused).
      const iv = emitActivation(b, fAct, ai);
      const fv = layer.inputForget ? b.sub(b.constF(1), iv) : emitActivation(b, fAct, af);
      const ov = emitActivation(b, fAct, ao);
      const cv = emitActivation(b, gAct, ac);
      // Masked recurrence c_t = f′_t ⊙ c_{t−1} + u_t with f′ = 1 and u = 0 at padded steps (state carried).
      return [iv, fv, ov, cv, { input: masked(iv), forget: masked(fv), output: masked(ov), cell: masked(cv) },
        padded ? b.add(b.mul(fv, mask), b.sub(b.constF(1), mask)) : fv, masked(b.mul(iv, cv))] as const;
    });
    let fPrime = fPrimeLocal;
    let u = uLocal;
    let cInit = c0;
    if (perStep) {
      // At a start: c_t = f_t ⊙ c0_t + u_t, i.e. F = 0 and U = u + f ⊙ c0 there; the recurrence itself starts from 0.
      u = b.add(u, b.mul(inp.start[d], b.mul(fPrime, c0)));
      fPrime = b.mul(fPrime, notStart!);
      cInit = b.op('ConstantOfShape', [b.op('Shape', [b.pick(c0, 0, 0)])], { value: oneFloat(0) });
    }
    const cAll = emitLinearRecurrence(b, fPrime, u, cInit, T, H, dir === 'reverse', tag, !perStep && 4 * T * B * H >= SEQUENTIAL_CELL_MIN_BYTES);
    return {
      gates,
      hidden: Ym,
      cell: local(() => masked(cAll)),
      internals: {
        direction: dir, mask, Hprev, cPrev: shiftedState(b, cAll, c0, inp.start[d], dir, padded, perStep), cell: cAll,
        pre: { input: aiRaw, output: aoRaw, forget: afRaw, cell: acRaw },
        post: { input: i, output: o, forget: f, cell: cTilde },
      },
    };
  }

  // Peepholes: i = f(a_i + P_i ⊙ c_{t−1}), f = f(a_f + P_f ⊙ c_{t−1}), o = f(a_o + P_o ⊙ c_t) — elementwise in a Scan.
  const [ai, ao, af, acRaw] = b.split(pre, 4, 2);
  const cTilde = emitActivation(b, gAct, emitClip(b, layer.clip, acRaw));
  const P = layer.P.values;
  const peep = (gi: number) => b.initializer(`${tag}_P${gi}`, [H], Float32Array.from(P.subarray(d * 3 * H + gi * H, d * 3 * H + (gi + 1) * H)));
  const [Pi, Po, Pf] = [peep(0), peep(1), peep(2)];
  const body = new GraphBuilder(`gl_${tag}_pscan_`);
  const cInRaw = body.input(body.fresh('c_in'), DataType.FLOAT, null);
  const aiIn = body.input(body.fresh('ai_in'), DataType.FLOAT, null);
  const afIn = body.input(body.fresh('af_in'), DataType.FLOAT, null);
  const aoIn = body.input(body.fresh('ao_in'), DataType.FLOAT, null);
  const ctIn = body.input(body.fresh('ct_in'), DataType.FLOAT, null);
  const mIn = body.input(body.fresh('m_in'), DataType.FLOAT, null);
  // In a loop body every iteration restarts from its own c0: c_in ← c_in + s ⊙ (c0_t − c_in).
  const cRestart = perStep ? { s: body.input(body.fresh('s_in'), DataType.FLOAT, null), c0: body.input(body.fresh('c0_in'), DataType.FLOAT, null) } : undefined;
  const cIn = cRestart ? body.add(cInRaw, body.mul(cRestart.s, body.sub(cRestart.c0, cInRaw))) : cInRaw;
  const gate = (a: string, p: string, c: string, act: Activation) => emitActivation(body, act, emitClip(body, layer.clip, body.add(a, body.mul(p, c))));
  const iT = gate(aiIn, Pi, cIn, fAct);
  const fT = layer.inputForget ? body.sub(body.constF(1), iT) : gate(afIn, Pf, cIn, fAct);
  const cNew = body.add(body.mul(fT, cIn), body.mul(iT, ctIn));
  const oT = gate(aoIn, Po, cNew, fAct);
  const cOut = body.add(cIn, body.mul(mIn, body.sub(cNew, cIn))); // carried unchanged at padded steps
  body.output(cOut);
  for (const v of [iT, fT, oT, body.op('Identity', [cOut])]) body.output(v);
  const scanned = [ai, af, ao, cTilde, mask, ...(perStep ? [inp.start[d], c0] : [])];
  const cStart = perStep ? b.op('ConstantOfShape', [b.op('Shape', [b.pick(c0, 0, 0)])], { value: oneFloat(0) }) : c0;
  const [, iAll, fAll, oAll, cAll] = b.node('Scan', [cStart, ...scanned], {
    body: body.graph(`${tag}_peephole_scan`), num_scan_inputs: scanned.length,
    scan_input_directions: scanned.map(() => scanDir), scan_output_directions: [scanDir, scanDir, scanDir, scanDir],
  }, 5, 'peep');
  const cPrev = shiftedState(b, cAll, c0, inp.start[d], dir, padded, perStep);
  return {
    gates: { input: masked(iAll), forget: masked(fAll), output: masked(oAll), cell: masked(cTilde) },
    hidden: Ym,
    cell: masked(cAll),
    internals: {
      direction: dir, mask, Hprev, cPrev, cell: cAll,
      // Full pre-activations, peephole terms included: a_i + P_i ⊙ c_{t−1}, a_f + P_f ⊙ c_{t−1}, a_o + P_o ⊙ c_t.
      pre: { input: b.add(ai, b.mul(Pi, cPrev)), output: b.add(ao, b.mul(Po, cAll)), forget: b.add(af, b.mul(Pf, cPrev)), cell: acRaw },
      post: { input: iAll, output: oAll, forget: fAll, cell: cTilde },
    },
  };
}

/** x_{t−1} of every step in processing order, with the initial state `x0` [B, H] where the direction starts. */
function shiftedState(b: GraphBuilder, x: string, x0: string, start: string, dir: 'forward' | 'reverse', padded: boolean, perStep: boolean): string {
  // Every sequence starts at the first step (forward) or all at the last (reverse, none padded): x0 and x shifted by one.
  if (!perStep && (dir === 'forward' || !padded)) {
    const first = b.unsqueeze(x0, [0]);
    return dir === 'forward' ? b.concat([first, b.slice(x, [0], [-1], [0])], 0) : b.concat([b.slice(x, [1], [Number.MAX_SAFE_INTEGER], [0]), first], 0);
  }
  // (Within one sequence the neighbour at a start is the padding, 0; across iterations it is the previous iteration's last step.)
  const neighbour = dir === 'forward'
    ? b.op('Pad', [b.slice(x, [0], [-1], [0]), b.constI64([1, 0, 0, 0, 0, 0])])
    : b.op('Pad', [b.slice(x, [1], [Number.MAX_SAFE_INTEGER], [0]), b.constI64([0, 0, 0, 1, 0, 0])]);
  // At the start position the neighbour is a padded step (zero) or the padding itself.
  return b.add(b.mul(neighbour, b.sub(b.constF(1), start)), b.mul(start, perStep ? x0 : b.unsqueeze(x0, [0])));
}

