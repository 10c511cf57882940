/**
 * The report of a state recurrence (`op: "state"`, SPEC v2 §9.1): its state per step and
 * dL/d(state) flattened to [T, B, H], the Jacobian norm of the whole state from the carried seed
 * rows (metrics/jacobian.ts, as for the op layers), its decay, and — for a recognised LSTM/GRU
 * cell written with plain ops — its gates and their saturation.
 */
import { WireTensor } from '../../runtime/protocol';
import { DirectionReport, GATE_NAMES, LayerReport, Tensor } from '../../report/types';
import { jacobianNormsFromRows } from '../../metrics/jacobian';
import { jacobianDecay, stepNorms } from '../../metrics/gradients';
import { gateSaturation, gateThresholds } from '../../metrics/saturation';
import { retention } from '../../metrics/retention';
import { StateOutputs } from '../backward/backwardGraph';
import { IteratedPlan } from './plan';
import { flattenState, stateBatchAxis } from './stateLayers';

export function stateLayerReport(plan: IteratedPlan, out: StateOutputs, first: Record<string, WireTensor>, second: Record<string, WireTensor>,
  saturation: { low: number; high: number }, streaming: boolean): LayerReport {
  const layer = plan.stateLayer!;
  const st = plan.state!;
  const N = plan.N;
  const { B, H } = st;
  const vars = layer.vars.map((ci, vi) => ({ shape: st.shapes[vi], batchAxis: st.batchAxes[vi], bodyOut: plan.spec.carried[ci].bodyOut }));
  const flat = (perVar: ArrayLike<number>[]): Tensor => ({
    dims: [N, B, H], data: flattenState(vars.map((v, vi) => ({ data: perVar[vi], shape: v.shape, batchAxis: v.batchAxis })), N, B).data,
  });
  const hidden = flat(vars.map((v) => first[plan.tapNames.get(v.bodyOut)!].data as Float32Array));
  const gradHidden = flat(out.grads.map((g) => second[g].data as Float32Array));

  const gates: Record<string, Tensor> = {};
  const satGates: NonNullable<DirectionReport['metrics']['saturation']>['gates'] = {};
  if (layer.cell) {
    for (const gate of GATE_NAMES[layer.cell.op]) {
      const v = first[plan.tapNames.get(layer.cell.gates[gate])!];
      const shape = v.dims.slice(1);
      const axis = stateBatchAxis(shape, B);
      const f = flattenState([{ data: v.data as Float32Array, shape, batchAxis: axis }], N, B);
      gates[gate] = { dims: [N, B, f.H], data: f.data };
      const act = gate === 'cell' || gate === 'hidden' ? 'Tanh' : 'Sigmoid';
      const th = gateThresholds(act, 0, saturation.low, saturation.high);
      satGates[gate] = { low: th.low, high: th.high, activation: act, range: th.range, ...gateSaturation(f.data, [N, B, f.H], null, th.low, th.high) };
    }
  }

  const direction: DirectionReport = {
    direction: 'forward',
    gates,
    hidden,
    gradHidden,
    metrics: { saturation: { low: saturation.low, high: saturation.high, gates: satGates }, gradNorm: stepNorms(gradHidden.data, N) },
  };
  if (layer.cell?.op === 'LSTM' && gates.forget) {
    direction.metrics.retention = retention(gates.forget.data as Float32Array, [N, B, gates.forget.dims[2]], new Array<number>(B).fill(N), 'forward');
  }
  if (out.jacobian) {
    const rows = second[out.jacobian.rows].data as Float32Array;
    const divisors = second[out.jacobian.divisors].data as Float32Array;
    const norms = jacobianNormsFromRows({
      T: N, rows: 1 + out.jacobian.seeds, hiddenSeeds: out.jacobian.seeds, cellSeeds: 0, probes: st.probes, direction: 'forward',
      hiddenRows: rows, divisors,
    });
    const f64 = (data: Float64Array): Tensor => ({ dims: [N], data });
    direction.jacobianNorm = {
      hidden: f64(norms.hidden), state: f64(norms.state), method: st.probes ? 'probes' : 'exact',
      ...(st.probes ? { probes: st.probes, relError: 1 / Math.sqrt(2 * st.probes) } : {}),
    };
    direction.metrics.decay = jacobianDecay(norms.state, N - 1, 0, 'state');
  }
  return {
    node: layer.name, path: layer.path, nodeIndex: layer.container.nodeIndex, op: 'state', ...(layer.cell ? { cell: layer.cell.op } : {}),
    direction: 'forward', layout: 0, hiddenSize: H, inputSize: 0, seqLen: N, batch: B,
    iterations: { count: N, steps: 1, ...(streaming ? { calls: true } : {}) },
    attributes: {
      activations: [], activationAlpha: [], activationBeta: [], clip: null, inputForget: false, linearBeforeReset: false,
      hasBias: false, hasPeepholes: false, hasSequenceLens: false, hasInitialH: true, hasInitialC: false,
    },
    directions: [direction],
  };
}
