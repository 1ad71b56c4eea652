/**
 * The session changelog record: the one place that knows its bytes. The store hands a session's
 * state to `encodeSessionRecord` and asks `parseSessionRecord` / `recordFit` / the copy helpers
 * what a record holds; it never touches an offset itself.
 *
 * Version 2 (written), all numbers little-endian, no padding:
 *   u8   version (= 2)
 *   u8   layer count L (1..255)
 *   u32  hidden size of each layer, L times
 *   8 B  state-layout stamp   ┐ the first 8 bytes of the SHA-256 hashes of the model that
 *   8 B  vocabulary stamp     │ wrote the record (src/registry/model-identity.ts); all zero
 *   8 B  weights stamp        ┘ for a store that serves no saved model (UNSTAMPED)
 *   u32  number of history items n that follow
 *   u32  event count (can exceed n: the history is a bounded ring)
 *   f64  last update time (ms)
 *   f32  hidden state of layer 0, then layer 1, … (Σ sizes values)
 *   i32  history item indices into the writer's vocabulary, oldest → newest (n values)
 *
 * Version 3 (written in the `history` record mode, see `RecordMode`): version 2 without the hidden
 * state, i.e. header + stamps + item history only. The reader re-encodes the state from the history
 * with its own model (SessionStore flags the slot; the serving side runs the batched encode()).
 * 46 + 4n bytes for one layer instead of 46 + 4·ΣH + 4n (≈ 4× to 8× smaller at H = 100).
 *
 * Version 1 (read only): version 2 without the three stamps.
 *
 * Why three stamps. A hidden state means something only to the weights that produced it, and it
 * can be copied only into slabs of the same sizes; the history's item indices mean something only
 * under the vocabulary that numbered them. So a record from another model is not garbage: with the
 * same vocabulary its history is still valid and the new model re-encodes the state from it; with
 * another vocabulary the indices name other items, and the record is dropped. History is kept as
 * indices, not item ids: a record stays a memcpy to write and to restore (ids would cost a string
 * copy per item per touched session, and a hash lookup per item on restore), and 8 bytes of
 * vocabulary stamp tell exactly when the indices can be trusted.
 *
 * 8 bytes of SHA-256 are plenty here: the stamps guard against a different model, not an attacker
 * (the model files themselves are checked in full against their manifest).
 */

export const SESSION_RECORD_VERSION = 2;
/** The compact record: stamps + history, no hidden state. */
export const HISTORY_RECORD_VERSION = 3;
/** Written by builds before the stamps; still read (see `recordFit`). */
export const LEGACY_SESSION_RECORD_VERSION = 1;

/**
 * What a changelog record carries: `full` the hidden state as float32 (v2), `history` only the item
 * history (v3) where re-encoding it from zero reproduces the state exactly, and v2 otherwise
 * (the rule lives in SessionStore.encodeSession).
 */
export type RecordMode = 'full' | 'history';
export const STAMP_BYTES = 8;
const STAMPS_BYTES = 3 * STAMP_BYTES;

export type SessionRecordErrorCode = 'truncated' | 'version' | 'length' | 'value';

/** A record that cannot be read at all (as opposed to one from another model, which `recordFit` classifies). */
export class SessionRecordError extends Error {
  readonly code: SessionRecordErrorCode;
  constructor(code: SessionRecordErrorCode, message: string) {
    super(`invalid session record (${code}): ${message}`);
    this.name = 'SessionRecordError';
    this.code = code;
  }
}

/** Which model a session state belongs to: truncated hashes, compared byte for byte. */
export interface ModelStamp {
  /** Hidden sizes per layer, history semantics, model format. */
  readonly stateLayout: Uint8Array;
  /** The item id list the history indices refer to. */
  readonly vocabulary: Uint8Array;
  /** The weights the hidden state was computed with. */
  readonly weights: Uint8Array;
}

/** The stamp of a store that serves no saved model (tests, benchmarks); records restore by layer sizes alone. */
export const UNSTAMPED: ModelStamp = Object.freeze({
  stateLayout: new Uint8Array(STAMP_BYTES),
  vocabulary: new Uint8Array(STAMP_BYTES),
  weights: new Uint8Array(STAMP_BYTES),
});

/** Hex SHA-256 hashes of a loaded model (LoadedModel in src/registry/model-file.ts) → its stamp. */
export function modelStamp(hashes: { stateLayoutHash: string; vocabularyHash: string; weightsHash: string }): ModelStamp {
  return {
    stateLayout: stampOf(hashes.stateLayoutHash, 'stateLayoutHash'),
    vocabulary: stampOf(hashes.vocabularyHash, 'vocabularyHash'),
    weights: stampOf(hashes.weightsHash, 'weightsHash'),
  };
}

function stampOf(hex: string, name: string): Uint8Array {
  if (!/^[0-9a-f]{16,}$/.test(hex)) throw new RangeError(`${name} must be a lowercase hex digest of at least ${STAMP_BYTES} bytes, got ${JSON.stringify(hex)}`);
  return Uint8Array.from(Buffer.from(hex.slice(0, 2 * STAMP_BYTES), 'hex'));
}

/**
 * One session's state as the store holds it, read in place: the store keeps one of these and
 * refills it per record, so encoding allocates nothing but the record itself.
 */
export interface SessionState {
  hiddenSizes: readonly number[];
  /** Per layer, the slab of all slots' states: row `slot`, `hiddenSizes[l]` values. */
  hidden: readonly Float32Array[];
  slot: number;
  /** Item indices, oldest → newest, in the first `historyCount` entries. */
  history: Int32Array;
  historyCount: number;
  eventCount: number;
  lastUpdate: number;
}

/** Where the parts of a validated record lie in its buffer. */
export interface SessionRecordView {
  version: number;
  layers: number;
  eventCount: number;
  lastUpdate: number;
  historyCount: number;
  /** Byte offset of the first layer size (u32). */
  sizesOffset: number;
  /** Byte offset of the three stamps, or -1 for a version-1 record. */
  stampsOffset: number;
  /** Byte offset of layer 0's float32 values; layers follow each other. -1 for a history-only (v3) record. */
  hiddenOffset: number;
  /** Byte offset of the int32 history values. */
  historyOffset: number;
}

export function headerBytes(layers: number, version = SESSION_RECORD_VERSION): number {
  return 2 + 4 * layers + (version >= 2 ? STAMPS_BYTES : 0) + 4 + 4 + 8;
}

export function recordBytes(hiddenSizes: readonly number[], historyCount: number, version = SESSION_RECORD_VERSION): number {
  let floats = 0;
  if (version !== HISTORY_RECORD_VERSION) for (const h of hiddenSizes) floats += h;
  return headerBytes(hiddenSizes.length, version) + 4 * floats + 4 * historyCount;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * The changelog value of one session, stamped with the model it belongs to: version 2 (with the
 * hidden state) by default, version 3 (history only) when `withHidden` is false.
 */
export function encodeSessionRecord(state: SessionState, stamp: ModelStamp, withHidden = true): Buffer {
  const { hiddenSizes: sizes, slot, historyCount: n } = state;
  const version = withHidden ? SESSION_RECORD_VERSION : HISTORY_RECORD_VERSION;
  const buf = Buffer.allocUnsafe(recordBytes(sizes, n, version));
  let o = buf.writeUInt8(version, 0);
  o = buf.writeUInt8(sizes.length, o);
  for (const h of sizes) o = buf.writeUInt32LE(h, o);
  buf.set(stamp.stateLayout, o);
  buf.set(stamp.vocabulary, o + STAMP_BYTES);
  buf.set(stamp.weights, o + 2 * STAMP_BYTES);
  o += STAMPS_BYTES;
  o = buf.writeUInt32LE(n, o);
  o = buf.writeUInt32LE(state.eventCount, o);
  o = buf.writeDoubleLE(state.lastUpdate, o);
  for (let l = 0; withHidden && l < sizes.length; l++) {
    const h = sizes[l];
    const slab = state.hidden[l];
    if (LITTLE_ENDIAN) {
      buf.set(new Uint8Array(slab.buffer, slab.byteOffset + slot * h * 4, h * 4), o);
      o += h * 4;
    } else {
      for (let k = 0, s = slot * h; k < h; k++) o = buf.writeFloatLE(slab[s + k], o);
    }
  }
  for (let i = 0; i < n; i++) o = buf.writeInt32LE(state.history[i], o);
  return buf;
}

/**
 * Validates a record's structure, whatever model wrote it, without copying anything, so that a
 * bad record is refused before any state is touched. Throws SessionRecordError.
 */
export function parseSessionRecord(record: Uint8Array): SessionRecordView {
  const b = asBuffer(record);
  if (b.length < 2) throw new SessionRecordError('truncated', `${b.length} bytes, header needs at least 2`);
  const version = b.readUInt8(0);
  if (version !== SESSION_RECORD_VERSION && version !== HISTORY_RECORD_VERSION && version !== LEGACY_SESSION_RECORD_VERSION) {
    throw new SessionRecordError('version', `version ${version}, this build reads versions ${LEGACY_SESSION_RECORD_VERSION} to ${HISTORY_RECORD_VERSION}`);
  }
  const layers = b.readUInt8(1);
  if (layers === 0) throw new SessionRecordError('value', 'record has 0 layers');
  const hb = headerBytes(layers, version);
  if (b.length < hb) throw new SessionRecordError('truncated', `${b.length} bytes, header of ${layers} layers needs ${hb}`);
  const sizesOffset = 2;
  let floats = 0;
  for (let l = 0, o = sizesOffset; l < layers; l++, o += 4) {
    const h = b.readUInt32LE(o);
    if (h === 0) throw new SessionRecordError('value', `layer ${l} has size 0`);
    floats += h;
  }
  const stampsOffset = version >= 2 ? sizesOffset + 4 * layers : -1;
  const o = sizesOffset + 4 * layers + (version >= 2 ? STAMPS_BYTES : 0);
  const historyCount = b.readUInt32LE(o);
  const eventCount = b.readUInt32LE(o + 4);
  const lastUpdate = b.readDoubleLE(o + 8);
  if (version === HISTORY_RECORD_VERSION) floats = 0;
  const expected = hb + 4 * floats + 4 * historyCount;
  if (b.length !== expected) throw new SessionRecordError('length', `${b.length} bytes, header announces ${expected}`);
  if (historyCount > eventCount) throw new SessionRecordError('value', `${historyCount} history items but only ${eventCount} events`);
  if (!Number.isFinite(lastUpdate)) throw new SessionRecordError('value', `last update time ${lastUpdate}`);
  const historyOffset = expected - 4 * historyCount;
  for (let i = 0, p = historyOffset; i < historyCount; i++, p += 4) {
    if (b.readInt32LE(p) < 0) throw new SessionRecordError('value', `negative item index at history position ${i}`);
  }
  const hiddenOffset = version === HISTORY_RECORD_VERSION ? -1 : hb;
  return { version, layers, eventCount, lastUpdate, historyCount, sizesOffset, stampsOffset, hiddenOffset, historyOffset };
}

/**
 * What a valid record is worth to a store with these layer sizes serving the model `stamp`:
 * - 'restore': the same model wrote it — hidden state and history are used as they are;
 * - 'reencode': same vocabulary, other weights or layout — the history is valid, the hidden state
 *   is not: the store keeps the history with a zero state and the serving side re-encodes it;
 * - 'drop': another vocabulary — the history indices name other items; nothing can be kept.
 * A version-1 record carries no stamps: it restores when its layer sizes match (it was written by
 * the previous build for the model it served, the usual upgrade path) and is dropped otherwise,
 * because without a vocabulary stamp its indices cannot be trusted under another model.
 * A version-3 record carries no state: 'reencode' under the same vocabulary (whatever the
 * weights and layout), 'drop' under another.
 */
export type RecordFit = 'restore' | 'reencode' | 'drop';

export function recordFit(record: Uint8Array, view: SessionRecordView, hiddenSizes: readonly number[], stamp: ModelStamp): RecordFit {
  const b = asBuffer(record);
  let sameSizes = view.layers === hiddenSizes.length;
  for (let l = 0; sameSizes && l < view.layers; l++) sameSizes = b.readUInt32LE(view.sizesOffset + 4 * l) === hiddenSizes[l];
  if (view.stampsOffset < 0) return sameSizes ? 'restore' : 'drop';
  const at = view.stampsOffset;
  if (!bytesEqual(b, at + STAMP_BYTES, stamp.vocabulary)) return 'drop';
  if (view.hiddenOffset < 0) return 'reencode';
  if (!sameSizes || !bytesEqual(b, at, stamp.stateLayout) || !bytesEqual(b, at + 2 * STAMP_BYTES, stamp.weights)) return 'reencode';
  return 'restore';
}

/** Copies the record's hidden state into row `slot` of each slab; only for a record that fits ('restore'). */
export function copyHiddenInto(record: Uint8Array, view: SessionRecordView, hiddenSizes: readonly number[], slabs: readonly Float32Array[], slot: number): void {
  if (view.hiddenOffset < 0) throw new RangeError('a history-only record carries no hidden state to copy');
  const b = asBuffer(record);
  let o = view.hiddenOffset;
  for (let l = 0; l < hiddenSizes.length; l++) {
    const h = hiddenSizes[l];
    const slab = slabs[l];
    if (LITTLE_ENDIAN) {
      new Uint8Array(slab.buffer, slab.byteOffset + slot * h * 4, h * 4).set(b.subarray(o, o + h * 4));
      o += h * 4;
    } else {
      for (let k = 0, s = slot * h; k < h; k++, o += 4) slab[s + k] = b.readFloatLE(o);
    }
  }
}

/** Copies the newest `keep` history items of the record, oldest first, to dst[dstOffset…]. */
export function copyHistoryInto(record: Uint8Array, view: SessionRecordView, keep: number, dst: Int32Array, dstOffset: number): void {
  const b = asBuffer(record);
  const first = view.historyOffset + 4 * (view.historyCount - keep);
  for (let i = 0; i < keep; i++) dst[dstOffset + i] = b.readInt32LE(first + 4 * i);
}

function bytesEqual(b: Buffer, at: number, stamp: Uint8Array): boolean {
  for (let i = 0; i < STAMP_BYTES; i++) if (b[at + i] !== stamp[i]) return false;
  return true;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
