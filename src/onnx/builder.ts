/**
 * A small builder for the ONNX graphs Gradient Lens generates: unique names, typed constants,
 * one-line node emitters. Emitted graphs use only standard default-domain ops.
 */
import { AttrValue, makeAttribute } from './attributes';
import { makeTensor } from './model';
import { DataType, GraphProto, ModelProto, NodeProto, TensorProto, ValueInfoProto } from './proto';

/** Opset of every graph Gradient Lens generates (independent of the analysed model's opset). */
export const GENERATED_OPSET = 17;

/**
 * A run of nodes that computes each of T steps from that step alone (GraphBuilder.timeLocal);
 * `summed` nodes' outputs are sums over the steps instead (GraphBuilder.timeSummed).
 */
export interface TimeLocalRegion { id: string; T: number; summed?: boolean }

/**
 * A fed value that is a layer-direction's Jacobian seeds placed in a block of adjoint rows: zeros
 * of `dims` but rows `row …` (axis 0), which hold the seeds of `part`. A warm re-run with another
 * seed refills it from the new seeds without building the graph again.
 */
export interface SeedRowsOrigin { layer: number; direction: number; part: 'hidden' | 'cell'; row: number }

export interface FedValue { dims: number[]; data: Float32Array; seedRows?: SeedRowsOrigin }

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private counter = 0;
  private readonly constCache = new Map<string, string>();
  /**
   * Nodes emitted inside timeLocal(): node name → the region they belong to. Each reads per-step
   * tensors (leading axis T) and initializers only, and computes every step from that step alone.
   */
  readonly timeLocalNodes = new Map<string, TimeLocalRegion>();
  private region: TimeLocalRegion | undefined;

  constructor(private readonly prefix: string, private readonly taken: Set<string> = new Set()) {}

  /** A name unused in this graph (and in any name set the builder was given). */
  fresh(hint: string): string {
    let name: string;
    do {
      name = `${this.prefix}${hint}_${this.counter++}`;
    } while (this.taken.has(name));
    this.taken.add(name);
    return name;
  }

  node(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, nOutputs = 1, hint?: string): string[] {
    const outputs = Array.from({ length: nOutputs }, () => this.fresh(hint ?? opType.toLowerCase()));
    this.opInto(opType, inputs, outputs, attrs);
    return outputs;
  }

  /**
   * Emit `emit`'s nodes as the time-local region `id` over T steps (see timeLocalNodes): the
   * caller promises that every one of them works step by step along axis 0 of per-step inputs,
   * so a run may feed them any range of steps at a time (runtime/stagedRun.ts).
   */
  timeLocal<R>(id: string, T: number, emit: () => R, summed = false): R {
    const outer = this.region;
    this.region = { id, T, ...(summed ? { summed } : {}) };
    try {
      return emit();
    } finally {
      this.region = outer;
    }
  }

  /**
   * Emit `emit`'s nodes into the time-local region `id` as sums over its steps: each output, computed
   * from any range of steps, is that range's share of a sum over all T (a run adds the shares). They
   * may read the region's per-step values and each other, linearly (MatMul over the step axis, ReduceSum, Concat).
   */
  timeSummed<R>(id: string, T: number, emit: () => R): R {
    return this.timeLocal(id, T, emit, true);
  }

  /** Emit a node with a single output and return its name. */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, hint?: string): string {
    return this.node(opType, inputs, attrs, 1, hint)[0];
  }

  /** Emit a node writing to given output names (for wiring into existing graphs). */
  opInto(opType: string, inputs: string[], outputs: string[], attrs: Record<string, AttrValue> = {}): void {
    const name = this.fresh(`n_${opType}`);
    this.nodes.push({
      op_type: opType,
      input: inputs,
      output: outputs,
      name,
      attribute: Object.entries(attrs).map(([k, v]) => makeAttribute(k, v)),
      domain: '',
    });
    if (this.region) this.timeLocalNodes.set(name, this.region);
  }

  /**
   * Values fed to the graph at run time rather than stored in it (feedInput): a graph whose
   * structure does not change with them can be reused (a cached session) when only they do.
   */
  readonly fed = new Map<string, FedValue>();

  /** A float32 graph input of these values (see `fed`); `seedRows`: where they come from, so a re-run can feed new ones. */
  feedInput(hint: string, dims: number[], data: Float32Array, seedRows?: SeedRowsOrigin): string {
    const name = this.fresh(hint);
    this.inputs.push(valueInfo(name, DataType.FLOAT, dims));
    this.fed.set(name, { dims, data, ...(seedRows ? { seedRows } : {}) });
    return name;
  }

  initializer(hint: string, dims: number[], data: Float32Array | Int32Array | BigInt64Array | Float64Array | Uint8Array, dataType?: number): string {
    const name = this.fresh(hint);
    this.initializers.push(makeTensor(name, dims, data, dataType));
    return name;
  }

  /** A cached scalar or 1-D float32 constant. */
  constF(values: number | number[], hint = 'c'): string {
    const arr = typeof values === 'number' ? [values] : values;
    const key = `f:${typeof values === 'number' ? 's' : 'v'}:${arr.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.initializer(hint, typeof values === 'number' ? [] : [arr.length], Float32Array.from(arr));
      this.constCache.set(key, name);
    }
    return name;
  }

  /** A cached scalar or 1-D int64 constant (shapes, axes, indices). */
  constI64(values: number | number[], hint = 'i'): string {
    const arr = typeof values === 'number' ? [values] : values;
    const key = `i:${typeof values === 'number' ? 's' : 'v'}:${arr.join(',')}`;
    let name = this.constCache.get(key);
    if (!name) {
      name = this.initializer(hint, typeof values === 'number' ? [] : [arr.length], BigInt64Array.from(arr.map(BigInt)));
      this.constCache.set(key, name);
    }
    return name;
  }

  input(name: string, elemType: number, shape: (number | string | null)[] | null): string {
    this.inputs.push(valueInfo(name, elemType, shape));
    return name;
  }

  output(name: string, elemType: number = DataType.FLOAT, shape: (number | string | null)[] | null = null): void {
    this.outputs.push(valueInfo(name, elemType, shape));
  }

  /**
   * Make `value` a graph output and return the name it is fetched by: the value itself when it is
   * a node's output not exposed yet, else an Identity named `name` (graph inputs, initializers,
   * values exposed twice). An Identity under a readable name would copy the tensor: at T = 10 000,
   * H = 1024 each per-step tensor is 41 MB.
   */
  expose(value: string, name: string): string {
    const own = !this.outputs.some((v) => v.name === value) && !this.inputs.some((v) => v.name === value)
      && !this.initializers.some((t) => t.name === value);
    const out = own ? value : name;
    if (!own) this.opInto('Identity', [value], [name]);
    this.output(out);
    return out;
  }

  graph(name: string): GraphProto {
    return {
      name,
      node: this.nodes,
      initializer: this.initializers,
      input: this.inputs,
      output: this.outputs,
      value_info: [],
    };
  }

  // Common emitters -------------------------------------------------------------------------

  add(a: string, b: string): string { return this.op('Add', [a, b]); }
  sub(a: string, b: string): string { return this.op('Sub', [a, b]); }
  mul(a: string, b: string): string { return this.op('Mul', [a, b]); }
  matmul(a: string, b: string): string { return this.op('MatMul', [a, b]); }
  /** x[index] along axis, the axis removed (Gather with a scalar index). */
  pick(x: string, index: number, axis: number): string {
    return this.op('Gather', [x, this.constI64(index)], { axis });
  }
  slice(x: string, starts: number[], ends: number[], axes: number[]): string {
    return this.op('Slice', [x, this.constI64(starts), this.constI64(ends), this.constI64(axes)]);
  }
  unsqueeze(x: string, axes: number[]): string { return this.op('Unsqueeze', [x, this.constI64(axes)]); }
  concat(xs: string[], axis: number): string { return this.op('Concat', xs, { axis }); }
  split(x: string, parts: number, axis: number): string[] {
    return this.node('Split', [x], { axis }, parts);
  }
}

export function valueInfo(name: string, elemType: number, shape: (number | string | null)[] | null): ValueInfoProto {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemType,
        shape: shape === null ? undefined : {
          dim: shape.map((d) => (typeof d === 'number' ? { dim_value: d } : typeof d === 'string' ? { dim_param: d } : {})),
        },
      },
    },
  };
}

export function makeModel(graph: GraphProto, opset = GENERATED_OPSET): ModelProto {
  return {
    ir_version: 8,
    opset_import: [{ domain: '', version: opset }],
    producer_name: 'gradient-lens',
    producer_version: '0.1.0',
    graph,
  };
}
