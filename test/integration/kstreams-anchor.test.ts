/**
 * The passthrough anchors of bench:passthrough / bench:serve on the real broker: the Kafka
 * Streams EOS-v2 program and the bare kafkajs rows must deliver every click (exactly once where
 * they claim it), and the downstream check that the bench asserts must see what is wrong.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertDelivered, benchKafka, checkDownstream, createTopic, passthroughClick, preloadClicks, runKafkajsPassthrough, type Preloaded } from '../../bench/passthrough.ts';
import { kafkaStreamsUnavailable, runKafkaStreamsPassthrough } from '../../bench/kstreams/kafka-streams-anchor.ts';
import { makeCodecs } from '../../src/ingest/codec.ts';
import { brokers } from '../support/kafka.ts';

const EVENTS = 5_000;
const EXACT = { received: EVENTS, distinct: EVENTS, duplicates: 0, missing: 0, foreign: 0 };
let counter = 0;
const tag = (name: string) => `t-${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

let input: Preloaded | null = null;
async function sharedInput(): Promise<{ b: string; input: Preloaded }> {
  const b = await brokers();
  input ??= await preloadClicks(benchKafka(b), `${tag('anchor')}-clicks`, EVENTS, 3);
  return { b, input };
}

const noJdk = kafkaStreamsUnavailable();
test('Kafka Streams EOS-v2 passthrough delivers every click exactly once', { skip: noJdk ?? false, timeout: 240_000 }, async () => {
  const { b, input } = await sharedInput();
  const kafka = benchKafka(b);
  const id = tag('kstreams');
  await createTopic(kafka, `${id}-out`, 3);
  const r = await runKafkaStreamsPassthrough({ brokers: b, input: input.topic, output: `${id}-out`, applicationId: id, commitIntervalMs: 100 });
  assert.equal(r.events, EVENTS);
  assert.ok(r.processed >= EVENTS);
  assert.ok(r.seconds > 0 && r.eventsPerSec > 0);
  assert.ok(r.commits >= 1);
  assert.match(r.kafkaStreamsVersion, /^3\.9\./);
  assert.deepEqual(await settledCheck(() => checkDownstream(kafka, `${id}-out`, input)), EXACT);
});

test('bare kafkajs passthrough: exactly once per 256-record transaction, at least once with produce + commit', { timeout: 240_000 }, async () => {
  const { b, input } = await sharedInput();
  const kafka = benchKafka(b);
  for (const guarantee of ['exactly-once', 'at-least-once'] as const) {
    const id = tag(guarantee);
    await createTopic(kafka, `${id}-out`, 3);
    const r = await runKafkajsPassthrough(kafka, { input, output: `${id}-out`, groupId: id, guarantee, chunk: 256 });
    assert.equal(r.events, EVENTS, guarantee);
    // Chunks are cut per partition's fetched batch, so a chunk holds at most 256 records.
    assert.ok(r.commits >= Math.ceil(EVENTS / 256), `${guarantee}: ${r.commits} commits`);
    const check = await settledCheck(() => checkDownstream(kafka, `${id}-out`, input));
    // No crash happens here, so at-least-once delivers exactly once too.
    assert.deepEqual(check, EXACT, guarantee);
    assert.doesNotThrow(() => assertDelivered(id, guarantee, check, EVENTS));
  }
});

test('bare kafkajs passthrough with one transaction per 100 ms delivers every click exactly once', { timeout: 240_000 }, async () => {
  const { b, input } = await sharedInput();
  const kafka = benchKafka(b);
  const id = tag('eos-interval');
  await createTopic(kafka, `${id}-out`, 3);
  const r = await runKafkajsPassthrough(kafka, { input, output: `${id}-out`, groupId: id, guarantee: 'exactly-once', chunk: 256, commitIntervalMs: 100 });
  assert.equal(r.events, EVENTS);
  // Transactions span chunks: fewer commits than chunks, at least the final one.
  assert.ok(r.commits >= 1 && r.commits < Math.ceil(EVENTS / 256), `${r.commits} commits`);
  assert.deepEqual(await settledCheck(() => checkDownstream(kafka, `${id}-out`, input)), EXACT);
  await assert.rejects(
    runKafkajsPassthrough(kafka, { input, output: `${id}-out`, groupId: `${id}-alo`, guarantee: 'at-least-once', chunk: 256, commitIntervalMs: 100 }),
    /exactly-once passthrough only/,
  );
});

test('the downstream check counts duplicates, missing clicks and foreign records', { timeout: 120_000 }, async () => {
  const b = await brokers();
  const kafka = benchKafka(b);
  const topic = `${tag('check')}-out`;
  await createTopic(kafka, topic, 3);
  const baseMs = Date.now() - 1_000;
  const codec = makeCodecs('plain').click;
  const click = (i: number) => {
    const c = passthroughClick(i, baseMs);
    return { key: c.sessionId, value: codec.encode(c) };
  };
  // Clicks 0..99 of a 120-click stream, 0..49 once more, and a record that is no click.
  const messages = [...Array.from({ length: 100 }, (_, i) => click(i)), ...Array.from({ length: 50 }, (_, i) => click(i)), { key: 'x', value: Buffer.from('not avro') }];
  const producer = kafka.producer();
  await producer.connect();
  await producer.send({ topic, messages, acks: -1 });
  await producer.disconnect();
  const check = await checkDownstream(kafka, topic, { topic: 'unused', events: 120, baseMs, meanValueBytes: 60 });
  assert.deepEqual(check, { received: 151, distinct: 100, duplicates: 50, missing: 20, foreign: 1 });
  assert.throws(() => assertDelivered('t', 'at-least-once', check, 120), /at-least-once does not allow/);
  assert.throws(() => assertDelivered('t', 'exactly-once', { ...check, missing: 0, foreign: 0 }, 120), /exactly-once does not allow/);
});

/**
 * The downstream check, repeated while records are missing (for at most 10 s): a transaction's
 * commit markers are written by the coordinator after commit() returns, so a read_committed
 * reader can briefly see the last transaction as still open. Duplicates never settle away.
 */
async function settledCheck<T extends { missing: number }>(check: () => Promise<T>): Promise<T> {
  let r = await check();
  for (let i = 0; i < 20 && r.missing > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    r = await check();
  }
  return r;
}
