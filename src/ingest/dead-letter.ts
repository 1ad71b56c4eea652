import { createHash } from 'node:crypto';
import { type DeadLetterKind, StreamrecError } from '../errors/errors.ts';
import type { Codecs } from './codec.ts';
import type { DeadLetter } from './records.ts';

/**
 * Dead-letter records that always fit the dead-letter topic.
 *
 * The clicks topic accepts records of up to 12 MB, the dead-letter topic 1 MiB: copying a large
 * bad record verbatim makes the dead-letter write (and with it the whole transaction) fail, and
 * the consumer crashes on the very record it meant to set aside. When the original key and value
 * do not fit `maxBytes`, they are kept as prefixes and the record says so (`truncated`), with the
 * original sizes and the SHA-256 of the whole value, so the record can still be found and
 * matched at its source offset: nothing is dropped without a trace.
 */

/** The record being set aside and why. */
export interface DeadLetterInput {
  sourceTopic: string;
  partition: number;
  offset: number;
  key: Buffer | null;
  value: Buffer | null;
  kind: DeadLetterKind;
  reason: string;
  failedAt: number;
}

/** A Kafka message for the dead-letter topic. */
export interface DeadLetterMessage {
  key: Buffer | null;
  value: Buffer;
}

/** Longest source key used as the dead letter's own message key; a longer one goes only (trimmed) into the record. */
export const MAX_MESSAGE_KEY_BYTES = 1024;
/** Longest reason kept; reasons are ours, but may quote input. */
export const MAX_REASON_CHARS = 1000;
/** Upper bound on the growth of the two bytes fields' length varints beyond the one byte of an empty one (lengths < 2^28). */
const LENGTH_VARINT_SLACK = 2 * 3;
const EMPTY = Buffer.alloc(0);

function clip(reason: string): string {
  return reason.length <= MAX_REASON_CHARS ? reason : `${reason.slice(0, MAX_REASON_CHARS)}… (${reason.length} characters)`;
}

/**
 * Builds the dead-letter message for one input record; key + value together are at most
 * `maxBytes` (≥ MIN_DEAD_LETTER_BYTES of click-decoder.ts; the default limit is 1,000,000).
 */
export function buildDeadLetter(codecs: Pick<Codecs, 'deadLetter'>, src: DeadLetterInput, maxBytes: number): DeadLetterMessage {
  const codec = codecs.deadLetter;
  const { key, value } = src;
  const keyLen = key?.length ?? 0;
  const valueLen = value?.length ?? 0;
  const messageKey = key !== null && keyLen <= MAX_MESSAGE_KEY_BYTES ? key : null;
  const messageKeyLen = messageKey?.length ?? 0;
  const record: DeadLetter = {
    sourceTopic: src.sourceTopic,
    sourcePartition: src.partition,
    sourceOffset: src.offset,
    key,
    value,
    errorKind: src.kind,
    reason: clip(src.reason),
    failedAt: src.failedAt,
    originalKeySize: key === null ? null : keyLen,
    originalValueSize: value === null ? null : valueLen,
    valueSha256: value === null ? null : createHash('sha256').update(value).digest('hex'),
    truncated: false,
  };
  if (messageKeyLen + keyLen + valueLen < maxBytes) {
    const whole = codec.encode(record);
    if (messageKeyLen + whole.length <= maxBytes) return { key: messageKey, value: whole };
  }
  // What the record costs without its payload; the payload gets the rest.
  record.key = key === null ? null : EMPTY;
  record.value = value === null ? null : EMPTY;
  record.truncated = true;
  const frame = codec.encode(record).length + LENGTH_VARINT_SLACK;
  const budget = Math.max(0, maxBytes - messageKeyLen - frame);
  // Share the budget: a small key is kept whole and the value gets the rest, and the other way
  // round; when both are large, half each.
  const half = budget >> 1;
  const keyKeep = keyLen <= half ? keyLen : valueLen <= half ? Math.min(keyLen, budget - valueLen) : half;
  const valueKeep = Math.min(valueLen, budget - keyKeep);
  record.key = key === null ? null : key.subarray(0, keyKeep);
  record.value = value === null ? null : value.subarray(0, valueKeep);
  const out = codec.encode(record);
  const size = messageKeyLen + out.length;
  // Only a limit too small for the record's own fields gets here (the slack above is an upper
  // bound); writing anyway would fail the transaction on every retry, so refuse loudly instead.
  if (size > maxBytes) throw new StreamrecError('internal', `dead letter of ${size} bytes exceeds its limit of ${maxBytes} (limit too small for the record's own fields?)`);
  return { key: messageKey, value: out };
}

/**
 * Kafka's record-batch framing: the batch header is 61 bytes, each record adds its length,
 * attributes, timestamp and offset deltas, key/value lengths and header count (≤ 30 bytes
 * without headers). Rounded up, so that a packed batch is never larger than estimated.
 */
export const BATCH_OVERHEAD_BYTES = 128;
export const RECORD_OVERHEAD_BYTES = 64;

/**
 * Splits dead-letter messages into groups that each fit one record batch of `maxBatchBytes`
 * (the topic's max.message.bytes), keeping their order.
 *
 * The broker checks max.message.bytes against a whole record batch, and kafkajs puts all the
 * messages for one partition of one send into one batch: two dead letters of 600 KB each fit
 * the limit alone and fail it together. Send each group with its own `send` call (a
 * transaction may hold several). A message larger than the limit on its own still gets a group
 * of its own; buildDeadLetter with maxBytes ≤ maxBatchBytes - 192 never makes one.
 */
export function packDeadLetters<M extends DeadLetterMessage>(messages: readonly M[], maxBatchBytes: number): M[][] {
  const groups: M[][] = [];
  let group: M[] = [];
  let size = BATCH_OVERHEAD_BYTES;
  for (const m of messages) {
    const bytes = (m.key?.length ?? 0) + m.value.length + RECORD_OVERHEAD_BYTES;
    if (group.length > 0 && size + bytes > maxBatchBytes) {
      groups.push(group);
      group = [];
      size = BATCH_OVERHEAD_BYTES;
    }
    group.push(m);
    size += bytes;
  }
  if (group.length > 0) groups.push(group);
  return groups;
}
