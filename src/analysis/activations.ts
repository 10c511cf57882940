/** ONNX graph emitters for the activation functions recurrent ops allow (ONNX RNN/GRU/LSTM spec). */
import { GraphBuilder } from '../onnx/builder';
import { Activation } from './recurrent';

/** Emit act(x) and return the output name. */
export function emitActivation(b: GraphBuilder, act: Activation, x: string): string {
  switch (act.name) {
    case 'Sigmoid': return b.op('Sigmoid', [x]);
    case 'Tanh': return b.op('Tanh', [x]);
    case 'Relu': return b.op('Relu', [x]);
    case 'Softsign': return b.op('Softsign', [x]);
    case 'Softplus': return b.op('Softplus', [x]);
    case 'LeakyRelu': return b.op('LeakyRelu', [x], { alpha: { float: act.alpha } });
    case 'ThresholdedRelu': return b.op('ThresholdedRelu', [x], { alpha: { float: act.alpha } });
    case 'Elu': return b.op('Elu', [x], { alpha: { float: act.alpha } });
    case 'HardSigmoid': return b.op('HardSigmoid', [x], { alpha: { float: act.alpha }, beta: { float: act.beta } });
    // Affine(x) = α·x + β
    case 'Affine': return b.add(b.mul(x, b.constF(act.alpha)), b.constF(act.beta));
    // ScaledTanh(x) = α·tanh(β·x)
    case 'ScaledTanh': return b.mul(b.op('Tanh', [b.mul(x, b.constF(act.beta))]), b.constF(act.alpha));
    default: throw new Error(`internal error: activation ${act.name} has no emitter`);
  }
}

/** Clip(x, −clip, clip) when the node has a clip attribute (applied to every activation's input). */
export function emitClip(b: GraphBuilder, clip: number | null, x: string): string {
  if (clip === null) return x;
  return b.op('Clip', [x, b.constF(-clip), b.constF(clip)]);
}
