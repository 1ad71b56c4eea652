import type avro from 'avsc';
import { generateGuardSource, PRIMITIVES } from './guard-codegen.ts';
import { compileSchema, K_RECORD } from './guard-schema.ts';
import { Rejection } from './rejection.ts';
import { firstInvalidUtf8 } from './utf8.ts';

/**
 * A structural pre-validator for Avro binary data, compiled from a schema, that runs before avsc
 * sees the bytes.
 *
 * avsc trusts the counts it reads: a map or array block count of 2^40 makes it loop 2^40 times
 * (past the end of the buffer, reading nothing), so a 22-byte record holds a consumer for more
 * than ten minutes. Here every count and length is checked against the bytes that remain BEFORE
 * anything loops: a block of n items needs at least n × (smallest encoding of one item) bytes,
 * a string or bytes length cannot exceed what is left, varints have at most 5 (int) or 10 (long)
 * bytes, union and enum indexes must name a branch / symbol. The walk itself visits each item,
 * and each item consumes at least one byte (items that encode to nothing have a fixed allowance,
 * MAX_ZERO_SIZE_ITEMS), so its cost is linear in the record's size, and so is avsc's once the
 * guard has passed.
 *
 * Strings are also checked to be well-formed UTF-8 on their raw bytes, since avsc would replace
 * bad sequences with U+FFFD and the original id would be lost (see utf8.ts).
 *
 * For a record schema the guard leaves, per top-level field, where its string/bytes payload lies
 * and how many entries its map/array has (`fieldStart`, `fieldLength`, `fieldItems`), so callers
 * can check keys and sizes on the raw bytes before paying for a decode.
 *
 * The walk is generated code (guard-codegen.ts) calling the primitives below; they share their
 * cursor-independent state through a GuardState.
 */

/** Deeper record nesting is refused: recursive schemas must not let a record exhaust the stack. */
export const MAX_NESTING = 64;
/** Array items that take no bytes (nulls, empty records) accepted per value: they are not bounded by its size. */
export const MAX_ZERO_SIZE_ITEMS = 65_536;

const INT_MAX_BYTES = 5;
const LONG_MAX_BYTES = 10;
const INT_MIN = -0x80000000;
const INT_MAX = 0x7fffffff;

/** What the generated code and the primitives share during one check. */
class GuardState {
  /** The value of the last varint read (a union branch, a block count). */
  v = 0;
  /** Where the last block header's byte size says the block ends; -1 when it gave none. */
  blockEnd = -1;
  /** Index of the root field being checked, for the reason (-1: after the last one). */
  top = 0;
  depth = 0;
  zeroSizeItemsLeft = 0;
  failWhat = '';
  failAt = 0;
  failUtf8 = false;
  constructor(
    readonly fieldStart: Int32Array,
    readonly fieldLength: Int32Array,
    readonly fieldItems: Int32Array,
  ) {}
}

/** Records why the check stops; callers build the message only on this path. Returns -1. */
function fail(g: GuardState, what: string, at: number): number {
  g.failWhat = what;
  g.failAt = at;
  return -1;
}

/**
 * Reads one zig-zag varint of at most `maxBytes` bytes into g.v; returns the position after it.
 * Values beyond 2^53 come back rounded, which is enough to compare them with buffer sizes and
 * to refuse them.
 */
function varint(g: GuardState, b: Uint8Array, p: number, e: number, maxBytes: number): number {
  if (p >= e) return fail(g, 'truncated: no bytes left for a number', p);
  let x = b[p];
  if (x < 0x80) {
    g.v = x & 1 ? -((x + 1) >> 1) : x >> 1;
    return p + 1;
  }
  const at = p++;
  let v = x & 0x7f;
  let mul = 128;
  for (let n = 1; ; n++) {
    if (n >= maxBytes) return fail(g, `varint longer than the ${maxBytes} bytes its type allows`, at);
    if (p >= e) return fail(g, `truncated: varint cut after ${n} bytes`, at);
    x = b[p++];
    v += (x & 0x7f) * mul;
    if (x < 0x80) break;
    mul *= 128;
  }
  g.v = v % 2 === 0 ? v / 2 : -(v + 1) / 2;
  return p;
}

function int(g: GuardState, b: Uint8Array, p: number, e: number): number {
  const q = varint(g, b, p, e, INT_MAX_BYTES);
  if (q >= 0 && (g.v < INT_MIN || g.v > INT_MAX)) return fail(g, `int ${g.v} is out of the 32-bit range`, p);
  return q;
}

function long(g: GuardState, b: Uint8Array, p: number, e: number): number {
  const q = varint(g, b, p, e, LONG_MAX_BYTES);
  // avsc refuses these too ("potential precision loss"); saying so here names the field.
  if (q >= 0 && (g.v > Number.MAX_SAFE_INTEGER || g.v < -Number.MAX_SAFE_INTEGER)) return fail(g, `long ${g.v} is beyond ±2^53 (precision would be lost)`, p);
  return q;
}

/** A union branch or enum symbol index in [0, n), left in g.v. */
function index(g: GuardState, b: Uint8Array, p: number, e: number, n: number, what: string): number {
  const q = varint(g, b, p, e, INT_MAX_BYTES);
  if (q >= 0 && (g.v < 0 || g.v >= n)) return fail(g, `${what} ${g.v} is not in [0, ${n})`, p);
  return q;
}

function bool(g: GuardState, b: Uint8Array, p: number, e: number): number {
  if (p >= e) return fail(g, 'truncated: no byte left for a boolean', p);
  if (b[p] > 1) return fail(g, `boolean byte ${b[p]} is neither 0 nor 1`, p);
  return p + 1;
}

function fixed(g: GuardState, _b: Uint8Array, p: number, e: number, size: number): number {
  if (size > e - p) return fail(g, `truncated: a fixed-size value needs ${size} bytes, ${e - p} left`, p);
  return p + size;
}

/** A length-prefixed payload; `slot` ≥ 0: the top-level field whose payload this is. */
function bytes(g: GuardState, b: Uint8Array, p: number, e: number, slot: number): number {
  const start = varint(g, b, p, e, LONG_MAX_BYTES);
  if (start < 0) return -1;
  const len = g.v;
  if (len < 0) return fail(g, `negative string/bytes length ${len}`, p);
  if (len > e - start) return fail(g, `string/bytes length ${len} exceeds the ${e - start} bytes left`, p);
  if (slot >= 0) {
    g.fieldStart[slot] = start;
    g.fieldLength[slot] = len;
  }
  return start + len;
}

function str(g: GuardState, b: Uint8Array, p: number, e: number, slot: number): number {
  const end = bytes(g, b, p, e, slot);
  if (end < 0) return -1;
  // Ids are mostly ASCII: scan that inline and hand the rest to the full check.
  let i = end - g.v;
  while (i < end && b[i] < 0x80) i++;
  if (i < end) {
    const bad = firstInvalidUtf8(b, i, end);
    if (bad >= 0) {
      g.failUtf8 = true;
      return fail(g, 'not valid UTF-8', bad);
    }
  }
  return end;
}

/**
 * One array/map block header: its count into g.v (0 ends the array/map), and for a negative
 * count the byte size that follows, as g.blockEnd. The count is checked against the bytes left
 * (`itemMin` per item) before the generated code loops over it.
 */
function blockHeader(g: GuardState, b: Uint8Array, p: number, e: number, itemMin: number): number {
  let q = varint(g, b, p, e, LONG_MAX_BYTES);
  if (q < 0) return -1;
  let count = g.v;
  g.blockEnd = -1;
  if (count < 0) {
    count = -count;
    const sizeAt = q;
    q = varint(g, b, q, e, LONG_MAX_BYTES);
    if (q < 0) return -1;
    const size = g.v;
    if (size < 0 || size > e - q) return fail(g, `block byte size ${size} is outside the ${e - q} bytes left`, sizeAt);
    g.blockEnd = q + size;
    g.v = count;
  }
  if (itemMin === 0) {
    if (count > g.zeroSizeItemsLeft) return fail(g, `block count ${count} of zero-size items exceeds the ${MAX_ZERO_SIZE_ITEMS} allowed per value`, p);
    g.zeroSizeItemsLeft -= count;
  } else if (count * itemMin > e - q) return fail(g, `block count ${count} needs at least ${count * itemMin} bytes, ${e - q} left`, p);
  return q;
}

const PRIMITIVE_IMPLS: Record<(typeof PRIMITIVES)[number], unknown> = { int, long, index, str, bytes, fixed, bool, blockHeader, fail, MAX_NESTING };

type CheckFn = (g: GuardState, b: Uint8Array, p: number, e: number) => number;

/**
 * Checks that a buffer holds exactly one value of a schema, cheaply and in bounded time. One
 * instance per codec; not re-entrant (the field slots and failure details live in it).
 */
export class AvroGuard {
  /** Names of the root record's fields (one unnamed slot for a non-record root). */
  readonly fieldNames: readonly string[];
  /**
   * After a successful check, per top-level field: offset of its string/bytes payload and its
   * length in bytes, and the total entry count of its map/array; -1 where the field holds none
   * (a null union branch, another type). Valid until the next check.
   */
  readonly fieldStart: Int32Array;
  readonly fieldLength: Int32Array;
  readonly fieldItems: Int32Array;
  /** Smallest encoding of one value of the schema, in bytes. */
  readonly minBytes: number;
  /** The generated source of check(), for debugging. */
  readonly source: string;

  private readonly state: GuardState;
  private readonly runStrict: CheckFn;
  private readonly runStructure: CheckFn;
  private readonly isRecord: boolean;

  constructor(type: avro.Type) {
    const root = compileSchema(type);
    this.isRecord = root.kind === K_RECORD;
    this.fieldNames = this.isRecord ? root.fieldNames : [''];
    const n = this.fieldNames.length;
    this.fieldStart = new Int32Array(n);
    this.fieldLength = new Int32Array(n);
    this.fieldItems = new Int32Array(n);
    this.minBytes = root.min;
    this.state = new GuardState(this.fieldStart, this.fieldLength, this.fieldItems);
    this.source = generateGuardSource(root, true);
    // The source holds only numbers and JSON-quoted schema names (see guard-codegen.ts).
    const primitives = PRIMITIVES.map((name) => PRIMITIVE_IMPLS[name]);
    this.runStrict = new Function('H', this.source)(primitives) as CheckFn;
    this.runStructure = new Function('H', generateGuardSource(root, false))(primitives) as CheckFn;
  }

  /**
   * Returns null when `buf[start, end)` is exactly one well-formed value; otherwise a MALFORMED
   * rejection (INVALID_FIELD for a string that is not UTF-8) saying what is wrong and where.
   */
  check(buf: Uint8Array, start = 0, end = buf.length): Rejection | null {
    return this.runCheck(this.runStrict, buf, start, end);
  }

  /**
   * The same bounds, without the UTF-8 check of strings (which is about half the cost): for
   * callers that look for U+FFFD in the decoded strings instead and run check() only when they
   * find one (a lossy decode puts one wherever the bytes were bad). The slots are filled alike.
   */
  checkStructure(buf: Uint8Array, start = 0, end = buf.length): Rejection | null {
    return this.runCheck(this.runStructure, buf, start, end);
  }

  private runCheck(run: CheckFn, buf: Uint8Array, start: number, end: number): Rejection | null {
    const g = this.state;
    g.depth = 0;
    g.zeroSizeItemsLeft = MAX_ZERO_SIZE_ITEMS;
    g.failUtf8 = false;
    const p = run(g, buf, start, end);
    if (p === end) return null;
    if (p >= 0) {
      g.top = -1;
      fail(g, `${end - p} trailing bytes after the value`, p);
    }
    return new Rejection(g.failUtf8 ? 'INVALID_FIELD' : 'MALFORMED', this.describeFailure(start, end));
  }

  private describeFailure(start: number, end: number): string {
    const g = this.state;
    const field = this.isRecord && g.top >= 0 ? `field ${this.fieldNames[g.top]}` : 'value';
    const where = `at byte ${g.failAt - start} of ${end - start}`;
    if (g.failUtf8) return `${field} is not valid UTF-8 (${where})`;
    return `Avro record rejected before decoding: ${field}: ${g.failWhat} ${where}`;
  }
}
