import { readFileSync } from 'node:fs';
import avro from 'avsc';
import type { WireFormat } from '../config/config.ts';
import { AvroGuard } from './avro-guard.ts';
import type { ClickEvent, DeadLetter, Recommendation } from './records.ts';
import { DecodeError, Rejection } from './rejection.ts';

export type { ClickEvent, DeadLetter, DeadLetterKind, EventType, Recommendation } from './records.ts';
export { DecodeError, Rejection };

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
  /** Checks counts, lengths and UTF-8 before avsc touches the bytes (see avro-guard.ts). */
  readonly guard: AvroGuard;

  constructor(
    readonly type: avro.Type,
    readonly format: WireFormat,
    readonly schemaId: number,
  ) {
    this.guard = new AvroGuard(type);
  }

  encode(value: T): Buffer {
    const body = this.type.toBuffer(value);
    if (this.format === 'plain') return body;
    const out = Buffer.allocUnsafe(CONFLUENT_HEADER + body.length);
    out[0] = CONFLUENT_MAGIC;
    out.writeUInt32BE(this.schemaId, 1);
    body.copy(out, CONFLUENT_HEADER);
    return out;
  }

  /**
   * Where the Avro body starts in `buf` after the framing checks (empty value, Confluent magic
   * byte and schema id), or why the framing is refused.
   */
  bodyStart(buf: Buffer | null): number | Rejection {
    if (buf === null || buf.length === 0) return new Rejection('MALFORMED', 'empty message value');
    if (this.format === 'plain') return 0;
    if (buf.length < CONFLUENT_HEADER || buf[0] !== CONFLUENT_MAGIC) return new Rejection('MALFORMED', `not in Confluent wire format (magic byte ${buf[0]}, length ${buf.length})`);
    const id = buf.readUInt32BE(1);
    if (id !== this.schemaId) return new Rejection('UNKNOWN_SCHEMA', `schema id ${id} is not registered for ${this.type.name ?? 'this topic'} (expected ${this.schemaId})`);
    return CONFLUENT_HEADER;
  }

  /**
   * Decodes a body the guard has already passed (`this.guard.check(buf, start)` returned null).
   * avsc can still refuse it (a case the guard does not model); that comes back as MALFORMED.
   */
  decodeChecked(buf: Buffer, start: number): T | Rejection {
    let res: { value: T; offset: number };
    try {
      res = this.type.decode(buf, start) as { value: T; offset: number };
    } catch (e) {
      return new Rejection('MALFORMED', `Avro decoding failed: ${(e as Error).message}`);
    }
    if (res.offset < 0) return new Rejection('MALFORMED', `truncated Avro record (${buf.length - start} bytes)`);
    if (res.offset !== buf.length) return new Rejection('MALFORMED', `trailing bytes after Avro record (${buf.length - res.offset} of ${buf.length - start})`);
    return res.value;
  }

  /** Framing, guard and decode, without throwing: the value or why it is refused. */
  tryDecode(buf: Buffer | null): T | Rejection {
    const start = this.bodyStart(buf);
    if (start instanceof Rejection) return start;
    const bad = this.guard.check(buf!, start);
    if (bad) return bad;
    return this.decodeChecked(buf!, start);
  }

  /**
   * Throws DecodeError (MALFORMED, UNKNOWN_SCHEMA, or INVALID_FIELD for a string that is not
   * UTF-8) on anything that is not exactly one value of this type. Bounded in time by the
   * buffer's size, whatever the counts inside claim.
   */
  decode(buf: Buffer | null): T {
    const res = this.tryDecode(buf);
    if (res instanceof Rejection) throw res.toError();
    return res;
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

export { MAX_CONTEXT_ENTRIES, MAX_ID_LENGTH, validateClick } from './click-checks.ts';
