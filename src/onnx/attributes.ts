/** Reading and writing node attributes. */
import { AttributeProto, AttributeType, GraphProto, NodeProto, TensorProto, toNumber } from './proto';

const decoder = new TextDecoder();

export function findAttribute(node: NodeProto, name: string): AttributeProto | undefined {
  return node.attribute.find((a) => a.name === name);
}

export function attrInt(node: NodeProto, name: string, fallback: number): number {
  const a = findAttribute(node, name);
  return a && a.i !== undefined && a.i !== null ? toNumber(a.i) : fallback;
}

export function attrFloat(node: NodeProto, name: string): number | undefined {
  const a = findAttribute(node, name);
  return a && (a.type === AttributeType.FLOAT || a.f !== undefined) ? a.f : undefined;
}

export function attrString(node: NodeProto, name: string, fallback: string): string {
  const a = findAttribute(node, name);
  return a && a.s ? decoder.decode(a.s) : fallback;
}

export function attrInts(node: NodeProto, name: string): number[] | undefined {
  const a = findAttribute(node, name);
  return a && a.ints && (a.ints.length > 0 || a.type === AttributeType.INTS) ? a.ints.map(toNumber) : undefined;
}

export function attrFloats(node: NodeProto, name: string): number[] | undefined {
  const a = findAttribute(node, name);
  return a && a.floats && (a.floats.length > 0 || a.type === AttributeType.FLOATS) ? Array.from(a.floats) : undefined;
}

export function attrStrings(node: NodeProto, name: string): string[] | undefined {
  const a = findAttribute(node, name);
  return a && a.strings && (a.strings.length > 0 || a.type === AttributeType.STRINGS) ? a.strings.map((s) => decoder.decode(s)) : undefined;
}

export function attrTensor(node: NodeProto, name: string): TensorProto | undefined {
  return findAttribute(node, name)?.t ?? undefined;
}

export type AttrValue = number | string | number[] | string[] | TensorProto | GraphProto | { floats: number[] } | { float: number };

const encoder = new TextEncoder();

/** Build an AttributeProto; integers and floats are told apart with `{ float: x }` / `{ floats: [...] }`. */
export function makeAttribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === 'number') return { name, type: AttributeType.INT, i: value };
  if (typeof value === 'string') return { name, type: AttributeType.STRING, s: encoder.encode(value) };
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'string') {
      return { name, type: AttributeType.STRINGS, strings: (value as string[]).map((s) => encoder.encode(s)) };
    }
    return { name, type: AttributeType.INTS, ints: value as number[] };
  }
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  if ('floats' in value) return { name, type: AttributeType.FLOATS, floats: value.floats };
  if ('node' in value) return { name, type: AttributeType.GRAPH, g: value };
  return { name, type: AttributeType.TENSOR, t: value };
}
