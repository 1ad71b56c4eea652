import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/random/rng.ts';
import avro from 'avsc';
import { AvroGuard, MAX_NESTING, MAX_ZERO_SIZE_ITEMS } from '../../src/ingest/avro-guard.ts';
import { DecodeError, makeCodecs, clickEventType, type ClickEvent } from '../../src/ingest/codec.ts';
import { Rejection } from '../../src/ingest/rejection.ts';

/** Avro zig-zag varint of any 64-bit value. */
export function varint(n: bigint): number[] {
  let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
  const out: number[] = [];
  while (z >= 0x80n) {
    out.push(Number(z & 0x7fn) | 0x80);
    z >>= 7n;
  }
  out.push(Number(z));
  return out;
}
const str = (s: string) => [...varint(BigInt(Buffer.byteLength(s))), ...Buffer.from(s)];

/** A click up to (not including) its context field: sessionId s1, no user, item i1, CLICK, a 2023 timestamp. */
const HEAD = [...str('s1'), 0, ...str('i1'), 0, ...varint(1_700_000_000_000n)];
/** A click whose context map opens with a block that claims `count` entries and then stops. */
const lyingMap = (count: bigint, extra: number[] = []) => Buffer.from([...HEAD, 2, ...varint(count), ...extra]);

const click: ClickEvent = { sessionId: 's1', userId: null, itemId: 'i1', eventType: 'CLICK', timestamp: 1_700_000_000_000, context: { page: 'home', ab: 'b' } };

test('the crafted record layout matches what avsc writes', () => {
  const c = makeCodecs('plain').click;
  assert.deepEqual([...c.encode({ ...click, context: null })], [...HEAD, 0]);
});

test('a map block claiming 2^31, 2^40 or 2^62 entries is refused as MALFORMED in milliseconds, before avsc loops', () => {
  // Before the guard, avsc looped once per claimed entry: 2^31 took minutes, 2^40 more than ten.
  const c = makeCodecs('plain').click;
  for (const count of [2n ** 31n, 2n ** 40n, 2n ** 62n, -(2n ** 31n), 2n ** 63n - 1n]) {
    for (const extra of [[], [0, 0, 0, 0, 0, 0, 0]]) {
      const buf = lyingMap(count, count < 0n ? [...varint(4n), ...extra] : extra);
      assert.ok(buf.length <= 40);
      const t0 = performance.now();
      assert.throws(
        () => c.decode(buf),
        (e: unknown) => e instanceof DecodeError && e.deadLetterKind === 'MALFORMED' && /field context: block/.test(e.message),
        `count ${count}`,
      );
      const ms = performance.now() - t0;
      assert.ok(ms < 50, `count ${count} took ${ms.toFixed(1)} ms`);
    }
  }
});

test('string and bytes lengths beyond the buffer are refused without reading or allocating them', () => {
  const c = makeCodecs('plain').click;
  for (const len of [3n, 2n ** 31n, 2n ** 40n, 2n ** 62n]) {
    const buf = Buffer.from([...varint(len), 0x61, 0x62]);
    const r = c.tryDecode(buf);
    assert.ok(r instanceof Rejection && r.kind === 'MALFORMED', `length ${len}`);
    assert.match(r.reason, /field sessionId: string\/bytes length \d+ exceeds the 2 bytes left/);
  }
  const neg = c.tryDecode(Buffer.from([...varint(-5n), 0x61]));
  assert.ok(neg instanceof Rejection && /negative string\/bytes length -5/.test(neg.reason));
});

test('negative block counts: the byte size must fit and agree with the items', () => {
  const c = makeCodecs('plain').click;
  const entry = [...str('k'), ...str('v')]; // 4 bytes
  const good = Buffer.from([...HEAD, 2, ...varint(-1n), ...varint(4n), ...entry, 0]);
  const ev = c.decode(good);
  assert.deepEqual({ ...ev.context }, { k: 'v' }, 'a block with a byte size (as Java writers may emit) decodes');
  const wrongSize = Buffer.from([...HEAD, 2, ...varint(-1n), ...varint(3n), ...entry, 0]);
  assert.throws(() => c.decode(wrongSize), /block byte size disagrees with its items/);
  const hugeSize = Buffer.from([...HEAD, 2, ...varint(-1n), ...varint(2n ** 40n), ...entry, 0]);
  assert.throws(() => c.decode(hugeSize), /block byte size \d+ is outside the 5 bytes left/);
});

test('union and enum indexes must name a branch or symbol; varints have at most 5 (int) or 10 (long) bytes', () => {
  const c = makeCodecs('plain').click;
  const badUnion = Buffer.from([...str('s1'), ...varint(2n), 0]);
  assert.match((c.tryDecode(badUnion) as Rejection).reason, /field userId: union branch index 2 is not in \[0, 2\)/);
  const badEnum = Buffer.from([...str('s1'), 0, ...str('i1'), ...varint(4n), ...varint(1n), 0]);
  assert.match((c.tryDecode(badEnum) as Rejection).reason, /field eventType: enum streamrec.EventType index 4 is not in \[0, 4\)/);
  const longVarint = Buffer.from([...str('s1'), 0, ...str('i1'), 0, ...Array(10).fill(0xff), 0x01, 0]);
  assert.match((c.tryDecode(longVarint) as Rejection).reason, /field timestamp: varint longer than the 10 bytes/);
  const unsafe = Buffer.from([...str('s1'), 0, ...str('i1'), 0, ...varint(2n ** 60n), 0]);
  assert.match((c.tryDecode(unsafe) as Rejection).reason, /field timestamp: long \d+ is beyond ±2\^53/);
  const truncated = Buffer.from([...str('s1'), 0, ...str('i1'), 0, 0x80]);
  assert.match((c.tryDecode(truncated) as Rejection).reason, /field timestamp: truncated: varint cut after 1 bytes/);
  const trailing = Buffer.from([...HEAD, 0, 7]);
  assert.match((c.tryDecode(trailing) as Rejection).reason, /value: 1 trailing bytes after the value/);
});

test('int range, boolean bytes and fixed sizes in other schemas', () => {
  const t = avro.Type.forSchema({
    type: 'record',
    name: 'T',
    fields: [
      { name: 'i', type: 'int' },
      { name: 'b', type: 'boolean' },
      { name: 'f', type: { type: 'fixed', name: 'F', size: 4 } },
      { name: 'd', type: 'double' },
      { name: 'xs', type: { type: 'array', items: 'float' } },
    ],
  });
  const g = new AvroGuard(t);
  const ok = t.toBuffer({ i: -7, b: true, f: Buffer.from([1, 2, 3, 4]), d: 1.5, xs: [1, 2, 3] });
  assert.equal(g.check(ok), null);
  assert.equal(g.fieldItems[4], 3, 'array length recorded for the top-level field');
  assert.equal(g.minBytes, 1 + 1 + 4 + 8 + 1);
  const bigInt = Buffer.from([...varint(2n ** 31n), ...ok.subarray(1)]);
  assert.match(g.check(bigInt)!.reason, /field i: int 2147483648 is out of the 32-bit range/);
  const bool2 = Buffer.from(ok);
  bool2[1] = 2;
  assert.match(g.check(bool2)!.reason, /field b: boolean byte 2 is neither 0 nor 1/);
  assert.match(g.check(ok.subarray(0, 4))!.reason, /field f: truncated: a fixed-size value needs 4 bytes, 2 left/);
  const floats = Buffer.from([...ok.subarray(0, 14), ...varint(2n ** 40n)]);
  assert.match(g.check(floats)!.reason, /field xs: block count 1099511627776 needs at least 4398046511104 bytes/);
});

test('arrays of zero-size items: valid ones pass, but not more than MAX_ZERO_SIZE_ITEMS per value', () => {
  const t = avro.Type.forSchema({ type: 'array', items: 'null' });
  const g = new AvroGuard(t);
  assert.equal(g.check(t.toBuffer([null, null, null])), null, 'three nulls in two bytes are valid Avro');
  assert.equal(g.check(Buffer.from([...varint(BigInt(MAX_ZERO_SIZE_ITEMS)), 0])), null);
  // Split into blocks, the allowance still holds for the value as a whole.
  assert.ok(g.check(Buffer.from([...varint(BigInt(MAX_ZERO_SIZE_ITEMS)), ...varint(1n), 0])) instanceof Rejection);
  const t0 = performance.now();
  assert.match(g.check(Buffer.from([...varint(2n ** 62n), 0]))!.reason, /zero-size items exceeds the 65536 allowed/);
  assert.ok(performance.now() - t0 < 50);
});

test('recursive schemas: nesting is bounded, so a deep record cannot exhaust the stack', () => {
  const t = avro.Type.forSchema({ type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }] });
  const g = new AvroGuard(t);
  const nest = (depth: number): unknown => (depth === 0 ? { next: null } : { next: nest(depth - 1) });
  assert.equal(g.check(t.toBuffer(nest(MAX_NESTING - 2))), null);
  const deep = Buffer.from([...Array(100_000).fill(2), 0]);
  assert.match(g.check(deep)!.reason, /nesting deeper than 64 levels/);
});

test('invalid UTF-8 in any string is INVALID_FIELD naming the field; avsc alone would have replaced it with U+FFFD', () => {
  const c = makeCodecs('plain').click;
  const bad = Buffer.from([...str('s1'), 0, 0x04, 0x69, 0xff, 0, ...varint(1_700_000_000_000n), 0]);
  assert.equal((clickEventType.decode(bad, 0).value as ClickEvent).itemId, 'i\uFFFD', 'the defect: a lossy decode');
  const r = c.tryDecode(bad);
  assert.ok(r instanceof Rejection);
  assert.equal(r.kind, 'INVALID_FIELD');
  assert.equal(r.reason, 'field itemId is not valid UTF-8 (at byte 6 of 15)');
  const badContextValue = Buffer.from([...HEAD, 2, ...varint(1n), ...str('k'), 0x02, 0xc0, 0]);
  assert.equal((c.tryDecode(badContextValue) as Rejection).reason.startsWith('field context is not valid UTF-8'), true);
  const realReplacement = c.encode({ ...click, itemId: 'i\uFFFD' });
  assert.equal(c.decode(realReplacement).itemId, 'i\uFFFD', 'a producer-sent U+FFFD is valid UTF-8 and kept');
});

test('top-level string slots point at the raw payload; null branches leave -1', () => {
  const c = makeCodecs('plain').click;
  const buf = c.encode({ ...click, sessionId: 'sessión-9', userId: null });
  const g = c.guard;
  assert.equal(g.check(buf), null);
  const at = g.fieldNames.indexOf('sessionId');
  assert.equal(buf.toString('utf8', g.fieldStart[at], g.fieldStart[at] + g.fieldLength[at]), 'sessión-9');
  assert.equal(g.fieldLength[g.fieldNames.indexOf('userId')], -1);
  assert.equal(g.fieldItems[g.fieldNames.indexOf('context')], 2);
  assert.equal(g.check(c.encode({ ...click, context: null })), null);
  assert.equal(g.fieldItems[g.fieldNames.indexOf('context')], -1);
});

test('fuzz: whatever the guard passes, avsc decodes exactly; valid records always pass; every check is fast', () => {
  const c = makeCodecs('plain').click;
  const random = seededRandom(99);
  const next = () => Math.floor(random() * 2 ** 24);
  const alphabet = ['a', 'é', '日', '🛒', '\uFFFD', '0', '-'];
  const word = () => Array.from({ length: next() % 12 }, () => alphabet[next() % alphabet.length]).join('');
  let passed = 0;
  let refused = 0;
  let worst = 0;
  for (let n = 0; n < 3000; n++) {
    const ctx: Record<string, string> = {};
    for (let k = next() % 5; k > 0; k--) ctx[word()] = word();
    const ev: ClickEvent = {
      sessionId: word() || 's',
      userId: next() % 2 ? word() : null,
      itemId: word() || 'i',
      eventType: (['CLICK', 'VIEW', 'ADD_TO_CART', 'PURCHASE'] as const)[next() % 4],
      timestamp: next() * 1000,
      context: next() % 3 ? ctx : null,
    };
    const buf = c.encode(ev);
    assert.equal(c.guard.check(buf), null, 'a valid record passes');
    // Corrupt 1-2 bytes (or cut the record short) and compare the guard's verdict with avsc's.
    // Small values and ASCII letters keep many corruptions well-formed, so both verdicts occur.
    const bad = Buffer.from(buf);
    for (let k = 1 + (next() % 2); k > 0; k--) bad[next() % bad.length] = next() % 4 === 0 ? next() & 0xff : [0, 1, 2, 3, 4, 0x61, 0x7f][next() % 7];
    const cut = next() % 4 === 0 ? bad.subarray(0, next() % bad.length) : bad;
    const t0 = performance.now();
    const verdict = c.guard.check(cut);
    worst = Math.max(worst, performance.now() - t0);
    if (verdict === null) {
      passed++;
      const res = clickEventType.decode(cut, 0);
      assert.equal(res.offset, cut.length, `guard passed ${cut.toString('hex')} but avsc disagrees`);
    } else refused++;
  }
  assert.ok(passed > 100 && refused > 100, `both verdicts exercised (${passed} passed, ${refused} refused)`);
  assert.ok(worst < 20, `slowest check ${worst.toFixed(2)} ms`);
});

test('recommendation and dead-letter encodings pass their guards', () => {
  const c = makeCodecs('confluent');
  const rec = {
    sessionId: 's',
    sourceTopic: 't',
    sourcePartition: 1,
    sourceOffset: 9,
    eventTimestamp: 1,
    itemIds: ['a', 'b'],
    scores: [0.5, 0.25],
    modelVersion: 'v',
    modelDelta: 4,
    producedAt: 2,
    latencyMs: 1,
  };
  assert.deepEqual({ ...c.recommendation.decode(c.recommendation.encode(rec)) }, rec);
  const bytes = c.recommendation.encode(rec);
  assert.equal(c.recommendation.guard.check(bytes, 5), null);
});
