/**
 * Streaming models (SPEC v2 §9.1): one call processes one chunk, and the recurrent state leaves
 * as a graph output and comes back as an input on the next call. A *state pair* is such an
 * input/output pair; `--calls N` analyses N consecutive calls, the state fed back.
 *
 * The N calls are analysed as one Scan over calls whose body is the model's graph: the state
 * pairs are the Scan's carried values, inputs that change per call are its scan inputs, inputs
 * fed the same every call are read from the enclosing scope, and every output is stacked per
 * call. From there a streaming model is a model with a Scan, and iterated/ handles it like any
 * other: recurrent nodes inside are analysed over the concatenated time axis, and state carried
 * by other ops forms a state recurrence.
 */
import { UsageError } from '../../onnx/errors';
import { printable } from '../../onnx/files';
import { renameGraph } from '../../onnx/graphs';
import { DATA_TYPE_NAMES, GraphProto, ModelProto, NodeProto, ValueInfoProto, toNumber } from '../../onnx/proto';
import { makeAttribute } from '../../onnx/attributes';
import { leadingStride, sliceLeading, type WireTensor } from '../../runtime/protocol';

/** The symbolic size of the wrapped model's calls axis. */
const CALLS_DIM = 'gradient_lens_calls';
/** Name of the Scan node that runs the calls (never shown as part of a layer's path). */
export const CALLS_NODE = 'gradient_lens_calls';
/** Prefix of the body's own tensor names (a body may not reuse the enclosing graph's names). */
const CALL_PREFIX = 'call/';

export interface StatePair {
  input: string;
  output: string;
}

/**
 * The output names that carry input `name`'s state to the next call, by the conventions exporters
 * use: `state` → `stateN`/`staten`/`state_n`, `h0`/`h_0` → `hn`/`h_n`, `c_in` → `c_out`, `h_prev` → `h_next`.
 */
export function stateOutputNames(name: string): string[] {
  const out: string[] = [];
  const lower = name.toLowerCase();
  const ends = (s: string) => lower.endsWith(s) && lower.length > s.length;
  const base = (s: string) => name.slice(0, name.length - s.length);
  if (ends('_in')) out.push(`${base('_in')}_out`);
  else if (ends('in')) out.push(`${base('in')}out`);
  else if (ends('_prev')) out.push(`${base('_prev')}_next`, `${base('_prev')}_new`);
  else if (ends('_0')) out.push(`${base('_0')}_n`, `${base('_0')}_N`);
  else if (ends('0')) out.push(`${base('0')}n`, `${base('0')}N`);
  else out.push(`${name}N`, `${name}n`, `${name}_n`, `${name}_N`);
  return out.map((o) => o.toLowerCase());
}

function typeKey(v: ValueInfoProto): string | undefined {
  const tt = v.type?.tensor_type;
  if (!tt) return undefined;
  const dims = tt.shape ? tt.shape.dim.map((d) => (d.dim_value !== undefined && d.dim_value !== null && toNumber(d.dim_value) > 0 ? String(toNumber(d.dim_value)) : d.dim_param ? `?${d.dim_param}` : '?')) : ['*'];
  return `${tt.elem_type}:${dims.join(',')}`;
}

/** "float [B, 10, 8]" (symbolic sizes by name, unnamed ones as ?), for messages. */
function describeType(v: ValueInfoProto): string {
  const tt = v.type?.tensor_type;
  if (!tt) return 'not a tensor';
  const type = DATA_TYPE_NAMES[tt.elem_type ?? 0] ?? `type ${tt.elem_type}`;
  if (!tt.shape) return `${type} of unknown shape`;
  const dims = tt.shape.dim.map((d) => (d.dim_value !== undefined && d.dim_value !== null && toNumber(d.dim_value) > 0 ? String(toNumber(d.dim_value)) : d.dim_param ? printable(d.dim_param) : '?'));
  return `${type} [${dims.join(', ')}]`;
}

/** Same dtype and rank, and no two different static sizes. */
function sameType(a: ValueInfoProto, b: ValueInfoProto): boolean {
  const ka = typeKey(a);
  const kb = typeKey(b);
  if (!ka || !kb) return false;
  const [ta, da] = ka.split(':');
  const [tb, db] = kb.split(':');
  if (ta !== tb) return false;
  if (da === '*' || db === '*') return true;
  const xa = da.split(',');
  const xb = db.split(',');
  // Exporters often leave an output's sizes symbolic: only two different static sizes conflict.
  return xa.length === xb.length && xa.every((x, i) => x === xb[i] || x.startsWith('?') || xb[i].startsWith('?'));
}

/**
 * The model's state pairs: given with `--state IN=OUT` (then only those), else every graph input
 * matched to a graph output of the same type whose name is its streaming counterpart.
 */
export function statePairs(graph: GraphProto, given: StatePair[] | undefined): StatePair[] {
  const inits = new Set(graph.initializer.map((t) => t.name));
  const inputs = graph.input.filter((v) => !inits.has(v.name));
  const outputs = graph.output;
  if (given && given.length) {
    for (const p of given) {
      const i = inputs.find((v) => v.name === p.input);
      const o = outputs.find((v) => v.name === p.output);
      if (!i) throw new UsageError(`--state ${printable(p.input)}=${printable(p.output)}: the model has no input '${printable(p.input)}' (its inputs: ${inputs.map((v) => printable(v.name)).join(', ')}).`);
      if (!o) throw new UsageError(`--state ${printable(p.input)}=${printable(p.output)}: the model has no output '${printable(p.output)}' (its outputs: ${outputs.map((v) => printable(v.name)).join(', ')}).`);
      if (!sameType(i, o)) throw new UsageError(`--state ${printable(p.input)}=${printable(p.output)}: the input and the output differ in type or shape (${describeType(i)} vs ${describeType(o)}); a state pair carries one value from a call to the next.`);
    }
    const seen = new Set<string>();
    for (const p of given) {
      if (seen.has(p.input) || seen.has(`>${p.output}`)) throw new UsageError(`--state: '${printable(seen.has(p.input) ? p.input : p.output)}' is in two pairs.`);
      seen.add(p.input);
      seen.add(`>${p.output}`);
    }
    return given;
  }
  const pairs: StatePair[] = [];
  const used = new Set<string>();
  for (const i of inputs) {
    const elem = i.type?.tensor_type?.elem_type;
    if (elem !== 1 && elem !== 11 && elem !== 10) continue; // float states only
    const names = stateOutputNames(i.name);
    const match = outputs.find((o) => !used.has(o.name) && sameType(i, o) && names.includes(o.name.toLowerCase()));
    if (match) { pairs.push({ input: i.name, output: match.name }); used.add(match.name); }
  }
  return pairs;
}

export interface CallsWrap {
  /** Inputs fed per call (scan inputs, files/values [N, ...]); the others are fed once. */
  perCall: string[];
  pairs: StatePair[];
  calls: number;
}

/**
 * Rewrite `proto` (in place) as N calls: a main graph with one Scan over the calls. Graph inputs
 * keep their names (per-call ones take [N, ...]); graph outputs keep their names, state outputs
 * holding the state after the last call and the others every call's value stacked [N, ...].
 */
export function wrapCalls(proto: ModelProto, wrap: CallsWrap): Map<NodeProto, NodeProto> {
  const g = proto.graph;
  const inits = new Set(g.initializer.map((t) => t.name ?? ''));
  const stateIn = new Map(wrap.pairs.map((p) => [p.input, p.output]));
  const stateOuts = new Set(wrap.pairs.map((p) => p.output));
  const perCall = new Set(wrap.perCall);
  const inputs = g.input.filter((v) => !inits.has(v.name));
  const others = g.output.filter((o) => !stateOuts.has(o.name));
  // The body defines its own names (inputs and node outputs); values of the main graph it reads keep theirs.
  const own = new Set<string>([...wrap.pairs.map((p) => p.input), ...perCall]);
  for (const n of g.node) for (const o of n.output) if (o) own.add(o);
  const rename = (name: string) => (own.has(name) ? `${CALL_PREFIX}${name}` : name);
  const renamed = renameGraph({ ...g, initializer: [], input: [], output: [], value_info: [] }, rename);
  const call = (name: string) => rename(name);
  const typed = (v: ValueInfoProto, name: string): ValueInfoProto => ({ ...v, name });
  // A Scan needs a scan input: without per-call inputs, the call index.
  const callIndex = perCall.size === 0 ? CALL_INDEX_INPUT : undefined;
  const body: GraphProto = {
    name: 'gradient_lens_call',
    node: renamed.node,
    initializer: [],
    input: [
      ...wrap.pairs.map((p) => typed(inputs.find((v) => v.name === p.input)!, call(p.input))),
      ...inputs.filter((v) => perCall.has(v.name)).map((v) => typed(v, call(v.name))),
      ...(callIndex ? [{ name: `${CALL_PREFIX}index`, type: { tensor_type: { elem_type: 7, shape: { dim: [] } } } }] : []),
    ],
    output: [...wrap.pairs.map((p) => ({ name: call(p.output) })), ...others.map((o) => ({ name: call(o.name) }))],
    value_info: [],
  };
  // A body output must be produced in the body: pass-through values (an input returned as is) get an Identity.
  const passThrough: { from: string; to: string }[] = [];
  body.output = body.output.map((o, i) => {
    const source = i < wrap.pairs.length ? call(wrap.pairs[i].output) : call(others[i - wrap.pairs.length].name);
    const produced = renamed.node.some((n) => n.output.includes(source));
    if (produced) return { name: source };
    const to = `${source}#out`;
    passThrough.push({ from: source, to });
    return { name: to };
  });
  for (const p of passThrough) body.node.push({ op_type: 'Identity', input: [p.from], output: [p.to], name: `${p.to}_identity`, attribute: [], domain: '' });
  const scanInputs = [...inputs.filter((v) => perCall.has(v.name)).map((v) => v.name), ...(callIndex ? [callIndex] : [])];
  const scan = {
    op_type: 'Scan', name: CALLS_NODE, domain: '',
    input: [...wrap.pairs.map((p) => p.input), ...scanInputs],
    output: [...wrap.pairs.map((p) => p.output), ...others.map((o) => o.name)],
    attribute: [makeAttribute('body', body), makeAttribute('num_scan_inputs', scanInputs.length)],
  };
  // The calls axis is symbolic: the wrapped model runs any number of calls, so long runs go in chunks (runCalls).
  const lead = (v: ValueInfoProto): ValueInfoProto => {
    const tt = v.type?.tensor_type;
    if (!tt?.shape) return v;
    return { ...v, type: { tensor_type: { ...tt, shape: { dim: [{ dim_param: CALLS_DIM }, ...tt.shape.dim] } } } };
  };
  proto.graph = {
    ...g,
    node: [scan],
    input: [...g.input.map((v) => (perCall.has(v.name) ? lead(v) : v)),
      ...(callIndex ? [{ name: callIndex, type: { tensor_type: { elem_type: 7, shape: { dim: [{ dim_param: CALLS_DIM }] } } } }] : [])],
    output: g.output.map((o) => (stateOuts.has(o.name) ? o : lead(o))),
    value_info: [],
  };
  return new Map(g.node.map((n, i) => [n, renamed.node[i]]));
}

/** The per-call index input the wrap adds when no input changes per call (fed 0 … N−1). */
export const CALL_INDEX_INPUT = 'gradient_lens_call_index';

/** How a fetched value of the wrapped model combines over chunks of calls. */
export type ChunkRole = 'concat' | 'first' | 'last';

/**
 * Run the wrapped model's N calls in chunks of calls through one session, the state outputs of a
 * chunk fed as the state inputs of the next: no native call runs long, and cancelling waits for
 * one chunk (about `targetMs`). `role(name)` says how each fetched value combines.
 */
export async function runCalls(
  run: (feeds: Record<string, WireTensor>, fetches: string[]) => Promise<{ outputs: Record<string, WireTensor>; ms: number }>,
  feeds: Record<string, WireTensor>, fetches: string[], wrap: CallsWrap & { perCallFeeds: string[] }, role: (name: string) => ChunkRole,
  opts: { targetMs: number; checkCancelled: () => void; progress: (f: number) => void },
): Promise<{ outputs: Record<string, WireTensor>; ms: number }> {
  const N = wrap.calls;
  const wanted = [...new Set([...fetches, ...wrap.pairs.map((p) => p.output)])];
  const parts = new Map<string, WireTensor[]>();
  const kept: Record<string, WireTensor> = {};
  let states = Object.fromEntries(wrap.pairs.map((p) => [p.input, feeds[p.input]]));
  let done = 0;
  let chunk = 16;
  let ms = 0;
  while (done < N) {
    opts.checkCancelled();
    const len = Math.min(chunk, N - done);
    const part: Record<string, WireTensor> = { ...feeds, ...states };
    for (const name of wrap.perCallFeeds) part[name] = sliceLeading(feeds[name], done, len);
    const r = await run(part, wanted);
    ms += r.ms;
    for (const name of wanted) {
      const v = r.outputs[name];
      const how = role(name);
      if (how === 'concat') parts.set(name, [...(parts.get(name) ?? []), v]);
      else if (how === 'last' || !(name in kept)) kept[name] = v;
    }
    states = Object.fromEntries(wrap.pairs.map((p) => [p.input, r.outputs[p.output]]));
    done += len;
    opts.progress(done / N);
    chunk = Math.max(1, Math.min(N, Math.floor(opts.targetMs / Math.max(r.ms / len, 1e-3))));
  }
  const outputs: Record<string, WireTensor> = {};
  for (const name of fetches) outputs[name] = parts.has(name) ? concatCalls(parts.get(name)!) : kept[name];
  return { outputs, ms };
}

function concatCalls(parts: WireTensor[]): WireTensor {
  const first = parts[0];
  const n = parts.reduce((a, p) => a + p.dims[0], 0);
  const s = leadingStride(first);
  const Ctor = first.data.constructor as new (len: number) => WireTensor['data'];
  const data = new Ctor(n * s);
  let at = 0;
  for (const p of parts) { (data as Float32Array).set(p.data as Float32Array, at); at += p.data.length; }
  return { type: first.type, dims: [n, ...first.dims.slice(1)], data };
}
