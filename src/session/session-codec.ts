/**
 * Binary format of one session's state on the changelog topic.
 *
 * All numbers little-endian, no padding:
 *   u8   version (= SESSION_RECORD_VERSION)
 *   u8   layer count L (1..255)
 *   u32  hidden size of each layer, L times
 *   u32  number of history items n that follow
 *   u32  event count (can exceed n: the history is a bounded ring)
 *   f64  last update time (ms)
 *   f32  hidden state of layer 0, then layer 1, … (Σ sizes values)
 *   i32  history item indices, oldest → newest (n values)
 *
 * The layer sizes travel with every record so that a record written by a
 * model with a different architecture is refused instead of being read as
 * garbage; the exact total length is checked for the same reason.
 */

export const SESSION_RECORD_VERSION = 1;

export type SessionRecordErrorCode = 'truncated' | 'version' | 'layout' | 'length' | 'value';

export class SessionRecordError extends Error {
  readonly code: SessionRecordErrorCode;
  constructor(code: SessionRecordErrorCode, message: string) {
    super(`invalid session record (${code}): ${message}`);
    this.name = 'SessionRecordError';
    this.code = code;
  }
}

/** Where the parts of a validated record lie in its buffer. */
export interface SessionRecordLayout {
  eventCount: number;
  lastUpdate: number;
  historyCount: number;
  /** Byte offset of layer 0's float32 values; layers follow each other. */
  hiddenOffset: number;
  /** Byte offset of the int32 history values. */
  historyOffset: number;
}

export function headerBytes(layers: number): number {
  return 2 + 4 * layers + 4 + 4 + 8;
}

export function recordBytes(hiddenSizes: readonly number[], historyCount: number): number {
  let floats = 0;
  for (const h of hiddenSizes) floats += h;
  return headerBytes(hiddenSizes.length) + 4 * floats + 4 * historyCount;
}

/** Writes the header; returns the offset where layer 0's values go. */
export function writeHeader(buf: Buffer, hiddenSizes: readonly number[], historyCount: number, eventCount: number, lastUpdate: number): number {
  let o = buf.writeUInt8(SESSION_RECORD_VERSION, 0);
  o = buf.writeUInt8(hiddenSizes.length, o);
  for (const h of hiddenSizes) o = buf.writeUInt32LE(h, o);
  o = buf.writeUInt32LE(historyCount, o);
  o = buf.writeUInt32LE(eventCount, o);
  o = buf.writeDoubleLE(lastUpdate, o);
  return o;
}

/**
 * Validates a record against the store's layout without copying anything, so
 * that a bad record can be refused before any state is touched.
 */
export function parseRecord(buf: Uint8Array, hiddenSizes: readonly number[]): SessionRecordLayout {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 2) throw new SessionRecordError('truncated', `${b.length} bytes, header needs at least 2`);
  const version = b.readUInt8(0);
  if (version !== SESSION_RECORD_VERSION) {
    throw new SessionRecordError('version', `version ${version}, this build reads version ${SESSION_RECORD_VERSION}`);
  }
  const layers = b.readUInt8(1);
  const hb = headerBytes(layers);
  if (b.length < hb) throw new SessionRecordError('truncated', `${b.length} bytes, header of ${layers} layers needs ${hb}`);
  if (layers !== hiddenSizes.length) {
    throw new SessionRecordError('layout', `record has ${layers} layers, store has ${hiddenSizes.length}`);
  }
  let o = 2;
  for (let l = 0; l < layers; l++, o += 4) {
    const h = b.readUInt32LE(o);
    if (h !== hiddenSizes[l]) {
      throw new SessionRecordError('layout', `layer ${l} has size ${h} in the record, ${hiddenSizes[l]} in the store`);
    }
  }
  const historyCount = b.readUInt32LE(o);
  const eventCount = b.readUInt32LE(o + 4);
  const lastUpdate = b.readDoubleLE(o + 8);
  const expected = recordBytes(hiddenSizes, historyCount);
  if (b.length !== expected) {
    throw new SessionRecordError('length', `${b.length} bytes, header announces ${expected}`);
  }
  if (historyCount > eventCount) {
    throw new SessionRecordError('value', `${historyCount} history items but only ${eventCount} events`);
  }
  if (!Number.isFinite(lastUpdate)) throw new SessionRecordError('value', `last update time ${lastUpdate}`);
  const hiddenOffset = hb;
  const historyOffset = expected - 4 * historyCount;
  for (let i = 0, p = historyOffset; i < historyCount; i++, p += 4) {
    if (b.readInt32LE(p) < 0) throw new SessionRecordError('value', `negative item index at history position ${i}`);
  }
  return { eventCount, lastUpdate, historyCount, hiddenOffset, historyOffset };
}
