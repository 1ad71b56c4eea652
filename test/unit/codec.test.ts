import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError, makeCodecs, validateClick, SCHEMA_IDS, type ClickEvent } from '../../src/ingest/codec.ts';

/** avsc decodes records into instances of generated classes; compare own fields. */
const own = <T extends object>(o: T): T => ({ ...o });

const click: ClickEvent = { sessionId: 's1', userId: 'u9', itemId: '214536502', eventType: 'VIEW', timestamp: 1396860669277, context: { page: 'home' } };

test('click round trip, plain Avro', () => {
  const { click: c } = makeCodecs('plain');
  const buf = c.encode(click);
  assert.notEqual(buf[0], 0x00, 'plain Avro starts with the string length varint, not the Confluent magic byte');
  assert.deepEqual(own(c.decode(buf)), click);
});

test('click round trip, Confluent wire format: magic byte 0 + big-endian schema id', () => {
  const { click: c } = makeCodecs('confluent');
  const buf = c.encode(click);
  assert.equal(buf[0], 0);
  assert.equal(buf.readUInt32BE(1), SCHEMA_IDS.clickEvent);
  assert.deepEqual(own(c.decode(buf)), click);
  assert.deepEqual(buf.subarray(5), makeCodecs('plain').click.encode(click));
});

test('recommendation and dead-letter round trips', () => {
  for (const fmt of ['plain', 'confluent'] as const) {
    const c = makeCodecs(fmt);
    const rec = {
      sessionId: 's',
      sourceTopic: 't',
      sourcePartition: 2,
      sourceOffset: 12345678901,
      eventTimestamp: 1,
      itemIds: ['a', 'b'],
      scores: [0.5, 0.25],
      modelVersion: 'v1',
      producedAt: 2,
      latencyMs: 1.5,
    };
    assert.deepEqual(own(c.recommendation.decode(c.recommendation.encode(rec))), rec);
    const dl = {
      sourceTopic: 't',
      sourcePartition: 0,
      sourceOffset: 7,
      key: Buffer.from('k'),
      value: Buffer.from([1, 2, 3]),
      errorKind: 'MALFORMED' as const,
      reason: 'why',
      failedAt: 3,
    };
    assert.deepEqual(own(c.deadLetter.decode(c.deadLetter.encode(dl))), dl);
  }
});

test('malformed inputs raise DecodeError with a kind', () => {
  const plain = makeCodecs('plain').click;
  const conf = makeCodecs('confluent').click;
  const good = plain.encode(click);
  const cases: Array<[string, () => unknown, string]> = [
    ['empty', () => plain.decode(Buffer.alloc(0)), 'MALFORMED'],
    ['null', () => plain.decode(null), 'MALFORMED'],
    ['truncated', () => plain.decode(good.subarray(0, good.length - 3)), 'MALFORMED'],
    ['trailing bytes', () => plain.decode(Buffer.concat([good, Buffer.from([1])])), 'MALFORMED'],
    ['garbage', () => plain.decode(Buffer.from('not avro at all, just text')), 'MALFORMED'],
    ['no magic byte', () => conf.decode(good), 'MALFORMED'],
    ['unknown schema id', () => conf.decode(Buffer.concat([Buffer.from([0, 0, 0, 0, 99]), good])), 'UNKNOWN_SCHEMA'],
  ];
  for (const [name, fn, kind] of cases) {
    assert.throws(fn, (e: unknown) => e instanceof DecodeError && e.deadLetterKind === kind, name);
  }
});

test('field validation: empty ids, oversize ids, key mismatch', () => {
  assert.equal(validateClick(click, Buffer.from('s1')), null);
  assert.equal(validateClick(click, null), null);
  assert.equal(validateClick({ ...click, itemId: '' }, null)?.kind, 'INVALID_FIELD');
  assert.equal(validateClick({ ...click, sessionId: 'x'.repeat(300) }, null)?.kind, 'TOO_LARGE');
  assert.equal(validateClick({ ...click, timestamp: -5 }, null)?.kind, 'INVALID_FIELD');
  assert.equal(validateClick(click, Buffer.from('other'))?.kind, 'KEY_MISMATCH');
});
