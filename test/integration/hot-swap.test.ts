import assert from 'node:assert/strict';
import test from 'node:test';
import { makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { buildGru4RecRecommender, prepareModel } from '../../src/serving/create-recommender.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { clickWave } from '../support/drills.ts';
import { collect, testConfig, waitFor } from '../support/kafka.ts';
import { TEST_ARCH, testItemIds } from '../support/serve-child.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

test('hot swap under a steady stream: exactly one recommendation per click, versions never go back, no batch mixes versions', async () => {
  const cfg = await testConfig('hot-swap');
  const evs = clickWave(40, 15);
  const quiet = () => undefined;
  const rec = await buildGru4RecRecommender(cfg, syntheticWeights(TEST_ARCH, 3), testItemIds, 'v1', quiet);
  const app = new ServingApp({ config: cfg, recommender: rec, instanceId: 'a', sessionTimeoutMs: 6000, log: quiet });
  const swaps: string[] = [];
  app.events.on('modelSwapped', (r) => swaps.push(r.to));
  await app.start();
  const codec = makeCodecs(cfg.wireFormat).click;
  const producer = createKafka(cfg, '-test-producer').producer();
  await producer.connect();
  const msgs = evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
  const producing = (async () => {
    for (let i = 0; i < msgs.length; i += 20) {
      await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + 20), acks: -1 });
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  for (const [version, seed] of [
    ['v2', 4],
    ['v3', 5],
  ] as const) {
    await waitFor(() => app.stats.eventsIn >= (version === 'v2' ? 150 : 350), 60_000, `traffic before ${version}`);
    const report = await app.swapModel(version, () => prepareModel(cfg, syntheticWeights(TEST_ARCH, seed), testItemIds, version, quiet));
    assert.ok(report && report.sessions > 0, `${version} swapped with live sessions re-encoded`);
  }
  await producing;
  await producer.disconnect();
  await waitFor(() => app.stats.eventsIn >= msgs.length, 60_000, 'all served');
  await app.stop();
  assert.deepEqual(swaps, ['v2', 'v3']);
  const recCodec = makeCodecs(cfg.wireFormat).recommendation;
  const recs: Recommendation[] = (await collect(cfg, cfg.topics.recommendations.name, evs.length, { settleMs: 1000 })).map((r) => recCodec.decode(r.message.value));
  const keys = new Set(recs.map((r) => `${r.sessionId}@${r.eventTimestamp}`));
  assert.equal(recs.length, evs.length, 'one recommendation per click');
  assert.equal(keys.size, evs.length, 'no duplicates');
  const byBatch = new Map<number, Set<string>>();
  const lastVersion = new Map<number, string>();
  for (const r of [...recs].sort((a, b) => a.sourceOffset - b.sourceOffset)) {
    const v = byBatch.get(r.producedAt) ?? new Set();
    v.add(r.modelVersion);
    byBatch.set(r.producedAt, v);
    const prev = lastVersion.get(r.sourcePartition);
    assert.ok(prev === undefined || prev <= r.modelVersion, `partition ${r.sourcePartition}: ${prev} then ${r.modelVersion}`);
    lastVersion.set(r.sourcePartition, r.modelVersion);
  }
  for (const [at, versions] of byBatch) assert.equal(versions.size, 1, `batch produced at ${at} mixes ${[...versions]}`);
  assert.deepEqual(new Set(recs.map((r) => r.modelVersion)), new Set(['v1', 'v2', 'v3']));
});
