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
      modelDelta: 3,
      producedAt: 2,
      latencyMs: 1.5,
    };
    assert.deepEqual(own(c.recommendation.decode(c.recommendation.encode(rec))), rec);
    // A writer that knows no deltas (full versions only) leaves the field out: it reads as delta 0.
    const { modelDelta: _, ...withoutDelta } = rec;
    assert.deepEqual(own(c.recommendation.decode(c.recommendation.encode(withoutDelta))), { ...withoutDelta, modelDelta: 0 });
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
    // Fields added later (sizes, hash, truncated) take their schema defaults when a writer omits them.
    assert.deepEqual(own(c.deadLetter.decode(c.deadLetter.encode(dl))), { ...dl, originalKeySize: null, originalValueSize: null, valueSha256: null, truncated: false });
    const full = { ...dl, originalKeySize: 1, originalValueSize: 3, valueSha256: 'ab'.repeat(32), truncated: true };
    assert.deepEqual(own(c.deadLetter.decode(c.deadLetter.encode(full))), full);
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
  const s1 = Buffer.from('s1');
  assert.equal(validateClick(click, s1), null);
  assert.equal(validateClick({ ...click, itemId: '' }, s1)?.kind, 'INVALID_FIELD');
  assert.equal(validateClick({ ...click, sessionId: 'x'.repeat(300) }, s1)?.kind, 'TOO_LARGE');
  assert.equal(validateClick({ ...click, timestamp: -5 }, s1)?.kind, 'INVALID_FIELD');
  assert.equal(validateClick({ ...click, timestamp: 1.5 }, s1)?.kind, 'INVALID_FIELD');
  assert.equal(validateClick(click, Buffer.from('other'))?.kind, 'KEY_MISMATCH');
});

test('field validation: a null key is refused (clicks must be keyed by session), so is a key that is not UTF-8', () => {
  assert.deepEqual({ ...validateClick(click, null) }, { kind: 'KEY_MISMATCH', reason: 'record has no key; clicks must be keyed by sessionId' });
  assert.equal(validateClick(click, Buffer.from([0x73, 0x31, 0xff]))?.kind, 'INVALID_FIELD');
});

test('field validation: the timestamp window applies when given', () => {
  const s1 = Buffer.from('s1');
  const bounds = { minMs: click.timestamp - 10, maxMs: click.timestamp + 10 };
  assert.equal(validateClick(click, s1, bounds), null);
  assert.equal(validateClick({ ...click, timestamp: click.timestamp + 11 }, s1, bounds)?.kind, 'INVALID_FIELD');
  assert.equal(validateClick({ ...click, timestamp: click.timestamp - 11 }, s1, bounds)?.kind, 'INVALID_FIELD');
});

test('decode is bounded: a map header claiming 2^40 entries is refused at once, not looped over', () => {
  const plain = makeCodecs('plain').click;
  const good = plain.encode({ ...click, context: null });
  // context: branch 1 (map), block count 2^40 (zig-zag varint), and no entries at all.
  const crafted = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02])]);
  const t0 = performance.now();
  assert.throws(
    () => plain.decode(crafted),
    (e: unknown) => e instanceof DecodeError && e.deadLetterKind === 'MALFORMED',
  );
  assert.ok(performance.now() - t0 < 50);
});
