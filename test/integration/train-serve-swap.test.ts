import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { syntheticClicks } from '../../src/data/synthetic.ts';
import { makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf } from '../../src/model/gru4rec-config.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { ModelUpdatesFollower } from '../../src/registry/model-updates.ts';
import { createRecommender } from '../../src/serving/create-recommender.ts';
import { ModelFollower } from '../../src/serving/model-follower.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { followConfig } from '../../src/train/continuous/stream-trainer.ts';
import { collect, testConfig, waitFor } from '../support/kafka.ts';

const root = new URL('../../', import.meta.url).pathname;

test('trainer and serving side by side on one stream: the trainer promotes versions, serving swaps them in; exactly once, versions never go back, no batch mixes versions', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-train-serve-'));
  const cfg = await testConfig('train-serve', (c) => {
    c.model = { ...c.model, kind: 'registry' };
    c.registry = { path: join(dir, 'registry') };
  });
  const clicks = [...syntheticClicks({ nItems: 150, nSessions: 700, seed: 5 })];
  const itemIds = [...new Set(clicks.map((c) => c.itemId))];
  await initBackend('wasm', () => undefined);
  const config = followConfig('rsc15-xe-fast', { nItems: itemIds.length, embeddingDim: 0, hiddenSizes: [32], constrainedEmbedding: true, useBias: true });
  const model = Gru4Rec.init(archOf(config, itemIds.length), 1);
  const registry = new ModelRegistry(cfg.registry.path);
  const v1 = await registry.publish({ weights: model.toWeights(), itemIds, config, parent: null });
  model.dispose();
  await registry.promote(v1.version);

  const quiet = () => undefined;
  const rec = await createRecommender(cfg, quiet);
  const app = new ServingApp({ config: cfg, recommender: rec, instanceId: 'a', sessionTimeoutMs: 6000, log: quiet });
  const swaps: string[] = [];
  app.events.on('modelSwapped', (r) => swaps.push(r.to));
  await app.start();
  const kafka = createKafka(cfg, '-test');
  const follower = new ModelFollower(app, registry, new ModelUpdatesFollower(kafka, cfg.topics.modelUpdates.name, quiet), cfg, () => rec.version);
  await follower.start();

  // The trainer: the real `train --follow` body in its own process, small windows, a gate that passes.
  const env = {
    ...process.env,
    STREAMREC_TOPICS__CLICKS__NAME: cfg.topics.clicks.name,
    STREAMREC_TOPICS__MODEL_UPDATES__NAME: cfg.topics.modelUpdates.name,
    STREAMREC_GROUPS__TRAINER: cfg.groups.trainer,
    STREAMREC_REGISTRY__PATH: cfg.registry.path,
    STREAMREC_TRAIN__WINDOW_EVENTS: '400',
    STREAMREC_TRAIN__GATE_WINDOW_EVENTS: '200',
    STREAMREC_TRAIN__GATE_MARGIN: '1',
    STREAMREC_TRAIN__CHECKPOINT_EVERY_EVENTS: '100000',
  };
  const script = `import('./src/cli/train.ts').then((m) => m.runTrainFollow({ checkpoint: ${JSON.stringify(join(dir, 'ckpt'))} })).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`;
  const trainer = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let trainerLog = '';
  trainer.stderr!.on('data', (d: Buffer) => (trainerLog += d.toString()));

  const codec = makeCodecs(cfg.wireFormat).click;
  const now = Date.now();
  const msgs = clicks.map((c, i) => ({
    key: c.sessionId,
    value: codec.encode({ sessionId: c.sessionId, userId: null, itemId: c.itemId, eventType: 'CLICK', timestamp: now + i, context: null }),
  }));
  const producer = kafka.producer();
  await producer.connect();
  const send = async (batch: typeof msgs) => {
    for (let i = 0; i < batch.length; i += 100) {
      await producer.send({ topic: cfg.topics.clicks.name, messages: batch.slice(i, i + 100), acks: -1 });
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await send(msgs);
  await waitFor(() => swaps.length >= 2, 120_000, `two promotions swapped in (trainer log:\n${trainerLog.slice(-2000)})`);
  // More traffic once the promoted versions serve (the trainer trails serving by its windows).
  const known = new Set(itemIds);
  const more = [...syntheticClicks({ nItems: 150, nSessions: 100, seed: 6 })]
    .filter((c) => known.has(c.itemId))
    .map((c, i) => ({
      key: `late-${c.sessionId}`,
      value: codec.encode({ sessionId: `late-${c.sessionId}`, userId: null, itemId: c.itemId, eventType: 'CLICK', timestamp: now + msgs.length + i, context: null }),
    }));
  await send(more);
  msgs.push(...more);
  await producer.disconnect();
  await waitFor(() => app.stats.eventsIn >= msgs.length, 120_000, 'all served');
  trainer.kill('SIGTERM');
  await new Promise((r) => trainer.once('exit', r));
  await follower.stop();
  await app.stop();

  const recCodec = makeCodecs(cfg.wireFormat).recommendation;
  const recs: Recommendation[] = (await collect(cfg, cfg.topics.recommendations.name, msgs.length, { settleMs: 1000 })).map((r) => recCodec.decode(r.message.value));
  assert.equal(recs.length, msgs.length, 'exactly one recommendation per click');
  assert.equal(new Set(recs.map((r) => `${r.sourcePartition}@${r.sourceOffset}`)).size, msgs.length, 'no duplicates');
  const num = (v: string) => Number(v.slice(1));
  const last = new Map<number, number>();
  const byBatch = new Map<number, Set<string>>();
  for (const r of [...recs].sort((a, b) => a.sourceOffset - b.sourceOffset)) {
    const prev = last.get(r.sourcePartition) ?? 0;
    assert.ok(num(r.modelVersion) >= prev, `partition ${r.sourcePartition}: v${prev} then ${r.modelVersion}`);
    last.set(r.sourcePartition, num(r.modelVersion));
    byBatch.set(r.producedAt, (byBatch.get(r.producedAt) ?? new Set()).add(r.modelVersion));
  }
  for (const [at, v] of byBatch) assert.equal(v.size, 1, `batch at ${at} mixes ${[...v]}`);
  assert.ok(new Set(recs.map((r) => r.modelVersion)).size >= 2, 'recommendations came from more than one version');
});
