/**
 * The Report (SPEC.md §7 and §9, schema "gradient-lens/report@2"): the one structure every view consumes
 * (CLI summary, JSON, HTML, the VS Code panel). Per-step tensors hold Float32Array data in
 * memory; the JSON writer streams them out as number lists.
 */

export const REPORT_SCHEMA = 'gradient-lens/report@2';

/** The objective L (SPEC §3; analysis/backward/objective.ts emits it). */
export type ObjectiveKind = 'sum' | 'mean' | 'l2' | 'last' | 'target';
export const OBJECTIVE_KINDS: readonly ObjectiveKind[] = ['sum', 'mean', 'l2', 'last', 'target'];

/** A dense row-major tensor. */
export interface Tensor {
  dims: number[];
  data: Float32Array | Float64Array;
}

export type RecurrentOp = 'LSTM' | 'GRU' | 'RNN';
/** A layer's op: a recurrent node's, or "state" for a state recurrence (carried Loop/Scan or streaming state, SPEC v2 §9.1). */
export type LayerOp = RecurrentOp | 'state';
export type Direction = 'forward' | 'reverse';
export type NodeDirection = Direction | 'bidirectional';

export const GATE_NAMES: Record<RecurrentOp, readonly string[]> = {
  LSTM: ['input', 'forget', 'output', 'cell'],
  GRU: ['update', 'reset', 'hidden'],
  RNN: [],
};

/** The gate names a layer reports: its op's, or a state recurrence's recognised cell's. */
export function gateNames(layer: { op: LayerOp; cell?: 'LSTM' | 'GRU' }): readonly string[] {
  if (layer.op === 'state') return layer.cell ? GATE_NAMES[layer.cell] : [];
  return GATE_NAMES[layer.op];
}

export interface SaturationStats {
  /** The thresholds this gate was judged by (tanh-valued gates: 2·LOW − 1, 2·HIGH − 1; SPEC v2 §9.2). */
  low?: number;
  high?: number;
  /** The gate's activation and its range: sigmoid (0, 1), tanh (−1, 1) or unbounded. */
  activation?: string;
  range?: 'sigmoid' | 'tanh' | 'unbounded';
  /** Fraction of valid (t, b, unit) values below `low`. */
  left: number;
  /** Fraction of valid (t, b, unit) values above `high`. */
  right: number;
  leftPerUnit: number[];
  rightPerUnit: number[];
}

export interface SaturationMetrics {
  low: number;
  high: number;
  gates: Record<string, SaturationStats>;
}

export interface RetentionMetrics {
  /** f̄_j: mean forget-gate value per unit over valid (t, b). */
  meanForget: number[];
  /** τ_j = 1 / (1 − f̄_j) steps; null when f̄_j = 1 (infinite horizon). */
  horizon: (number | null)[];
  /** cellHighway[t] = √(Σ_b Σ_j (∏_{k after t … last} f_k[b, j])²). */
  cellHighway: number[];
}

export interface GateSpectrum {
  gate: string;
  /** Largest singular value of this gate's H×H block of R. */
  sigmaMax: number;
  /** Activation of the gate and γ, the bound of its derivative (tanh 1, sigmoid ¼, …); null when unbounded. */
  activation: string;
  gamma: number | null;
  /** Pascanu et al. 2013: σ_max < 1/γ is sufficient for vanishing gradients along this block. */
  sufficientForVanishing: boolean | null;
  /** σ_max > 1/γ is necessary for exploding gradients along this block. */
  necessaryForExplodingMet: boolean | null;
}

export interface SpectrumMetrics {
  /** σ_max of this direction's whole [g·H, H] slice of R. */
  sigmaMaxAll: number;
  gates: GateSpectrum[];
}

export type DecayVerdict = 'vanishing' | 'stable' | 'exploding' | 'n/a' | 'invalid';

/** The decay of a Jacobian norm with distance from the direction's last step (SPEC v2 §9.2; metrics/gradients.ts). */
export interface DecayMetrics {
  /** Which jacobianNorm curve was fitted. */
  basis: 'state' | 'hidden' | 'cell';
  /** Per-step factor e^slope of the least-squares fit of log J against distance over the window; null with < 2 points. */
  rho: number | null;
  slope: number | null;
  /** The same fit over the far half of the window (distance ≥ ⌈W/2⌉). */
  rhoTail: number | null;
  /** J(distance W−1) / J(distance 0); null when J(0) is 0 or not finite. */
  survival: number | null;
  /** Points used in the whole-window fit (exact zeros dropped). */
  points: number;
  /** W: steps in the valid window. */
  window: number;
  /** ln ½ / ln ρ steps when ρ < 1, else null. */
  halfLife: number | null;
  /** Largest distance with J ≥ 1e-3 × its value at distance 0; null = beyond T. */
  reach: number | null;
  verdict: DecayVerdict;
  /** Why there is no verdict (n/a, invalid). */
  reason?: string;
}

export interface ClippingMetrics {
  /** Global norm G of all weight gradients (NaN/∞ when they are). */
  globalNorm: number;
  /** min(1, θ/G) per threshold θ; null when G is not finite. */
  factors: Record<string, number | null>;
}

/** Per-gate norms of a direction's weight gradients (ONNX gate order), and ‖dθ‖ of the whole direction. */
export interface WeightGradNorms {
  gates: string[];
  W: number[];
  R: number[];
  B: number[];
  /** Peephole gradient per gate (null for the cell gate, which has none). */
  P?: (number | null)[];
  total: number;
}

export interface DirectionMetrics {
  saturation: SaturationMetrics;
  retention?: RetentionMetrics;
  /** Static, from R; absent for a state recurrence (no recurrent weight matrix). */
  spectrum?: SpectrumMetrics;
  /** ‖gradHidden[t]‖₂ over (B, H). */
  gradNorm?: number[];
  /** ‖dL/dX_t‖₂ over (B, I) of the gradient this direction sends into the layer's input sequence X (SPEC v2 §9.2). */
  inputGradNorm?: number[];
  gradCellNorm?: number[];
  /** Norms of weightGrads per gate (kept when `--detail metrics` leaves the matrices out). */
  weightGradNorms?: WeightGradNorms;
  decay?: DecayMetrics;
  /** LSTM: the decay of the hidden path (holding c_t fixed) and of the cell path alone. */
  decayPaths?: { hidden: DecayMetrics; cell: DecayMetrics };
  /** Set when this direction's inputs, weights or forward values hold NaN/±∞: what and where. Its statistics are then not shown as findings. */
  nonFinite?: string;
  [extra: string]: unknown;
}

export interface DirectionReport {
  direction: Direction;
  gates: Record<string, Tensor>;
  hidden: Tensor;
  cell?: Tensor;
  /** dL/dh_t, dL/dc_t [T, B, H] (SPEC §3). */
  gradHidden?: Tensor;
  gradCell?: Tensor;
  /**
   * [T] each, float64 (SPEC §3, v2 §9.2): ‖∂h_last/∂h_t‖, ‖∂c_last/∂c_t‖ (LSTM) and the full state
   * transition ‖∂(h_last, c_last)/∂(h_t, c_t)‖ (= hidden for GRU/RNN); `method` says how they were computed.
   */
  jacobianNorm?: { hidden: Tensor; cell?: Tensor; state: Tensor; method: 'exact' | 'probes'; probes?: number; relError?: number };
  weightGrads?: { W: Tensor; R: Tensor; B: Tensor; P?: Tensor };
  metrics: DirectionMetrics;
}

/** What identifies a recurrent layer and shapes its equations (the same with or without a run). */
export interface LayerIdentity {
  node: string;
  /** Where the node sits in the exported model, e.g. ["If_sr", "then_branch", "lstm"] (SPEC v2 §9.1); [node] at the top level. */
  path?: string[];
  nodeIndex: number;
  op: LayerOp;
  /** A state recurrence whose step function is recognisably an LSTM/GRU cell written with plain ops. */
  cell?: 'LSTM' | 'GRU';
  direction: NodeDirection;
  layout: number;
  hiddenSize: number;
  inputSize: number;
  /** Attributes and optional inputs that shape this layer's equations. */
  attributes: LayerAttributes;
}

export interface LayerReport extends LayerIdentity {
  seqLen: number;
  batch: number;
  /**
   * A layer inside a Loop/Scan body or a streaming model: `count` iterations (calls) of `steps`
   * steps each, concatenated into seqLen = count·steps (t = iteration·steps + step).
   */
  iterations?: { count: number; steps: number; calls?: boolean };
  directions: DirectionReport[];
}

export interface LayerAttributes {
  activations: string[];
  activationAlpha: number[];
  activationBeta: number[];
  clip: number | null;
  inputForget: boolean;
  linearBeforeReset: boolean;
  hasBias: boolean;
  hasPeepholes: boolean;
  hasSequenceLens: boolean;
  hasInitialH: boolean;
  hasInitialC: boolean;
}

export interface ValueInfoSummary {
  name: string;
  elemType: string;
  /** Static sizes as numbers, symbolic ones as their names, unknown as null. */
  shape: (number | string | null)[] | null;
}

export interface ModelInfo {
  path: string;
  irVersion: number;
  opset: number;
  producer: string;
  graphInputs: ValueInfoSummary[];
  graphOutputs: ValueInfoSummary[];
}

export interface RuntimeInfo {
  executionProvider: 'cpu' | 'cuda';
  onnxruntime: string;
  timingsMs: { load: number; build: number; run: number; metrics: number; total: number };
}

export interface InputInfo {
  /** The T actually analysed (the first recurrent layer's; each layer's is layers[].seqLen). */
  seqLen: number;
  batch: number;
  seed: number;
  sources: Record<string, string>;
  /** Per graph input, which axis is the time (sequence) axis and which the batch axis, where known (of one call's value). */
  axes?: Record<string, { time?: number; batch?: number }>;
  /** Streaming (SPEC v2 §9.1): the calls analysed, the inputs fed per call ([calls, ...]), the state pairs. */
  calls?: number;
  perCall?: string[];
  state?: { input: string; output: string }[];
}

export interface ObjectiveInfo {
  kind: string;
  output: string;
  timeAxis?: number;
  /** The output's own time axis as traced from the recurrent layers (null: it has none, so 'last' needs one given). */
  outputTimeAxis?: number | null;
  value: number | null;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  model: ModelInfo;
  runtime: RuntimeInfo;
  input: InputInfo;
  objective?: ObjectiveInfo;
  outputs: Record<string, Tensor>;
  /** The values fed to the model's inputs (from files or generated), for the panel's input track. */
  inputValues?: Record<string, Tensor>;
  /**
   * dL/dx per graph input the gradient reaches (SPEC v2 §9.2): float inputs with their own shape;
   * integer inputs that index an embedding: the gradient of the looked-up rows, [..., E].
   */
  inputGrads?: Record<string, Tensor>;
  layers: LayerReport[];
  clipping?: ClippingMetrics;
  /** What the preparation of the model did (If branches taken, weights folded): information, not warnings. */
  notes?: string[];
  /** A report written with `--detail metrics`: what it leaves out, and how to get it. */
  omitted?: { detail: 'metrics'; fields: string[]; how: string };
  warnings: string[];
}

/** A model's static overview (no run): what the custom editor shows. */
export interface ModelOverview {
  model: ModelInfo;
  /** op_type → count over the graph. */
  opCounts: Record<string, number>;
  layers: (LayerIdentity & {
    /** Per direction. */
    spectrum: SpectrumMetrics[];
  })[];
  /** Streaming state pairs (graph input fed back from a graph output, SPEC v2 §9.1). */
  statePairs?: { input: string; output: string }[];
  /** State carried by Loop/Scan nodes without a recurrent node (op "state" layers of an analysis). */
  stateRecurrences?: { name: string; path: string[]; cell?: 'LSTM' | 'GRU' }[];
  warnings: string[];
}

/**
 * Where a float32 tensor's values are in a report's tensor file (`analyze --json R --tensors F`):
 * `length` values from byte `byteOffset` of `file` (relative to the report's folder), raw
 * little-endian float32, row-major. Written in place of the tensor's `data` list.
 */
export interface TensorFileRef { file: string; dtype: 'float32'; byteOffset: number; length: number }

/** A report's top-level `tensorFile`, when its tensors are in one (written just before `warnings`). */
export interface TensorFileInfo { path: string; dtype: 'float32'; byteOrder: 'little-endian'; bytes: number; tensors: number }
