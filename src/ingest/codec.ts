import { readFileSync } from 'node:fs';
import avro from 'avsc';
import { type DeadLetterKind, InputError } from '../errors/errors.ts';
import type { WireFormat } from '../config/config.ts';

/** Event types of the click schema. */
export type EventType = 'CLICK' | 'VIEW' | 'ADD_TO_CART' | 'PURCHASE';

export interface ClickEvent {
  sessionId: string;
  userId: string | null;
  itemId: string;
  eventType: EventType;
  /** Epoch ms. */
  timestamp: number;
  context: Record<string, string> | null;
}

export interface Recommendation {
  sessionId: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  eventTimestamp: number;
  itemIds: string[];
  scores: number[];
  modelVersion: string;
  producedAt: number;
  latencyMs: number;
}

export type { DeadLetterKind };

export interface DeadLetter {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  key: Buffer | null;
  value: Buffer | null;
  errorKind: DeadLetterKind;
  reason: string;
  failedAt: number;
}

/** A record that could not be decoded; carries the dead-letter kind and a human-readable reason. */
export class DecodeError extends InputError {}

const SCHEMA_DIR = new URL('../../schemas/', import.meta.url);

function loadType(file: string): avro.Type {
  return avro.Type.forSchema(JSON.parse(readFileSync(new URL(file, SCHEMA_DIR), 'utf8')) as avro.Schema);
}

export const clickEventType = loadType('click-event.avsc');
export const recommendationType = loadType('recommendation.avsc');
export const deadLetterType = loadType('dead-letter.avsc');

/**
 * Schema ids this process registers for the Confluent wire format. There is no schema
 * registry here: the ids are fixed by configuration so that producers and consumers
 * of one deployment agree, and any other id is refused as UNKNOWN_SCHEMA.
 */
export const SCHEMA_IDS = { clickEvent: 1, recommendation: 2, deadLetter: 3 } as const;

const CONFLUENT_MAGIC = 0;
const CONFLUENT_HEADER = 5;

/**
 * Encodes/decodes one Avro type in plain binary Avro or the Confluent wire format
 * (magic byte 0, 4-byte big-endian schema id, then the Avro body).
 */
export class AvroCodec<T> {
  constructor(
    readonly type: avro.Type,
    readonly format: WireFormat,
    readonly schemaId: number,
  ) {}

  encode(value: T): Buffer {
    const body = this.type.toBuffer(value);
    if (this.format === 'plain') return body;
    const out = Buffer.allocUnsafe(CONFLUENT_HEADER + body.length);
    out[0] = CONFLUENT_MAGIC;
    out.writeUInt32BE(this.schemaId, 1);
    body.copy(out, CONFLUENT_HEADER);
    return out;
  }

  /** Throws DecodeError (MALFORMED or UNKNOWN_SCHEMA) on anything that is not exactly one value of this type. */
  decode(buf: Buffer | null): T {
    if (buf === null || buf.length === 0) throw new DecodeError('MALFORMED', 'empty message value');
    let body = buf;
    if (this.format === 'confluent') {
      if (buf.length < CONFLUENT_HEADER || buf[0] !== CONFLUENT_MAGIC)
        throw new DecodeError('MALFORMED', `not in Confluent wire format (magic byte ${buf[0]}, length ${buf.length})`);
      const id = buf.readUInt32BE(1);
      if (id !== this.schemaId) throw new DecodeError('UNKNOWN_SCHEMA', `schema id ${id} is not registered for ${this.type.name ?? 'this topic'} (expected ${this.schemaId})`);
      body = buf.subarray(CONFLUENT_HEADER);
    }
    let res: { value: T; offset: number };
    try {
      res = this.type.decode(body, 0) as { value: T; offset: number };
    } catch (e) {
      throw new DecodeError('MALFORMED', `Avro decoding failed: ${(e as Error).message}`);
    }
    if (res.offset < 0) throw new DecodeError('MALFORMED', `truncated Avro record (${body.length} bytes)`);
    if (res.offset !== body.length) throw new DecodeError('MALFORMED', `trailing bytes after Avro record (${body.length - res.offset} of ${body.length})`);
    return res.value;
  }
}

export interface Codecs {
  click: AvroCodec<ClickEvent>;
  recommendation: AvroCodec<Recommendation>;
  deadLetter: AvroCodec<DeadLetter>;
}

export function makeCodecs(format: WireFormat): Codecs {
  return {
    click: new AvroCodec<ClickEvent>(clickEventType, format, SCHEMA_IDS.clickEvent),
    recommendation: new AvroCodec<Recommendation>(recommendationType, format, SCHEMA_IDS.recommendation),
    deadLetter: new AvroCodec<DeadLetter>(deadLetterType, format, SCHEMA_IDS.deadLetter),
  };
}

export const MAX_ID_LENGTH = 256;
export const MAX_CONTEXT_ENTRIES = 64;

/**
 * Field-level checks that Avro's type system cannot express. Returns a reason, or null when valid.
 * `key` is the Kafka message key: it must equal sessionId, because partitioning (and so session
 * state placement) follows the key.
 */
export function validateClick(ev: ClickEvent, key: Buffer | null): { kind: DeadLetterKind; reason: string } | null {
  if (ev.sessionId.length === 0) return { kind: 'INVALID_FIELD', reason: 'sessionId is empty' };
  if (ev.itemId.length === 0) return { kind: 'INVALID_FIELD', reason: 'itemId is empty' };
  if (ev.sessionId.length > MAX_ID_LENGTH || ev.itemId.length > MAX_ID_LENGTH || (ev.userId?.length ?? 0) > MAX_ID_LENGTH)
    return { kind: 'TOO_LARGE', reason: `an id is longer than ${MAX_ID_LENGTH} characters` };
  if (ev.context && Object.keys(ev.context).length > MAX_CONTEXT_ENTRIES) return { kind: 'TOO_LARGE', reason: `context has more than ${MAX_CONTEXT_ENTRIES} entries` };
  if (!Number.isFinite(ev.timestamp) || ev.timestamp < 0) return { kind: 'INVALID_FIELD', reason: `timestamp ${ev.timestamp} is not a valid epoch ms` };
  if (key !== null && key.toString('utf8') !== ev.sessionId)
    return { kind: 'KEY_MISMATCH', reason: `message key "${key.toString('utf8').slice(0, 64)}" differs from sessionId "${ev.sessionId.slice(0, 64)}"` };
  return null;
}
