/**
 * The VJP rules (src/analysis/backward/rules.ts) against central finite differences, both sides
 * computed by onnxruntime.
 *
 * Each case is one forward node in a tiny model (float64 unless said otherwise) run once on
 * random inputs. The rule builds the backward graph for L = Σ_i Σ dY_i ⊙ Y_i (dY_i random),
 * fed with the forward tensors it asks for; its dL/dX is compared with
 * (L(x + h·e) − L(x − h·e)) / (2h) for every element of every differentiable input, each L from
 * a fresh run of the forward model.
 *
 * Tolerance, float64: with h = 1e-6 the truncation error is h²/6·|L'''| ≈ 1e-13 for these
 * smooth, O(1) functions (inputs keep away from kinks and poles), and the rounding error is
 * about ε₆₄·Σ|dY·Y| / h ≈ 1e-16·10/1e-6 = 1e-9, so |rule − fd| ≤ 1e-6·(1 + |fd|) has three orders
 * of margin while catching any wrong term (those are O(0.1) or larger).
 * Cases run in float32 (h = 1e-2 and 2e-3 tolerance: rounding ε₃₂·Σ|dY·Y|/h ≈ 6e-8·10/1e-2 ≈ 6e-5,
 * truncation ≈ 2e-5) say why.
 *
 * Ops onnxruntime has no float64 kernel for (Conv, ConvTranspose, AveragePool, the global
 * pools, Erf, Softplus, …) keep float64 finite differences through a `reference`: the forward
 * node written out in float64 JavaScript (test/unit/vjpReferences.ts), which then stands in for
 * onnxruntime in the forward run and in every L. So that the reference cannot drift from what
 * onnxruntime computes (padding conventions, ceil_mode, count_include_pad), it is first checked
 * against onnxruntime's float32 kernel on the same inputs: |ref − ort| ≤ 1e-5·(1 + |ref|), where
 * float32 rounding of the inputs and the sums (≈ 6e-8 per term, ≤ 50 terms of O(1)) stays under
 * 3e-6 and any convention mismatch (a window off by one, a wrong divisor) is O(0.1). The
 * rule's backward graph runs in float64 either way: rules emit only ops onnxruntime runs in
 * float64.
 */
import * as assert from 'assert';
import * as ort from 'onnxruntime-node';
import { VJP_RULES } from '../../src/analysis/backward/rules';
import { VjpContext } from '../../src/analysis/backward/vjp';
import { AttrValue, makeAttribute } from '../../src/onnx/attributes';
import { GraphBuilder, makeModel, valueInfo } from '../../src/onnx/builder';
import { encodeModel, makeTensor, tensorValues } from '../../src/onnx/model';
import { NodeProto, TensorProto, ValueInfoProto } from '../../src/onnx/proto';
import { SeededRandom } from '../../src/inputs/random';
import * as REF from './vjpReferences';

type Elem = 'double' | 'float' | 'int64' | 'int32' | 'bool';
const ONNX_TYPE: Record<Elem, number> = { double: 11, float: 1, int64: 7, int32: 6, bool: 9 };
const ORT_TYPE: Record<Elem, 'float64' | 'float32' | 'int64' | 'int32' | 'bool'> = {
  double: 'float64', float: 'float32', int64: 'int64', int32: 'int32', bool: 'bool',
};

interface In {
  dims: number[];
  /** Default: the case's float type. */
  type?: Elem;
  /** Default: uniform random in `range` (default [−1, 1]) with |x| ≥ `gap`. */
  values?: number[];
  range?: [number, number];
  gap?: number;
  /** An initializer of the forward model (shapes, axes, exponents): no gradient. */
  constant?: boolean;
}

interface Case {
  title: string;
  op: string;
  opset: number;
  /** null: an absent optional input (the empty name). */
  inputs: (In | null)[];
  attrs?: Record<string, AttrValue>;
  /** Number of node outputs (all graph outputs); default 1. */
  outputs?: number;
  /** Element type of the outputs; default the case's float type. */
  outType?: Elem;
  /** Element types per output where they differ (MaxPool's int64 Indices). */
  outTypes?: Elem[];
  /** Outputs that get an upstream gradient; default all. */
  seeded?: number[];
  /** Run in float32 (h = 1e-2, tolerance 2e-3): why. */
  float32?: string;
  /** The forward node in float64 JavaScript, checked against onnxruntime's float32 kernel (see the header). */
  reference?: { why: string; fn: REF.Reference };
}

type Data = Float64Array | Float32Array | BigInt64Array | Int32Array | Uint8Array;
interface Value { type: Elem; dims: number[]; data: Data }

function makeData(type: Elem, values: number[]): Data {
  switch (type) {
    case 'double': return Float64Array.from(values);
    case 'float': return Float32Array.from(values);
    case 'int64': return BigInt64Array.from(values.map(BigInt));
    case 'int32': return Int32Array.from(values);
    case 'bool': return Uint8Array.from(values);
  }
}

function toOrt(v: Value): ort.Tensor {
  return new ort.Tensor(ORT_TYPE[v.type], v.data as never, v.dims);
}

function randomValues(rng: SeededRandom, n: number, spec: In, type: Elem): number[] {
  const [lo, hi] = spec.range ?? [-1, 1];
  const gap = spec.gap ?? 0;
  return Array.from({ length: n }, () => {
    for (;;) {
      const v = lo + (hi - lo) * rng.nextDouble();
      if (Math.abs(v) < gap) continue;
      if (type === 'bool') return v < 0.5 ? 0 : 1;
      if (type === 'int64' || type === 'int32') return Math.floor(v);
      return v;
    }
  });
}

const numel = (dims: number[]): number => dims.reduce((a, b) => a * b, 1);

interface Prepared {
  c: Case;
  node: NodeProto;
  /** The forward outputs (float64 for float outputs) for given non-constant inputs. */
  run(feeds: Record<string, Value>): Promise<Value[]>;
  release(): Promise<void>;
  /** Every forward tensor (inputs, constants, outputs) by name. */
  values: Map<string, Value>;
  constants: Map<string, TensorProto>;
  /** The non-constant inputs. */
  feeds: Record<string, Value>;
  dOuts: Map<string, Float64Array>;
  wanted: boolean[];
}

function ortFeeds(feeds: Record<string, Value>, castToFloat = false): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, toOrt(castToFloat && v.type === 'double' ? { ...v, type: 'float', data: Float32Array.from(v.data as Float64Array) } : v)]));
}

function isFloat(e: Elem): boolean {
  return e === 'double' || e === 'float';
}

async function prepare(c: Case): Promise<Prepared> {
  const floatType: Elem = c.float32 ? 'float' : 'double';
  const rng = SeededRandom.forInput(7, c.title);
  const values = new Map<string, Value>();
  const constants = new Map<string, TensorProto>();
  const feeds: Record<string, Value> = {};
  const graphInputs: ValueInfoProto[] = [];
  const wanted: boolean[] = [];
  // With a reference, onnxruntime runs the node in float32 only to check the reference.
  const ortType = (e: Elem): Elem => (c.reference && e === 'double' ? 'float' : e);
  const inputNames = c.inputs.map((spec, i) => {
    if (!spec) { wanted.push(false); return ''; }
    const name = `x${i}`;
    const type = spec.type ?? floatType;
    const v: Value = { type, dims: spec.dims, data: makeData(type, spec.values ?? randomValues(rng, numel(spec.dims), spec, type)) };
    values.set(name, v);
    if (spec.constant) {
      constants.set(name, makeTensor(name, spec.dims, v.data as Float64Array, ONNX_TYPE[type]));
    } else {
      graphInputs.push(valueInfo(name, ONNX_TYPE[ortType(type)], spec.dims));
      feeds[name] = v;
    }
    wanted.push(!spec.constant && isFloat(type));
    return name;
  });
  const outTypes = Array.from({ length: c.outputs ?? 1 }, (_, i) => c.outTypes?.[i] ?? c.outType ?? floatType);
  const outputNames = outTypes.map((_, i) => `y${i}`);
  const node: NodeProto = {
    op_type: c.op, input: inputNames, output: outputNames, name: `fwd_${c.op}`, domain: '',
    attribute: Object.entries(c.attrs ?? {}).map(([k, v]) => makeAttribute(k, v)),
  };
  const ortConstants = [...constants.values()].map((t) => (c.reference && t.data_type === ONNX_TYPE.double
    ? makeTensor(t.name!, values.get(t.name!)!.dims, Float32Array.from(values.get(t.name!)!.data as Float64Array)) : t));
  const model = makeModel({
    name: 'forward', node: [node], initializer: ortConstants, input: graphInputs,
    output: outputNames.map((o, i) => valueInfo(o, ONNX_TYPE[ortType(outTypes[i])], null)), value_info: [],
  }, c.opset);
  const session = await ort.InferenceSession.create(encodeModel(model));
  const runOrt = async (f: Record<string, Value>): Promise<Value[]> => {
    const out = await session.run(ortFeeds(f, !!c.reference));
    return outputNames.map((o, i) => ({ type: ortType(outTypes[i]), dims: [...out[o].dims], data: out[o].data as Data }));
  };
  const runReference = async (f: Record<string, Value>): Promise<Value[]> => {
    const ins = inputNames.map((n) => (n ? f[n] ?? values.get(n) : undefined));
    return c.reference!.fn(ins, c.attrs ?? {}, c.opset).map((o) => ({ type: 'double', dims: o.dims, data: o.data }));
  };
  const outs = c.reference ? await runReference(feeds) : await runOrt(feeds);
  if (c.reference) {
    const check = await runOrt(feeds);
    outs.forEach((o, i) => {
      assert.deepStrictEqual(o.dims, check[i].dims, `reference output ${i}: shape against onnxruntime's float32 kernel`);
      assertClose(o.data as Float64Array, Float64Array.from(check[i].data as Float32Array), 1e-5, `reference output ${i} against onnxruntime's float32 kernel`, 'reference', 'onnxruntime');
    });
  }
  const dOuts = new Map<string, Float64Array>();
  outputNames.forEach((o, i) => {
    values.set(o, outs[i]);
    if (isFloat(outTypes[i]) && (!c.seeded || c.seeded.includes(i))) {
      dOuts.set(o, Float64Array.from(randomValues(rng, outs[i].data.length, {} as In, 'double')));
    }
  });
  return {
    c, node, values, constants, feeds, dOuts, wanted,
    run: c.reference ? runReference : runOrt,
    release: () => session.release(),
  };
}

/** dL/dX_j by the rule, run in onnxruntime, for every wanted input j (undefined where the rule gives none). */
async function ruleGradients(p: Prepared): Promise<(Float64Array | undefined)[]> {
  const b = new GraphBuilder('bw_');
  const bwFeeds: Record<string, ort.Tensor> = {};
  const named = new Map<string, string>();
  const ctx: VjpContext = {
    b,
    opset: p.c.opset,
    value(t) {
      let name = named.get(t);
      if (name) return name;
      name = `f_${t}`;
      named.set(t, name);
      const v = p.values.get(t);
      if (!v) throw new Error(`the rule asked for the value of '${t}', which the test does not have`);
      const c = p.constants.get(t);
      if (c) {
        b.initializers.push({ ...c, name });
      } else {
        b.input(name, ONNX_TYPE[v.type], v.dims);
        bwFeeds[name] = toOrt(v);
      }
      return name;
    },
    shape(t) {
      const v = p.values.get(t);
      if (!v) throw new Error(`the rule asked for the shape of '${t}', which the test does not have`);
      return v.dims;
    },
    elemType(t) {
      const v = p.values.get(t);
      if (!v) throw new Error(`the rule asked for the type of '${t}', which the test does not have`);
      return ONNX_TYPE[v.type];
    },
    constant: (t) => p.constants.get(t),
    constantInts(t) {
      const c = p.constants.get(t);
      return c && (c.data_type === 7 || c.data_type === 6) ? Array.from(tensorValues(c, ''), Number) : undefined;
    },
  };
  const dOutNames = p.node.output.map((o) => {
    const d = p.dOuts.get(o);
    if (!d) return undefined;
    const v = p.values.get(o)!;
    const name = b.input(`d_${o}`, ONNX_TYPE[v.type], v.dims);
    bwFeeds[name] = toOrt({ type: v.type, dims: v.dims, data: makeData(v.type, Array.from(d)) });
    return name;
  });
  const grads = VJP_RULES[p.c.op](p.node, dOutNames, ctx, p.wanted);
  assert.strictEqual(grads.length, p.node.input.length, 'one entry per input');
  const outputs: (string | undefined)[] = grads.map((g, j) => {
    if (!g || !p.wanted[j]) return undefined;
    const v = p.values.get(p.node.input[j])!;
    const name = `grad_${j}`;
    b.opInto('Identity', [g], [name]);
    b.output(name, ONNX_TYPE[v.type], v.dims);
    return name;
  });
  if (outputs.every((o) => o === undefined)) return outputs.map(() => undefined);
  const session = await ort.InferenceSession.create(encodeModel(makeModel(b.graph('backward'))));
  const res = await session.run(bwFeeds);
  await session.release();
  return outputs.map((o, j) => {
    if (!o) return undefined;
    const t = res[o];
    assert.deepStrictEqual([...t.dims], p.values.get(p.node.input[j])!.dims, `shape of dL/d${p.node.input[j]}`);
    return Float64Array.from(t.data as Float64Array);
  });
}

async function objective(p: Prepared, feeds: Record<string, Value>): Promise<number> {
  const out = await p.run(feeds);
  let L = 0;
  p.node.output.forEach((o, k) => {
    const d = p.dOuts.get(o);
    if (!d) return;
    const y = out[k].data as Float64Array;
    for (let i = 0; i < d.length; i++) L += d[i] * y[i];
  });
  return L;
}

/** Central differences of L with respect to every element of input j. */
async function finiteDifferences(p: Prepared, j: number, h: number): Promise<Float64Array> {
  const name = p.node.input[j];
  const v = p.values.get(name)!;
  const fd = new Float64Array(v.data.length);
  for (let e = 0; e < v.data.length; e++) {
    const plus = v.data.slice() as Float64Array;
    const minus = v.data.slice() as Float64Array;
    plus[e] += h;
    minus[e] -= h;
    // The step actually taken (in float32 x ± h rounds).
    const step = plus[e] - minus[e];
    const Lp = await objective(p, { ...p.feeds, [name]: { ...v, data: plus } });
    const Lm = await objective(p, { ...p.feeds, [name]: { ...v, data: minus } });
    fd[e] = (Lp - Lm) / step;
  }
  return fd;
}

function assertClose(actual: Float64Array, expected: Float64Array, tol: number, what: string, actualName = 'rule', expectedName = 'finite differences'): void {
  assert.strictEqual(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol * (1 + Math.abs(expected[i])))) {
      assert.fail(`${what}[${i}]: ${actualName} ${actual[i]}, ${expectedName} ${expected[i]} (|err| ${err.toExponential(2)})`);
    }
  }
}

async function checkCase(c: Case): Promise<void> {
  const p = await prepare(c);
  try {
    await checkPrepared(p);
  } finally {
    await p.release();
  }
}

async function checkPrepared(p: Prepared): Promise<void> {
  const c = p.c;
  const grads = await ruleGradients(p);
  const h = c.float32 ? 1e-2 : 1e-6;
  const tol = c.float32 ? 2e-3 : 1e-6;
  let checked = 0;
  for (let j = 0; j < c.inputs.length; j++) {
    if (!p.wanted[j]) continue;
    const g = grads[j];
    assert.ok(g, `the rule gives no gradient for input ${j}`);
    assertClose(g, await finiteDifferences(p, j, h), tol, `dL/dx${j}`);
    checked++;
  }
  assert.ok(checked > 0, 'the case checks at least one gradient');
}

// Cases ----------------------------------------------------------------------------------------

const X = (...dims: number[]): In => ({ dims });
const K = (values: number[], type: Elem = 'int64'): In => ({ dims: [values.length], values, type, constant: true });
const pos = (...dims: number[]): In => ({ dims, range: [0.5, 2] });
const apart = (...dims: number[]): In => ({ dims, gap: 0.05 });
/** A float64 constant input (no gradient). */
const C = (values: number[], dims: number[] = [values.length]): In => ({ dims, values, constant: true });

const noF64 = (op: string, fn: REF.Reference): Case['reference'] => ({ why: `onnxruntime has no float64 ${op} kernel`, fn });
const CONV = noF64('Conv', REF.conv);
const CONV_T = noF64('ConvTranspose', REF.convTranspose);
const AVG = noF64('AveragePool', REF.averagePool);

const CASES: Case[] = [
  { title: 'Identity', op: 'Identity', opset: 13, inputs: [X(2, 3)] },
  { title: 'Dropout opset 12 (inference)', op: 'Dropout', opset: 12, inputs: [X(2, 3)] },
  { title: 'Dropout opset 7, ratio attribute', op: 'Dropout', opset: 7, inputs: [X(2, 3)], attrs: { ratio: { float: 0.3 } } },
  { title: 'Cast float32 → float64', op: 'Cast', opset: 13, inputs: [{ dims: [2, 3], type: 'float' }], attrs: { to: 11 }, outType: 'double', float32: 'the input is float32 by construction' },
  { title: 'Cast float64 → float32', op: 'Cast', opset: 9, inputs: [X(2, 3)], attrs: { to: 1 }, outType: 'float', float32: 'the output, and so L, is float32' },

  { title: 'Transpose default perm', op: 'Transpose', opset: 13, inputs: [X(2, 3, 4)] },
  { title: 'Transpose perm [1,2,0]', op: 'Transpose', opset: 13, inputs: [X(2, 3, 4)], attrs: { perm: [1, 2, 0] } },
  { title: 'Reshape', op: 'Reshape', opset: 13, inputs: [X(2, 3, 4), K([4, -1])] },
  { title: 'Flatten axis 2', op: 'Flatten', opset: 13, inputs: [X(2, 3, 4)], attrs: { axis: 2 } },
  { title: 'Flatten opset 9 default axis', op: 'Flatten', opset: 9, inputs: [X(2, 3, 2)] },
  { title: 'Squeeze opset 11 axes attribute', op: 'Squeeze', opset: 11, inputs: [X(2, 1, 3)], attrs: { axes: [1] } },
  { title: 'Squeeze opset 13 axes input', op: 'Squeeze', opset: 13, inputs: [X(2, 1, 3), K([-2])] },
  { title: 'Squeeze opset 13 no axes', op: 'Squeeze', opset: 13, inputs: [X(1, 3, 1)] },
  { title: 'Unsqueeze opset 11 axes attribute', op: 'Unsqueeze', opset: 11, inputs: [X(2, 3)], attrs: { axes: [0, 3] } },
  { title: 'Unsqueeze opset 13 axes input', op: 'Unsqueeze', opset: 13, inputs: [X(2, 3), K([-1])] },

  { title: 'Concat axis 1', op: 'Concat', opset: 13, inputs: [X(2, 1, 3), X(2, 2, 3)], attrs: { axis: 1 } },
  { title: 'Concat opset 11 axis −1, three inputs', op: 'Concat', opset: 11, inputs: [X(2, 2), X(2, 3), X(2, 1)], attrs: { axis: -1 } },
  { title: 'Concat opset 7 axis 0', op: 'Concat', opset: 7, inputs: [X(1, 3), X(2, 3)], attrs: { axis: 0 } },
  { title: 'Split opset 11 split attribute, middle output unseeded', op: 'Split', opset: 11, inputs: [X(2, 4, 3)], attrs: { axis: 1, split: [1, 2, 1] }, outputs: 3, seeded: [0, 2] },
  { title: 'Split opset 13 split input, axis −1', op: 'Split', opset: 13, inputs: [X(2, 4), K([3, 1])], attrs: { axis: -1 }, outputs: 2 },
  { title: 'Split opset 13 equal parts', op: 'Split', opset: 13, inputs: [X(4, 3)], outputs: 2 },
  { title: 'Split opset 18 num_outputs', op: 'Split', opset: 18, inputs: [X(3, 4)], attrs: { axis: 1, num_outputs: 2 }, outputs: 2, seeded: [1] },

  { title: 'Slice opset 9 attributes', op: 'Slice', opset: 9, inputs: [X(4, 3, 5)], attrs: { starts: [1, 0], ends: [3, -1], axes: [0, 2] } },
  { title: 'Slice opset 10 no axes', op: 'Slice', opset: 10, inputs: [X(4, 3), K([1]), K([3])] },
  { title: 'Slice negative start, clamped end', op: 'Slice', opset: 13, inputs: [X(3, 5), K([-3]), K([1000]), K([1])] },
  { title: 'Slice steps 2 and −1', op: 'Slice', opset: 13, inputs: [X(3, 5), K([0, -1]), K([5, -1000]), K([1, 0]), K([2, -1])] },
  { title: 'Slice steps without axes', op: 'Slice', opset: 13, inputs: [X(5, 2), K([4]), K([0]), null, K([-2])] },
  { title: 'Slice runtime starts', op: 'Slice', opset: 13, inputs: [X(4, 3), { dims: [1], type: 'int64', values: [-3] }, K([4]), K([0])] },
  { title: 'Slice empty result', op: 'Slice', opset: 13, inputs: [X(4, 3), K([3]), K([1]), K([0])] },

  { title: 'Gather axis 0 (embedding), repeated and negative indices', op: 'Gather', opset: 13,
    inputs: [X(5, 3), { dims: [2, 3], type: 'int64', values: [0, 2, -1, 2, 2, 4] }] },
  { title: 'Gather axis 1, scalar index', op: 'Gather', opset: 13, inputs: [X(2, 4, 3), { dims: [], type: 'int64', values: [2] }], attrs: { axis: 1 } },
  { title: 'Gather axis −1, int32 index matrix', op: 'Gather', opset: 13, inputs: [X(2, 3, 4), { dims: [2, 2], type: 'int32', values: [3, -4, 1, 3] }], attrs: { axis: -1 } },
  { title: 'Gather opset 7 axis 1', op: 'Gather', opset: 7, inputs: [X(3, 4), { dims: [3], type: 'int64', values: [1, 1, 0], constant: true }], attrs: { axis: 1 } },

  { title: 'Expand [3,1] → [2,3,4]', op: 'Expand', opset: 13, inputs: [X(3, 1), K([2, 3, 4])] },
  { title: 'Expand opset 8 bidirectional', op: 'Expand', opset: 8, inputs: [X(1, 4), K([3, 1])] },
  { title: 'Tile [2,1]', op: 'Tile', opset: 13, inputs: [X(2, 3), K([2, 1])] },
  { title: 'Tile opset 7 [1,3,2]', op: 'Tile', opset: 7, inputs: [X(2, 1, 3), K([1, 3, 2])] },

  { title: 'Add [2,3,4] + [3,1]', op: 'Add', opset: 14, inputs: [X(2, 3, 4), X(3, 1)] },
  { title: 'Add opset 7 [1,4] + [2,1]', op: 'Add', opset: 7, inputs: [X(1, 4), X(2, 1)] },
  { title: 'Sub [2,3] − scalar', op: 'Sub', opset: 14, inputs: [X(2, 3), X()] },
  { title: 'Sub [3] − [2,3]', op: 'Sub', opset: 13, inputs: [X(3), X(2, 3)] },
  { title: 'Mul [2,1,4] · [3,1]', op: 'Mul', opset: 14, inputs: [X(2, 1, 4), X(3, 1)] },
  { title: 'Mul same shapes, opset 7', op: 'Mul', opset: 7, inputs: [X(2, 3), X(2, 3)] },
  { title: 'Div [2,3] / [2,3]', op: 'Div', opset: 14, inputs: [X(2, 3), { dims: [2, 3], range: [-2, 2], gap: 0.5 }] },
  { title: 'Div [3,1] / [4]', op: 'Div', opset: 7, inputs: [X(3, 1), { dims: [4], range: [-2, 2], gap: 0.5 }] },
  { title: 'Neg', op: 'Neg', opset: 13, inputs: [X(2, 3)] },
  { title: 'Pow, constant scalar exponent 2.5', op: 'Pow', opset: 15, inputs: [pos(2, 3), { dims: [], values: [2.5], constant: true }] },
  { title: 'Pow, int64 exponent 3', op: 'Pow', opset: 13, inputs: [X(2, 3), { dims: [], values: [3], type: 'int64', constant: true }] },
  { title: 'Pow opset 7, broadcast exponent vector', op: 'Pow', opset: 7, inputs: [pos(2, 3), { dims: [3], values: [1, 2, 0.5], constant: true }] },

  { title: 'MatMul 2-D', op: 'MatMul', opset: 13, inputs: [X(2, 3), X(3, 4)] },
  { title: 'MatMul batched · 2-D', op: 'MatMul', opset: 13, inputs: [X(2, 3, 4), X(4, 2)] },
  { title: 'MatMul broadcast batch [2,1] · [3]', op: 'MatMul', opset: 13, inputs: [X(2, 1, 3, 4), X(3, 4, 2)] },
  { title: 'MatMul 1-D · 2-D', op: 'MatMul', opset: 9, inputs: [X(3), X(3, 4)] },
  { title: 'MatMul 3-D · 1-D', op: 'MatMul', opset: 13, inputs: [X(2, 3, 4), X(4)] },
  { title: 'MatMul 1-D · 1-D', op: 'MatMul', opset: 13, inputs: [X(3), X(3)] },
  { title: 'MatMul 1-D · 3-D', op: 'MatMul', opset: 13, inputs: [X(4), X(2, 4, 3)] },
  { title: 'Gemm, C [N]', op: 'Gemm', opset: 13, inputs: [X(2, 3), X(3, 4), X(4)] },
  { title: 'Gemm transA, α, β, C [M,1]', op: 'Gemm', opset: 13, inputs: [X(3, 2), X(3, 4), X(2, 1)], attrs: { transA: 1, alpha: { float: 0.7 }, beta: { float: 1.3 } } },
  { title: 'Gemm transB, C [M,N]', op: 'Gemm', opset: 13, inputs: [X(2, 3), X(4, 3), X(2, 4)], attrs: { transB: 1, beta: { float: -0.5 } } },
  { title: 'Gemm transA and transB, no C', op: 'Gemm', opset: 13, inputs: [X(3, 2), X(4, 3)], attrs: { transA: 1, transB: 1, alpha: { float: 2 } } },
  { title: 'Gemm opset 11, scalar C', op: 'Gemm', opset: 11, inputs: [X(2, 3), X(3, 4), X()], attrs: { beta: { float: 0.25 } } },
  { title: 'Gemm opset 7, C [1,N] required', op: 'Gemm', opset: 7, inputs: [X(2, 3), X(3, 4), X(1, 4)] },

  { title: 'Relu', op: 'Relu', opset: 14, inputs: [apart(3, 4)] },
  { title: 'Relu opset 7', op: 'Relu', opset: 7, inputs: [apart(3, 4)] },
  { title: 'LeakyRelu α 0.2', op: 'LeakyRelu', opset: 16, inputs: [apart(3, 4)], attrs: { alpha: { float: 0.2 } } },
  { title: 'LeakyRelu opset 7 default α', op: 'LeakyRelu', opset: 7, inputs: [apart(3, 4)], float32: 'onnxruntime has no float64 LeakyRelu-6 kernel (it has one from LeakyRelu-16)' },
  { title: 'Elu α 0.7', op: 'Elu', opset: 13, inputs: [apart(3, 4)], attrs: { alpha: { float: 0.7 } }, float32: 'onnxruntime has no float64 Elu kernel' },
  { title: 'Tanh', op: 'Tanh', opset: 13, inputs: [X(3, 4)] },
  { title: 'Sigmoid', op: 'Sigmoid', opset: 13, inputs: [X(3, 4)] },
  { title: 'Exp', op: 'Exp', opset: 13, inputs: [X(3, 4)] },
  { title: 'Log', op: 'Log', opset: 13, inputs: [pos(3, 4)] },
  { title: 'Sqrt', op: 'Sqrt', opset: 13, inputs: [pos(3, 4)] },

  { title: 'Softmax opset 13 default axis (−1)', op: 'Softmax', opset: 13, inputs: [X(2, 3, 4)] },
  { title: 'Softmax opset 13 axis 1', op: 'Softmax', opset: 13, inputs: [X(2, 3, 4)], attrs: { axis: 1 } },
  { title: 'Softmax opset 11 default axis (1, coerced 2-D)', op: 'Softmax', opset: 11, inputs: [X(2, 3, 4)] },
  { title: 'Softmax opset 11 axis −1', op: 'Softmax', opset: 11, inputs: [X(2, 3, 4)], attrs: { axis: -1 } },
  { title: 'LogSoftmax opset 13 axis 0', op: 'LogSoftmax', opset: 13, inputs: [X(2, 3, 4)], attrs: { axis: 0 } },
  { title: 'LogSoftmax opset 11 default axis (1, coerced 2-D)', op: 'LogSoftmax', opset: 11, inputs: [X(2, 3, 4)] },
  { title: 'LogSoftmax opset 9 axis 2', op: 'LogSoftmax', opset: 9, inputs: [X(2, 3, 4)], attrs: { axis: 2 } },

  { title: 'ReduceSum opset 11 axes attribute, keepdims 0', op: 'ReduceSum', opset: 11, inputs: [X(2, 3, 4)], attrs: { axes: [1], keepdims: 0 } },
  { title: 'ReduceSum opset 11 all axes', op: 'ReduceSum', opset: 11, inputs: [X(2, 3, 4)] },
  { title: 'ReduceSum opset 13 axes input, keepdims 0', op: 'ReduceSum', opset: 13, inputs: [X(2, 3, 4), K([0, -1])], attrs: { keepdims: 0 } },
  { title: 'ReduceSum opset 13 no axes (all), keepdims 0', op: 'ReduceSum', opset: 13, inputs: [X(2, 3)], attrs: { keepdims: 0 } },
  { title: 'ReduceSum opset 13 noop_with_empty_axes', op: 'ReduceSum', opset: 13, inputs: [X(2, 3)], attrs: { noop_with_empty_axes: 1 } },
  { title: 'ReduceSum opset 13 runtime axes, keepdims 0', op: 'ReduceSum', opset: 13, inputs: [X(2, 3, 4), { dims: [1], type: 'int64', values: [1] }], attrs: { keepdims: 0 } },
  { title: 'ReduceMean opset 13 axes attribute [−1], keepdims 0', op: 'ReduceMean', opset: 13, inputs: [X(2, 3, 4)], attrs: { axes: [-1], keepdims: 0 } },
  { title: 'ReduceMean opset 17 axes attribute [0,2]', op: 'ReduceMean', opset: 17, inputs: [X(2, 3, 4)], attrs: { axes: [0, 2] } },
  { title: 'ReduceMean opset 18 axes input', op: 'ReduceMean', opset: 18, inputs: [X(2, 3, 4), K([1])], attrs: { keepdims: 0 } },
  { title: 'ReduceMean opset 18 no axes (all), keepdims 0', op: 'ReduceMean', opset: 18, inputs: [X(2, 3)], attrs: { keepdims: 0 } },

  { title: 'Clip opset 10 min/max attributes', op: 'Clip', opset: 10, inputs: [X(3, 4)], attrs: { min: { float: -0.5 }, max: { float: 0.4 } }, float32: 'onnxruntime has float64 Clip kernels only from Clip-12' },
  { title: 'Clip opset 11 min input only', op: 'Clip', opset: 11, inputs: [X(3, 4), { dims: [], values: [-0.2], constant: true }], float32: 'onnxruntime has float64 Clip kernels only from Clip-12' },
  { title: 'Clip opset 13 min and max inputs', op: 'Clip', opset: 13, inputs: [X(3, 4), { dims: [], values: [-0.6], constant: true }, { dims: [], values: [0.3], constant: true }] },
  { title: 'Clip opset 13 max input only', op: 'Clip', opset: 13, inputs: [X(3, 4), null, { dims: [], values: [0.1], constant: true }] },
  { title: 'Where with broadcasting', op: 'Where', opset: 16, inputs: [{ dims: [2, 1, 4], type: 'bool', range: [0, 1] }, X(3, 4), X()] },
  { title: 'Where opset 9', op: 'Where', opset: 9, inputs: [{ dims: [3], type: 'bool', values: [1, 0, 1] }, X(2, 3), X(2, 3)] },

  { title: 'LayerNormalization axis −1', op: 'LayerNormalization', opset: 17, inputs: [X(2, 3, 4), X(4), X(4)] },
  { title: 'LayerNormalization axis 1, no B, ε 1e-3', op: 'LayerNormalization', opset: 17, inputs: [X(2, 3, 4), X(3, 4)], attrs: { axis: 1, epsilon: { float: 1e-3 } } },
  { title: 'BatchNormalization opset 15 [N,C,H,W]', op: 'BatchNormalization', opset: 15, inputs: [X(2, 3, 2, 2), X(3), X(3), X(3), pos(3)], attrs: { epsilon: { float: 1e-3 } } },
  { title: 'BatchNormalization opset 9 [N,C]', op: 'BatchNormalization', opset: 9, inputs: [X(4, 3), X(3), X(3), X(3), pos(3)] },
  { title: 'BatchNormalization opset 7 [N,C,L]', op: 'BatchNormalization', opset: 7, inputs: [X(2, 3, 2), X(3), X(3), X(3), pos(3)] },
  // Convolutions (X, W and B all get finite-difference checks; they are graph inputs here).
  { title: 'Conv 1-D defaults, no bias', op: 'Conv', opset: 11, inputs: [X(2, 3, 7), X(4, 3, 3)], reference: CONV },
  { title: 'Conv 1-D stride 2, asymmetric pads [1,2], bias', op: 'Conv', opset: 11, inputs: [X(1, 2, 8), X(3, 2, 3), X(3)], attrs: { strides: [2], pads: [1, 2] }, reference: CONV },
  { title: 'Conv 1-D dilation 2, pads [2,1]', op: 'Conv', opset: 11, inputs: [X(1, 2, 7), X(2, 2, 3), X(2)], attrs: { dilations: [2], pads: [2, 1] }, reference: CONV },
  { title: 'Conv 1-D auto_pad SAME_UPPER, stride 2 (odd padding)', op: 'Conv', opset: 11, inputs: [X(1, 2, 8), X(2, 2, 4), X(2)], attrs: { auto_pad: 'SAME_UPPER', strides: [2] }, reference: CONV },
  { title: 'Conv 1-D auto_pad SAME_LOWER, stride 2 (odd padding)', op: 'Conv', opset: 11, inputs: [X(1, 2, 8), X(2, 2, 4)], attrs: { auto_pad: 'SAME_LOWER', strides: [2] }, reference: CONV },
  { title: 'Conv 1-D auto_pad SAME_UPPER, kernel 1 < stride 4 (no padding)', op: 'Conv', opset: 11, inputs: [X(1, 2, 7), X(2, 2, 1)], attrs: { auto_pad: 'SAME_UPPER', strides: [4] }, reference: CONV },
  { title: 'Conv 1-D auto_pad VALID, stride 3', op: 'Conv', opset: 11, inputs: [X(1, 2, 9), X(3, 2, 2), X(3)], attrs: { auto_pad: 'VALID', strides: [3] }, reference: CONV },
  { title: 'Conv 1-D auto_pad NOTSET with explicit pads', op: 'Conv', opset: 1, inputs: [X(1, 2, 5), X(2, 2, 3)], attrs: { auto_pad: 'NOTSET', pads: [0, 1] }, reference: CONV },
  { title: 'Conv 1-D depthwise (group = C = 4), bias', op: 'Conv', opset: 11, inputs: [X(2, 4, 6), X(4, 1, 3), X(4)], attrs: { group: 4, pads: [1, 1] }, reference: CONV },
  { title: 'Conv 1-D depthwise with multiplier 2 (group 2, 1 channel in, 2 out per group)', op: 'Conv', opset: 11, inputs: [X(1, 2, 5), X(4, 1, 3)], attrs: { group: 2 }, reference: CONV },
  { title: 'Conv 1-D group 2, 2 channels per group, stride 2', op: 'Conv', opset: 11, inputs: [X(1, 4, 7), X(6, 2, 3), X(6)], attrs: { group: 2, strides: [2], pads: [1, 0] }, reference: CONV },
  { title: 'Conv 2-D defaults, no bias', op: 'Conv', opset: 11, inputs: [X(1, 2, 4, 5), X(3, 2, 2, 3)], reference: CONV },
  { title: 'Conv 2-D strides [2,1], pads [1,0,0,2], dilations [1,2], bias', op: 'Conv', opset: 11,
    inputs: [X(2, 2, 5, 6), X(2, 2, 2, 2), X(2)], attrs: { strides: [2, 1], pads: [1, 0, 0, 2], dilations: [1, 2] }, reference: CONV },
  { title: 'Conv 2-D auto_pad SAME_UPPER, strides [2,2], bias', op: 'Conv', opset: 11, inputs: [X(1, 2, 5, 6), X(2, 2, 3, 3), X(2)], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2] }, reference: CONV },
  { title: 'Conv 2-D auto_pad SAME_LOWER, strides [2,3], kernel [2,4]', op: 'Conv', opset: 11, inputs: [X(1, 2, 5, 7), X(2, 2, 2, 4)], attrs: { auto_pad: 'SAME_LOWER', strides: [2, 3] }, reference: CONV },
  { title: 'Conv 2-D auto_pad VALID, strides [1,2]', op: 'Conv', opset: 11, inputs: [X(1, 2, 4, 5), X(2, 2, 2, 2), X(2)], attrs: { auto_pad: 'VALID', strides: [1, 2] }, reference: CONV },
  { title: 'Conv 2-D group 2 (2 channels per group), kernel_shape given, pads', op: 'Conv', opset: 11,
    inputs: [X(1, 4, 4, 4), X(4, 2, 2, 2), X(4)], attrs: { group: 2, kernel_shape: [2, 2], pads: [1, 0, 1, 1] }, reference: CONV },
  { title: 'Conv 2-D depthwise (group 3), dilations [2,1], strides [1,2]', op: 'Conv', opset: 11,
    inputs: [X(1, 3, 5, 5), X(3, 1, 2, 3), X(3)], attrs: { group: 3, dilations: [2, 1], strides: [1, 2], pads: [1, 1, 0, 1] }, reference: CONV },

  { title: 'ConvTranspose 1-D defaults, bias', op: 'ConvTranspose', opset: 11, inputs: [X(2, 2, 4), X(2, 3, 3), X(3)], reference: CONV_T },
  { title: 'ConvTranspose 1-D stride 2, pads [1,0], output_padding 1', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 4), X(2, 2, 3)], attrs: { strides: [2], pads: [1, 0], output_padding: [1] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D stride 3, dilation 2, pads [2,1], bias', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 3), X(2, 2, 3), X(2)], attrs: { strides: [3], dilations: [2], pads: [2, 1] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D output_shape [8], stride 2 (odd total padding)', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 4), X(2, 2, 3), X(2)], attrs: { strides: [2], output_shape: [8] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D output_shape with output_padding', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 4), X(2, 2, 3)], attrs: { strides: [2], output_shape: [7], output_padding: [1] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D auto_pad SAME_UPPER, stride 2 (odd total)', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 4), X(2, 2, 3), X(2)], attrs: { auto_pad: 'SAME_UPPER', strides: [2] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D auto_pad SAME_LOWER, stride 2 (odd total)', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 4), X(2, 2, 3)], attrs: { auto_pad: 'SAME_LOWER', strides: [2] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D auto_pad VALID, stride 2', op: 'ConvTranspose', opset: 11, inputs: [X(1, 2, 3), X(2, 2, 2)], attrs: { auto_pad: 'VALID', strides: [2] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D group 2 (2 channels per group), bias', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 4, 3), X(4, 2, 3), X(4)], attrs: { group: 2, strides: [2] }, reference: CONV_T },
  { title: 'ConvTranspose 1-D depthwise (group = C = 3)', op: 'ConvTranspose', opset: 11, inputs: [X(2, 3, 4), X(3, 1, 2)], attrs: { group: 3, pads: [1, 0] }, reference: CONV_T },
  { title: 'ConvTranspose 2-D strides [2,1], pads [0,1,1,0], output_padding [1,0], bias', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 3, 3), X(2, 2, 2, 3), X(2)], attrs: { strides: [2, 1], pads: [0, 1, 1, 0], output_padding: [1, 0] }, reference: CONV_T },
  { title: 'ConvTranspose 2-D output_shape [6,5], strides [2,2]', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 3, 2), X(2, 1, 3, 3)], attrs: { strides: [2, 2], output_shape: [6, 5] }, reference: CONV_T },
  { title: 'ConvTranspose 2-D SAME_UPPER, strides [2,2], dilations [1,2], group 2', op: 'ConvTranspose', opset: 11,
    inputs: [X(1, 2, 2, 3), X(2, 2, 2, 2), X(4)], attrs: { auto_pad: 'SAME_UPPER', strides: [2, 2], dilations: [1, 2], group: 2 }, reference: CONV_T },

  // Pooling. Random inputs have no ties, so MaxPool's argmax is unique.
  { title: 'MaxPool 1-D kernel 3', op: 'MaxPool', opset: 12, inputs: [X(2, 3, 7)], attrs: { kernel_shape: [3] } },
  { title: 'MaxPool 1-D stride 2, pads [1,1], Indices output', op: 'MaxPool', opset: 12, inputs: [X(1, 2, 7)],
    attrs: { kernel_shape: [3], strides: [2], pads: [1, 1] }, outputs: 2, outTypes: ['double', 'int64'] },
  { title: 'MaxPool 1-D dilation 2, ceil_mode, stride 2', op: 'MaxPool', opset: 12, inputs: [X(1, 2, 8)], attrs: { kernel_shape: [2], strides: [2], dilations: [2], ceil_mode: 1 } },
  { title: 'MaxPool 2-D kernel [2,3], strides [2,1], pads [1,0,0,1]', op: 'MaxPool', opset: 12, inputs: [X(1, 2, 5, 5)], attrs: { kernel_shape: [2, 3], strides: [2, 1], pads: [1, 0, 0, 1] } },
  { title: 'MaxPool 2-D auto_pad SAME_UPPER, strides [2,2]', op: 'MaxPool', opset: 11, inputs: [X(1, 2, 5, 6)], attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER' } },
  { title: 'MaxPool 2-D auto_pad SAME_LOWER, strides [2,2]', op: 'MaxPool', opset: 11, inputs: [X(1, 1, 5, 6)], attrs: { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_LOWER' } },
  { title: 'MaxPool 2-D ceil_mode, dilations [2,1], Indices output (opset 10)', op: 'MaxPool', opset: 10, inputs: [X(1, 2, 6, 5)],
    attrs: { kernel_shape: [2, 2], strides: [2, 2], dilations: [2, 1], ceil_mode: 1 }, outputs: 2, outTypes: ['double', 'int64'] },
  { title: 'MaxPool opset 8, Indices output, storage_order 1', op: 'MaxPool', opset: 8, inputs: [X(2, 1, 4, 4)],
    attrs: { kernel_shape: [2, 2], strides: [1, 2], storage_order: 1 }, outputs: 2, outTypes: ['double', 'int64'] },
  { title: 'GlobalMaxPool 1-D', op: 'GlobalMaxPool', opset: 13, inputs: [X(2, 3, 5)], reference: noF64('GlobalMaxPool', REF.globalMaxPool) },
  { title: 'GlobalMaxPool 2-D', op: 'GlobalMaxPool', opset: 13, inputs: [X(1, 2, 3, 4)], reference: noF64('GlobalMaxPool', REF.globalMaxPool) },

  { title: 'AveragePool 1-D kernel 3', op: 'AveragePool', opset: 11, inputs: [X(2, 2, 7)], attrs: { kernel_shape: [3] }, reference: AVG },
  { title: 'AveragePool 1-D stride 2, pads [1,2], count_include_pad 0', op: 'AveragePool', opset: 11, inputs: [X(1, 2, 7)],
    attrs: { kernel_shape: [3], strides: [2], pads: [1, 2] }, reference: AVG },
  { title: 'AveragePool 1-D stride 2, pads [1,2], count_include_pad 1', op: 'AveragePool', opset: 11, inputs: [X(1, 2, 7)],
    attrs: { kernel_shape: [3], strides: [2], pads: [1, 2], count_include_pad: 1 }, reference: AVG },
  { title: 'AveragePool 1-D ceil_mode, pads [1,0], count_include_pad 1 (last window past the end)', op: 'AveragePool', opset: 11, inputs: [X(1, 2, 7)],
    attrs: { kernel_shape: [3], strides: [2], pads: [1, 0], ceil_mode: 1, count_include_pad: 1 }, reference: AVG },
  { title: 'AveragePool 1-D ceil_mode, count_include_pad 0', op: 'AveragePool', opset: 11, inputs: [X(1, 2, 6)],
    attrs: { kernel_shape: [3], strides: [2], ceil_mode: 1 }, reference: AVG },
  { title: 'AveragePool 2-D kernel [2,3], strides [1,2], pads [0,1,1,0], ceil_mode, count_include_pad 1', op: 'AveragePool', opset: 11, inputs: [X(1, 2, 3, 6)],
    attrs: { kernel_shape: [2, 3], strides: [1, 2], pads: [0, 1, 1, 0], ceil_mode: 1, count_include_pad: 1 }, reference: AVG },
  { title: 'AveragePool 2-D ceil_mode, count_include_pad 1, window past the unpadded end', op: 'AveragePool', opset: 11, inputs: [X(1, 1, 4, 3)],
    attrs: { kernel_shape: [3, 2], strides: [2, 1], pads: [0, 1, 0, 0], ceil_mode: 1, count_include_pad: 1 }, reference: AVG },
  { title: 'AveragePool 2-D auto_pad SAME_UPPER, strides [2,2], count_include_pad 1', op: 'AveragePool', opset: 11, inputs: [X(1, 2, 5, 6)],
    attrs: { kernel_shape: [3, 3], strides: [2, 2], auto_pad: 'SAME_UPPER', count_include_pad: 1 }, reference: AVG },
  { title: 'AveragePool 2-D auto_pad SAME_LOWER, count_include_pad 0', op: 'AveragePool', opset: 11, inputs: [X(1, 2, 5, 6)],
    attrs: { kernel_shape: [2, 3], strides: [2, 2], auto_pad: 'SAME_LOWER' }, reference: AVG },
  { title: 'AveragePool opset 19 dilation 2, ceil_mode, pads [1,1], count_include_pad 1', op: 'AveragePool', opset: 19, inputs: [X(1, 2, 8)],
    attrs: { kernel_shape: [3], strides: [2], dilations: [2], pads: [1, 1], ceil_mode: 1, count_include_pad: 1 }, reference: AVG },
  { title: 'AveragePool opset 19 2-D dilations [1,2], pads, count_include_pad 0', op: 'AveragePool', opset: 19, inputs: [X(1, 1, 4, 6)],
    attrs: { kernel_shape: [2, 2], strides: [1, 2], dilations: [1, 2], pads: [1, 1, 0, 1] }, reference: AVG },
  { title: 'AveragePool opset 7 stride 2', op: 'AveragePool', opset: 7, inputs: [X(1, 2, 7)], attrs: { kernel_shape: [2], strides: [2], pads: [1, 0], count_include_pad: 1 }, reference: AVG },
  { title: 'GlobalAveragePool 1-D', op: 'GlobalAveragePool', opset: 13, inputs: [X(2, 3, 5)], reference: noF64('GlobalAveragePool', REF.globalAveragePool) },
  { title: 'GlobalAveragePool 2-D', op: 'GlobalAveragePool', opset: 13, inputs: [X(1, 2, 3, 4)], reference: noF64('GlobalAveragePool', REF.globalAveragePool) },

  // Pad: attribute forms (< 11), input forms (≥ 11), negative pads, axes (≥ 18), wrap (≥ 19).
  { title: 'Pad opset 2 constant, pads attribute, value attribute', op: 'Pad', opset: 2, inputs: [X(2, 3)], attrs: { pads: [1, 0, 2, 1], value: { float: 0.5 } } },
  { title: 'Pad opset 2 reflect', op: 'Pad', opset: 2, inputs: [X(3, 4)], attrs: { mode: 'reflect', pads: [2, 1, 1, 3] } },
  { title: 'Pad opset 2 edge', op: 'Pad', opset: 2, inputs: [X(2, 3)], attrs: { mode: 'edge', pads: [0, 2, 3, 1] } },
  { title: 'Pad opset 11 constant, constant_value input on the path', op: 'Pad', opset: 11, inputs: [X(2, 3), K([1, 2, 0, 1]), X()] },
  { title: 'Pad opset 11 constant, negative pads (cropping) mixed with padding', op: 'Pad', opset: 11, inputs: [X(4, 5), K([-1, 2, 1, -2]), X()] },
  { title: 'Pad opset 13 constant, no constant_value', op: 'Pad', opset: 13, inputs: [X(2, 2, 3), K([0, 1, 1, 0, 0, 2])] },
  { title: 'Pad opset 13 reflect', op: 'Pad', opset: 13, inputs: [X(4, 5), K([2, 1, 1, 3])], attrs: { mode: 'reflect' } },
  { title: 'Pad opset 13 reflect with negative pads (crop, then reflect the cropped)', op: 'Pad', opset: 13, inputs: [X(4, 5), K([-1, 2, 1, -1])], attrs: { mode: 'reflect' } },
  { title: 'Pad opset 13 edge, pads wider than the axis', op: 'Pad', opset: 13, inputs: [X(2, 3), K([3, 0, 0, 4])], attrs: { mode: 'edge' } },
  { title: 'Pad opset 13 edge with negative pads', op: 'Pad', opset: 13, inputs: [X(3, 5), K([1, -2, -1, 2])], attrs: { mode: 'edge' } },
  { title: 'Pad opset 18 edge, axes input [−1]', op: 'Pad', opset: 18, inputs: [X(2, 3, 4), K([1, 2]), null, K([-1])], attrs: { mode: 'edge' } },
  { title: 'Pad opset 18 constant, axes [0,2], constant_value input', op: 'Pad', opset: 18, inputs: [X(2, 3, 2), K([1, -1, 0, 2]), X(), K([0, 2])] },
  { title: 'Pad opset 18 reflect, axes [1]', op: 'Pad', opset: 18, inputs: [X(2, 4), K([2, 1]), null, K([1])], attrs: { mode: 'reflect' } },
  { title: 'Pad opset 19 wrap', op: 'Pad', opset: 19, inputs: [X(3, 4), K([2, 1, 0, 3])], attrs: { mode: 'wrap' } },
  { title: 'Pad opset 19 wrap with negative pads', op: 'Pad', opset: 19, inputs: [X(3, 5), K([-1, 2, 1, -2])], attrs: { mode: 'wrap' } },
  { title: 'Pad opset 13 constant, pads computed at run time', op: 'Pad', opset: 13, inputs: [X(2, 3), { dims: [4], type: 'int64', values: [1, -1, 0, 2] }, X()] },

  // Reductions. L1, L2 and the max/min keep off their kinks (no zeros, no ties).
  { title: 'ReduceMax opset 13 axes attribute [1], keepdims 0', op: 'ReduceMax', opset: 13, inputs: [X(2, 3, 4)], attrs: { axes: [1], keepdims: 0 } },
  { title: 'ReduceMax opset 11 all axes', op: 'ReduceMax', opset: 11, inputs: [X(2, 3)] },
  { title: 'ReduceMax opset 18 axes input [0,−1]', op: 'ReduceMax', opset: 18, inputs: [X(2, 3, 4), K([0, -1])] },
  { title: 'ReduceMax opset 18 no axes, keepdims 0', op: 'ReduceMax', opset: 18, inputs: [X(2, 3)], attrs: { keepdims: 0 } },
  { title: 'ReduceMax opset 18 noop_with_empty_axes', op: 'ReduceMax', opset: 18, inputs: [X(2, 3)], attrs: { noop_with_empty_axes: 1 } },
  { title: 'ReduceMax opset 18 runtime axes, keepdims 0', op: 'ReduceMax', opset: 18, inputs: [X(2, 3, 4), { dims: [1], type: 'int64', values: [-2] }], attrs: { keepdims: 0 } },
  { title: 'ReduceMin opset 13 axes attribute [−1]', op: 'ReduceMin', opset: 13, inputs: [X(2, 3, 4)], attrs: { axes: [-1] } },
  { title: 'ReduceMin opset 18 axes input [1], keepdims 0', op: 'ReduceMin', opset: 18, inputs: [X(2, 3, 4), K([1])], attrs: { keepdims: 0 } },
  { title: 'ReduceL2 opset 13 axes attribute [1]', op: 'ReduceL2', opset: 13, inputs: [X(2, 3, 4)], attrs: { axes: [1] } },
  { title: 'ReduceL2 opset 18 axes input [0,2], keepdims 0', op: 'ReduceL2', opset: 18, inputs: [X(2, 3, 4), K([0, 2])], attrs: { keepdims: 0 } },
  { title: 'ReduceL2 opset 18 noop_with_empty_axes (|x|)', op: 'ReduceL2', opset: 18, inputs: [apart(2, 3)], attrs: { noop_with_empty_axes: 1 } },
  { title: 'ReduceL1 opset 13 all axes, keepdims 0', op: 'ReduceL1', opset: 13, inputs: [apart(2, 3)], attrs: { keepdims: 0 } },
  { title: 'ReduceL1 opset 18 axes input [−1]', op: 'ReduceL1', opset: 18, inputs: [apart(2, 3, 4), K([-1])] },
  { title: 'ReduceLogSumExp opset 13 axes attribute [1], keepdims 0', op: 'ReduceLogSumExp', opset: 13, inputs: [X(2, 3, 4)], attrs: { axes: [1], keepdims: 0 } },
  { title: 'ReduceLogSumExp opset 18 axes input [0,−1]', op: 'ReduceLogSumExp', opset: 18, inputs: [X(2, 3, 4), K([0, -1])] },
  { title: 'ReduceLogSumExp opset 18 noop_with_empty_axes', op: 'ReduceLogSumExp', opset: 18, inputs: [X(2, 3), K([])], attrs: { noop_with_empty_axes: 1 } },
  { title: 'ReduceSumSquare opset 13 axes attribute [0]', op: 'ReduceSumSquare', opset: 13, inputs: [X(2, 3)], attrs: { axes: [0] } },
  { title: 'ReduceSumSquare opset 18 noop_with_empty_axes (x²)', op: 'ReduceSumSquare', opset: 18, inputs: [X(2, 3)], attrs: { noop_with_empty_axes: 1 } },
  { title: 'ReduceProd opset 13 axes attribute [1]', op: 'ReduceProd', opset: 13, inputs: [X(2, 3, 2)], attrs: { axes: [1] } },
  { title: 'ReduceProd opset 18 axes input [−1], keepdims 0, groups with one and two zeros', op: 'ReduceProd', opset: 18,
    inputs: [{ dims: [3, 3], values: [0.5, -1.5, 0.8, 0, 0.7, -1.2, 0, 0.9, 0] }, K([-1])], attrs: { keepdims: 0 } },

  // Elementwise.
  { title: 'Max opset 13, [2,3] and [3]', op: 'Max', opset: 13, inputs: [X(2, 3), X(3)] },
  { title: 'Max opset 13, three inputs [2,1,3], [4,1], [3]', op: 'Max', opset: 13, inputs: [X(2, 1, 3), X(4, 1), X(3)] },
  { title: 'Max opset 8, one input', op: 'Max', opset: 8, inputs: [X(2, 3)] },
  { title: 'Max opset 6, same shapes', op: 'Max', opset: 6, inputs: [X(2, 3), X(2, 3)], float32: 'onnxruntime has no float64 Max-6 kernel' },
  { title: 'Min opset 12, [3,1] and [1,4]', op: 'Min', opset: 12, inputs: [X(3, 1), X(1, 4)] },
  { title: 'Min opset 13, three inputs with a scalar', op: 'Min', opset: 13, inputs: [X(2, 3), X(), X(3)] },
  { title: 'Abs', op: 'Abs', opset: 13, inputs: [apart(3, 4)] },
  { title: 'Erf', op: 'Erf', opset: 13, inputs: [{ dims: [3, 4], range: [-2, 2] }], reference: noF64('Erf', REF.erfRef) },
  { title: "Gelu opset 20 approximate 'tanh'", op: 'Gelu', opset: 20, inputs: [{ dims: [3, 4], range: [-3, 3] }], attrs: { approximate: 'tanh' } },
  { title: "Gelu opset 20 approximate 'none'", op: 'Gelu', opset: 20, inputs: [{ dims: [3, 4], range: [-3, 3] }],
    reference: { why: "onnxruntime runs Gelu 'none' through Erf, which has no float64 kernel", fn: REF.geluNone } },
  { title: "Gelu opset 20 approximate 'none' at x = 0", op: 'Gelu', opset: 20, inputs: [{ dims: [3], values: [0, 0.5, -0.25] }],
    reference: { why: "onnxruntime runs Gelu 'none' through Erf, which has no float64 kernel", fn: REF.geluNone } },
  { title: 'Softplus', op: 'Softplus', opset: 13, inputs: [{ dims: [3, 4], range: [-3, 3] }], reference: noF64('Softplus', REF.softplus) },
  { title: 'Softsign', op: 'Softsign', opset: 13, inputs: [apart(3, 4)], reference: noF64('Softsign', REF.softsign) },
  { title: 'HardSigmoid defaults (corners at ±2.5)', op: 'HardSigmoid', opset: 6,
    inputs: [{ dims: [8], values: [-4, -2.6, -2.4, -1, 0.3, 2.4, 2.6, 3.5] }], reference: noF64('HardSigmoid', REF.hardSigmoid) },
  { title: 'HardSigmoid α 0.3, β 0.4', op: 'HardSigmoid', opset: 6, inputs: [{ dims: [3, 4], range: [-3, 3] }],
    attrs: { alpha: { float: 0.3 }, beta: { float: 0.4 } }, reference: noF64('HardSigmoid', REF.hardSigmoid) },
  { title: 'HardSwish (corners at ±3)', op: 'HardSwish', opset: 14,
    inputs: [{ dims: [8], values: [-4, -3.1, -2.9, -0.5, 0.7, 2.9, 3.1, 4.5] }], reference: { why: 'onnxruntime runs HardSwish through HardSigmoid, which has no float64 kernel', fn: REF.hardSwish } },
  { title: 'Selu defaults', op: 'Selu', opset: 6, inputs: [apart(3, 4)], reference: noF64('Selu', REF.selu) },
  { title: 'Selu α 1.5, γ 2', op: 'Selu', opset: 6, inputs: [apart(3, 4)], attrs: { alpha: { float: 1.5 }, gamma: { float: 2 } }, reference: noF64('Selu', REF.selu) },
  { title: 'Reciprocal', op: 'Reciprocal', opset: 13, inputs: [{ dims: [3, 4], range: [-2, 2], gap: 0.5 }] },
  { title: 'PRelu opset 16, slope [3,1] on [2,3,4]', op: 'PRelu', opset: 16, inputs: [apart(2, 3, 4), X(3, 1)] },
  { title: 'PRelu opset 16, slope [4]', op: 'PRelu', opset: 16, inputs: [apart(2, 3, 4), X(4)] },
  { title: 'PRelu opset 16, slope [1], constant', op: 'PRelu', opset: 16, inputs: [apart(2, 3), C([0.25])] },
  { title: 'PRelu opset 9, slope [2,1,1] on [1,2,2,3]', op: 'PRelu', opset: 9, inputs: [apart(1, 2, 2, 3), X(2, 1, 1)], reference: noF64('PRelu-9', REF.prelu) },

  // Linear maps.
  { title: 'CumSum axis 1', op: 'CumSum', opset: 14, inputs: [X(2, 3, 4), K([1])] },
  { title: 'CumSum axis −1, exclusive', op: 'CumSum', opset: 14, inputs: [X(2, 5), { dims: [], values: [-1], type: 'int32', constant: true }], attrs: { exclusive: 1 } },
  { title: 'CumSum axis 0, reverse', op: 'CumSum', opset: 11, inputs: [X(4, 2), { dims: [], values: [0], type: 'int64', constant: true }], attrs: { reverse: 1 } },
  { title: 'CumSum exclusive and reverse', op: 'CumSum', opset: 14, inputs: [X(3, 4), K([1])], attrs: { exclusive: 1, reverse: 1 } },
  { title: 'CumSum axis given at run time', op: 'CumSum', opset: 14, inputs: [X(3, 4), { dims: [], values: [0], type: 'int64' }] },
  { title: "Einsum 'bij,bjk->bik'", op: 'Einsum', opset: 12, inputs: [X(2, 3, 4), X(2, 4, 2)], attrs: { equation: 'bij,bjk->bik' } },
  { title: "Einsum 'ij,j->i'", op: 'Einsum', opset: 12, inputs: [X(3, 4), X(4)], attrs: { equation: 'ij,j->i' } },
  { title: "Einsum 'bti,hi->bth'", op: 'Einsum', opset: 12, inputs: [X(2, 3, 4), X(5, 4)], attrs: { equation: 'bti,hi->bth' } },
  { title: "Einsum 'ij->ji' (one operand)", op: 'Einsum', opset: 12, inputs: [X(3, 4)], attrs: { equation: 'ij->ji' } },
  { title: "Einsum 'ij->' (sum)", op: 'Einsum', opset: 12, inputs: [X(3, 4)], attrs: { equation: 'ij->' } },
  { title: "Einsum 'ij,k->ik' (j summed within one operand)", op: 'Einsum', opset: 12, inputs: [X(2, 3), X(4)], attrs: { equation: 'ij,k->ik' } },
  { title: "Einsum implicit output 'ij, jk'", op: 'Einsum', opset: 12, inputs: [X(2, 3), X(3, 4)], attrs: { equation: 'ij, jk' } },
  { title: "Einsum '...ij,...jk->...ik'", op: 'Einsum', opset: 12, inputs: [X(2, 2, 3), X(2, 3, 2)], attrs: { equation: '...ij,...jk->...ik' } },
  { title: "Einsum three operands 'i,ij,j->'", op: 'Einsum', opset: 12, inputs: [X(3), X(3, 4), X(4)], attrs: { equation: 'i,ij,j->' } },
];

describe('VJP rules against finite differences in onnxruntime', function () {
  this.timeout(60000);

  it('covers every rule', () => {
    const tested = new Set(CASES.map((c) => c.op));
    assert.deepStrictEqual(Object.keys(VJP_RULES).filter((op) => !tested.has(op)), []);
  });

  for (const c of CASES) {
    it(`${c.title}${c.float32 ? ' (float32)' : ''}`, () => checkCase(c));
  }

  it('Gather: an embedding row looked up several times gets the sum of their gradients', async () => {
    const p = await prepare({ title: 'embedding sum', op: 'Gather', opset: 13, inputs: [X(4, 2), { dims: [2, 2], type: 'int64', values: [1, 1, 3, 1] }] });
    const [dE] = await ruleGradients(p);
    await p.release();
    const dY = p.dOuts.get('y0')!; // [2, 2, 2]: rows of dY for the lookups 1, 1, 3, 1
    const expected = new Float64Array(8);
    [1, 1, 3, 1].forEach((row, k) => { for (let c = 0; c < 2; c++) expected[row * 2 + c] += dY[k * 2 + c]; });
    assertClose(dE!, expected, 1e-15, 'dL/dE');
  });

  it('Clip: the gradient passes at x = min and x = max (as PyTorch clamp)', async () => {
    const p = await prepare({ title: 'clip bounds', op: 'Clip', opset: 13,
      inputs: [{ dims: [5], values: [-1, -0.5, 0, 0.5, 1] }, { dims: [], values: [-0.5], constant: true }, { dims: [], values: [0.5], constant: true }] });
    const [dX] = await ruleGradients(p);
    await p.release();
    const dY = p.dOuts.get('y0')!;
    assertClose(dX!, Float64Array.from([0, dY[1], dY[2], dY[3], 0]), 0, 'dL/dx');
  });

  /** The rule's dL/dx_j (j = 0 unless said) on fixed inputs, with the upstream gradient dY, for convention checks. */
  async function gradientsAt(c: Omit<Case, 'title'>, j = 0): Promise<{ g: Float64Array; dY: Float64Array }> {
    const p = await prepare({ title: `${c.op} convention`, ...c });
    try {
      const grads = await ruleGradients(p);
      return { g: grads[j]!, dY: p.dOuts.get('y0')! };
    } finally {
      await p.release();
    }
  }

  it('ReduceMax / ReduceMin: tied extrema share the gradient evenly (PyTorch amax/amin)', async () => {
    // Rows [1, 3, 3, 2] and [−1, −1, −1, 0]: the 3s tie for the max of row 0; the −1s for the min of row 1.
    const values = [1, 3, 3, 2, -1, -1, -1, 0];
    const max = await gradientsAt({ op: 'ReduceMax', opset: 18, inputs: [{ dims: [2, 4], values }, K([1])], attrs: { keepdims: 0 } });
    assertClose(max.g, Float64Array.from([0, max.dY[0] / 2, max.dY[0] / 2, 0, 0, 0, 0, max.dY[1]]), 1e-15, 'ReduceMax dL/dx');
    const min = await gradientsAt({ op: 'ReduceMin', opset: 13, inputs: [{ dims: [2, 4], values }], attrs: { axes: [1] } });
    const third = min.dY[1] / 3;
    assertClose(min.g, Float64Array.from([min.dY[0], 0, 0, 0, third, third, third, 0]), 1e-15, 'ReduceMin dL/dx');
  });

  it('Max / Min: inputs tied for the extremum share the gradient evenly (PyTorch maximum/minimum)', async () => {
    const a = [1, 2, 3];
    const b = [1, 5, 0];
    const c = [1, 0, 3];
    for (const op of ['Max', 'Min']) {
      const inputs: In[] = [{ dims: [3], values: a }, { dims: [3], values: b }, { dims: [3], values: c }];
      const results = await Promise.all([0, 1, 2].map((j) => gradientsAt({ op, opset: 13, inputs }, j)));
      const dY = results[0].dY; // the same seed for every run (same title)
      // Max: position 0 three-way tie, 1 → b, 2 → a and c tie. Min: position 0 tie, 1 → c, 2 → b.
      const expected = op === 'Max'
        ? [[dY[0] / 3, 0, dY[2] / 2], [dY[0] / 3, dY[1], 0], [dY[0] / 3, 0, dY[2] / 2]]
        : [[dY[0] / 3, 0, 0], [dY[0] / 3, 0, dY[2]], [dY[0] / 3, dY[1], 0]];
      results.forEach((r, j) => assertClose(r.g, Float64Array.from(expected[j]), 1e-15, `${op} dL/dx${j}`));
    }
  });

  it('MaxPool and GlobalMaxPool: a window with a repeated maximum sends its gradient to the first one (PyTorch max_pool)', async () => {
    // Windows of 2 with stride 1 over [2, 2, 1, 3, 3]: maxima at 0 (tie 0/1), 1, 3 (tie 3/4).
    const pool = await gradientsAt({ op: 'MaxPool', opset: 12, inputs: [{ dims: [1, 1, 5], values: [2, 2, 1, 3, 3] }], attrs: { kernel_shape: [2] } });
    assertClose(pool.g, Float64Array.from([pool.dY[0], pool.dY[1], 0, pool.dY[2] + pool.dY[3], 0]), 1e-15, 'MaxPool dL/dx');
    const global = await gradientsAt({ op: 'GlobalMaxPool', opset: 13, inputs: [{ dims: [1, 2, 2, 2], values: [0, 4, 4, 1, -1, -3, -1, -2] }],
      reference: noF64('GlobalMaxPool', REF.globalMaxPool) });
    assertClose(global.g, Float64Array.from([0, global.dY[0], 0, 0, global.dY[1], 0, 0, 0]), 1e-15, 'GlobalMaxPool dL/dx');
  });

  it('kinks follow PyTorch: Abs′(0) = 0, PRelu′(0) = slope, Selu′(0) = γα, HardSigmoid 0 at its corners, HardSwish −½ at −3 and 1.5 at 3', async () => {
    const abs = await gradientsAt({ op: 'Abs', opset: 13, inputs: [{ dims: [3], values: [-1, 0, 2] }] });
    assertClose(abs.g, Float64Array.from([-abs.dY[0], 0, abs.dY[2]]), 1e-15, 'Abs dL/dx');
    const prelu = await gradientsAt({ op: 'PRelu', opset: 16, inputs: [{ dims: [3], values: [-1, 0, 2] }, C([0.25])] });
    assertClose(prelu.g, Float64Array.from([0.25 * prelu.dY[0], 0.25 * prelu.dY[1], prelu.dY[2]]), 1e-15, 'PRelu dL/dx');
    const selu = await gradientsAt({ op: 'Selu', opset: 6, inputs: [{ dims: [1], values: [0] }], attrs: { alpha: { float: 1.5 }, gamma: { float: 2 } },
      reference: noF64('Selu', REF.selu) });
    assertClose(selu.g, Float64Array.from([3 * selu.dY[0]]), 1e-15, 'Selu dL/dx');
    const hs = await gradientsAt({ op: 'HardSigmoid', opset: 6, inputs: [{ dims: [3], values: [-2.5, 0, 2.5] }], reference: noF64('HardSigmoid', REF.hardSigmoid) });
    assertClose(hs.g, Float64Array.from([0, 0.2 * hs.dY[1], 0]), 1e-15, 'HardSigmoid dL/dx');
    const hw = await gradientsAt({ op: 'HardSwish', opset: 14, inputs: [{ dims: [2], values: [-3, 3] }],
      reference: { why: 'onnxruntime runs HardSwish through HardSigmoid, which has no float64 kernel', fn: REF.hardSwish } });
    assertClose(hw.g, Float64Array.from([-0.5 * hw.dY[0], 1.5 * hw.dY[1]]), 1e-15, 'HardSwish dL/dx');
  });

  const rejects = (c: Omit<Case, 'title'>, message: RegExp): Promise<void> => assert.rejects(checkCase({ title: `${c.op} rejected`, ...c }), message);

  it('Einsum: repeated subscripts in one operand (diagonal, trace) and broadcasting are rejected, naming the node and equation', async () => {
    await rejects({ op: 'Einsum', opset: 12, inputs: [X(3, 3)], attrs: { equation: 'ii->i' } },
      /Einsum node 'fwd_Einsum' has Einsum equation 'ii->i', which repeats a subscript within operand 0 \(a diagonal or trace\)/);
    await rejects({ op: 'Einsum', opset: 12, inputs: [X(3, 3)], attrs: { equation: 'ii' } }, /equation 'ii', which repeats a subscript/);
    await rejects({ op: 'Einsum', opset: 12, inputs: [X(1, 2, 3), X(2, 3, 2)], attrs: { equation: '...ij,...jk->...ik' } }, /broadcasts subscript axes of sizes 1 and 2/);
  });

  it('Pad: reflect with run-time pads and wrap wider than the axis are rejected, naming the node', async () => {
    await rejects({ op: 'Pad', opset: 13, inputs: [X(2, 3), { dims: [4], type: 'int64', values: [1, 1, 0, 1] }], attrs: { mode: 'reflect' } },
      /Pad node 'fwd_Pad' \(mode 'reflect'\) has pads computed at run time \('x1'\)/);
    await rejects({ op: 'Pad', opset: 19, inputs: [X(2, 3), K([0, 4, 0, 0])], attrs: { mode: 'wrap' } }, /Pad node 'fwd_Pad' wrap-pads axis 1 by more than its 3 kept rows/);
  });

  it('ReduceProd over run-time axes is rejected, naming the node', async () => {
    await rejects({ op: 'ReduceProd', opset: 18, inputs: [X(2, 3), { dims: [1], type: 'int64', values: [1] }] },
      /ReduceProd node 'fwd_ReduceProd' reduces over axes computed at run time \('x1'\)/);
  });

  it('Cast from an integer tensor gives no gradient', () => {
    const node: NodeProto = { op_type: 'Cast', input: ['i'], output: ['y'], attribute: [makeAttribute('to', 11)] };
    const ctx = { b: new GraphBuilder('t_'), opset: 13, value: (t: string) => t, shape: () => [2], elemType: (t: string) => (t === 'i' ? 7 : 11),
      constant: () => undefined, constantInts: () => undefined } as VjpContext;
    assert.deepStrictEqual(VJP_RULES.Cast(node, ['dy'], ctx, [true]), [undefined]);
  });

  it('Pow with a non-constant exponent on the gradient path is rejected with a clear message', async () => {
    await assert.rejects(
      checkCase({ title: 'pow exponent', op: 'Pow', opset: 13, inputs: [pos(2, 3), X(3)] }),
      /Pow with a non-constant exponent .* is unsupported/,
    );
  });
});
