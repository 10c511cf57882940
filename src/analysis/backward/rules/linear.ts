/**
 * VJP rules of linear maps written as one op: Einsum and CumSum.
 */
import { attrInt, attrString } from '../../../onnx/attributes';
import { AnalysisError } from '../../../onnx/errors';
import { NodeProto } from '../../../onnx/proto';
import { VjpRule } from '../vjp';
import { floatOutType, nodeLabel, none, reshape } from './common';

interface EinsumTerms {
  /** Subscript letters per operand, '...' expanded into letters unused by the equation. */
  inputs: string[][];
  output: string[];
}

/**
 * Parse an Einsum equation for operands of the given ranks: explicit ('ij,jk->ik') or implicit
 * ('ij,jk': the output is the letters used once, sorted), with '...' standing for the leading
 * unnamed axes (right-aligned across operands, first in an implicit output). Repeated letters
 * within one operand (diagonals, traces) and broadcasting between operands are rejected.
 */
function parseEinsum(node: NodeProto, equation: string, shapes: number[][]): EinsumTerms {
  const fail = (what: string): never => {
    throw new AnalysisError(`${nodeLabel(node)} has Einsum equation '${equation}', ${what}`);
  };
  const eq = equation.replace(/\s+/g, '');
  const [lhs, rhs] = eq.split('->');
  const terms = lhs.split(',');
  if (terms.length !== shapes.length) fail(`with ${terms.length} operand terms for ${shapes.length} inputs; fix the equation.`);
  const used = new Set(eq.replace(/[^A-Za-z]/g, ''));
  const spare = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'].filter((c) => !used.has(c));
  const ellipsisDims = terms.map((term, i) => (term.includes('...') ? shapes[i].length - term.replace('...', '').length : 0));
  const E = Math.max(0, ...ellipsisDims);
  if (E > spare.length) fail('with more unnamed axes than free subscript letters; Gradient Lens cannot differentiate it.');
  const ell = spare.slice(0, E);
  const expand = (term: string, e: number): string[] => {
    const [before, after] = term.split('...');
    return after === undefined ? [...term] : [...before, ...ell.slice(E - e), ...after];
  };
  const inputs = terms.map((term, i) => expand(term, ellipsisDims[i]));
  const sizes = new Map<string, number>();
  inputs.forEach((letters, i) => {
    if (letters.length !== shapes[i].length) fail(`whose term '${terms[i]}' does not match input ${i}'s rank ${shapes[i].length}; fix the equation.`);
    if (new Set(letters).size !== letters.length) {
      fail(`which repeats a subscript within operand ${i} (a diagonal or trace); Gradient Lens cannot differentiate that, so write the diagonal as a Gather or the trace as a Mul by an identity matrix and ReduceSum.`);
    }
    letters.forEach((l, d) => {
      const n = shapes[i][d];
      if (sizes.has(l) && sizes.get(l) !== n) {
        fail(`which broadcasts subscript axes of sizes ${sizes.get(l)} and ${n}; Gradient Lens differentiates Einsum only without broadcasting, so Expand the operand first.`);
      }
      sizes.set(l, n);
    });
  });
  let output: string[];
  if (rhs !== undefined) {
    output = expand(rhs, E);
  } else {
    const count = new Map<string, number>();
    for (const letters of inputs) for (const l of letters) count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count.keys()].filter((l) => count.get(l) === 1 && !ell.includes(l)).sort();
    output = [...ell, ...once];
  }
  return { inputs, output };
}

/**
 * Einsum: Y = Σ over the contracted letters of Π_j X_j, so for operand i
 *   dX_i = einsum(dY, X_j (j ≠ i) → letters of X_i),
 * the same equation with X_i's term and the output's swapped. Letters that occur only in X_i
 * (summed away in the forward pass, found in neither dY nor another operand) are broadcast:
 * dX_i does not vary along them. Works for any number of operands, ellipses included.
 */
const einsum: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || floatOutType(node, ctx) === undefined) return grads;
  const b = ctx.b;
  const equation = attrString(node, 'equation', '');
  const shapes = node.input.map((x) => ctx.shape(x));
  const { inputs, output } = parseEinsum(node, equation, shapes);
  node.input.forEach((_x, i) => {
    if (!wanted[i]) return;
    const others = inputs.map((letters, j) => ({ letters, j })).filter(({ j }) => j !== i);
    const available = new Set([...output, ...others.flatMap(({ letters }) => letters)]);
    const target = inputs[i].filter((l) => available.has(l));
    const terms = [output.join(''), ...others.map(({ letters }) => letters.join(''))];
    let g = others.length === 0 && target.join('') === output.join('')
      ? dY
      : b.op('Einsum', [dY, ...others.map(({ j }) => ctx.value(node.input[j]))], { equation: `${terms.join(',')}->${target.join('')}` });
    if (target.length < inputs[i].length) {
      g = reshape(ctx, g, inputs[i].map((l, d) => (available.has(l) ? shapes[i][d] : 1)));
      g = b.op('Expand', [g, b.constI64(shapes[i])]);
    }
    grads[i] = g;
  });
  return grads;
};

/**
 * CumSum along `axis` (an input, scalar int32/int64): Y_j = Σ_{i ≤ j} X_i (exclusive: i < j;
 * reverse: i ≥ j / i > j), so dX_i = Σ_{j ≥ i} dY_j — the CumSum of dY with the same axis and
 * exclusive flag and the opposite direction. The axis gets no gradient.
 */
const cumSum: VjpRule = (node, dOutputs, ctx, wanted) => {
  const dY = dOutputs[0];
  const grads = none(node);
  if (!dY || !wanted[0] || floatOutType(node, ctx) === undefined) return grads;
  grads[0] = ctx.b.op('CumSum', [dY, ctx.value(node.input[1])], {
    exclusive: attrInt(node, 'exclusive', 0),
    reverse: 1 - attrInt(node, 'reverse', 0),
  });
  return grads;
};

export const LINEAR_RULES: Record<string, VjpRule> = {
  Einsum: einsum,
  CumSum: cumSum,
};
