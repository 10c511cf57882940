/**
 * Vector-Jacobian products of the non-recurrent ops that exporters put around recurrent layers
 * and in heads, emitted as ONNX nodes into the backward graph.
 *
 * The backward graph is built after the model has run once, so every forward tensor on the
 * gradient path is available to it by value (tapped from the run) and with its runtime shape:
 * rules may use static shapes freely.
 */
import { GraphBuilder } from '../../onnx/builder';
import { NodeProto, TensorProto } from '../../onnx/proto';

export interface VjpContext {
  /** Builder of the backward graph (opset GENERATED_OPSET, standard ops only). */
  b: GraphBuilder;
  /** The backward graph's name for a forward tensor (an input, output or initializer of the model). */
  value(tensor: string): string;
  /** Runtime dims of a forward tensor. */
  shape(tensor: string): number[];
  /** ONNX element type of a forward tensor. */
  elemType(tensor: string): number;
  /** The value of a forward tensor that is an initializer or Constant output (shapes, axes, exponents), else undefined. */
  constant(tensor: string): TensorProto | undefined;
  /** Integer values of a constant tensor (axes, shapes, indices), else undefined. */
  constantInts(tensor: string): number[] | undefined;
  /** Default-domain opset of the analysed model (attribute vs input forms, e.g. Squeeze axes). */
  opset: number;
}

/**
 * A rule: given dL/d(output i) (undefined for outputs no gradient reaches) return dL/d(input j)
 * for every input j with `wanted[j]` true (undefined where the input gets no gradient, e.g. an
 * index). Returned names are tensors of the backward graph with the input's runtime shape.
 */
export type VjpRule = (node: NodeProto, dOutputs: (string | undefined)[], ctx: VjpContext, wanted: boolean[]) => (string | undefined)[];
