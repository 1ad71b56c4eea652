import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { announceModel, ModelUpdatesFollower } from '../../src/registry/model-updates.ts';
import { createRecommender } from '../../src/serving/create-recommender.ts';
import { ModelFollower } from '../../src/serving/model-follower.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { clickWave } from '../support/drills.ts';
import { collect, testConfig, waitFor } from '../support/kafka.ts';
import { TEST_ARCH, testItemIds } from '../support/serve-child.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

test('serving follows model-updates: promoted versions are hot-swapped in, a corrupt one is refused and serving goes on', async () => {
  const root = mkdtempSync(join(tmpdir(), 'streamrec-registry-swap-'));
  const cfg = await testConfig('registry-swap', (c) => {
    c.model = { ...c.model, kind: 'registry' };
    c.registry = { path: root };
  });
  const quiet = () => undefined;
  const registry = new ModelRegistry(root);
  const publish = (seed: number, parent: number | null) => registry.publish({ weights: syntheticWeights(TEST_ARCH, seed), itemIds: testItemIds, config: null, parent });
  const v1 = await publish(3, null);
  await registry.promote(v1.version);
  const kafka = createKafka(cfg, '-test-admin');
  const announce = async (version: number) => {
    const m = await registry.load(version);
    await announceModel(kafka, cfg.topics.modelUpdates.name, { version, vocabularyHash: m.vocabularyHash, weightsHash: m.weightsHash, announcedAt: Date.now() });
  };
  const rec = await createRecommender(cfg, quiet);
  assert.equal(rec.version, 'v1');
  const app = new ServingApp({ config: cfg, recommender: rec, instanceId: 'a', sessionTimeoutMs: 6000, log: quiet });
  const swapped: string[] = [];
  const refused: string[] = [];
  app.events.on('modelSwapped', (r) => swapped.push(r.to));
  app.events.on('swapRefused', (r) => refused.push(`${r.version}: ${r.reason}`));
  await app.start();
  const follower = new ModelFollower(app, registry, new ModelUpdatesFollower(kafka, cfg.topics.modelUpdates.name, quiet), cfg, () => rec.version);
  await follower.start();

  const evs = clickWave(40, 12);
  const codec = makeCodecs(cfg.wireFormat).click;
  const producer = kafka.producer();
  await producer.connect();
  const msgs = evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
  const producing = (async () => {
    for (let i = 0; i < msgs.length; i += 20) {
      await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + 20), acks: -1 });
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  await waitFor(() => app.stats.eventsIn >= 100, 60_000, 'traffic on v1');
  const v2 = await publish(4, v1.version);
  await registry.promote(v2.version);
  await announce(v2.version);
  await waitFor(() => swapped.includes('v2'), 60_000, 'v2 swapped in');
  // v3 is published, then one weight byte flips on disk: the swap is refused, v2 keeps serving.
  const v3 = await publish(5, v2.version);
  const goodHash = (await registry.load(v3.version)).weightsHash;
  const bin = join(v3.dir, 'weights.bin');
  const bytes = readFileSync(bin);
  bytes[100] ^= 0xff;
  writeFileSync(bin, bytes);
  await announceModel(kafka, cfg.topics.modelUpdates.name, { version: v3.version, vocabularyHash: v3.vocabularyHash, weightsHash: goodHash, announcedAt: Date.now() });
  await waitFor(() => refused.length > 0, 60_000, 'v3 refused');
  assert.match(refused[0], /^v3: .*weights\.bin.*SHA-256/);
  await producing;
  await producer.disconnect();
  await waitFor(() => app.stats.eventsIn >= msgs.length, 60_000, 'all served');
  assert.equal(app.health().alive, true);
  assert.equal(rec.version, 'v2');
  await follower.stop();
  await app.stop();
  const recCodec = makeCodecs(cfg.wireFormat).recommendation;
  const recs: Recommendation[] = (await collect(cfg, cfg.topics.recommendations.name, evs.length, { settleMs: 1000 })).map((r) => recCodec.decode(r.message.value));
  assert.equal(recs.length, evs.length, 'exactly one recommendation per click');
  assert.equal(new Set(recs.map((r) => `${r.sessionId}@${r.eventTimestamp}`)).size, evs.length);
  assert.deepEqual(new Set(recs.map((r) => r.modelVersion)), new Set(['v1', 'v2']));
});
