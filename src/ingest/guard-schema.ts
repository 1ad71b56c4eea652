import type avro from 'avsc';

/**
 * The schema as avro-guard.ts sees it: a tree of nodes with the smallest encoded size of each,
 * which is what bounds a block count (n items need at least n × min bytes).
 */

/** Node kinds. */
export const K_NULL = 0;
export const K_BOOLEAN = 1;
export const K_INT = 2;
export const K_LONG = 3;
export const K_FLOAT = 4;
export const K_DOUBLE = 5;
export const K_BYTES = 6;
export const K_STRING = 7;
export const K_FIXED = 8;
export const K_ENUM = 9;
export const K_ARRAY = 10;
export const K_MAP = 11;
export const K_UNION = 12;
export const K_RECORD = 13;

/** One schema node: what the code generator needs to know about it. */
export class GuardNode {
  /** Smallest number of bytes one value of this node can be encoded in. */
  min = 0;
  /** Fixed: byte size; enum: symbol count; union: branch count. */
  size = 0;
  /** Array items / map values. */
  items: GuardNode | null = null;
  /** Union branches or record fields. */
  children: GuardNode[] = [];
  fieldNames: string[] = [];
  constructor(
    readonly kind: number,
    readonly name: string,
  ) {}
}

/** The node tree of an avsc type; named types appear once (recursive references share the node). */
export function compileSchema(type: avro.Type, seen: Map<avro.Type, GuardNode> = new Map()): GuardNode {
  const known = seen.get(type);
  // A recursive reference: the node is still being compiled; its min stays 0 for now, a valid
  // lower bound (recursion always goes through a union, array or map, which cost ≥ 1 byte).
  if (known) return known;
  const t = type as avro.Type & {
    typeName: string;
    underlyingType?: avro.Type;
    fields?: Array<{ name: string; type: avro.Type }>;
    types?: avro.Type[];
    itemsType?: avro.Type;
    valuesType?: avro.Type;
    symbols?: string[];
    size?: number;
  };
  if (t.underlyingType) return compileSchema(t.underlyingType, seen);
  const name = t.name ?? t.typeName;
  let n: GuardNode;
  switch (t.typeName) {
    case 'null':
      n = new GuardNode(K_NULL, name);
      break;
    case 'boolean':
      n = new GuardNode(K_BOOLEAN, name);
      n.min = 1;
      break;
    case 'int':
      n = new GuardNode(K_INT, name);
      n.min = 1;
      break;
    case 'long':
      n = new GuardNode(K_LONG, name);
      n.min = 1;
      break;
    case 'float':
      n = new GuardNode(K_FLOAT, name);
      n.min = 4;
      break;
    case 'double':
      n = new GuardNode(K_DOUBLE, name);
      n.min = 8;
      break;
    case 'bytes':
      n = new GuardNode(K_BYTES, name);
      n.min = 1;
      break;
    case 'string':
      n = new GuardNode(K_STRING, name);
      n.min = 1;
      break;
    case 'fixed':
      n = new GuardNode(K_FIXED, name);
      n.size = n.min = t.size!;
      break;
    case 'enum':
      n = new GuardNode(K_ENUM, name);
      n.size = t.symbols!.length;
      n.min = 1;
      break;
    case 'array':
      n = new GuardNode(K_ARRAY, name);
      seen.set(type, n);
      n.items = compileSchema(t.itemsType!, seen);
      n.min = 1;
      break;
    case 'map':
      n = new GuardNode(K_MAP, name);
      seen.set(type, n);
      n.items = compileSchema(t.valuesType!, seen);
      n.min = 1;
      break;
    case 'union:unwrapped':
    case 'union:wrapped':
      n = new GuardNode(K_UNION, name);
      seen.set(type, n);
      n.children = t.types!.map((b) => compileSchema(b, seen));
      n.size = n.children.length;
      n.min = 1 + Math.min(...n.children.map((c) => c.min));
      break;
    case 'record':
    case 'error':
      n = new GuardNode(K_RECORD, name);
      seen.set(type, n);
      n.children = t.fields!.map((f) => compileSchema(f.type, seen));
      n.fieldNames = t.fields!.map((f) => f.name);
      n.min = n.children.reduce((s, c) => s + c.min, 0);
      break;
    default:
      throw new TypeError(`avro guard: unsupported Avro type ${t.typeName}`);
  }
  seen.set(type, n);
  return n;
}
