import type { DeadLetterKind } from '../errors/errors.ts';
import type { ClickEvent } from './records.ts';
import { Rejection } from './rejection.ts';
import { isValidUtf8 } from './utf8.ts';

/**
 * Field-level checks on a decoded click that Avro's type system cannot express. The raw-byte
 * checks (counts, UTF-8, key bytes) happen earlier, in avro-guard.ts and click-decoder.ts.
 */

export const MAX_ID_LENGTH = 256;
export const MAX_CONTEXT_ENTRIES = 64;

/** Accepted event times, epoch ms, inclusive. */
export interface TimestampBounds {
  minMs: number;
  maxMs: number;
}

/** Most characters of a user-supplied id quoted in a reason: enough to find it, never a flood. */
const QUOTE_CHARS = 64;

/**
 * Ids and timestamp of a decoded click; null when they are fine. Without `bounds` only the
 * absolute checks apply (a non-negative safe integer).
 */
export function checkClickFields(ev: ClickEvent, bounds?: TimestampBounds): Rejection | null {
  if (ev.sessionId.length === 0) return new Rejection('INVALID_FIELD', 'sessionId is empty');
  if (ev.itemId.length === 0) return new Rejection('INVALID_FIELD', 'itemId is empty');
  if (ev.sessionId.length > MAX_ID_LENGTH || ev.itemId.length > MAX_ID_LENGTH || (ev.userId?.length ?? 0) > MAX_ID_LENGTH)
    return new Rejection('TOO_LARGE', `an id is longer than ${MAX_ID_LENGTH} characters`);
  const ts = ev.timestamp;
  if (!Number.isSafeInteger(ts) || ts < 0) return new Rejection('INVALID_FIELD', `timestamp ${ts} is not a valid epoch ms`);
  if (bounds !== undefined && (ts < bounds.minMs || ts > bounds.maxMs))
    return new Rejection('INVALID_FIELD', `timestamp ${ts} (${iso(ts)}) is outside the accepted window ${iso(bounds.minMs)} .. ${iso(bounds.maxMs)}`);
  return null;
}

/** ISO form of an epoch-ms value for a reason; Date only covers ±8.64e15 ms. */
function iso(ms: number): string {
  return Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms`;
}

/** Why a message key is not the click's sessionId (the key decides the partition, and so where the session's state lives). */
export function keyProblem(key: Buffer | null, sessionId: string): Rejection | null {
  if (key === null) return new Rejection('KEY_MISMATCH', 'record has no key; clicks must be keyed by sessionId');
  if (!isValidUtf8(key)) return new Rejection('INVALID_FIELD', `message key is not valid UTF-8 (${key.length} bytes)`);
  const k = key.toString('utf8');
  if (k === sessionId) return null;
  return new Rejection('KEY_MISMATCH', `message key "${k.slice(0, QUOTE_CHARS)}" differs from sessionId "${sessionId.slice(0, QUOTE_CHARS)}"`);
}

/**
 * All checks of a decoded click, for callers that decoded it themselves; returns a reason, or
 * null when valid. `key` is the Kafka message key: it must be present and equal sessionId.
 * The serving loop uses decodeClickRecord (click-decoder.ts) instead, which checks the same on
 * the raw bytes before decoding and allocates nothing for a valid record.
 */
export function validateClick(ev: ClickEvent, key: Buffer | null, bounds?: TimestampBounds): { kind: DeadLetterKind; reason: string } | null {
  if (ev.context && Object.keys(ev.context).length > MAX_CONTEXT_ENTRIES) return new Rejection('TOO_LARGE', `context has more than ${MAX_CONTEXT_ENTRIES} entries`);
  return checkClickFields(ev, bounds) ?? keyProblem(key, ev.sessionId);
}
