import { type GuardNode, K_ARRAY, K_BOOLEAN, K_BYTES, K_DOUBLE, K_ENUM, K_FIXED, K_FLOAT, K_INT, K_LONG, K_MAP, K_NULL, K_RECORD, K_STRING, K_UNION } from './guard-schema.ts';

/**
 * Generates the guard's check function for one schema as JavaScript source, the way avsc
 * generates its readers: straight-line code per record, no switch on node kinds per value, and
 * every call to a primitive check monomorphic, so that the JIT can inline it. Its cost next to
 * avsc's decode is measured by bench/ingest-decode.ts.
 *
 * Every generated function has the signature (g, b, p, e) → position after the value, or -1
 * once a primitive has recorded a failure in g (see avro-guard.ts for the primitives). Records
 * nested in the root become functions of their own, so recursive schemas are calls, not infinite
 * inlining; unions, maps and arrays are inlined. Only numbers and JSON-quoted constant strings
 * from the schema end up in the source.
 */

/** Names the primitives have in the generated source; avro-guard.ts passes them in this order. */
export const PRIMITIVES = ['int', 'long', 'index', 'str', 'bytes', 'fixed', 'bool', 'blockHeader', 'fail', 'MAX_NESTING'] as const;

const FAIL = 'return -1;';

/** `utf8`: whether strings are checked to be well-formed UTF-8, or only bounded like bytes. */
export function generateGuardSource(root: GuardNode, utf8: boolean): string {
  const records: GuardNode[] = [];
  const recordId = (n: GuardNode) => {
    let i = records.indexOf(n);
    if (i < 0) i = records.push(n) - 1;
    return i;
  };
  let unique = 0;

  /** Code that checks one value of `n` at p and advances p; `slot` ≥ 0: a top-level field whose payload/count is recorded. */
  const value = (n: GuardNode, slot: number, indent: string): string => {
    const step = (call: string) => `${indent}if ((p = ${call}) < 0) ${FAIL}\n`;
    switch (n.kind) {
      case K_NULL:
        return '';
      case K_BOOLEAN:
        return step('bool(g, b, p, e)');
      case K_INT:
        return step('int(g, b, p, e)');
      case K_LONG:
        return step('long(g, b, p, e)');
      case K_FLOAT:
        return step('fixed(g, b, p, e, 4)');
      case K_DOUBLE:
        return step('fixed(g, b, p, e, 8)');
      case K_FIXED:
        return step(`fixed(g, b, p, e, ${n.size})`);
      case K_STRING:
        return step(`${utf8 ? 'str' : 'bytes'}(g, b, p, e, ${slot})`);
      case K_BYTES:
        return step(`bytes(g, b, p, e, ${slot})`);
      case K_ENUM:
        return step(`index(g, b, p, e, ${n.size}, ${JSON.stringify(`enum ${n.name} index`)})`);
      case K_UNION: {
        let out = step(`index(g, b, p, e, ${n.size}, "union branch index")`);
        const cases = n.children.map((c, i) => [i, value(c, slot, `${indent}    `)] as const).filter(([, code]) => code !== '');
        if (cases.length === 0) return out;
        out += `${indent}switch (g.v) {\n`;
        for (const [i, code] of cases) out += `${indent}  case ${i}:\n${code}${indent}    break;\n`;
        return `${out}${indent}}\n`;
      }
      case K_RECORD:
        return step(`r${recordId(n)}(g, b, p, e)`);
      case K_ARRAY:
      case K_MAP: {
        const u = unique++;
        const isMap = n.kind === K_MAP;
        const itemMin = isMap ? 1 + n.items!.min : n.items!.min;
        const inner = `${indent}    `;
        let out = `${indent}{\n${indent}  let n${u} = 0;\n${indent}  for (;;) {\n`;
        out += `${indent}    if ((p = blockHeader(g, b, p, e, ${itemMin})) < 0) ${FAIL}\n`;
        out += `${inner}const c${u} = g.v;\n${inner}if (c${u} === 0) break;\n${inner}const end${u} = g.blockEnd;\n`;
        out += `${inner}for (let i${u} = 0; i${u} < c${u}; i${u}++) {\n`;
        if (isMap) out += value({ kind: K_STRING } as GuardNode, -1, `${inner}  `);
        out += value(n.items!, -1, `${inner}  `);
        out += `${inner}}\n`;
        out += `${inner}if (end${u} >= 0 && p !== end${u}) return fail(g, "block byte size disagrees with its items", p);\n`;
        out += `${inner}n${u} += c${u};\n${indent}  }\n`;
        if (slot >= 0) out += `${indent}  g.fieldItems[${slot}] = n${u};\n`;
        return `${out}${indent}}\n`;
      }
      default:
        throw new TypeError(`avro guard: no code for node kind ${n.kind}`);
    }
  };

  const fns: string[] = [];
  // The root: each field's slots reset, then its checks with the slot to record into.
  let body = '';
  if (root.kind === K_RECORD) {
    root.children.forEach((f, i) => {
      body += `  g.top = ${i}; g.fieldStart[${i}] = -1; g.fieldLength[${i}] = -1; g.fieldItems[${i}] = -1;\n`;
      body += value(f, i, '  ');
    });
  } else {
    body += `  g.top = 0; g.fieldStart[0] = -1; g.fieldLength[0] = -1; g.fieldItems[0] = -1;\n${value(root, 0, '  ')}`;
  }
  fns.push(`function check(g, b, p, e) {\n${body}  return p;\n}\n`);
  // Nested records, found while generating (so the list grows as we go). The root record gets
  // one too if it refers to itself: check() is only the entry point, it resets the field slots.
  for (let i = 0; i < records.length; i++) {
    let code = `  if (++g.depth > MAX_NESTING) return fail(g, "nesting deeper than " + MAX_NESTING + " levels", p);\n`;
    for (const f of records[i].children) code += value(f, -1, '  ');
    fns.push(`function r${i}(g, b, p, e) {\n${code}  g.depth--;\n  return p;\n}\n`);
  }
  return `"use strict";\nconst [${PRIMITIVES.join(', ')}] = H;\n${fns.join('')}return check;\n`;
}
