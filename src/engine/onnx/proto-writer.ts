/**
 * Protocol-buffers wire-format writer (encoding only), just enough for ONNX models.
 *
 * Wire format (https://protobuf.dev/programming-guides/encoding/): every field is a key
 * varint `(fieldNumber << 3) | wireType` followed by its payload. We use wire types
 *   0 VARINT  (int32/int64/enum; negative numbers as 10-byte two's complement),
 *   2 LEN     (strings, bytes, nested messages, packed repeated scalars),
 *   5 I32     (float).
 *
 * Messages are kept as lists of chunks rather than one growing buffer: a nested message is
 * spliced into its parent by reference (key + length prefix + its chunks), so a 100 MB weight
 * blob handed in as a byte view is copied exactly once, in `finish()`.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** Largest integer we accept: above 2^53 a JS number no longer holds every integer exactly. */
const MAX_SAFE = Number.MAX_SAFE_INTEGER;

const utf8 = new TextEncoder();

export class ProtoWriter {
  /** Small scalar bytes accumulate here until a by-reference chunk has to be appended. */
  private scratch: number[] = [];
  private readonly chunks: Uint8Array[] = [];
  private size = 0;

  /** Total encoded length in bytes so far. */
  get byteLength(): number {
    return this.size + this.scratch.length;
  }

  private flushScratch(): void {
    if (this.scratch.length === 0) return;
    const bytes = Uint8Array.from(this.scratch);
    this.chunks.push(bytes);
    this.size += bytes.length;
    this.scratch = [];
  }

  private pushVarint(value: number): void {
    if (!Number.isInteger(value) || Math.abs(value) > MAX_SAFE) throw new RangeError(`protobuf varint: ${value} is not a safe integer`);
    if (value < 0) {
      this.pushNegativeVarint(value);
      return;
    }
    // Division instead of >>> because values may exceed 32 bits.
    while (value >= 0x80) {
      this.scratch.push((value % 0x80) | 0x80);
      value = Math.floor(value / 0x80);
    }
    this.scratch.push(value);
  }

  /** int32/int64 negatives are sign-extended to 64 bits, which always takes 10 bytes. */
  private pushNegativeVarint(value: number): void {
    let v = BigInt.asUintN(64, BigInt(value));
    for (let i = 0; i < 9; i++) {
      this.scratch.push(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.scratch.push(Number(v));
  }

  private pushKey(field: number, wireType: number): void {
    if (!Number.isInteger(field) || field < 1 || field > 0x1fffffff) throw new RangeError(`protobuf: bad field number ${field}`);
    this.pushVarint(field * 8 + wireType);
  }

  /** int32, int64, uint64 (below 2^53) and enum fields. */
  varint(field: number, value: number): this {
    this.pushKey(field, WIRE_VARINT);
    this.pushVarint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.pushKey(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    for (let i = 0; i < 4; i++) this.scratch.push(b[i]);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, utf8.encode(value));
  }

  /** A `bytes` field. The view is kept by reference until `finish()`: don't mutate it before then. */
  bytes(field: number, value: Uint8Array): this {
    this.pushKey(field, WIRE_LEN);
    this.pushVarint(value.length);
    if (value.length <= 64) {
      for (let i = 0; i < value.length; i++) this.scratch.push(value[i]);
    } else {
      this.flushScratch();
      this.chunks.push(value);
      this.size += value.length;
    }
    return this;
  }

  /** A nested message, spliced in without copying its chunks. */
  message(field: number, sub: ProtoWriter): this {
    sub.flushScratch();
    this.pushKey(field, WIRE_LEN);
    this.pushVarint(sub.size);
    this.flushScratch();
    for (const c of sub.chunks) this.chunks.push(c);
    this.size += sub.size;
    return this;
  }

  /** `repeated int64/int32 ... [packed = true]` (proto3 default, accepted by proto2 parsers too). */
  packedVarints(field: number, values: ArrayLike<number>): this {
    if (values.length === 0) return this;
    const body = new ProtoWriter();
    for (let i = 0; i < values.length; i++) body.pushVarint(values[i]);
    // On the wire a packed field is a length-delimited field, like a nested message.
    return this.message(field, body);
  }

  /** Concatenates all chunks into one buffer (the only copy of large payloads). */
  finish(): Uint8Array {
    this.flushScratch();
    const out = new Uint8Array(this.size);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}
