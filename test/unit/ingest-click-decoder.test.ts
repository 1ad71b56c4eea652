import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors/errors.ts';
import { DEFAULT_INGEST_LIMITS, decodeClickRecord, ingestLimits, MIN_DEAD_LETTER_BYTES } from '../../src/ingest/click-decoder.ts';
import { makeCodecs, type ClickEvent } from '../../src/ingest/codec.ts';
import { Rejection } from '../../src/ingest/rejection.ts';

const NOW = Date.parse('2026-06-01T12:00:00Z');
const limits = ingestLimits();
const plain = makeCodecs('plain');
const click: ClickEvent = { sessionId: 's1', userId: 'u9', itemId: '214536502', eventType: 'VIEW', timestamp: NOW - 5000, context: { page: 'home' } };
const key = (s: string) => Buffer.from(s, 'utf8');

function rejected(r: ClickEvent | Rejection): Rejection {
  assert.ok(r instanceof Rejection, `expected a rejection, got ${JSON.stringify(r)}`);
  return r;
}

test('a valid record comes back as the event itself, in both wire formats', () => {
  for (const fmt of ['plain', 'confluent'] as const) {
    const codecs = makeCodecs(fmt);
    const ev = decodeClickRecord(codecs, key('s1'), codecs.click.encode(click), NOW, limits);
    assert.ok(!(ev instanceof Rejection));
    assert.deepEqual({ ...ev, context: { ...ev.context } }, click);
  }
});

test('framing problems keep their kinds: empty, null, unknown Confluent schema id', () => {
  const conf = makeCodecs('confluent');
  assert.equal(rejected(decodeClickRecord(plain, key('s1'), null, NOW, limits)).kind, 'MALFORMED');
  assert.equal(rejected(decodeClickRecord(plain, key('s1'), Buffer.alloc(0), NOW, limits)).kind, 'MALFORMED');
  const other = Buffer.concat([Buffer.from([0, 0, 0, 0, 42]), plain.click.encode(click)]);
  assert.equal(rejected(decodeClickRecord(conf, key('s1'), other, NOW, limits)).kind, 'UNKNOWN_SCHEMA');
});

test('a 10 MB value is TOO_LARGE without being decoded; the cap is configurable', () => {
  // A valid click carrying a 10 MB context value: decodable, so only the cap stops it.
  const big = plain.click.encode({ ...click, context: { blob: 'x'.repeat(10 * 1024 * 1024) } });
  const t0 = performance.now();
  const r = rejected(decodeClickRecord(plain, key('s1'), big, NOW, limits));
  assert.ok(performance.now() - t0 < 5, 'refused on its length alone');
  assert.equal(r.kind, 'TOO_LARGE');
  assert.equal(r.reason, `record value is ${big.length} bytes, above the limit of 1048576`);
  const small = plain.click.encode(click);
  assert.equal(rejected(decodeClickRecord(plain, key('s1'), small, NOW, ingestLimits({ maxRecordBytes: small.length - 1 }))).kind, 'TOO_LARGE');
  assert.ok(!(decodeClickRecord(plain, key('s1'), small, NOW, ingestLimits({ maxRecordBytes: small.length })) instanceof Rejection), 'the cap is inclusive');
});

test('crafted counts are MALFORMED in milliseconds through the serving entry point too', () => {
  // sessionId s1, no user, item i1, CLICK, timestamp, context map of 2^40 entries, then nothing.
  const good = plain.click.encode({ ...click, userId: null, context: null });
  const crafted = Buffer.concat([good.subarray(0, good.length - 1), Buffer.from([0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02])]);
  const t0 = performance.now();
  assert.equal(rejected(decodeClickRecord(plain, key('s1'), crafted, NOW, limits)).kind, 'MALFORMED');
  assert.ok(performance.now() - t0 < 50);
});

test('keys: null, different, or not UTF-8 are refused with readable reasons', () => {
  const value = plain.click.encode(click);
  const none = rejected(decodeClickRecord(plain, null, value, NOW, limits));
  assert.deepEqual([none.kind, none.reason], ['KEY_MISMATCH', 'record has no key; clicks must be keyed by sessionId']);
  const other = rejected(decodeClickRecord(plain, key('s2'), value, NOW, limits));
  assert.deepEqual([other.kind, other.reason], ['KEY_MISMATCH', 'message key "s2" differs from sessionId "s1"']);
  const prefix = rejected(decodeClickRecord(plain, key('s'), value, NOW, limits));
  assert.equal(prefix.kind, 'KEY_MISMATCH', 'a prefix of the sessionId is not the sessionId');
  const longer = rejected(decodeClickRecord(plain, key('s1 '), value, NOW, limits));
  assert.equal(longer.kind, 'KEY_MISMATCH');
  const notUtf8 = rejected(decodeClickRecord(plain, Buffer.from([0x73, 0xff]), value, NOW, limits));
  assert.deepEqual([notUtf8.kind, notUtf8.reason], ['INVALID_FIELD', 'message key is not valid UTF-8 (2 bytes)']);
  const long = rejected(decodeClickRecord(plain, key('k'.repeat(5000)), value, NOW, limits));
  assert.ok(long.reason.length < 200, 'a huge key is quoted, not copied, into the reason');
  const uni = plain.click.encode({ ...click, sessionId: 'séssion-🛒' });
  assert.ok(!(decodeClickRecord(plain, key('séssion-🛒'), uni, NOW, limits) instanceof Rejection), 'a non-ASCII key equal to the sessionId');
});

test('invalid UTF-8 in an id, the key or the context is INVALID_FIELD (avsc alone would decode it lossily)', () => {
  const corrupt = (ev: ClickEvent, text: string, byte = 0xfe) => {
    const value = plain.click.encode(ev);
    value[value.indexOf(Buffer.from(text)) + 1] = byte;
    return value;
  };
  const cases: Array<[string, Buffer | null, Buffer]> = [
    ['itemId', key('s1'), corrupt({ ...click, itemId: 'ab' }, 'ab')],
    ['userId', key('s1'), corrupt({ ...click, userId: 'uvw' }, 'uvw')],
    ['context', key('s1'), corrupt({ ...click, context: { page: 'xyz' } }, 'xyz')],
    ['context', key('s1'), corrupt({ ...click, context: { qrs: 'home' } }, 'qrs', 0xc0)],
    // The key carries the same bad bytes as the sessionId, so they compare equal: still refused.
    ['sessionId', Buffer.from([0x73, 0xfe]), corrupt({ ...click, sessionId: 'sq' }, 'sq')],
  ];
  for (const [field, k, value] of cases) {
    assert.equal(plain.click.guard.checkStructure(value), null, `${field}: structurally fine`);
    const r = rejected(decodeClickRecord(plain, k, value, NOW, limits));
    assert.equal(r.kind, 'INVALID_FIELD', field);
    assert.match(r.reason, new RegExp(`^field ${field} is not valid UTF-8`));
  }
  const sent = plain.click.encode({ ...click, itemId: 'i\uFFFD', context: { '\uFFFD': '\uFFFD' } });
  const ok = decodeClickRecord(plain, key('s1'), sent, NOW, limits);
  assert.ok(!(ok instanceof Rejection) && ok.itemId === 'i\uFFFD', 'a U+FFFD the producer sent is valid UTF-8 and kept');
});

test('field checks: empty ids, long ids, too many context entries', () => {
  const dec = (ev: ClickEvent, k = ev.sessionId) => decodeClickRecord(plain, key(k), plain.click.encode(ev), NOW, limits);
  assert.deepEqual({ ...rejected(dec({ ...click, sessionId: '' }, 'x')) }, { kind: 'INVALID_FIELD', reason: 'sessionId is empty' });
  assert.equal(rejected(dec({ ...click, itemId: '' })).reason, 'itemId is empty');
  assert.equal(rejected(dec({ ...click, sessionId: 's'.repeat(300) })).kind, 'TOO_LARGE');
  assert.equal(rejected(dec({ ...click, userId: 'u'.repeat(257) })).kind, 'TOO_LARGE');
  const ctx = Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']));
  assert.deepEqual({ ...rejected(dec({ ...click, context: ctx })) }, { kind: 'TOO_LARGE', reason: 'context has 65 entries, more than 64' });
  const ctx64 = Object.fromEntries(Object.entries(ctx).slice(0, 64));
  assert.ok(!(dec({ ...click, context: ctx64 }) instanceof Rejection), '64 entries are fine');
});

test('timestamps: inside [now - maxPastMs, now + maxFutureMs] (inclusive); seconds-for-ms and far future refused', () => {
  const l = ingestLimits({ maxPastMs: 1000, maxFutureMs: 500 });
  const at = (timestamp: number, lim = l) => decodeClickRecord(plain, key('s1'), plain.click.encode({ ...click, timestamp }), NOW, lim);
  assert.ok(!(at(NOW - 1000) instanceof Rejection));
  assert.ok(!(at(NOW + 500) instanceof Rejection));
  const past = rejected(at(NOW - 1001));
  assert.equal(past.kind, 'INVALID_FIELD');
  assert.equal(past.reason, `timestamp ${NOW - 1001} (2026-06-01T11:59:58.999Z) is outside the accepted window 2026-06-01T11:59:59.000Z .. 2026-06-01T12:00:00.500Z`);
  assert.equal(rejected(at(NOW + 501)).kind, 'INVALID_FIELD');
  // The defaults: an hour of clock skew, decades of history (the demo replays 2014 data).
  assert.ok(!(at(Date.parse('2014-04-07T10:51:09Z'), limits) instanceof Rejection), 'the RecSys Challenge 2015 days replay');
  assert.equal(rejected(at(Math.floor(NOW / 1000), limits)).kind, 'INVALID_FIELD', 'epoch seconds sent as milliseconds (January 1970)');
  assert.equal(rejected(at(NOW * 1000, limits)).kind, 'INVALID_FIELD', 'microseconds sent as milliseconds');
  assert.equal(rejected(at(NOW + 3_600_001, limits)).kind, 'INVALID_FIELD');
  assert.ok(!(at(NOW + 3_600_000, limits) instanceof Rejection));
  assert.equal(rejected(at(-1, ingestLimits({ maxPastMs: Infinity }))).reason, 'timestamp -1 is not a valid epoch ms');
  assert.ok(!(at(0, ingestLimits({ maxPastMs: Infinity })) instanceof Rejection), 'Infinity turns the past bound off');
});

test('ingestLimits: defaults, overrides, and a ConfigError naming a bad field', () => {
  assert.deepEqual(ingestLimits(), { ...DEFAULT_INGEST_LIMITS });
  assert.equal(DEFAULT_INGEST_LIMITS.maxRecordBytes, 1024 * 1024);
  assert.equal(DEFAULT_INGEST_LIMITS.maxDeadLetterBytes, 1_000_000);
  assert.equal(DEFAULT_INGEST_LIMITS.maxFutureMs, 3_600_000);
  assert.equal(ingestLimits({ maxFutureMs: 0 }).maxFutureMs, 0);
  const bad: Array<Partial<Record<keyof typeof DEFAULT_INGEST_LIMITS, number>>> = [
    { maxRecordBytes: 0 },
    { maxRecordBytes: 1.5 },
    { maxPastMs: -1 },
    { maxFutureMs: Number.NaN },
    { maxDeadLetterBytes: MIN_DEAD_LETTER_BYTES - 1 },
  ];
  for (const o of bad) {
    const field = Object.keys(o)[0];
    assert.throws(
      () => ingestLimits(o),
      (e: unknown) => e instanceof ConfigError && e.field === field,
      field,
    );
  }
});
