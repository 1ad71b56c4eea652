import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { loadConfig, type StreamrecConfig } from '../../src/config/config.ts';
import { buildGru4RecRecommender, prepareModel } from '../../src/serving/create-recommender.ts';
import type { ClickInput, RecommendOutcome } from '../../src/serving/recommender.ts';
import { modelStamp } from '../../src/session/session-codec.ts';

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
  // History-only records (the default) come back as re-encode work, done before serving as StateRestorer does.
  const counts = await restored.restorePartition(records);
  assert.equal(counts.restored + counts.reencodeNeeded, records.length);
  await restored.completeRestore();
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

test('changelog records of another model (same vocabulary, other weights) are re-encoded from history, not restored as they are', async () => {
  const stampOf = (weightsHash: string) => modelStamp({ stateLayoutHash: 'a'.repeat(64), vocabularyHash: 'b'.repeat(64), weightsHash });
  const evs = stream();
  const old = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet, stampOf('c'.repeat(64)));
  await old.recommendBatch(evs, []);
  const records = old.drainChangelog();
  const newWeights = syntheticWeights({ nItems: N_ITEMS, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true }, 8);
  const fresh = await buildGru4RecRecommender(config(), newWeights, itemIds, 'v2', quiet, stampOf('d'.repeat(64)));
  const counts = await fresh.restorePartition(records);
  assert.equal(counts.restored, 0);
  assert.equal(counts.reencodeNeeded, 7);
  assert.equal(await fresh.completeRestore(), 7);
  // The new model serving the uninterrupted stream from scratch reaches the same states (history
  // holds every event here), so both recommend the same for the next click.
  const straight = await buildGru4RecRecommender(config(), newWeights, itemIds, 'v2', quiet, stampOf('d'.repeat(64)));
  await straight.recommendBatch(evs, []);
  const next = [click('s0', 3), click('s4', 9)];
  const a: RecommendOutcome[] = [];
  const b: RecommendOutcome[] = [];
  await fresh.recommendBatch(next, a);
  await straight.recommendBatch(next, b);
  for (let i = 0; i < next.length; i++) {
    assert.ok(a[i].ok && b[i].ok);
    if (a[i].ok && b[i].ok) assert.deepEqual((a[i] as { itemIds: string[] }).itemIds, (b[i] as { itemIds: string[] }).itemIds);
  }
  // The re-encoded sessions are written back under the new model's stamp.
  assert.ok(fresh.drainChangelog().length >= 7);
  for (const r of [old, fresh, straight]) await r.close();
});

test('hot swap: live sessions are re-encoded under the new weights; the next click is answered as by the new model from the start', async () => {
  const evs = stream();
  const arch = { nItems: N_ITEMS, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true };
  const next = syntheticWeights(arch, 11);
  const swapped = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  await swapped.recommendBatch(evs, []);
  const report = await swapped.swapModel(await prepareModel(config(), next, itemIds, 'v2', quiet));
  assert.equal(report.from, 'v1');
  assert.equal(report.to, 'v2');
  assert.equal(report.sessions, 7);
  assert.equal(swapped.version, 'v2');
  const straight = await buildGru4RecRecommender(config(), next, itemIds, 'v2', quiet);
  await straight.recommendBatch(evs, []);
  const probe = [click('s1', 4), click('s5', 17)];
  const a: RecommendOutcome[] = [];
  const b: RecommendOutcome[] = [];
  await swapped.recommendBatch(probe, a);
  await straight.recommendBatch(probe, b);
  assert.deepEqual(a, b);
  for (const r of [swapped, straight]) await r.close();
});

test('hot swap to a new catalogue: removed items leave the histories, new items become recommendable, unknown ones stop being so', async () => {
  const newIds = [...itemIds.slice(10), 'new-a', 'new-b', 'new-c', 'new-d', 'new-e', 'new-f', 'new-g', 'new-h', 'new-i', 'new-j'];
  const arch = { nItems: newIds.length, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true };
  const rec = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  const before: RecommendOutcome[] = [];
  await rec.recommendBatch([click('s0', 'new-a'), click('s0', 3), click('s0', 25)], before);
  assert.equal(before[0].ok, false, 'new-a is not in v1');
  const report = await rec.swapModel(await prepareModel(config(), syntheticWeights(arch, 5), newIds, 'v2', quiet));
  assert.equal(report.itemsRemoved, 10);
  assert.equal(report.itemsAdded, 10);
  const hist = new Int32Array(20);
  const n = rec.store.history(rec.store.slotOf('s0'), hist);
  assert.equal(n, 1, 'i3 left the catalogue; i25 stays');
  assert.equal(newIds[hist[0]], 'i25');
  const after: RecommendOutcome[] = [];
  await rec.recommendBatch([click('s0', 'new-a'), click('s1', 3)], after);
  assert.equal(after[0].ok, true, 'new-a is recommendable and clickable in v2');
  assert.equal(after[1].ok, false, 'i3 is no longer known');
  await rec.close();
});

test('a re-encoding swap is lazy: sessions wait flagged and are re-encoded in chunks between batches or by their next click', async () => {
  const evs = stream();
  const arch = { nItems: N_ITEMS, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true };
  const next = syntheticWeights(arch, 12);
  const rec = await buildGru4RecRecommender(config(), weights, itemIds, 'v1', quiet);
  await rec.recommendBatch(evs, []);
  rec.drainChangelog();
  await rec.swapModel(await prepareModel(config(), next, itemIds, 'v2', quiet));
  assert.equal(rec.reencodePending, 7, 'every live session waits for re-encoding');
  assert.equal(rec.drainChangelog().length, 0, 'no zero state reaches the changelog before its re-encoding');
  assert.equal(await rec.reencodeSome(3), 4);
  assert.equal(rec.drainChangelog().length, 3, 're-encoded sessions are written back under the new model');
  const out: RecommendOutcome[] = [];
  await rec.recommendBatch([click('s6', 2)], out); // s6 may still be flagged: re-encoded in its batch
  assert.ok(rec.reencodePending <= 3);
  const left = rec.reencodePending;
  // A zero budget still makes progress (one chunk); an ample one finishes.
  assert.equal(await rec.reencodeFor(0, 1), left - 1);
  assert.equal(await rec.reencodeFor(60_000), 0);
  while ((await rec.reencodeSome(2)) > 0);
  const straight = await buildGru4RecRecommender(config(), next, itemIds, 'v2', quiet);
  await straight.recommendBatch([...evs, click('s6', 2)], []);
  const probe = [click('s0', 8), click('s3', 9), click('s6', 10)];
  const a: RecommendOutcome[] = [];
  const b: RecommendOutcome[] = [];
  await rec.recommendBatch(probe, a);
  await straight.recommendBatch(probe, b);
  assert.deepEqual(a, b);
  for (const r of [rec, straight]) await r.close();
});
