import { ConfigError } from '../errors/errors.ts';
import { checkClickFields, keyProblem, MAX_CONTEXT_ENTRIES, type TimestampBounds } from './click-checks.ts';
import { type Codecs, clickEventType } from './codec.ts';
import type { ClickEvent } from './records.ts';
import { Rejection } from './rejection.ts';

/**
 * The one call the serving loop makes per input record: raw Kafka key and value in, a checked
 * ClickEvent or a Rejection (dead-letter kind + reason) out.
 *
 * The checks run cheapest first and, as far as they can, on the raw bytes before avsc decodes
 * anything: size cap, framing, the structural guard (counts, lengths), the key against the
 * sessionId bytes, the context entry count; then the decode, UTF-8 (raw bytes checked only when
 * a decoded string holds U+FFFD) and the field checks on the decoded values (id lengths in
 * characters, the timestamp window). A valid record costs the guard's walk and avsc's decode
 * and allocates nothing else.
 */

const YEAR_MS = 365.25 * 24 * 3600 * 1000;

/** Per-record limits; plain numbers so that configuration can supply them. */
export interface IngestLimits {
  /**
   * Largest record value accepted, in bytes; anything larger is dead-lettered as TOO_LARGE
   * before it is decoded. A click is well under 2 KiB; the clicks topic accepts far more (12 MB).
   */
  maxRecordBytes: number;
  /**
   * How far before `now` an event time may lie. Generous on purpose: replaying or backfilling
   * history is legitimate (the demo replays the 2014 RecSys Challenge days) and event time feeds
   * only the recommendation's eventTimestamp, not session expiry (which uses the wall clock).
   * What it must catch is the unit bug: seconds sent as milliseconds land in January 1970, 0
   * and small counters land at the epoch, all more than 50 years back.
   */
  maxPastMs: number;
  /** How far after `now` an event time may lie: producer clock skew, not microseconds sent as milliseconds. */
  maxFutureMs: number;
  /** Largest dead-letter record (key + value) written; see dead-letter.ts. */
  maxDeadLetterBytes: number;
}

/** Smallest maxDeadLetterBytes accepted: room for the record's own fields and a clipped reason. */
export const MIN_DEAD_LETTER_BYTES = 8192;

export const DEFAULT_INGEST_LIMITS: Readonly<IngestLimits> = Object.freeze({
  maxRecordBytes: 1024 * 1024,
  maxPastMs: Math.round(30 * YEAR_MS),
  maxFutureMs: 3600 * 1000,
  // The dead-letter topic's max.message.bytes is 1 MiB (1,048,576); the rest is left for the
  // record batch framing and headers.
  maxDeadLetterBytes: 1_000_000,
});

/** Defaults overridden by `overrides`, each checked; throws ConfigError naming the field. */
export function ingestLimits(overrides: Partial<IngestLimits> = {}): IngestLimits {
  const l = { ...DEFAULT_INGEST_LIMITS, ...overrides };
  const int = (field: keyof IngestLimits, min: number) => {
    const v = l[field];
    if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(field, `expected an integer ≥ ${min}, got ${v}`);
  };
  const span = (field: keyof IngestLimits) => {
    const v = l[field];
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new ConfigError(field, `expected a duration in ms ≥ 0 (Infinity for no bound), got ${v}`);
  };
  int('maxRecordBytes', 1);
  span('maxPastMs');
  span('maxFutureMs');
  int('maxDeadLetterBytes', MIN_DEAD_LETTER_BYTES);
  return l;
}

function fieldIndex(name: string): number {
  const i = (clickEventType as unknown as { fields: Array<{ name: string }> }).fields.findIndex((f) => f.name === name);
  if (i < 0) throw new Error(`click schema has no field ${name}`);
  return i;
}
const SESSION_ID = fieldIndex('sessionId');
const CONTEXT = fieldIndex('context');

/**
 * Whether `key` equals `buf[start, start + len)`. A loop, not Buffer#compare: ids are short, and
 * the native call's argument checks cost more than comparing a few dozen bytes.
 */
function bytesEqual(key: Buffer, buf: Buffer, start: number, len: number): boolean {
  if (key.length !== len) return false;
  for (let i = 0; i < len; i++) if (key[i] !== buf[start + i]) return false;
  return true;
}

const REPLACEMENT = '\uFFFD';

/**
 * Whether any string of the event contains U+FFFD, which avsc's lossy decoding puts wherever the
 * bytes were not UTF-8 (a producer may also send it, legitimately). Searching decoded strings is
 * far cheaper than validating the raw bytes of every record; the raw check runs only on a hit.
 */
function mayHaveReplacedBytes(ev: ClickEvent): boolean {
  if (ev.sessionId.includes(REPLACEMENT) || ev.itemId.includes(REPLACEMENT) || ev.userId?.includes(REPLACEMENT) === true) return true;
  const ctx = ev.context;
  if (ctx !== null) for (const k in ctx) if (k.includes(REPLACEMENT) || ctx[k].includes(REPLACEMENT)) return true;
  return false;
}

/** Reused so that a valid record allocates no bounds object; decodeClickRecord is synchronous. */
const bounds: TimestampBounds = { minMs: 0, maxMs: 0 };

/**
 * Decodes and checks one clicks-topic record. Returns the event, or a Rejection whose kind is
 * the dead-letter kind: TOO_LARGE (value above maxRecordBytes, too many context entries, ids
 * too long), MALFORMED (framing, structure), UNKNOWN_SCHEMA, INVALID_FIELD (empty ids, invalid
 * UTF-8 in the key or any string, timestamp outside [now - maxPastMs, now + maxFutureMs]),
 * KEY_MISMATCH (no key, or a key other than the sessionId). Never throws for bad input.
 */
export function decodeClickRecord(codecs: Pick<Codecs, 'click'>, key: Buffer | null, value: Buffer | null, nowMs: number, limits: IngestLimits): ClickEvent | Rejection {
  const codec = codecs.click;
  if (value !== null && value.length > limits.maxRecordBytes)
    return new Rejection('TOO_LARGE', `record value is ${value.length} bytes, above the limit of ${limits.maxRecordBytes}`);
  const start = codec.bodyStart(value);
  if (start instanceof Rejection) return start;
  const buf = value!;
  const guard = codec.guard;
  const bad = guard.checkStructure(buf, start);
  if (bad !== null) return bad;
  const sStart = guard.fieldStart[SESSION_ID];
  const sLen = guard.fieldLength[SESSION_ID];
  if (sLen === 0) return new Rejection('INVALID_FIELD', 'sessionId is empty');
  // Equal bytes: the key is the sessionId, and is valid UTF-8 exactly when the sessionId is,
  // which the U+FFFD check below settles.
  if (key === null || !bytesEqual(key, buf, sStart, sLen)) {
    const problem = keyProblem(key, buf.toString('utf8', sStart, sStart + sLen));
    if (problem !== null) return problem;
  }
  if (guard.fieldItems[CONTEXT] > MAX_CONTEXT_ENTRIES) return new Rejection('TOO_LARGE', `context has ${guard.fieldItems[CONTEXT]} entries, more than ${MAX_CONTEXT_ENTRIES}`);
  const ev = codec.decodeChecked(buf, start);
  if (ev instanceof Rejection) return ev;
  if (mayHaveReplacedBytes(ev)) {
    const notUtf8 = guard.check(buf, start);
    if (notUtf8 !== null) return notUtf8;
  }
  bounds.minMs = nowMs - limits.maxPastMs;
  bounds.maxMs = nowMs + limits.maxFutureMs;
  return checkClickFields(ev, bounds) ?? ev;
}
