import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
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
import { DeltaFollower } from '../../src/serving/delta-follower.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { followConfig } from '../../src/train/continuous/stream-trainer.ts';
import { collect, testConfig, waitFor } from '../support/kafka.ts';

const root = new URL('../../', import.meta.url).pathname;
const quiet = () => undefined;

test('the trainer ships deltas while serving runs under load; a serving process restarted mid-stream rebuilds from snapshot + deltas and resumes; exactly once, (version, delta) never decreases per partition', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-delta-restart-'));
  const cfg = await testConfig('delta-restart', (c) => {
    c.model = { ...c.model, kind: 'registry' };
    c.registry = { path: join(dir, 'registry') };
    c.train = { ...c.train, sync: { ...c.train.sync, enabled: true, intervalMs: 500, snapshotEveryDeltas: 4, pollMs: 50 } };
  });
  const clicks = [...syntheticClicks({ nItems: 150, nSessions: 900, seed: 5 })];
  const itemIds = [...new Set(clicks.map((c) => c.itemId))];
  await initBackend('wasm', quiet);
  const config = followConfig('rsc15-xe-fast', { nItems: itemIds.length, embeddingDim: 0, hiddenSizes: [32], constrainedEmbedding: true, useBias: true });
  const model = Gru4Rec.init(archOf(config, itemIds.length), 1);
  const registry = new ModelRegistry(cfg.registry.path);
  const v1 = await registry.publish({ weights: model.toWeights(), itemIds, config, parent: null });
  model.dispose();
  await registry.promote(v1.version);

  const startServing = async () => {
    const t0 = performance.now();
    const chain = (await DeltaFollower.loadChain(registry))!;
    const rec = await DeltaFollower.recommenderFor(cfg, chain, quiet);
    const app = new ServingApp({ config: cfg, recommender: rec, instanceId: 'a', sessionTimeoutMs: 6000, log: quiet });
    const follower = new DeltaFollower({ app, registry, config: cfg, instanceId: 'a', log: quiet });
    await app.start();
    await follower.start(chain);
    return { app, rec, follower, chain, t0 };
  };
  let serving = await startServing();

  // The trainer: the real `train --follow` body in its own process, deltas every 500 ms, a snapshot every 4.
  const env = {
    ...process.env,
    STREAMREC_TOPICS__CLICKS__NAME: cfg.topics.clicks.name,
    STREAMREC_TOPICS__MODEL_UPDATES__NAME: cfg.topics.modelUpdates.name,
    STREAMREC_GROUPS__TRAINER: cfg.groups.trainer,
    STREAMREC_REGISTRY__PATH: cfg.registry.path,
    STREAMREC_TRAIN__WINDOW_EVENTS: '100000',
    STREAMREC_TRAIN__GATE_WINDOW_EVENTS: '150',
    STREAMREC_TRAIN__GATE_MARGIN: '1',
    STREAMREC_TRAIN__CHECKPOINT_EVERY_EVENTS: '100000',
    STREAMREC_TRAIN__METRICS_PORT: '0',
    STREAMREC_TRAIN__SYNC__ENABLED: 'true',
    STREAMREC_TRAIN__SYNC__INTERVAL_MS: '500',
    STREAMREC_TRAIN__SYNC__SNAPSHOT_EVERY_DELTAS: '4',
  };
  const script = `import('./src/cli/train.ts').then((m) => m.runTrainFollow({ checkpoint: ${JSON.stringify(join(dir, 'ckpt'))} })).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`;
  const trainer = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let trainerLog = '';
  trainer.stderr!.on('data', (d: Buffer) => (trainerLog += d.toString()));
  trainer.stderr!.on('data', (d: Buffer) => appendFileSync(join(dir, 'trainer.log'), d));
  trainer.once('exit', (code) => (trainerLog += `\n[trainer exited with ${code}]`));
  // A failing assertion must not leave the trainer running (it would keep following the topic).
  t.after(() => {
    if (trainer.exitCode === null) trainer.kill('SIGKILL');
  });

  const codec = makeCodecs(cfg.wireFormat).click;
  const now = Date.now();
  const msgs = clicks.map((c, i) => ({
    key: c.sessionId,
    value: codec.encode({ sessionId: c.sessionId, userId: null, itemId: c.itemId, eventType: 'CLICK', timestamp: now + i, context: null }),
  }));
  const kafka = createKafka(cfg, '-test');
  const producer = kafka.producer();
  await producer.connect();
  await waitFor(() => /following /.test(trainerLog), 180_000, 'the trainer follows the clicks topic');
  // Load: a steady trickle (40 clicks per 100 ms) for the whole test, the restart included.
  let produced = 0;
  const pump = (async () => {
    for (; produced < msgs.length; produced += 40) {
      await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(produced, produced + 40), acks: -1 });
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await waitFor(
    () => (serving.follower.position?.seq ?? 0) >= 2 || (serving.follower.position?.base ?? 1) > v1.version,
    240_000,
    `deltas applied (trainer log: ${join(dir, 'trainer.log')})`,
  );
  const before = serving.follower.position!;
  assert.ok(produced < msgs.length, 'the restart happens while clicks are still being produced');
  // Restart mid-stream, under load: stop the process (graceful) and start a new one with the same instance id.
  await serving.follower.stop();
  await serving.app.stop();
  serving = await startServing();
  const startedMs = performance.now() - serving.t0;
  assert.ok(
    serving.chain.base > before.base || (serving.chain.base === before.base && serving.chain.seq >= before.seq),
    'the new process starts where the old one stopped, or further',
  );
  const beforeRestart = serving.app.stats.eventsIn;
  await waitFor(() => serving.app.stats.eventsIn > beforeRestart, 60_000, 'the restarted process serves');
  const readyMs = performance.now() - serving.t0;
  await pump;
  await producer.disconnect();
  const appliedAfter = serving.follower.applied;
  await waitFor(() => serving.follower.applied > appliedAfter || serving.follower.position!.base > serving.chain.base, 60_000, 'the restarted process follows new deltas');
  trainer.kill('SIGTERM');
  await new Promise((r) => trainer.once('exit', r));
  // Everything is served before comparing.
  const recCodec = makeCodecs(cfg.wireFormat).recommendation;
  const recs: Recommendation[] = (await collect(cfg, cfg.topics.recommendations.name, msgs.length, { settleMs: 1500, timeoutMs: 90_000 })).map((r) =>
    recCodec.decode(r.message.value),
  );
  await serving.follower.stop();
  await serving.app.stop();
  process.stderr.write(
    `delta-restart: restarted process loaded v${serving.chain.base}+d${serving.chain.seq} and was ready in ${startedMs.toFixed(0)} ms, serving in ${readyMs.toFixed(0)} ms\n`,
  );

  assert.equal(recs.length, msgs.length, 'exactly one recommendation per click');
  assert.equal(new Set(recs.map((r) => `${r.sourcePartition}@${r.sourceOffset}`)).size, msgs.length, 'no duplicates');
  const last = new Map<number, [number, number]>();
  for (const r of [...recs].sort((a, b) => a.sourceOffset - b.sourceOffset)) {
    const at: [number, number] = [Number(r.modelVersion.slice(1)), r.modelDelta ?? 0];
    const prev = last.get(r.sourcePartition) ?? [0, 0];
    assert.ok(at[0] > prev[0] || (at[0] === prev[0] && at[1] >= prev[1]), `partition ${r.sourcePartition}: v${prev[0]}+d${prev[1]} then v${at[0]}+d${at[1]}`);
    last.set(r.sourcePartition, at);
  }
  assert.ok(
    recs.some((r) => (r.modelDelta ?? 0) > 0),
    'recommendations came from deltas',
  );
  assert.ok(/sync: delta \d+\.\d+/.test(trainerLog), 'the trainer shipped deltas');
});
