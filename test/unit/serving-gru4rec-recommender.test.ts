import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { loadConfig, type StreamrecConfig } from '../../src/config/config.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import type { ClickInput, RecommendOutcome } from '../../src/serving/recommender.ts';

const N_ITEMS = 60;
const itemIds = Array.from({ length: N_ITEMS }, (_, i) => `i${i}`);
const weights = syntheticWeights({ nItems: N_ITEMS, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true }, 7);
const quiet = () => undefined;

function config(mut: (c: StreamrecConfig) => void = () => undefined): StreamrecConfig {
  const c = loadConfig(undefined, {});
  c.serving.topK = 10;
  c.serving.batch.maxSize = 32;
  mut(c);
  return c;
}

const click = (sessionId: string, item: number | string, partition = 0): ClickInput => ({
  sessionId,
  itemId: typeof item === 'number' ? `i${item}` : item,
  partition,
  timestamp: 0,
});

function stream(): ClickInput[] {
  const evs: ClickInput[] = [];
  for (let e = 0; e < 6; e++) for (let s = 0; s < 7; s++) evs.push(click(`s${s}`, (s * 11 + e * 5) % N_ITEMS, s % 3));
  return evs;
}

async function runInBatches(events: ClickInput[], batch: number, c = config()) {
  const rec = await buildGru4RecRecommender(c, weights, itemIds, 'v1', quiet);
  const out: RecommendOutcome[] = [];
  for (let i = 0; i < events.length; i += batch) {
    const part: RecommendOutcome[] = [];
    await rec.recommendBatch(events.slice(i, i + batch), part);
    out.push(...part);
  }
  return { rec, out };
}

test('a batch holding several events of one session equals event-at-a-time serving', async () => {
  const evs = stream();
  // Interleave so that batches of 20 hold up to 3 events of a session.
  const one = await runInBatches(evs, 1);
  const many = await runInBatches(evs, 20);
  assert.equal(one.out.length, evs.length);
  for (let i = 0; i < evs.length; i++) {
    const a = one.out[i];
    const b = many.out[i];
    assert.ok(a.ok && b.ok);
    if (a.ok && b.ok) {
      assert.deepEqual(b.itemIds, a.itemIds, `event ${i}`);
      for (let k = 0; k < a.scores.length; k++) assert.ok(Math.abs(a.scores[k] - b.scores[k]) < 1e-4);
    }
  }
  await one.rec.close();
  await many.rec.close();
});

test('changelog records restore sessions that then recommend exactly as the uninterrupted store', async () => {
  const evs = stream();
  const half = evs.length / 2;
  const straight = await runInBatches(evs, 8);
  const first = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  const records = [];
  for (let i = 0; i < half; i += 8) {
    await first.recommendBatch(evs.slice(i, Math.min(half, i + 8)), []);
    records.push(...first.drainChangelog());
  }
  assert.ok(records.length >= 7, 'one record per touched session per batch');
  assert.ok(records.every((r) => r.value !== null && ['s0', 's1', 's2', 's3', 's4', 's5', 's6'].includes(r.key)));
  const restored = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  assert.equal((await restored.restorePartition(records)).restored, records.length);
  const out: RecommendOutcome[] = [];
  await restored.recommendBatch(evs.slice(half), out);
  for (let i = 0; i < out.length; i++) assert.deepEqual(out[i], straight.out[half + i], `event ${half + i}`);
  await Promise.all([first.close(), restored.close(), straight.rec.close()]);
});

test('unknown items: dead-letter outcome by default, bias-ranked list with cold-start; state untouched', async () => {
  const dl = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  const out: RecommendOutcome[] = [];
  await dl.recommendBatch([click('s', 1), click('s', 'new-item'), click('s', 2)], out);
  assert.equal(out[1].ok, false);
  if (!out[1].ok) assert.match(out[1].reason, /new-item.*not in the catalogue/);
  // Same as if the unknown event had not happened:
  const ref: RecommendOutcome[] = [];
  const clean = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  await clean.recommendBatch([click('s', 1), click('s', 2)], ref);
  assert.deepEqual(out[2], ref[1]);
  const cs = await buildGru4RecRecommender(
    config((c) => (c.serving.unknownItems = 'cold-start')),
    weights,
    itemIds,
    'v1',
    quiet,
  );
  const out2: RecommendOutcome[] = [];
  await cs.recommendBatch([click('t', 'never-seen')], out2);
  assert.ok(out2[0].ok);
  const by = weights.tensors['out.by'].data;
  const best = Array.from(by.keys()).sort((a, b) => by[b] - by[a])[0];
  if (out2[0].ok) assert.equal(out2[0].itemIds[0], `i${best}`);
  await Promise.all([dl.close(), clean.close(), cs.close()]);
});

test('excludeSeen keeps the session history out of its list', async () => {
  const rec = await buildGru4RecRecommender(
    config((c) => (c.serving.excludeSeen = true)),
    weights,
    itemIds,
    'v1',
    quiet,
  );
  const out: RecommendOutcome[] = [];
  const items = [3, 9, 27, 40, 3];
  await rec.recommendBatch(
    items.map((i) => click('s', i)),
    out,
  );
  for (let e = 0; e < items.length; e++) {
    const o = out[e];
    assert.ok(o.ok);
    if (o.ok) {
      assert.equal(o.itemIds.length, 10);
      for (const seen of items.slice(0, e + 1)) assert.ok(!o.itemIds.includes(`i${seen}`), `event ${e} recommends seen item i${seen}`);
    }
  }
  await rec.close();
});

test('revoking a partition drops its sessions only', async () => {
  const rec = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  await rec.recommendBatch([click('a', 1, 0), click('b', 2, 1)], []);
  rec.partitionsRevoked([0]);
  assert.equal(rec.store.has('a'), false);
  assert.equal(rec.store.has('b'), true);
  await rec.close();
});

test('rebuildStates recomputes hidden states from the stored histories (what a weight swap needs)', async () => {
  const c = config((x) => (x.serving.sessions.historyLength = 8));
  const rec = await buildGru4RecRecommender(c, weights, itemIds, 'v1', quiet);
  // s0..s6 get 6 events each (within the 8-item history), so a rebuild must reproduce them exactly.
  await rec.recommendBatch(stream(), []);
  rec.drainChangelog();
  const before = ['s0', 's3', 's6'].map((id) => Float32Array.from(rec.store.hiddenView(0, rec.store.slotOf(id))));
  assert.ok(before.every((h) => h.some((v) => v !== 0)));
  assert.equal(await rec.rebuildStates(), 7);
  ['s0', 's3', 's6'].forEach((id, i) => {
    const after = rec.store.hiddenView(0, rec.store.slotOf(id));
    for (let k = 0; k < after.length; k++) assert.ok(Math.abs(after[k] - before[i][k]) < 1e-5, `${id}[${k}]`);
  });
  assert.equal(rec.drainChangelog().length, 7, 'rebuilt sessions go to the changelog');
  // Next recommendations continue from the rebuilt states exactly as from the original ones.
  const ref = await buildGru4RecRecommender(c, weights, itemIds, 'v1', quiet);
  await ref.recommendBatch(stream(), []);
  const a: RecommendOutcome[] = [];
  const b: RecommendOutcome[] = [];
  await rec.recommendBatch([click('s2', 4, 2)], a);
  await ref.recommendBatch([click('s2', 4, 2)], b);
  assert.deepEqual(a[0].ok && a[0].itemIds, b[0].ok && b[0].itemIds);
  await Promise.all([rec.close(), ref.close()]);
});
