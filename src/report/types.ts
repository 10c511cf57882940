/**
 * The Report (SPEC.md §7, schema "gradient-lens/report@1"): the one structure every view consumes
 * (CLI summary, JSON, HTML, the VS Code panel). Per-step tensors hold Float32Array data in
 * memory; the JSON writer streams them out as number lists.
 */

export const REPORT_SCHEMA = 'gradient-lens/report@1';

/** The objective L (SPEC §3; analysis/backward/objective.ts emits it). */
export type ObjectiveKind = 'sum' | 'mean' | 'l2' | 'last' | 'target';
export const OBJECTIVE_KINDS: readonly ObjectiveKind[] = ['sum', 'mean', 'l2', 'last', 'target'];

/** A dense row-major tensor. */
export interface Tensor {
  dims: number[];
  data: Float32Array | Float64Array;
}

export type RecurrentOp = 'LSTM' | 'GRU' | 'RNN';
export type Direction = 'forward' | 'reverse';
export type NodeDirection = Direction | 'bidirectional';

export const GATE_NAMES: Record<RecurrentOp, readonly string[]> = {
  LSTM: ['input', 'forget', 'output', 'cell'],
  GRU: ['update', 'reset', 'hidden'],
  RNN: [],
};

export interface SaturationStats {
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

export interface DecayMetrics {
  /** Per-step factor ρ = e^slope of the least-squares fit of log jacobianNorm.hidden against distance. */
  rho: number;
  slope: number;
  /** Points used in the fit (entries ≤ 1e-30 dropped). */
  points: number;
  /** ln ½ / ln ρ steps when ρ < 1, else null. */
  halfLife: number | null;
  /** Largest distance with jacobianNorm.hidden ≥ 1e-3 × its value at distance 0; null = beyond T. */
  reach: number | null;
  verdict: 'vanishing' | 'stable' | 'exploding';
}

export interface DirectionMetrics {
  saturation: SaturationMetrics;
  retention?: RetentionMetrics;
  spectrum: SpectrumMetrics;
  /** ‖gradHidden[t]‖₂ over (B, H). */
  gradNorm?: number[];
  gradCellNorm?: number[];
  decay?: DecayMetrics;
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
  /** [T] each; `estimate` says how they were computed. */
  jacobianNorm?: { hidden: Tensor; cell?: Tensor; method: 'exact' | 'probes'; probes?: number };
  weightGrads?: { W: Tensor; R: Tensor; B: Tensor; P?: Tensor };
  metrics: DirectionMetrics;
}

/** What identifies a recurrent layer and shapes its equations (the same with or without a run). */
export interface LayerIdentity {
  node: string;
  nodeIndex: number;
  op: RecurrentOp;
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
  seqLen: number;
  batch: number;
  seed: number;
  sources: Record<string, string>;
}

export interface ObjectiveInfo {
  kind: string;
  output: string;
  timeAxis?: number;
  value: number | null;
}

export interface Report {
  schema: typeof REPORT_SCHEMA;
  model: ModelInfo;
  runtime: RuntimeInfo;
  input: InputInfo;
  objective?: ObjectiveInfo;
  outputs: Record<string, Tensor>;
  layers: LayerReport[];
  clipping?: { globalNorm: number; factors: Record<string, number> };
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
  warnings: string[];
}
