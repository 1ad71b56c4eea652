/**
 * Serving on the confluent client (kafka.client: confluent), end to end on the real broker: two
 * serving processes share the partitions (a rebalance with state restore), one is SIGKILLed
 * mid-stream and replaced under the same instance id (fencing its open transaction), and the
 * committed output equals an uninterrupted run's, one recommendation per event. The kafkajs
 * client runs the same drill in gru-serving.test.ts (and the whole suite runs on confluent with
 * STREAMREC_KAFKA__CLIENT=confluent npm test -- integration).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StreamrecConfig } from '../../src/config/config.ts';
import { type ClickEvent, makeCodecs } from '../../src/ingest/codec.ts';
import { confluentAvailability } from '../../src/kafka/confluent-client.ts';
import { createKafkaClient } from '../../src/kafka/create-client.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { childServer, clickWave } from '../support/drills.ts';
import { collect, recommendationsByEvent, testConfig, waitFor } from '../support/kafka.ts';
import { TEST_ARCH, testItemIds } from '../support/serve-child.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const confluent = confluentAvailability();
const skip = confluent.available ? false : `confluent client unavailable: ${confluent.reason}`;
const CONFLUENT = { STREAMREC_KAFKA__CLIENT: 'confluent' };
const onConfluent = (c: StreamrecConfig) => void (c.kafka.client = 'confluent');

async function produce(cfg: StreamrecConfig, evs: ClickEvent[], rate = 0): Promise<void> {
  const codec = makeCodecs(cfg.wireFormat).click;
  const producer = createKafkaClient(cfg, '-test-producer').producer({ idempotent: true });
  await producer.connect();
  const msgs = evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
  const step = rate > 0 ? Math.max(1, Math.round(rate / 20)) : msgs.length;
  for (let i = 0; i < msgs.length; i += step) {
    await producer.sendBatch([{ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + step) }]);
    if (rate > 0) await new Promise((r) => setTimeout(r, 50));
  }
  await producer.disconnect();
}

test('confluent: SIGKILL mid-stream between two serving processes: restored states, one committed recommendation per event, as an uninterrupted run', { skip }, async () => {
  const all = clickWave(40, 10, 0);
  // The reference: one in-process instance on the confluent client, never interrupted.
  const refCfg = await testConfig('confluent-ref', onConfluent);
  const ref = new ServingApp({
    config: refCfg,
    recommender: await buildGru4RecRecommender(refCfg, syntheticWeights(TEST_ARCH, 3), testItemIds, 'synthetic-v1', () => undefined),
    instanceId: 'ref',
    sessionTimeoutMs: 6000,
    log: () => undefined,
  });
  await ref.start();
  await produce(refCfg, all);
  await waitFor(() => ref.stats.eventsIn >= all.length, 90_000, 'reference run');
  await ref.stop();
  const expected = recommendationsByEvent(refCfg, await collect(refCfg, refCfg.topics.recommendations.name, all.length, { settleMs: 500 }));
  assert.equal(expected.size, all.length);

  const cfg = await testConfig('confluent-kill', onConfluent);
  const a = childServer(cfg, 'a', CONFLUENT);
  const b = childServer(cfg, 'b', CONFLUENT);
  await Promise.all([a.ready, b.ready]);
  let producingDone = false;
  const producing = produce(cfg, all, 150).then(() => void (producingDone = true));
  await waitFor(() => b.served() > 40, 60_000, 'B to serve some events');
  b.proc.kill('SIGKILL');
  assert.equal(producingDone, false, 'the kill happens mid-stream');
  await new Promise((r) => b.proc.once('exit', r));
  const b2 = childServer(cfg, 'b', CONFLUENT); // same instance id: fences the dead one's open transaction
  await b2.ready;
  await producing;
  const got = recommendationsByEvent(cfg, await collect(cfg, cfg.topics.recommendations.name, all.length, { timeoutMs: 120_000, settleMs: 3000 }));
  for (const c of [a, b2]) {
    c.proc.kill('SIGTERM');
    await c.exited;
  }
  assert.ok(a.restored() + b2.restored() > 0, 'partitions moved between processes with their states restored from the changelog');
  assert.equal(got.size, expected.size, 'one committed recommendation per event');
  for (const [k, r] of expected) {
    const g = got.get(k);
    assert.ok(g, `missing recommendation for ${k}`);
    assert.deepEqual(g.itemIds, r.itemIds, `${k}: restored session state recommends differently`);
  }
});
