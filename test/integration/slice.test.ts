import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'kafkajs';
import { collect, testConfig, waitFor } from '../support/kafka.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { makeCodecs, type ClickEvent } from '../../src/ingest/codec.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { CooccurrenceRecommender } from '../../src/serving/cooccurrence-recommender.ts';
import type { StreamrecConfig } from '../../src/config/config.ts';

function clicks(nSessions: number, perSession: number, from = 0): ClickEvent[] {
  const out: ClickEvent[] = [];
  for (let e = 0; e < perSession; e++)
    for (let s = 0; s < nSessions; s++)
      out.push({ sessionId: `s${s}`, userId: null, itemId: `i${(s * 7 + e + from) % 50}`, eventType: 'CLICK', timestamp: 1_700_000_000_000 + from + e, context: null });
  return out;
}

async function produce(cfg: StreamrecConfig, messages: Message[]): Promise<void> {
  const producer = createKafka(cfg, '-test-producer').producer();
  await producer.connect();
  await producer.send({ topic: cfg.topics.clicks.name, messages, acks: -1 });
  await producer.disconnect();
}

const encodeAll = (cfg: StreamrecConfig, evs: ClickEvent[]): Message[] => {
  const codec = makeCodecs(cfg.wireFormat).click;
  return evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
};

/** Every (partition, offset) of the valid input appears exactly once downstream. */
function assertExactlyOnce(cfg: StreamrecConfig, recs: Awaited<ReturnType<typeof collect>>, validCount: number): void {
  const codec = makeCodecs(cfg.wireFormat).recommendation;
  const seen = new Map<string, number>();
  for (const r of recs) {
    const rec = codec.decode(r.message.value);
    assert.equal(r.message.key?.toString(), rec.sessionId, 'recommendations are keyed by session id');
    assert.ok(rec.itemIds.length >= 1 && rec.itemIds.length <= cfg.serving.topK, 'a non-empty list of at most topK items');
    assert.equal(rec.scores.length, rec.itemIds.length);
    assert.ok(rec.latencyMs >= 0 && rec.producedAt >= rec.producedAt - rec.latencyMs);
    const k = `${rec.sourcePartition}:${rec.sourceOffset}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  const dups = [...seen].filter(([, n]) => n > 1);
  assert.deepEqual(dups, [], 'no source event has two recommendations');
  assert.equal(seen.size, validCount, 'every valid event has a recommendation');
}

for (const delivery of ['exactly-once', 'at-least-once'] as const) {
  test(`${delivery}: N events in → one recommendation per valid event; malformed → dead-letter with reasons`, async () => {
    const cfg = await testConfig(`slice-${delivery}`, (c) => (c.serving.delivery = delivery));
    const valid = clicks(30, 10);
    const codec = makeCodecs(cfg.wireFormat).click;
    const good = codec.encode(valid[0]);
    const malformed: Message[] = [
      { key: 'bad1', value: Buffer.from('definitely not avro') },
      { key: 'bad2', value: good.subarray(0, good.length - 4) },
      { key: 'bad3', value: Buffer.concat([Buffer.from([0, 0, 0, 0, 42]), good]) },
      { key: 'other-session', value: good },
      { key: 'bad5', value: codec.encode({ ...valid[0], sessionId: 'bad5', itemId: '' }) },
    ];
    const app = new ServingApp({ config: cfg, recommender: new CooccurrenceRecommender(cfg.serving.topK), instanceId: 'a', sessionTimeoutMs: 6000 });
    await app.start();
    try {
      await produce(cfg, [...encodeAll(cfg, valid.slice(0, 150)), ...malformed, ...encodeAll(cfg, valid.slice(150))]);
      await waitFor(() => app.stats.eventsIn >= valid.length + malformed.length, 60_000, 'all events served');
    } finally {
      await app.stop();
    }
    const recs = await collect(cfg, cfg.topics.recommendations.name, valid.length);
    assertExactlyOnce(cfg, recs, valid.length);
    const dlq = await collect(cfg, cfg.topics.deadLetter.name, malformed.length, { settleMs: 500 });
    const dl = makeCodecs(cfg.wireFormat).deadLetter;
    const letters = dlq.map((m) => dl.decode(m.message.value));
    assert.equal(letters.length, malformed.length);
    const byKey = new Map(letters.map((l) => [l.key?.toString(), l]));
    assert.equal(byKey.get('bad1')?.errorKind, 'MALFORMED');
    assert.equal(byKey.get('bad2')?.errorKind, 'MALFORMED');
    // Plain format reads the framed bytes as Avro and fails, or trips over trailing bytes.
    assert.equal(byKey.get('bad3')?.errorKind, 'MALFORMED');
    assert.equal(byKey.get('other-session')?.errorKind, 'KEY_MISMATCH');
    assert.equal(byKey.get('bad5')?.errorKind, 'INVALID_FIELD');
    for (const l of letters) {
      assert.ok(l.reason.length > 0, 'a reason is given');
      assert.ok(l.value && l.value.length > 0, 'the original bytes are kept');
    }
    assert.deepEqual(Buffer.from(byKey.get('bad1')!.value!), Buffer.from('definitely not avro'));
  });
}

test('confluent wire format: unknown schema id lands in the dead-letter topic as UNKNOWN_SCHEMA', async () => {
  const cfg = await testConfig('confluent', (c) => (c.wireFormat = 'confluent'));
  const valid = clicks(5, 4);
  const plainBody = makeCodecs('plain').click.encode(valid[0]);
  const app = new ServingApp({ config: cfg, recommender: new CooccurrenceRecommender(cfg.serving.topK), instanceId: 'a', sessionTimeoutMs: 6000 });
  await app.start();
  try {
    await produce(cfg, [...encodeAll(cfg, valid), { key: 's0', value: Buffer.concat([Buffer.from([0, 0, 0, 0, 77]), plainBody]) }]);
    await waitFor(() => app.stats.eventsIn >= valid.length + 1, 60_000, 'all events served');
  } finally {
    await app.stop();
  }
  assert.equal(app.stats.deadLetters.UNKNOWN_SCHEMA, 1);
  const recs = await collect(cfg, cfg.topics.recommendations.name, valid.length, { settleMs: 500 });
  assertExactlyOnce(cfg, recs, valid.length);
});

test('a restarted consumer continues from the committed offsets: nothing lost, nothing repeated', async () => {
  const cfg = await testConfig('restart');
  const first = clicks(20, 10, 0);
  const second = clicks(20, 10, 1000);
  const run = async (expectIn: number) => {
    const app = new ServingApp({ config: cfg, recommender: new CooccurrenceRecommender(cfg.serving.topK), instanceId: 'a', sessionTimeoutMs: 6000 });
    await app.start();
    try {
      await waitFor(() => app.stats.eventsIn >= expectIn, 60_000, `${expectIn} events served`);
    } finally {
      await app.stop();
    }
    return app.stats.eventsIn;
  };
  await produce(cfg, encodeAll(cfg, first));
  assert.equal(await run(first.length), first.length);
  await produce(cfg, encodeAll(cfg, second));
  // The second instance must see only the new events: the first ones were committed.
  assert.equal(await run(second.length), second.length);
  const recs = await collect(cfg, cfg.topics.recommendations.name, first.length + second.length);
  assertExactlyOnce(cfg, recs, first.length + second.length);
});
