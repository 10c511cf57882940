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

/**
 * act′(x) as ONNX nodes, given the input x and the output y = act(x). At kinks the one-sided
 * values PyTorch uses: Relu′(0) = 0, LeakyRelu′(0) = α, Elu′(0) = α, ThresholdedRelu′(α) = 0,
 * HardSigmoid′ = α strictly inside (0, 1) of αx + β.
 */
export function emitActivationDerivative(b: GraphBuilder, act: Activation, x: string, y: string): string {
  const step = (cond: string) => b.op('Cast', [cond], { to: 1 });
  const positive = () => step(b.op('Greater', [x, b.constF(0)]));
  switch (act.name) {
    case 'Sigmoid': return b.mul(y, b.sub(b.constF(1), y));                    // σ(1 − σ)
    case 'Tanh': return b.sub(b.constF(1), b.mul(y, y));                        // 1 − tanh²
    case 'Relu': return positive();
    case 'Softsign': {                                                          // 1 / (1 + |x|)²
      const d = b.add(b.constF(1), b.op('Abs', [x]));
      return b.op('Reciprocal', [b.mul(d, d)]);
    }
    case 'Softplus': return b.op('Sigmoid', [x]);
    case 'LeakyRelu': return b.add(b.constF(act.alpha), b.mul(positive(), b.constF(1 - act.alpha)));
    case 'ThresholdedRelu': return step(b.op('Greater', [x, b.constF(act.alpha)]));
    case 'Elu':                                                                 // 1 for x > 0, α·eˣ otherwise
      return b.op('Where', [b.op('Greater', [x, b.constF(0)]), b.constF(1), b.mul(b.op('Exp', [x]), b.constF(act.alpha))]);
    case 'HardSigmoid': {
      const z = b.add(b.mul(x, b.constF(act.alpha)), b.constF(act.beta));
      const inside = b.op('And', [b.op('Greater', [z, b.constF(0)]), b.op('Less', [z, b.constF(1)])]);
      return b.mul(step(inside), b.constF(act.alpha));
    }
    case 'Affine': return b.add(b.mul(x, b.constF(0)), b.constF(act.alpha));
    case 'ScaledTanh': {                                                        // αβ(1 − tanh²(βx))
      const t = b.op('Tanh', [b.mul(x, b.constF(act.beta))]);
      return b.mul(b.sub(b.constF(1), b.mul(t, t)), b.constF(act.alpha * act.beta));
    }
    default: throw new Error(`internal error: activation ${act.name} has no derivative emitter`);
  }
}
