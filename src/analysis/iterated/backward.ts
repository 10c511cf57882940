/**
 * The backward pass of a Loop/Scan node (or of N streaming calls, wrapped as a Scan): one
 * reverse Scan over the iterations whose body is the backward of one iteration.
 *
 * What the reverse Scan carries, per float carried value of the node, is its adjoint as rows
 * [R, ...shape]: row 0 is dL/d(value) (the objective's), rows 1… are Jacobian seed rows (bptt.ts)
 * travelling back along the state path — for a recurrent node inside the body they were seeded
 * at its last step in the last iteration, for a state recurrence at the carried value after the
 * last iteration. It also carries sums over iterations: weight gradients of the recurrent nodes
 * inside, and gradients of the outer values the body reads.
 *
 * Each iteration of the reverse Scan reads that iteration's forward values (tapped from the
 * model's run, stacked on a leading iteration axis), the gradients of that iteration's outputs,
 * and for recurrent nodes inside, their internals (forwardTaps.ts over all iterations' steps at
 * once). Its body is the ordinary sweep: VJP rules for row 0, rows rules (rowsRules.ts) on the
 * state path, and BPTT (bptt.ts, its own inner Scan) for every recurrent node, whose carry enters
 * from the iteration after it and leaves to the one before.
 *
 * Per-iteration results (each recurrent node's gradHidden, Jacobian rows, input-gradient norms;
 * a state recurrence's adjoint and rows) come out stacked in iteration order, and are reshaped to
 * the concatenated time axis t = iteration·T + step.
 */
import { GraphBuilder } from '../../onnx/builder';
import { tensorDims, tensorValues } from '../../onnx/model';
import { DataType, NodeProto, TensorProto } from '../../onnx/proto';
import { attrTensor } from '../../onnx/attributes';
import { DirectionInternals } from '../forwardTaps';
import { RecurrentLayer } from '../recurrent';
import { BackwardResults, emitBptt, JacobianSeeds, ROW_NORM_FLOOR, scaledStepNorm } from '../backward/bptt';
import { isRecurrent } from '../backward/gradientPath';
import { rowsVjp } from '../backward/rowsRules';
import { VJP_RULES } from '../backward/rules';
import { VjpContext } from '../backward/vjp';
import { BodyPaths } from './bodyPath';
import { IteratedSpec } from './spec';

/** A recurrent node inside the body (forward direction only), with its values over all iterations. */
export interface InnerLayerPlan {
  k: number;
  layer: RecurrentLayer;
  bodyIndex: number;
  /** Steps per iteration and batch. */
  T: number;
  B: number;
  /** Its internals over the concatenated steps [N·T, B, ·] (names in the analysis graph). */
  internals: DirectionInternals;
  /** Its input over the concatenated steps [N·T, B, I]. */
  X: string;
  seeds?: JacobianSeeds;
}

/** A state recurrence: carried values `vars` (indices into spec.carried) and their seeds, [S, ...shape] per var. */
export interface StatePlan {
  vars: number[];
  seeds?: { count: number; probes: boolean; perVar: Float32Array[] };
}

export interface IteratedBackwardRequest {
  b: GraphBuilder;
  /** Context of the main graph's backward (outer values, their shapes). */
  outer: VjpContext;
  spec: IteratedSpec;
  paths: BodyPaths;
  /** Iterations that ran. */
  N: number;
  /** Body tensor → name in the analysis graph of its values over the iterations, [N, ...shape] (undefined: not tapped). */
  tap: (bodyTensor: string) => string | undefined;
  /** Per-iteration shapes and element types of tapped body tensors. */
  shapes: Map<string, number[]>;
  elemTypes: Map<string, number>;
  /** Gradients of the node's outputs (by output position; undefined where none reaches). */
  dOuts: (string | undefined)[];
  /** Outer names whose gradients are wanted (node inputs on the path, outer values the body reads). */
  wanted: (name: string) => boolean;
  inner: InnerLayerPlan[];
  state?: StatePlan;
  tag: string;
}

export interface InnerLayerResult extends BackwardResults {
  /** [N·T] each: max_t and ‖dX_t / max_t‖. */
  inputGradNorm: { max: string; scaled: string };
}

export interface StateResult {
  /** Per state var, dL/d(value after each iteration), [N, ...shape]. */
  grads: string[];
  /** [N, 1 + S, 1, 1]: rows' squared norms as they entered the iteration, and their divisors. */
  jacobian?: { rows: string; divisors: string; seeds: number };
}

export interface IteratedBackwardResult {
  /** Gradients of outer names: the node's inputs and the outer values the body reads. */
  grads: Map<string, string>;
  inner: InnerLayerResult[];
  state?: StateResult;
  /** First output of the reverse Scan (the node that runs long). */
  scanOutput: string;
}

const f32 = (n: number) => new Float32Array(n);
/** Ops that only lay values out (their gradient is the same op applied to the parts' gradients). */
const LAYOUT_OPS = new Set(['Identity', 'Concat', 'Unsqueeze', 'Squeeze', 'Reshape', 'Flatten', 'Transpose']);
const numel = (s: number[]) => s.reduce((a, x) => a * x, 1);

export function emitIteratedBackward(req: IteratedBackwardRequest): IteratedBackwardResult {
  const { b, spec, paths, N, tag } = req;
  const body = spec.body;
  const nCarried = spec.carried.length;

  // Rows: 0 = objective, then each inner layer's hidden and cell seeds, then the state recurrence's.
  let R = 1;
  const layouts = req.inner.map((p) => {
    if (!p.seeds) return undefined;
    const hidden = R;
    R += p.seeds.count;
    const cell = p.seeds.cell ? R : undefined;
    if (p.seeds.cell) R += p.seeds.count;
    return { hidden, cell };
  });
  const stateFrom = R;
  const S_state = req.state?.seeds?.count ?? 0;
  R += S_state;
  const S = R - 1;

  const shapeOf = (t: string): number[] => {
    const s = req.shapes.get(t);
    if (!s) throw new Error(`internal error: no per-iteration shape for body value '${t}'`);
    return s;
  };
  const carried = paths.floatCarried.map((ci) => ({ ci, c: spec.carried[ci], shape: shapeOf(spec.carried[ci].bodyOut) }));
  const outerReads = paths.outerReads.filter((n) => req.wanted(n));

  // ---- The reverse Scan's body ----
  const ib = new GraphBuilder(`gl_${tag}_`);
  const stateIns: string[] = [];
  const stateInits: string[] = [];
  const carryIns = carried.map(({ c, ci, shape }) => {
    const name = ib.input(ib.fresh('carry'), DataType.FLOAT, null);
    stateIns.push(name);
    // Initial rows: row 0 = dL/d(final value); the state recurrence's seeds in its rows.
    const data = f32(R * numel(shape));
    const si = req.state?.vars.indexOf(ci) ?? -1;
    if (si >= 0 && req.state?.seeds) data.set(req.state.seeds.perVar[si], stateFrom * numel(shape));
    let init = si >= 0 && req.state?.seeds ? b.feedInput(`${tag}_carry0`, [R, ...shape], data) : b.initializer(`${tag}_carry0`, [R, ...shape], data);
    const d = c.outerOut ? req.dOuts[ci] : undefined;
    if (d) init = b.add(init, R > 1 ? b.op('Pad', [b.unsqueeze(d, [0]), b.constI64([0, ...shape.map(() => 0), R - 1, ...shape.map(() => 0)])]) : b.unsqueeze(d, [0]));
    stateInits.push(init);
    return name;
  });
  const accOuter = outerReads.map((name) => {
    const acc = ib.input(ib.fresh('acc'), req.outer.elemType(name), null);
    stateIns.push(acc);
    stateInits.push(b.initializer(`${tag}_acc0`, req.outer.shape(name), f32(numel(req.outer.shape(name)))));
    return acc;
  });
  const accInner = req.inner.map((p) => {
    const g = p.layer.op === 'LSTM' ? 4 : p.layer.op === 'GRU' ? 3 : 1;
    const H = p.layer.hiddenSize;
    const shapes: Record<string, number[]> = { W: [g * H, p.layer.inputSize], R: [g * H, H], B: [2 * g * H], ...(p.layer.P ? { P: [3 * H] } : {}) };
    return Object.fromEntries(Object.entries(shapes).map(([key, shape]) => {
      const acc = ib.input(ib.fresh(`acc_${key}`), DataType.FLOAT, null);
      stateIns.push(acc);
      stateInits.push(b.initializer(`${tag}_acc0`, shape, f32(numel(shape))));
      return [key, acc];
    })) as Record<'W' | 'R' | 'B' | 'P', string>;
  });

  // Per-iteration inputs, created as the sweep asks for them.
  const scanInputs: string[] = [];
  const perIter = (outerName: string, hint: string, elemType: number = DataType.FLOAT) => {
    scanInputs.push(outerName);
    return ib.input(ib.fresh(hint), elemType, null);
  };

  // Body constants and the context the rules see.
  const bodyInit = new Map<string, TensorProto>(body.initializer.map((t) => [t.name ?? '', t]));
  for (const n of body.node) if (n.op_type === 'Constant') { const t = attrTensor(n, 'value'); if (t) bodyInit.set(n.output[0], t); }
  const defined = new Set<string>([...body.input.map((v) => v.name), ...body.node.flatMap((n) => n.output)]);
  const copied = new Map<string, string>();
  const tapped = new Map<string, string>();
  const ctx: VjpContext = {
    b: ib,
    opset: req.outer.opset,
    value(t) {
      const init = bodyInit.get(t);
      if (init) {
        let name = copied.get(t);
        if (!name) { name = ib.fresh('body_const'); ib.initializers.push({ ...init, name }); copied.set(t, name); }
        return name;
      }
      if (defined.has(t)) {
        let name = tapped.get(t);
        if (!name) {
          const outer = req.tap(t);
          if (!outer) throw new Error(`internal error: body value '${t}' was not tapped`);
          name = perIter(outer, 'fwd', req.elemTypes.get(t) ?? DataType.FLOAT);
          tapped.set(t, name);
        }
        return name;
      }
      return req.outer.value(t);
    },
    shape(t) {
      const init = bodyInit.get(t);
      if (init) return tensorDims(init);
      return defined.has(t) ? shapeOf(t) : req.outer.shape(t);
    },
    elemType(t) {
      const init = bodyInit.get(t);
      if (init) return init.data_type;
      return defined.has(t) ? req.elemTypes.get(t) ?? DataType.FLOAT : req.outer.elemType(t);
    },
    constant(t) {
      return bodyInit.get(t) ?? (defined.has(t) ? undefined : req.outer.constant(t));
    },
    constantInts(t) {
      const c = bodyInit.get(t);
      if (c) return Array.from(tensorValues(c, '') as ArrayLike<number | bigint>, Number);
      return defined.has(t) ? undefined : req.outer.constantInts(t);
    },
  };

  // Adjoints in the body: row 0 (g0) and the seed rows (gR, [S, ...shape]).
  const g0 = new Map<string, string[]>();
  const gR = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, t: string | undefined, v: string | undefined) => {
    if (!t || !v) return;
    m.set(t, [...(m.get(t) ?? []), v]);
  };
  const sumOf = (m: Map<string, string[]>, t: string): string | undefined => {
    const list = m.get(t);
    if (!list || list.length === 0) return undefined;
    if (list.length === 1) return list[0];
    const s = ib.op('Sum', list);
    m.set(t, [s]);
    return s;
  };
  const zerosOf = (shape: number[]) => ib.initializer('zeros', shape, f32(numel(shape)));
  const iterOutputs: string[] = [];
  const iterOut = (x: string) => { iterOutputs.push(x); return iterOutputs.length - 1; };

  // The state recurrence: its rows' norms as they enter the iteration, then renormalised (bptt.ts does the same per step).
  let stateOut: { grads: number[]; rows?: number; divisors?: number } | undefined;
  let stateVarIdx: number[] = [];
  const entering = carryIns.slice();
  if (req.state) {
    const sv = req.state.vars.map((ci) => carried.findIndex((x) => x.ci === ci));
    // (dL/d(state after this iteration), every path: filled in after the sweep, below.)
    stateOut = { grads: [] };
    stateVarIdx = sv;
    if (S_state > 0) {
      const ssList = sv.map((j) => ib.op('ReduceSumSquare', [carryIns[j]], { axes: carried[j].shape.map((_, a) => a + 1), keepdims: 0 }));
      const ss = ssList.length === 1 ? ssList[0] : ib.op('Sum', ssList); // [R]
      const mask = f32(R);
      const base = f32(R).fill(1);
      for (let r = stateFrom; r < stateFrom + S_state; r++) { mask[r] = 1; base[r] = ROW_NORM_FLOOR; }
      const den = ib.op('Sqrt', [ib.add(ib.mul(ss, ib.initializer('rowmask', [R], mask)), ib.initializer('rowbase', [R], base))]);
      const reported = [0, ...Array.from({ length: S_state }, (_, i) => stateFrom + i)];
      const asRows = (x: string) => ib.op('Reshape', [ib.op('Gather', [x, ib.constI64(reported)], { axis: 0 }), ib.constI64([reported.length, 1, 1])]);
      stateOut.rows = iterOut(asRows(ss));
      stateOut.divisors = iterOut(asRows(den));
      sv.forEach((j) => {
        entering[j] = ib.op('Div', [carryIns[j], ib.op('Reshape', [den, ib.constI64([R, ...carried[j].shape.map(() => 1)])])]);
      });
    }
  }
  carried.forEach(({ c }, j) => {
    add(g0, c.bodyOut, ib.pick(entering[j], 0, 0));
    if (S > 0) add(gR, c.bodyOut, ib.slice(entering[j], [1], [R], [0]));
  });

  // Gradients of this iteration's outputs.
  const nC = nCarried;
  spec.scanOuts.forEach((so, j) => {
    const d = req.dOuts[nC + j];
    if (!d || !paths.tensors.has(so.bodyOut)) return;
    add(g0, so.bodyOut, perIter(toIterationMajor(b, d, so.axis, so.reverse, shapeOf(so.bodyOut).length + 1), 'dy'));
  });

  const isLast = req.inner.some((p) => p.seeds) ? perIter(b.initializer(`${tag}_last`, [N], lastFlag(N)), 'last') : undefined;

  // ---- The sweep ----
  const innerResults: { gradHidden: number; gradCell?: number; jac?: number[]; dXmax: number; dXscaled: number }[] = [];
  const innerAcc: Record<string, string>[] = req.inner.map(() => ({}));
  const sweep = [...new Set([...paths.nodes, ...paths.stateNodes])].sort((a, c) => c - a);
  for (const i of sweep) {
    const node = body.node[i];
    if (isRecurrent(node)) {
      const pi = req.inner.findIndex((p) => p.bodyIndex === i);
      if (pi < 0) continue;
      const plan = req.inner[pi];
      const { layer, T, B } = plan;
      const H = layer.hiddenSize;
      const [Y, Yh, Yc] = [node.output[0], node.output[1], node.output[2]];
      const dY = Y ? sumOf(g0, Y) : undefined;
      const dYh = Yh ? sumOf(g0, Yh) : undefined;
      const dYc = Yc ? sumOf(g0, Yc) : undefined;
      const rY = Y && S ? sumOf(gR, Y) : undefined;
      const rYh = Yh && S ? sumOf(gR, Yh) : undefined;
      const rYc = Yc && S ? sumOf(gR, Yc) : undefined;
      const layout = layouts[pi];
      const seedInit = (which: 'hidden' | 'cell') => {
        const data = f32(R * B * H);
        const from = which === 'hidden' ? layout!.hidden : layout!.cell!;
        data.set(which === 'hidden' ? plan.seeds!.hidden : plan.seeds!.cell!, from * B * H);
        // (Fed to the main graph, read here from the enclosing scope: the seeds vary, the graph does not.)
        return ib.mul(isLast!, b.feedInput(`${tag}_${which}_seed`, [R, B, H], data));
      };
      const carryOf = (d0: string | undefined, rows: string | undefined, which: 'hidden' | 'cell') => {
        const first = d0 ? ib.unsqueeze(ib.pick(d0, 0, 0), [0]) : zerosOf([1, B, H]);
        let carry = S > 0 ? ib.concat([first, rows ? ib.op('Reshape', [rows, ib.constI64([S, B, H])]) : zerosOf([S, B, H])], 0) : first;
        if (layout && (which === 'hidden' || plan.seeds?.cell)) carry = ib.add(carry, seedInit(which));
        return carry;
      };
      const carryIn = { h: carryOf(dYh, rYh, 'hidden'), c: layer.op === 'LSTM' ? carryOf(dYc, rYc, 'cell') : undefined };
      let gradYRows: string | undefined;
      if (rY) {
        const row0 = dY ? ib.unsqueeze(ib.pick(dY, 0, 1), [1]) : zerosOf([T, 1, B, H]);
        gradYRows = ib.concat([row0, ib.op('Transpose', [ib.op('Reshape', [rY, ib.constI64([S, T, B, H])])], { perm: [1, 0, 2, 3] })], 1);
      }
      const fw = plan.internals;
      const slice = (x: string | undefined, hint: string) => (x ? perIter(b.op('Reshape', [x, b.constI64([N, T, B, -1])]), hint) : undefined);
      const internals: DirectionInternals = {
        direction: 'forward', mask: '', Hprev: slice(fw.Hprev, 'Hprev')!, cPrev: slice(fw.cPrev, 'cPrev'), cell: slice(fw.cell, 'cell'),
        hRh: slice(fw.hRh, 'hRh'),
        pre: Object.fromEntries(Object.entries(fw.pre).map(([g, v]) => [g, slice(v, `pre_${g}`)!])),
        post: Object.fromEntries(Object.entries(fw.post).map(([g, v]) => [g, slice(v, `post_${g}`)!])),
      };
      const r = emitBptt(ib, {
        layer, k: plan.k, d: 0, T, B, internals, X: slice(plan.X, 'X')!,
        gradY: dY && !gradYRows ? ib.pick(dY, 0, 1) : undefined, gradYRows,
        carryIn, rowLayout: layout ? { total: R, hidden: layout.hidden, cell: layout.cell } : { total: R, hidden: 1 },
        seeds: plan.seeds, padded: false,
      });
      const dX = r.dX();
      if (node.input[0] && paths.tensors.has(node.input[0])) add(g0, node.input[0], dX);
      const norms = scaledStepNorm(ib, dX, (v) => v);
      const back = (carry: string, input: string | undefined) => {
        if (!input) return;
        add(g0, input, ib.unsqueeze(ib.pick(carry, 0, 0), [0]));
        if (S > 0 && paths.stateTensors.has(input)) add(gR, input, ib.unsqueeze(ib.slice(carry, [1], [R], [0]), [1]));
      };
      back(r.carryOut.h, node.input[5]);
      if (r.carryOut.c) back(r.carryOut.c, node.input[6]);
      innerResults[pi] = {
        gradHidden: iterOut(r.gradHidden), gradCell: r.gradCell ? iterOut(r.gradCell) : undefined,
        jac: r.jacobian ? [r.jacobian.hiddenRows, r.jacobian.stateRows, r.jacobian.divisors, r.jacobian.cellRows].map((x) => (x ? iterOut(x) : -1)) : undefined,
        dXmax: iterOut(norms.max), dXscaled: iterOut(norms.scaled),
      };
      innerAcc[pi] = { W: r.dW, R: r.dR, B: r.dB, ...(r.dP ? { P: r.dP } : {}) };
      continue;
    }
    const d0 = node.output.map((o) => (o ? sumOf(g0, o) : undefined));
    if (d0.some((x) => x !== undefined)) {
      const wanted = node.input.map((t) => !!t && paths.tensors.has(t));
      const dIns = VJP_RULES[node.op_type](node, d0, ctx, wanted);
      node.input.forEach((t, j) => { if (wanted[j]) add(g0, t, dIns[j]); });
    }
    if (S > 0 && paths.stateNodes.has(i)) {
      const dR = node.output.map((o) => (o ? sumOf(gR, o) : undefined));
      if (dR.some((x) => x !== undefined)) {
        const wanted = node.input.map((t) => !!t && paths.stateTensors.has(t));
        const dIns = rowsVjp(node, dR, ctx, wanted, S);
        node.input.forEach((t, j) => { if (wanted[j]) add(gR, t, dIns[j]); });
      }
    }
  }

  // The state recurrence's dL/d(state after the iteration): what reached the carried value from the
  // iterations after it and from this iteration's own outputs of it.
  // A state assembled from its parts (stateN = Concat(Unsqueeze(h′), Unsqueeze(c′))) is perturbed
  // in its parts: each part's gradient counts all its uses (the head reading h′ as well), and the
  // same layout ops put them together again.
  const producerOf = new Map<string, NodeProto>();
  for (const n of body.node) for (const o of n.output) if (o) producerOf.set(o, n);
  const assemble = (t: string, depth: number): string | undefined => {
    const p = producerOf.get(t);
    if (p && depth < 16 && LAYOUT_OPS.has(p.op_type) && p.output.length === 1) {
      const data = p.op_type === 'Concat' ? p.input.map((_, i) => i) : [0];
      const parts = p.input.map((x, i) => (data.includes(i) ? assemble(x, depth + 1) : x ? ctx.value(x) : ''));
      if (parts.every((x, i) => !data.includes(i) || x !== undefined)) {
        const out = ib.fresh('state_grad');
        ib.nodes.push({ ...p, name: ib.fresh('n_state_grad'), input: parts as string[], output: [out] });
        return out;
      }
    }
    return sumOf(g0, t);
  };
  if (stateOut) stateOut.grads = stateVarIdx.map((j) => iterOut(assemble(carried[j].c.bodyOut, 0) ?? zerosOf(carried[j].shape)));

  // ---- The body's outputs: new carries, sums, then per-iteration values ----
  const bodyOutputs: string[] = [];
  carried.forEach(({ c, shape }) => {
    const row0 = sumOf(g0, c.bodyIn) ?? zerosOf(shape);
    const rows = S > 0 ? sumOf(gR, c.bodyIn) ?? zerosOf([S, ...shape]) : undefined;
    bodyOutputs.push(rows ? ib.concat([ib.unsqueeze(row0, [0]), rows], 0) : ib.unsqueeze(row0, [0]));
  });
  outerReads.forEach((name, j) => {
    const g = sumOf(g0, name);
    bodyOutputs.push(g ? ib.add(accOuter[j], g) : ib.op('Identity', [accOuter[j]]));
  });
  req.inner.forEach((p, pi) => {
    for (const key of Object.keys(accInner[pi])) {
      const acc = accInner[pi][key as 'W'];
      const g = innerAcc[pi][key];
      bodyOutputs.push(g ? ib.add(acc, g) : ib.op('Identity', [acc]));
    }
  });
  const scanInGrad = spec.scanIns.map((si) => {
    if (!req.wanted(si.outerIn)) return -1;
    const g = sumOf(g0, si.bodyIn);
    return iterOut(g ?? zerosOf(shapeOf(si.bodyIn)));
  });
  for (const o of bodyOutputs) ib.output(o);
  // Scan outputs must be fresh names (an output may not be a body input or repeat another).
  for (const o of iterOutputs) ib.output(ib.op('Identity', [o]));

  const nStates = stateIns.length;
  const outs = b.node('Scan', [...stateInits, ...scanInputs], {
    body: ib.graph(`${tag}_iterations`), num_scan_inputs: scanInputs.length,
    scan_input_directions: scanInputs.map(() => 1), scan_output_directions: iterOutputs.map(() => 1),
  }, nStates + iterOutputs.length, 'iter_bw');
  const finals = outs.slice(0, nStates);
  const stacked = outs.slice(nStates);

  // ---- Back in the main graph ----
  const grads = new Map<string, string>();
  const put = (name: string, g: string) => { grads.set(name, grads.has(name) ? b.add(grads.get(name)!, g) : g); };
  carried.forEach(({ c }, j) => { if (c.outerIn && req.wanted(c.outerIn)) put(c.outerIn, b.pick(finals[j], 0, 0)); });
  outerReads.forEach((name, j) => put(name, finals[carried.length + j]));
  let at = carried.length + outerReads.length;
  const innerOut: InnerLayerResult[] = req.inner.map((p, pi) => {
    const acc: Record<string, string> = {};
    for (const key of Object.keys(accInner[pi])) acc[key] = finals[at++];
    const res = innerResults[pi];
    const NT = N * p.T;
    const flat = (idx: number, rest: number[]) => b.op('Reshape', [stacked[idx], b.constI64([NT, ...rest])]);
    const H = p.layer.hiddenSize;
    const jac = res?.jac;
    return {
      gradHidden: res ? flat(res.gradHidden, [p.B, H]) : b.initializer(`${tag}_zero`, [NT, p.B, H], f32(NT * p.B * H)),
      gradCell: res?.gradCell !== undefined ? flat(res.gradCell, [p.B, H]) : undefined,
      jacobian: jac && p.seeds ? {
        hiddenRows: flat(jac[0], [-1, 1, 1]), stateRows: jac[1] >= 0 ? flat(jac[1], [-1, 1, 1]) : undefined,
        divisors: flat(jac[2], [-1, 1, 1]), cellRows: jac[3] >= 0 ? flat(jac[3], [-1, 1, 1]) : undefined,
        hiddenSeeds: p.seeds.count, cellSeeds: p.seeds.cell ? p.seeds.count : 0,
      } : undefined,
      dW: acc.W, dR: acc.R, dB: acc.B, dP: acc.P,
      inputGradNorm: res ? { max: flat(res.dXmax, []), scaled: flat(res.dXscaled, []) }
        : { max: b.initializer(`${tag}_zero`, [NT], f32(NT)), scaled: b.initializer(`${tag}_zero`, [NT], f32(NT)) },
    };
  });
  spec.scanIns.forEach((si, j) => {
    if (scanInGrad[j] >= 0) put(si.outerIn, fromIterationMajor(b, stacked[scanInGrad[j]], si.axis, si.reverse, shapeOf(si.bodyIn).length + 1));
  });
  let state: StateResult | undefined;
  if (stateOut) {
    state = {
      grads: stateOut.grads.map((i) => stacked[i]),
      jacobian: stateOut.rows !== undefined ? { rows: stacked[stateOut.rows], divisors: stacked[stateOut.divisors!], seeds: S_state } : undefined,
    };
  }
  return { grads, inner: innerOut, state, scanOutput: outs[0] };
}

/** [N] float: 1 at the last iteration. */
function lastFlag(N: number): Float32Array {
  const a = f32(N);
  a[N - 1] = 1;
  return a;
}

/** A stacked per-iteration value as the node laid it out (axis, direction) → iterations on axis 0, in iteration order. */
export function toIterationMajor(b: GraphBuilder, x: string, axis: number, reverse: boolean, rank: number): string {
  const y = axis !== 0 ? moveAxis(b, x, axis, 0, rank) : x;
  return reverse ? flip0(b, y) : y;
}

/** The inverse of toIterationMajor. */
export function fromIterationMajor(b: GraphBuilder, x: string, axis: number, reverse: boolean, rank: number): string {
  const y = reverse ? flip0(b, x) : x;
  return axis !== 0 ? moveAxis(b, y, 0, axis, rank) : y;
}

function flip0(b: GraphBuilder, x: string): string {
  return b.op('Slice', [x, b.constI64([-1]), b.constI64([-Number.MAX_SAFE_INTEGER]), b.constI64([0]), b.constI64([-1])]);
}

/** Transpose axis `from` of a rank-`rank` tensor to position `to`. */
function moveAxis(b: GraphBuilder, x: string, from: number, to: number, rank: number): string {
  const perm = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== from);
  perm.splice(to, 0, from);
  return b.op('Transpose', [x], { perm });
}
