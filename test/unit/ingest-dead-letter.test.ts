import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import avro from 'avsc';
import { StreamrecError } from '../../src/errors/errors.ts';
import {
  BATCH_OVERHEAD_BYTES,
  buildDeadLetter,
  type DeadLetterInput,
  MAX_MESSAGE_KEY_BYTES,
  MAX_REASON_CHARS,
  packDeadLetters,
  RECORD_OVERHEAD_BYTES,
} from '../../src/ingest/dead-letter.ts';
import { deadLetterType, makeCodecs } from '../../src/ingest/codec.ts';

const LIMIT = 1_000_000;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const input = (key: Buffer | null, value: Buffer | null, reason = 'why'): DeadLetterInput => ({
  sourceTopic: 'clicks',
  partition: 2,
  offset: 12345,
  key,
  value,
  kind: 'TOO_LARGE',
  reason,
  failedAt: 1_700_000_000_000,
});
/** Deterministic bytes, so that a prefix can be told from any other slice. */
const pattern = (n: number) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
};

test('a small bad record is kept whole, with its sizes and the SHA-256 of its value', () => {
  for (const fmt of ['plain', 'confluent'] as const) {
    const codecs = makeCodecs(fmt);
    const key = Buffer.from('s1');
    const value = Buffer.from([0xff, 0xff, 0xff]);
    const m = buildDeadLetter(codecs, input(key, value), LIMIT);
    assert.deepEqual(m.key, key);
    const dl = codecs.deadLetter.decode(m.value);
    assert.deepEqual(
      { ...dl },
      {
        sourceTopic: 'clicks',
        sourcePartition: 2,
        sourceOffset: 12345,
        key,
        value,
        errorKind: 'TOO_LARGE',
        reason: 'why',
        failedAt: 1_700_000_000_000,
        originalKeySize: 2,
        originalValueSize: 3,
        valueSha256: sha(value),
        truncated: false,
      },
    );
    assert.equal(codecs.deadLetter.guard.check(m.value, fmt === 'plain' ? 0 : 5), null);
  }
});

test('a 10 MB value is trimmed to fit the limit; the record keeps the original size and hash', () => {
  const codecs = makeCodecs('confluent');
  const value = pattern(10 * 1024 * 1024);
  const key = Buffer.from('session-7');
  const m = buildDeadLetter(codecs, input(key, value), LIMIT);
  assert.ok(m.value.length + m.key!.length <= LIMIT, `${m.value.length} bytes`);
  assert.ok(m.value.length > LIMIT - 400, 'the budget is used, not wasted');
  const dl = codecs.deadLetter.decode(m.value);
  assert.equal(dl.truncated, true);
  assert.deepEqual(dl.key, key, 'a small key is kept whole');
  assert.equal(dl.originalValueSize, value.length);
  assert.equal(dl.valueSha256, sha(value));
  assert.deepEqual(dl.value, value.subarray(0, dl.value!.length), 'the value kept is a prefix of the original');
});

test('a huge key and a huge value share the budget; the message key is dropped when too long', () => {
  const codecs = makeCodecs('plain');
  const key = pattern(3 * 1024 * 1024);
  const value = pattern(5 * 1024 * 1024);
  const m = buildDeadLetter(codecs, input(key, value), LIMIT);
  assert.equal(m.key, null, `a key over ${MAX_MESSAGE_KEY_BYTES} bytes is not reused as the message key`);
  assert.ok(m.value.length <= LIMIT);
  const dl = codecs.deadLetter.decode(m.value);
  assert.equal(dl.truncated, true);
  assert.equal(dl.originalKeySize, key.length);
  assert.ok(Math.abs(dl.key!.length - dl.value!.length) <= 1, 'half each');
  assert.deepEqual(dl.key, key.subarray(0, dl.key!.length));
  // A small value next to a huge key is kept whole.
  const small = Buffer.from('tiny');
  const dl2 = codecs.deadLetter.decode(buildDeadLetter(codecs, input(key, small), LIMIT).value);
  assert.deepEqual(dl2.value, small);
  assert.ok(dl2.key!.length > LIMIT - 1000);
});

test('every size around the limit fits, and nothing is trimmed that did fit', () => {
  const codecs = makeCodecs('confluent');
  const limit = 10_000;
  const key = Buffer.from('k'.repeat(40));
  for (let n = limit - 400; n <= limit + 50; n++) {
    const value = pattern(n);
    const m = buildDeadLetter(codecs, input(key, value), limit);
    const total = m.value.length + (m.key?.length ?? 0);
    assert.ok(total <= limit, `value of ${n} bytes gave ${total}`);
    const dl = codecs.deadLetter.decode(m.value);
    if (!dl.truncated) assert.equal(dl.value!.length, n);
    else assert.ok(total > limit - 16, `value of ${n}: trimmed to ${total}, more than needed`);
  }
});

test('null key and value, long reasons clipped, a limit too small refused loudly', () => {
  const codecs = makeCodecs('plain');
  const m = buildDeadLetter(codecs, input(null, null, 'r'.repeat(50_000)), LIMIT);
  assert.equal(m.key, null);
  const dl = codecs.deadLetter.decode(m.value);
  assert.deepEqual([dl.key, dl.value, dl.originalKeySize, dl.originalValueSize, dl.valueSha256, dl.truncated], [null, null, null, null, null, false]);
  assert.equal(dl.reason, `${'r'.repeat(MAX_REASON_CHARS)}… (50000 characters)`);
  assert.throws(
    () => buildDeadLetter(codecs, input(Buffer.from('k'), pattern(100), 'x'.repeat(900)), 200),
    (e: unknown) => e instanceof StreamrecError && /exceeds its limit of 200/.test(e.message),
  );
});

test('schema evolution: old and new dead-letter readers and writers understand each other', () => {
  const oldType = avro.Type.forSchema({
    type: 'record',
    name: 'DeadLetter',
    namespace: 'streamrec',
    fields: [
      { name: 'sourceTopic', type: 'string' },
      { name: 'sourcePartition', type: 'int' },
      { name: 'sourceOffset', type: 'long' },
      { name: 'key', type: ['null', 'bytes'], default: null },
      { name: 'value', type: ['null', 'bytes'], default: null },
      { name: 'errorKind', type: { type: 'enum', name: 'ErrorKind', symbols: ['MALFORMED', 'UNKNOWN_SCHEMA', 'INVALID_FIELD', 'UNKNOWN_ITEM', 'TOO_LARGE', 'KEY_MISMATCH'] } },
      { name: 'reason', type: 'string' },
      { name: 'failedAt', type: 'long' },
    ],
  });
  const old = { sourceTopic: 't', sourcePartition: 0, sourceOffset: 7, key: Buffer.from('k'), value: Buffer.from([1]), errorKind: 'MALFORMED', reason: 'why', failedAt: 3 };
  const upgraded = deadLetterType.fromBuffer(oldType.toBuffer(old), deadLetterType.createResolver(oldType));
  assert.deepEqual({ ...upgraded }, { ...old, originalKeySize: null, originalValueSize: null, valueSha256: null, truncated: false });
  const fresh = buildDeadLetter(makeCodecs('plain'), input(Buffer.from('k'), pattern(2_000_000)), LIMIT).value;
  const downgraded = oldType.fromBuffer(fresh, oldType.createResolver(deadLetterType));
  assert.equal(downgraded.errorKind, 'TOO_LARGE');
  assert.equal(downgraded.reason, 'why');
});

test('packDeadLetters: groups fit one record batch of the topic limit, in order; the default dead letter fits alone', () => {
  const codecs = makeCodecs('plain');
  const big = () => buildDeadLetter(codecs, input(Buffer.from('s'), pattern(3_000_000)), LIMIT);
  const small = buildDeadLetter(codecs, input(Buffer.from('s'), Buffer.from('x')), LIMIT);
  const topicMax = 1_048_576;
  const msgs = [small, big(), small, small, big(), big(), small];
  const groups = packDeadLetters(msgs, topicMax);
  assert.deepEqual(groups.flat(), msgs, 'order kept, nothing lost');
  assert.deepEqual(
    groups.map((g) => g.length),
    [4, 1, 2],
    'one ~1 MB letter per batch, small ones fill in',
  );
  for (const g of groups) {
    const bytes = g.reduce((s, m) => s + (m.key?.length ?? 0) + m.value.length + RECORD_OVERHEAD_BYTES, BATCH_OVERHEAD_BYTES);
    assert.ok(bytes <= topicMax, `group of ${bytes} bytes`);
  }
  assert.deepEqual(packDeadLetters([], topicMax), []);
});
