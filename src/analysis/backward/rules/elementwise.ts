/**
 * VJP rules of elementwise activations and selections beyond rules.ts's: Abs, Erf, Gelu,
 * Softplus, Softsign, HardSigmoid, HardSwish, Selu, Reciprocal, PRelu, and the variadic Min / Max.
 * Kinks follow PyTorch, each stated in its rule.
 */
import { attrFloat, attrString } from '../../../onnx/attributes';
import { VjpRule } from '../vjp';
import { floatOutType, none, scalar, unary, unbroadcast } from './common';

/** Abs: dX = dY·sign(X), 0 at X = 0 (PyTorch's abs backward, sgn(0) = 0). */
const abs = unary((ctx, dY, x) => ctx.b.mul(dY, ctx.b.op('Sign', [x])));

/** Erf: dX = dY·(2/√π)·exp(−X²). */
const erf = unary((ctx, dY, x, _y, _n, t) => {
  const b = ctx.b;
  return b.mul(dY, b.mul(b.op('Exp', [b.op('Neg', [b.mul(x, x)])]), scalar(ctx, 2 / Math.sqrt(Math.PI), t)));
});

/**
 * Gelu (opset 20).
 * approximate = 'none': Y = X·Φ(X) ⇒ dX = dY·(Φ(X) + X·φ(X)), φ(x) = exp(−x²/2)/√(2π). Φ(X) is
 * read off the forward output as Y/X (½ at X = 0), which avoids Erf: onnxruntime has no float64
 * Erf kernel.
 * approximate = 'tanh': Y = ½X(1 + tanh u), u = √(2/π)(X + 0.044715X³) ⇒
 * dX = dY·(½(1 + tanh u) + ½X(1 − tanh²u)·√(2/π)(1 + 3·0.044715X²)).
 */
const gelu = unary((ctx, dY, x, y, node, t) => {
  const b = ctx.b;
  const c = (v: number): string => scalar(ctx, v, t);
  const half = c(0.5);
  if (attrString(node, 'approximate', 'none') === 'tanh') {
    const k = Math.sqrt(2 / Math.PI);
    const x2 = b.mul(x, x);
    const u = b.mul(b.mul(x, b.add(c(1), b.mul(x2, c(0.044715)))), c(k));
    const th = b.op('Tanh', [u]);
    const du = b.mul(b.add(c(1), b.mul(x2, c(3 * 0.044715))), c(k));
    const sech2 = b.sub(c(1), b.mul(th, th));
    return b.mul(dY, b.add(b.mul(half, b.add(c(1), th)), b.mul(b.mul(half, x), b.mul(sech2, du))));
  }
  const isZero = b.op('Equal', [x, c(0)]);
  const cdf = b.op('Where', [isZero, half, b.op('Div', [y, b.op('Where', [isZero, c(1), x])])]);
  const pdf = b.mul(b.op('Exp', [b.mul(b.mul(x, x), c(-0.5))]), c(1 / Math.sqrt(2 * Math.PI)));
  return b.mul(dY, b.add(cdf, b.mul(x, pdf)));
});

/** Softplus (Y = ln(1 + eˣ)): dX = dY·sigmoid(X). */
const softplus = unary((ctx, dY, x) => ctx.b.mul(dY, ctx.b.op('Sigmoid', [x])));

/** Softsign (Y = X/(1 + |X|)): dX = dY/(1 + |X|)². */
const softsign = unary((ctx, dY, x, _y, _n, t) => {
  const b = ctx.b;
  const d = b.add(scalar(ctx, 1, t), b.op('Abs', [x]));
  return b.op('Div', [dY, b.mul(d, d)]);
});

/**
 * HardSigmoid (Y = max(0, min(1, αX + β)), α = 0.2, β = 0.5 by default): dX = α·dY where
 * 0 < αX + β < 1, else 0 — strictly inside, so 0 at both corners, as PyTorch's hardsigmoid
 * backward (x > −3 && x < 3).
 */
const hardSigmoid = unary((ctx, dY, x, _y, node, t) => {
  const b = ctx.b;
  const alpha = attrFloat(node, 'alpha') ?? 0.2;
  const beta = attrFloat(node, 'beta') ?? 0.5;
  const v = b.add(b.mul(x, scalar(ctx, alpha, t)), scalar(ctx, beta, t));
  const inside = b.op('And', [b.op('Greater', [v, scalar(ctx, 0, t)]), b.op('Less', [v, scalar(ctx, 1, t)])]);
  return b.op('Where', [inside, b.mul(dY, scalar(ctx, alpha, t)), scalar(ctx, 0, t)]);
});

/**
 * HardSwish (Y = X·max(0, min(1, X/6 + ½))): dX = 0 for X < −3, dY·(X/3 + ½) for −3 ≤ X ≤ 3,
 * dY for X > 3 — PyTorch's hardswish backward, including its corners (−½ at −3, 1.5 at 3).
 */
const hardSwish = unary((ctx, dY, x, _y, _n, t) => {
  const b = ctx.b;
  const mid = b.mul(dY, b.add(b.mul(x, scalar(ctx, 1 / 3, t)), scalar(ctx, 0.5, t)));
  const upper = b.op('Where', [b.op('LessOrEqual', [x, scalar(ctx, 3, t)]), mid, dY]);
  return b.op('Where', [b.op('Less', [x, scalar(ctx, -3, t)]), scalar(ctx, 0, t), upper]);
});

/**
 * Selu (Y = γX for X > 0, γα(eˣ − 1) otherwise): dX = γ·dY for X > 0, dY·(Y + γα) = dY·γαeˣ
 * otherwise (the negative branch at X = 0, as PyTorch's elu backward).
 */
const selu = unary((ctx, dY, x, y, node, t) => {
  const b = ctx.b;
  const alpha = attrFloat(node, 'alpha') ?? 1.67326319217681884765625;
  const gamma = attrFloat(node, 'gamma') ?? 1.05070102214813232421875;
  const neg = b.mul(dY, b.add(y, scalar(ctx, gamma * alpha, t)));
  return b.op('Where', [b.op('Greater', [x, scalar(ctx, 0, t)]), b.mul(dY, scalar(ctx, gamma, t)), neg]);
});

/** Reciprocal (Y = 1/X): dX = −dY·Y². */
const reciprocal = unary((ctx, dY, _x, y) => ctx.b.op('Neg', [ctx.b.mul(dY, ctx.b.mul(y, y))]));

/**
 * PRelu (Y = X for X > 0, slope·X otherwise; slope broadcast to X, numpy-style):
 * dX = dY where X > 0, slope·dY otherwise (the slope at X = 0, as PyTorch);
 * dslope = unbroadcast(dY·X where X ≤ 0, else 0).
 */
const prelu: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || t === undefined) return grads;
  const b = ctx.b;
  const x = ctx.value(node.input[0]);
  const positive = b.op('Greater', [x, scalar(ctx, 0, t)]);
  if (wanted[0]) grads[0] = b.op('Where', [positive, dY, b.mul(dY, ctx.value(node.input[1]))]);
  if (wanted[1]) {
    const g = b.op('Where', [positive, scalar(ctx, 0, t), b.mul(dY, x)]);
    grads[1] = unbroadcast(ctx, g, ctx.shape(node.output[0]), ctx.shape(node.input[1]));
  }
  return grads;
};

/**
 * Max / Min over any number of inputs with numpy broadcasting: Y = max_j X_j ⇒
 * dX_i = unbroadcast(dY·[X_i = Y] / Σ_j [X_j = Y]). Inputs tied for the extremum share the
 * gradient evenly, as PyTorch's maximum/minimum backward (grad/2 to each of two equal inputs).
 */
const extremum: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  const t = floatOutType(node, ctx);
  if (!dY || t === undefined || !wanted.some((w) => w)) return grads;
  const b = ctx.b;
  const y = ctx.value(node.output[0]);
  const yShape = ctx.shape(node.output[0]);
  const masks = node.input.map((x) => b.op('Cast', [b.op('Equal', [ctx.value(x), y])], { to: t }));
  // Each mask broadcasts against Y, so the count has Y's shape once one Y-shaped term is in it.
  let count = b.op('Expand', [masks[0], b.constI64(yShape)]);
  for (const m of masks.slice(1)) count = b.add(count, m);
  const share = b.op('Div', [dY, count]);
  node.input.forEach((x, i) => {
    if (wanted[i]) grads[i] = unbroadcast(ctx, b.mul(share, masks[i]), yShape, ctx.shape(x));
  });
  return grads;
};

export const ELEMENTWISE_RULES: Record<string, VjpRule> = {
  Abs: abs,
  Erf: erf,
  Gelu: gelu,
  Softplus: softplus,
  Softsign: softsign,
  HardSigmoid: hardSigmoid,
  HardSwish: hardSwish,
  Selu: selu,
  Reciprocal: reciprocal,
  PRelu: prelu,
  Max: extremum,
  Min: extremum,
};
