import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import type { StreamrecConfig } from '../../src/config/config.ts';
import { sessionsFromClicks } from '../../src/data/sessions.ts';
import { syntheticClicks } from '../../src/data/synthetic.ts';
import { makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { initBackend } from '../../src/model/backend.ts';
import type { Gru4RecWeights } from '../../src/model/weights.ts';
import { DeltaStore } from '../../src/registry/delta-store.ts';
import type { ModelDelta } from '../../src/registry/model-delta.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { DeltaFollower } from '../../src/serving/delta-follower.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { followConfig } from '../../src/train/continuous/stream-trainer.ts';
import { trainGru4Rec } from '../../src/train/fit.ts';
import { collect, testConfig, waitFor } from '../support/kafka.ts';

const N_ITEMS = 120;
const quiet = () => undefined;

/** Clicks of fresh sessions (ids prefixed by `tag`), encoded for the clicks topic. */
function clickMessages(cfg: StreamrecConfig, tag: string, seed: number, nSessions: number, known: Set<string>) {
  const codec = makeCodecs(cfg.wireFormat).click;
  const now = Date.now();
  return [...syntheticClicks({ nItems: N_ITEMS, nSessions, seed, meanSessionLength: 6, sequentialP: 0.9 })]
    .filter((c) => known.has(c.itemId))
    .map((c, i) => ({
      key: `${tag}-${c.sessionId}`,
      value: codec.encode({ sessionId: `${tag}-${c.sessionId}`, userId: null, itemId: c.itemId, eventType: 'CLICK', timestamp: now + i, context: null }),
    }));
}

/** A delta that replaces every row of every per-item tensor: the rows of `w`, or scrambled (row r gets row (r·7+3) mod n). */
function fullRowsDelta(w: Gru4RecWeights, base: number, seq: number, scramble: boolean): ModelDelta {
  const n = w.arch.nItems;
  const tensors = ['out.Wy', 'out.by'].map((name) => {
    const t = w.tensors[name];
    const width = t.data.length / n;
    const data = new Float32Array(t.data.length);
    for (let r = 0; r < n; r++) data.set(t.data.subarray((scramble ? (r * 7 + 3) % n : r) * width, ((scramble ? (r * 7 + 3) % n : r) + 1) * width), r * width);
    if (!scramble && name === 'out.by') data[seq % n] += 1e-3; // a real (tiny) change
    return { name, rows: Uint32Array.from({ length: n }, (_, r) => r), data };
  });
  return { base, seq, nItems: n, ids: [], tensors, createdAt: Date.now(), newestClickAt: Date.now() - 1000, oldestClickAt: Date.now() - 2000, trainingOffsets: {} };
}

test('serving applies deltas in order, refuses a gap and reloads, and rolls back a delta that wrecks live quality', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-delta-sync-it-'));
  const cfg = await testConfig('delta-sync', (c) => {
    c.model = { ...c.model, kind: 'registry' };
    c.registry = { path: join(dir, 'registry') };
    c.train = { ...c.train, sync: { ...c.train.sync, enabled: true, pollMs: 50, rollbackWindowEvents: 150, rollbackMargin: 0.05 } };
  });
  await initBackend('wasm', quiet);
  // A snapshot worth protecting: trained on the stream's structure, so a scrambled delta is visibly worse.
  const history = [...syntheticClicks({ nItems: N_ITEMS, nSessions: 1500, seed: 1, meanSessionLength: 6, sequentialP: 0.9 })];
  const { data, index } = sessionsFromClicks(history.map((c) => ({ session: c.sessionId, item: c.itemId, time: c.time })));
  const config = { ...followConfig('rsc15-xe-fast', { nItems: index.size, embeddingDim: 0, hiddenSizes: [32], constrainedEmbedding: true, useBias: true }), nEpochs: 3 };
  const { model } = await trainGru4Rec(data, index.size, config);
  const weights = model.toWeights();
  model.dispose();
  const registry = new ModelRegistry(cfg.registry.path);
  const store = new DeltaStore(registry);
  const v1 = await registry.publish({ weights, itemIds: index.ids, config, parent: null });
  await registry.promote(v1.version);
  const known = new Set(index.ids);

  const chain = (await DeltaFollower.loadChain(registry))!;
  const rec = await DeltaFollower.recommenderFor(cfg, chain, quiet);
  const app = new ServingApp({ config: cfg, recommender: rec, instanceId: 'd', sessionTimeoutMs: 6000, log: quiet });
  const lines: string[] = [];
  const follower = new DeltaFollower({ app, registry, config: cfg, instanceId: 'd', log: (l) => lines.push(l) });
  await app.start();
  await follower.start(chain);
  const kafka = createKafka(cfg, '-test');
  const producer = kafka.producer();
  await producer.connect();
  let sent = 0;
  const send = async (msgs: { key: string; value: Buffer }[]) => {
    for (let i = 0; i < msgs.length; i += 200) await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + 200), acks: -1 });
    sent += msgs.length;
    await waitFor(() => app.stats.eventsIn >= sent, 60_000, `${sent} clicks served`);
  };

  // 1. The snapshot alone serves (the rollback guard's baseline window fills).
  await send(clickMessages(cfg, 'a', 11, 300, known));
  assert.ok(follower.guard.armed, 'the snapshot-alone window is full');
  // 2. Two good deltas are applied in order.
  await store.write(fullRowsDelta(weights, v1.version, 1, false));
  await store.write(fullRowsDelta(weights, v1.version, 2, false));
  await waitFor(() => follower.position?.seq === 2, 20_000, 'deltas 1 and 2 applied');
  assert.equal(rec.version, `v${v1.version}+d2`);
  await send(clickMessages(cfg, 'b', 12, 60, known));
  // 3. Delta 3 is dropped: 4 is there, serving refuses it and reloads the snapshot with deltas 1..2.
  await store.write(fullRowsDelta(weights, v1.version, 4, false));
  await waitFor(() => follower.reloads.includes('gap'), 20_000, 'the gap detected');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(follower.position?.seq, 2, 'delta 4 was not applied after the gap');
  assert.equal(rec.version, `v${v1.version}+d2`);
  assert.ok(
    lines.some((l) => /delta 1\.3 is missing but 1\.4 is there/.test(l)),
    lines.join('\n'),
  );

  // 4. A new snapshot (v2) ends the stuck chain; a delta that scrambles its item rows wrecks quality.
  const v2 = await registry.publish({ weights, itemIds: index.ids, config, parent: v1.version });
  await registry.promote(v2.version);
  await waitFor(() => follower.position?.base === v2.version, 20_000, 'the new snapshot loaded');
  await store.write(fullRowsDelta(weights, v2.version, 1, true));
  await waitFor(() => follower.position?.seq === 1, 20_000, 'the wrecking delta applied');
  const seqNow = (): number => follower.position?.seq ?? -1;
  for (let round = 0; round < 6 && seqNow() !== 0; round++) await send(clickMessages(cfg, `c${round}`, 20 + round, 120, known));
  await waitFor(() => follower.position?.seq === 0, 20_000, 'rolled back');
  assert.equal(rec.version, `v${v2.version}`, 'serving the snapshot again');
  // The swap back comes first; the pause, the registry record and the log line right after it.
  await waitFor(() => lines.some((l) => /ROLLBACK \(automatic\)/.test(l)), 10_000, 'the rollback log line');
  const control = await store.control();
  assert.equal(control.paused, true);
  assert.equal(control.base, v2.version);
  const rollbacks = await store.rollbacks();
  assert.equal(rollbacks.length, 1);
  assert.equal(rollbacks[0].trigger, 'automatic');
  assert.ok(rollbacks[0].deltaRecall! < rollbacks[0].snapshotRecall! - 0.05, JSON.stringify(rollbacks[0]));
  assert.ok(existsSync(join(cfg.registry.path, 'rollbacks.jsonl')));
  // Paused: a further delta of that base is not applied.
  await store.write(fullRowsDelta(weights, v2.version, 2, false));
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(follower.position?.seq, 0, 'deltas of the rolled-back base stay paused');

  await producer.disconnect();
  await follower.stop();
  await app.stop();
  // Every record says which delta served it.
  const recCodec = makeCodecs(cfg.wireFormat).recommendation;
  const recs: Recommendation[] = (await collect(cfg, cfg.topics.recommendations.name, sent, { settleMs: 500 })).map((r) => recCodec.decode(r.message.value));
  assert.equal(recs.length, sent);
  const seen = new Set(recs.map((r) => `${r.modelVersion}+${r.modelDelta}`));
  assert.ok(seen.has(`v${v1.version}+0`) && seen.has(`v${v1.version}+2`) && seen.has(`v${v2.version}+1`), [...seen].join(' '));
});
