/**
 * Backpropagation through time for LSTM, GRU and RNN, emitted as ONNX nodes.
 *
 * Everything that does not depend on the backward state is time-parallel and computed before
 * the recurrence from the forward internals: activation derivatives (at the clipped
 * pre-activation, zero where clip cut it), the factors that turn dL/dh_t and dL/dc_t into gate
 * pre-activation gradients, and the masks of padded steps (where the state is carried, so the
 * adjoint is too). The recurrence itself is one Scan, run against the forward processing order,
 * whose body is a handful of elementwise ops and one MatMul with R per step.
 *
 * The Scan carries N adjoint rows at once: row 0 is the gradient of the objective; the other
 * rows are Jacobian seeds at h_last (and c_last for LSTMs) propagated through this direction's
 * own recurrence only (no external gradient enters them). Their per-step squared norms give
 * jacobianNorm (SPEC §3): ‖∂h_last/∂h_t‖²_F = Σ_j ‖(∂h_last/∂h_t)ᵀ e_j‖², or with K Gaussian
 * probes z, E‖(∂h_last/∂h_t)ᵀ z‖² = ‖∂h_last/∂h_t‖²_F.
 *
 * The seed rows shrink or grow geometrically (that is what the tool measures), far beyond
 * float32's range: 0.4ⁿ underflows within 100 steps. The recurrence is linear in each row, so
 * every step divides each seed row by its current state norm (the objective's row is left
 * alone) and outputs the divisor; the true norms are rebuilt in float64 from the running
 * product of the divisors (metrics/jacobian.ts), so 1e-300 and 1e+300 come out right.
 *
 * Weight gradients are batched MatMuls over all steps afterwards: dW = Σ_t,b da_tᵀ x_t,
 * dR = Σ_t,b da_tᵀ h_{t−1}, dB = Σ_t,b da_t (twice: Wb and Rb), dX = da · W.
 */
import { GraphBuilder } from '../../onnx/builder';
import { DataType, GraphProto } from '../../onnx/proto';
import { emitActivation, emitActivationDerivative, emitClip } from '../activations';
import { DirectionInternals } from '../forwardTaps';
import { GATE_COUNT, RecurrentLayer } from '../recurrent';

export interface JacobianSeeds {
  /** Number of rows S of each seed tensor. */
  count: number;
  /** Whether rows are Gaussian probes (the squared norms are then averaged) or one-hot seeds. */
  probes: boolean;
  /** [S, B, H] seeds at h_last. */
  hidden: Float32Array;
  /** [S, B, H] seeds at c_last (LSTM). */
  cell?: Float32Array;
}

export interface BpttRequest {
  layer: RecurrentLayer;
  /** Layer index and direction index, for names. */
  k: number;
  d: number;
  T: number;
  B: number;
  internals: DirectionInternals;
  /** The layer's input sequence [T, B, I]. */
  X: string;
  /** dL/dY of this direction [T, B, H], when the objective reaches Y. */
  gradY?: string;
  /** dL/dY_h, dL/dY_c of this direction [B, H]. */
  gradFinalH?: string;
  gradFinalC?: string;
  /** Jacobian seeds, or undefined for --jacobian off. */
  seeds?: JacobianSeeds;
  /**
   * Instead of starting the seed rows here, continue rows that arrive from outside (a layer inside
   * a loop body or a streaming call: the rows of later iterations): [1 + S, B, H] carries at
   * h_last and c_last whose row 0 is the objective's (gradFinalH/C are then not used) and whose
   * other rows are laid out as `seeds` says (count, and cell rows for an LSTM).
   */
  carryIn?: { h: string; c?: string };
  /**
   * With carryIn: the rows' layout when the carry holds other layers' rows too (a loop body with
   * several recurrences): `total` rows, this direction's hidden seeds from row `hidden`, its cell
   * seeds from row `cell`. Only its own rows are renormalised and reported; the others pass through.
   */
  rowLayout?: { total: number; hidden: number; cell?: number };
  /** dL/dY for every row at once, [T, rows, B, H] (rows reaching Y along a loop body's state path); replaces gradY. */
  gradYRows?: string;
  /** Whether some batch element has fewer than T steps (sequence_lens); without, the mask is all ones and its ops are left out. */
  padded: boolean;
}

/**
 * The Jacobian seed rows per step, [T, N, 1, 1] each (row 0, the objective's, included):
 * squared norms of their hidden part and (LSTM) whole state as they entered the step, the
 * divisor each row was then renormalised by, and (LSTM) the cell seeds' ‖dc‖² [T, Sc, 1, 1]
 * after renormalising. metrics/jacobian.ts turns them into jacobianNorm.
 */
export interface JacobianRows { hiddenRows: string; stateRows?: string; divisors: string; cellRows?: string; hiddenSeeds: number; cellSeeds: number }

/** What every layer-direction's backward gives, as a top-level recurrence or inside a Loop/Scan body. */
export type BackwardResults = Pick<BpttResult, 'gradHidden' | 'gradCell' | 'jacobian' | 'dW' | 'dR' | 'dB' | 'dP'>;

export interface BpttResult {
  /** dL/dh_t and dL/dc_t (LSTM) [T, B, H], zero at padded steps. */
  gradHidden: string;
  gradCell?: string;
  /** The Jacobian seed rows (JacobianRows), when there are seeds. */
  jacobian?: JacobianRows;
  /** Weight gradients of this direction's slices, ONNX layout: W [gH, I], R [gH, H], B [2gH], P [3H]. */
  dW: string;
  dR: string;
  dB: string;
  dP?: string;
  /** dL/dX [T, B, I] (emitted on first call: a MatMul as big as the input projection, only wanted when X is on the gradient path); dL/dh_0 and dL/dc_0 [B, H]. */
  dX: () => string;
  dInitialH: string;
  dInitialC?: string;
  /** Every row's carry where the direction starts, [1 + S, B, H] (row 0 is dInitialH/C): for rows that continue before it. */
  carryOut: { h: string; c?: string };
  /** First output of the recurrence's Scan node (the one node that may run long). */
  scanOutput: string;
}

/** Added to a seed row's squared norm before dividing by its square root: a row that died (all 0) stays 0. */
export const ROW_NORM_FLOOR = 1e-30;

/** Zeros of `dims` but the rows from `row` (axis 0), which hold `seeds` (see SeedRowsOrigin). */
export function seedRowsData(dims: number[], row: number, seeds: Float32Array): Float32Array {
  const data = new Float32Array(dims.reduce((a, x) => a * x, 1));
  data.set(seeds, row * (data.length / dims[0]));
  return data;
}

// new Float32Array(typed array) converts in native code; Float32Array.from iterates (about 10× slower).
const f32 = (v: ArrayLike<number>) => new Float32Array(v);

export function emitBptt(b: GraphBuilder, req: BpttRequest): BpttResult {
  const { layer, k, d, T, B, internals: fw } = req;
  const H = layer.hiddenSize;
  const I = layer.inputSize;
  const g = GATE_COUNT[layer.op];
  const tag = `L${k}d${d}_bw`;
  const acts = layer.activations[d];
  const m = fw.mask;
  const { padded } = req;
  // x ⊙ mask (zero at padded steps); the identity when no step is padded.
  const masked = (x: string) => (padded ? b.mul(x, m) : x);
  // The factors below work step by step: a time-local region (computed a range of steps at a time
  // beside the backward Scan's chunks when the sequence is long, see runtime/stagedRun.ts).
  const local = <R>(emit: () => R): R => b.timeLocal(tag, T, emit);
  const notM = padded ? b.sub(b.constF(1), m) : undefined;
  // x ⊙ mask + (1 − mask): x, and 1 at padded steps (where the state is carried).
  const carried = (x: string) => (padded ? b.add(b.mul(x, m), notM!) : x);
  const zerosTBH = () => b.initializer(`${tag}_zeros`, [T, B, H], new Float32Array(T * B * H));
  const G = req.gradYRows ?? (req.gradY ? local(() => masked(req.gradY!)) : zerosTBH());

  // Adjoint rows: 0 = objective, then hidden seeds, then cell seeds (or as rowLayout places them).
  const Sh = req.seeds?.count ?? 0;
  const Sc = req.seeds?.cell ? req.seeds.count : 0;
  const layout = req.rowLayout ?? { total: 1 + Sh + Sc, hidden: 1, cell: 1 + Sh };
  const N = layout.total;
  // Rows this direction owns: renormalised and reported (row 0 always reported).
  const own = [...Array.from({ length: Sh }, (_, i) => layout.hidden + i), ...Array.from({ length: Sc }, (_, i) => layout.cell! + i)];
  const reported = [0, ...own];
  const allReported = reported.length === N;
  const rows = (first: string | undefined, block: Float32Array | undefined, blockAt: 'hidden' | 'cell'): string => {
    const dims = [N, B, H];
    const origin = { layer: k, direction: d, part: blockAt, row: blockAt === 'hidden' ? 1 : 1 + Sh };
    // Fed, not stored: the seeds (random probes) vary with the seed while the graph stays the same.
    const init = block ? b.feedInput(`${tag}_carry0`, dims, seedRowsData(dims, origin.row, block), origin) : b.initializer(`${tag}_carry0`, dims, new Float32Array(N * B * H));
    if (!first) return init;
    // Row 0 takes the final-state gradient: init + pad(first).
    return b.add(init, b.op('Pad', [b.unsqueeze(first, [0]), b.constI64([0, 0, 0, N - 1, 0, 0])]));
  };
  const carryH0 = req.carryIn ? req.carryIn.h : rows(req.gradFinalH, req.seeds?.hidden, 'hidden');
  const carryC0 = layer.op === 'LSTM' ? (req.carryIn ? req.carryIn.c! : rows(req.gradFinalC, req.seeds?.cell, 'cell')) : undefined;

  // Slice of the R slice as an initializer [rows, H] (row-major, ONNX gate order).
  const Rd = layer.R.values.subarray(d * g * H * H, (d + 1) * g * H * H);
  const Wd = layer.W.values.subarray(d * g * H * I, (d + 1) * g * H * I);
  const Rinit = (from: number, count: number) => b.initializer(`${tag}_R`, [count * H, H], f32(Rd.subarray(from * H * H, (from + count) * H * H)));

  // act′ at the clipped pre-activation, times 1[|a| ≤ clip] (PyTorch's clamp passes the gradient at the bounds).
  const derivative = (pre: string, post: string, actIndex: number): string => {
    const clipped = emitClip(b, layer.clip, pre);
    let dv = emitActivationDerivative(b, acts[actIndex], clipped, post);
    if (layer.clip !== null) {
      const inside = b.op('Cast', [b.op('LessOrEqual', [b.op('Abs', [pre]), b.constF(layer.clip)])], { to: DataType.FLOAT });
      dv = b.mul(dv, inside);
    }
    return dv;
  };

  const body = new GraphBuilder(`gl_${tag}_s_`);
  const scanInputs: string[] = [];
  const bodyIn = (outer: string, hint: string) => { scanInputs.push(outer); return body.input(body.fresh(hint), DataType.FLOAT, null); };
  const cHin = body.input(body.fresh('carry_h'), DataType.FLOAT, null);
  const cCin = carryC0 ? body.input(body.fresh('carry_c'), DataType.FLOAT, null) : undefined;
  // [1, B, H] (or [rows, B, H]) per step; time-local unless G is the zeros initializer (a constant of all T steps).
  const Gt = bodyIn(req.gradYRows ? G : req.gradY ? local(() => b.unsqueeze(G, [1])) : b.unsqueeze(G, [1]), 'g');
  const mt = padded && Sh ? bodyIn(m, 'm') : undefined;
  const nmt = padded && layer.op !== 'GRU' ? bodyIn(notM!, 'nm') : undefined;
  const rowsOf = (x: string, from: number, count: number) => body.slice(x, [from], [from + count], [0]);
  // Per-row squared norms [rows, 1, 1] (zero at padded positions of the batch, SPEC §2).
  const rowNorms = (x: string, masked: boolean) => body.op('ReduceSumSquare', [masked && mt ? body.mul(x, mt) : x], { axes: [1, 2], keepdims: 1 });
  // Seed rows renormalised to unit state norm: den = √(Σ‖carry_h‖² + ‖carry_c‖²) per row, 1 for row 0.
  let cH = cHin;
  let cC = cCin;
  const jacobianOutputs: string[] = [];
  if (N > 1) {
    const ssH = rowNorms(cHin, false);
    const ss = cCin ? body.add(ssH, rowNorms(cCin, false)) : ssH;
    const rowMask = new Float32Array(N);
    const rowBase = new Float32Array(N).fill(1);
    for (const r of own) { rowMask[r] = 1; rowBase[r] = ROW_NORM_FLOOR; }
    const den = body.op('Sqrt', [body.add(body.mul(ss, body.initializer(`${tag}_rowmask`, [N, 1, 1], rowMask)),
      body.initializer(`${tag}_rowbase`, [N, 1, 1], rowBase))]);
    cH = body.op('Div', [cHin, den]);
    if (cCin) cC = body.op('Div', [cCin, den]);
    // Before renormalising: the rows' hidden part and whole state as they entered this step, and the divisor.
    const hiddenRows = mt ? rowNorms(cHin, true) : ssH;
    const stateRows = !cCin ? hiddenRows : mt ? body.add(hiddenRows, rowNorms(cCin, true)) : ss;
    const mine = (x: string) => (allReported ? x : body.op('Gather', [x, body.constI64(reported)], { axis: 0 }));
    jacobianOutputs.push(mine(hiddenRows), ...(cCin ? [mine(stateRows)] : []), mine(den));
  }
  // dh = carry_h + (G_t in row 0)
  const dh = body.add(cH, N > 1 && !req.gradYRows ? body.op('Pad', [Gt, body.constI64([0, 0, 0, N - 1, 0, 0])]) : Gt);
  // The objective's row of a per-step value: with no seed rows the value itself ([1, B, ·], squeezed outside).
  const row0 = (x: string) => (N > 1 ? body.pick(x, 0, 0) : x);
  // da·R, plus the adjoint carried unchanged through padded steps.
  const backToH = (mm: string) => (nmt ? body.add(mm, body.mul(dh, nmt)) : mm);

  let newCarryH: string;
  let newCarryC: string | undefined;
  // Per-step values whose objective row is a Scan output: dL/dh, dL/dc (LSTM), then da.
  let rowValues: string[];
  let dcStep: string | undefined;

  if (layer.op === 'LSTM') {
    const p = fw.pre;
    const q = fw.post;
    const hAct = acts[2];
    const { A, Dfac, fP } = local(() => {
      const dI = derivative(p.input, q.input, 0);
      const dO = derivative(p.output, q.output, 0);
      const dF = derivative(p.forget, q.forget, 0);
      const dC = derivative(p.cell, q.cell, 1);
      const hc = emitActivation(b, hAct, fw.cell!);
      const dhc = emitActivationDerivative(b, hAct, fw.cell!, hc);
      // da_i = dc ⊙ c̃ ⊙ f′(a_i)  (input_forget: f = 1 − i, so dc ⊙ (c̃ − c_{t−1}) ⊙ f′(a_i) and no forget term)
      const Fi = masked(b.mul(layer.inputForget ? b.sub(q.cell, fw.cPrev!) : q.cell, dI));
      const Ff = layer.inputForget ? b.mul(q.forget, b.constF(0)) : masked(b.mul(fw.cPrev!, dF));
      const Fo = masked(b.mul(hc, dO));   // da_o = dh ⊙ h(c_t) ⊙ f′(a_o)
      const Fc = masked(b.mul(q.input, dC)); // da_c = dc ⊙ i ⊙ g′(a_c)
      let A = masked(b.mul(q.output, dhc));  // dc += dh ⊙ o ⊙ h′(c_t)
      let fP = carried(q.forget); // carry_c' = dc ⊙ f (1 at padded steps: carried)
      if (layer.P) {
        const P = layer.P.values;
        const peep = (gi: number) => b.initializer(`${tag}_P${gi}`, [H], f32(P.subarray(d * 3 * H + gi * H, d * 3 * H + (gi + 1) * H)));
        const [Pi, Po, Pf] = [peep(0), peep(1), peep(2)];
        // o uses c_t: dc += da_o ⊙ P_o; i and f use c_{t−1}: carry_c' += da_i ⊙ P_i + da_f ⊙ P_f.
        A = b.add(A, b.mul(Fo, Po));
        fP = b.add(fP, b.add(b.mul(Fi, Pi), b.mul(Ff, Pf)));
      }
      return { A, Dfac: b.concat([Fi, Fo, Ff, Fc], 2), fP }; // Dfac: [T, B, 4H], gate order i, o, f, c
    });
    const At = bodyIn(A, 'A');
    const Dt = bodyIn(Dfac, 'D');
    const fPt = bodyIn(fP, 'fP');
    const dc = body.add(cC!, body.mul(dh, At));
    const da = body.mul(body.concat([dc, dh, dc, dc], 2), Dt);
    newCarryH = backToH(body.matmul(da, Rinit(0, 4)));
    newCarryC = body.mul(dc, fPt);
    rowValues = [dh, dc, da];
    dcStep = dc;
  } else if (layer.op === 'GRU') {
    const p = fw.pre;
    const q = fw.post;
    const [dZ, dR, dHt] = local(() => [derivative(p.update, q.update, 0), derivative(p.reset, q.reset, 0), derivative(p.hidden, q.hidden, 1)]);
    const [Fz, Fh, zP] = local(() => [
      masked(b.mul(b.sub(fw.Hprev, q.hidden), dZ)),     // da_z = dh ⊙ (h_{t−1} − h̃) ⊙ f′(a_z)
      masked(b.mul(b.sub(b.constF(1), q.update), dHt)), // da_h = dh ⊙ (1 − z) ⊙ g′(a_h)
      carried(q.update),                                // dh_{t−1} += dh ⊙ z (1 at padded steps)
    ]);
    const Fzt = bodyIn(Fz, 'Fz');
    const Fht = bodyIn(Fh, 'Fh');
    const zPt = bodyIn(zP, 'zP');
    const rt = bodyIn(q.reset, 'r');
    const daZ = body.mul(dh, Fzt);
    const daH = body.mul(dh, Fht);
    let daR: string;
    if (layer.linearBeforeReset) {
      // a_h = x·Whᵀ + Wbh + r ⊙ (h·Rhᵀ + Rbh): da_r = da_h ⊙ (h·Rhᵀ + Rbh) ⊙ f′(a_r); h gets (da_h ⊙ r)·Rh.
      const Krt = bodyIn(local(() => b.mul(fw.hRh!, dR)), 'Kr');
      daR = body.mul(daH, Krt);
      newCarryH = body.add(body.matmul(body.concat([daZ, daR, body.mul(daH, rt)], 2), Rinit(0, 3)), body.mul(dh, zPt));
    } else {
      // a_h = x·Whᵀ + Wbh + (r ⊙ h)·Rhᵀ + Rbh: s = da_h·Rh; da_r = s ⊙ h_{t−1} ⊙ f′(a_r); h gets s ⊙ r.
      const Kr0t = bodyIn(local(() => masked(b.mul(fw.Hprev, dR))), 'Kr0');
      const s = body.matmul(daH, Rinit(2, 1));
      daR = body.mul(s, Kr0t);
      newCarryH = body.add(body.add(body.matmul(body.concat([daZ, daR], 2), Rinit(0, 2)), body.mul(s, rt)), body.mul(dh, zPt));
    }
    rowValues = [dh, body.concat([daZ, daR, daH], 2)];
  } else {
    const D = local(() => masked(derivative(fw.pre.hidden, fw.post.hidden, 0))); // da = dh ⊙ f′(a)
    const Dt = bodyIn(D, 'D');
    const da = body.mul(dh, Dt);
    newCarryH = backToH(body.matmul(da, Rinit(0, 1)));
    rowValues = [dh, da];
  }
  // Then the seed rows' norms (see above), and the cell seeds' ‖dc‖² (rows 1 + Sh …, after renormalising).
  const stepOutputs = [
    ...rowValues.map(row0),
    ...jacobianOutputs,
    ...(Sc ? [rowNorms(rowsOf(dcStep!, layout.cell!, Sc), true)] : []),
  ];

  body.output(newCarryH);
  if (newCarryC) body.output(newCarryC);
  for (const o of stepOutputs) body.output(o);
  // The adjoint runs against the forward processing order.
  const scanDir = fw.direction === 'forward' ? 1 : 0;
  const states = [carryH0, ...(carryC0 ? [carryC0] : [])];
  // One step (a streaming call, a Scan iteration of one step): the body inline, no Scan of one iteration.
  const outs = T === 1
    ? inlineOneStep(b, body.graph(`${tag}_bptt`), states, scanInputs)
    : b.node('Scan', [...states, ...scanInputs], {
      body: body.graph(`${tag}_bptt`), num_scan_inputs: scanInputs.length,
      scan_input_directions: scanInputs.map(() => scanDir), scan_output_directions: stepOutputs.map(() => scanDir),
    }, states.length + stepOutputs.length, 'bptt');
  const finalH = outs[0];
  const finalC = carryC0 ? outs[1] : undefined;
  // Row-0 outputs are [T, B, ·] (picked in the body) or, with no seed rows, [T, 1, B, ·].
  // Everything after the recurrence is time-local again (per-step values) or a sum over the steps
  // (weight gradients): a long run computes it with each chunk of the Scan (runtime/stagedRun.ts).
  const summed = <R>(emit: () => R): R => b.timeSummed(tag, T, emit);
  const perStep = local(() => outs.slice(states.length).map((o, i) => (N === 1 && i < rowValues.length ? b.op('Squeeze', [o, b.constI64([1])]) : o)));
  let idx = 0;
  const gradHidden = local(() => masked(perStep[idx++]));
  const gradCell = layer.op === 'LSTM' ? local(() => masked(perStep[idx++])) : undefined;
  const daAllOuter = perStep[idx++];
  let jacobian: BpttResult['jacobian'];
  if (N > 1) {
    jacobian = {
      hiddenRows: perStep[idx++], stateRows: layer.op === 'LSTM' ? perStep[idx++] : undefined, divisors: perStep[idx++],
      cellRows: Sc ? perStep[idx++] : undefined, hiddenSeeds: Sh, cellSeeds: Sc,
    };
  }

  // Time-parallel weight gradients.
  const { dW, dR, dB, dP } = local(() => {
    const da2 = b.op('Reshape', [daAllOuter, b.constI64([-1, g * H])]);       // [T·B, gH]
    const daT = b.op('Transpose', [da2], { perm: [1, 0] });                   // [gH, T·B]
    const X2 = b.op('Reshape', [req.X, b.constI64([-1, I])]);
    const H2 = b.op('Reshape', [fw.Hprev, b.constI64([-1, H])]);
    const sumRows = (x: string) => summed(() => b.op('ReduceSum', [x, b.constI64([0])], { keepdims: 0 }));
    const dWv = summed(() => b.matmul(daT, X2));
    const dWb = sumRows(da2);
    let dRv: string;
    let dRb: string;
    if (layer.op === 'GRU') {
      const [daZ, daR, daH] = b.split(da2, 3, 1);
      const r2 = b.op('Reshape', [fw.post.reset, b.constI64([-1, H])]);
      const zr = b.op('Transpose', [b.concat([daZ, daR], 1)], { perm: [1, 0] });
      if (layer.linearBeforeReset) {
        const daHr = b.mul(daH, r2);
        dRv = summed(() => b.concat([b.matmul(zr, H2), b.matmul(b.op('Transpose', [daHr], { perm: [1, 0] }), H2)], 0));
        dRb = summed(() => b.concat([sumRows(daZ), sumRows(daR), sumRows(daHr)], 0));
      } else {
        const rH = b.mul(r2, H2);
        dRv = summed(() => b.concat([b.matmul(zr, H2), b.matmul(b.op('Transpose', [daH], { perm: [1, 0] }), rH)], 0));
        dRb = dWb;
      }
    } else {
      dRv = summed(() => b.matmul(daT, H2));
      dRb = dWb;
    }
    let dPv: string | undefined;
    if (layer.op === 'LSTM' && layer.P) {
      const [daI, daO, daF] = b.split(daAllOuter, 4, 2);
      const sumTB = (x: string) => summed(() => b.op('ReduceSum', [x, b.constI64([0, 1])], { keepdims: 0 }));
      const terms = [b.mul(daI, fw.cPrev!), b.mul(daO, fw.cell!), b.mul(daF, fw.cPrev!)];
      dPv = summed(() => b.concat(terms.map(sumTB), 0));
    }
    return { dW: dWv, dR: dRv, dB: summed(() => b.concat([dWb, dRb], 0)), dP: dPv };
  });
  let dXValue: string | undefined;
  const dX = () => (dXValue ??= local(() => b.matmul(daAllOuter, b.initializer(`${tag}_W`, [g * H, I], f32(Wd)))));
  return {
    gradHidden, gradCell, jacobian, dW, dR, dB, dP, dX,
    dInitialH: b.pick(finalH, 0, 0), dInitialC: finalC ? b.pick(finalC, 0, 0) : undefined, scanOutput: outs[0],
    carryOut: { h: finalH, c: finalC },
  };
}


/** ‖x_t‖ over every axis but the first, as max_t and ‖x_t / max_t‖ (see BackwardOutputs.inputGradNorm). */
export function scaledStepNorm(b: GraphBuilder, x: string, out: (value: string, what: string) => string): { max: string; scaled: string } {
  const m = b.op('ReduceMax', [b.op('Abs', [x])], { axes: [1, 2], keepdims: 1 });
  const scaled = b.op('Sqrt', [b.op('ReduceSumSquare', [b.op('Div', [x, b.op('Max', [m, b.constF(1e-38)])])], { axes: [1, 2], keepdims: 0 })]);
  return { max: out(b.op('Reshape', [m, b.constI64([-1])]), 'dXmax'), scaled: out(scaled, 'dXscaled') };
}

/**
 * A Scan body run for exactly one step, emitted into `b` instead of as a Scan: the states are
 * passed in, each scan input's one step is taken (its leading axis of 1 squeezed), and each scan
 * output gets that axis back. Returns the Scan's outputs: final states, then the scan outputs.
 */
export function inlineOneStep(b: GraphBuilder, body: GraphProto, states: string[], scanInputs: string[]): string[] {
  const rename = new Map<string, string>();
  body.input.forEach((v, i) => {
    rename.set(v.name, i < states.length ? states[i] : b.op('Squeeze', [scanInputs[i - states.length], b.constI64([0])]));
  });
  const r = (x: string) => rename.get(x) ?? x;
  b.initializers.push(...body.initializer);
  for (const n of body.node) b.nodes.push({ ...n, input: n.input.map(r) });
  return body.output.map((o, i) => (i < states.length ? b.op('Identity', [r(o.name)]) : b.unsqueeze(r(o.name), [0])));
}
