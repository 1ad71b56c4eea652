import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf } from '../../src/model/gru4rec-config.ts';
import type { Gru4RecWeights } from '../../src/model/weights.ts';
import { DeltaStore } from '../../src/registry/delta-store.ts';
import { applyDelta, type ModelDelta } from '../../src/registry/model-delta.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { Rng } from '../../src/random/rng.ts';
import { DeltaBuilder } from '../../src/train/continuous/delta-builder.ts';
import { DeltaSync } from '../../src/train/continuous/delta-sync.ts';
import { followOptions } from '../../src/train/continuous/follow-options.ts';
import type { PassedCandidate, PromotionTarget } from '../../src/train/continuous/stream-trainer.ts';
import { followConfig, StreamTrainer } from '../../src/train/continuous/stream-trainer.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

const arch = { nItems: 8, embeddingDim: 0, hiddenSizes: [4], constrainedEmbedding: false, useBias: true };
const ids = Array.from({ length: 8 }, (_, i) => `i${i}`);

function copy(w: Gru4RecWeights): Gru4RecWeights {
  return { arch: { ...w.arch }, tensors: Object.fromEntries(Object.entries(w.tensors).map(([n, t]) => [n, { shape: [...t.shape], data: Float32Array.from(t.data) }])) };
}

function sameWeights(a: Gru4RecWeights, b: Gru4RecWeights): boolean {
  if (Object.keys(a.tensors).sort().join() !== Object.keys(b.tensors).sort().join()) return false;
  return Object.entries(a.tensors).every(([n, t]) =>
    Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).equals(Buffer.from(b.tensors[n].data.buffer, b.tensors[n].data.byteOffset, b.tensors[n].data.byteLength)),
  );
}

test('the builder ships exactly the rows that changed, dense tensors only when they changed, and nothing when nothing did', () => {
  const w0 = syntheticWeights(arch, 3);
  const b = new DeltaBuilder(5, { weights: w0, itemIds: ids });
  const w1 = copy(w0);
  w1.tensors['out.Wy'].data[2 * 4 + 1] += 0.5; // row 2
  w1.tensors['out.by'].data[6] -= 1; // row 6
  w1.tensors['gru0.Wx'].data[3 * 12] += 1; // one-hot input rows are per item: row 3
  const d = b.build({ weights: w1, itemIds: ids }, { newestClickAt: 10, oldestClickAt: 5, trainingOffsets: { '0': '9' } })!;
  assert.equal(d.base, 5);
  assert.equal(d.seq, 1);
  const rows = Object.fromEntries(d.tensors.map((t) => [t.name, t.rows ? [...t.rows] : 'dense']));
  assert.deepEqual(rows, { 'gru0.Wx': [3], 'out.Wy': [2], 'out.by': [6] }, 'touched rows only; no dense tensor changed');
  assert.ok(sameWeights(applyDelta({ weights: w0, itemIds: ids }, d, 'd').weights, w1), 'base + delta = the trainer weights, bit for bit');
  assert.equal(b.build({ weights: w1, itemIds: ids }, { newestClickAt: null, oldestClickAt: null, trainingOffsets: {} }), null, 'no change: no delta');
  const w2 = copy(w1);
  w2.tensors['gru0.Wh'].data[0] += 1;
  const d2 = b.build({ weights: w2, itemIds: ids }, { newestClickAt: 11, oldestClickAt: 11, trainingOffsets: {} })!;
  assert.equal(d2.seq, 2);
  assert.deepEqual(
    d2.tensors.map((t) => [t.name, t.rows]),
    [['gru0.Wh', null]],
  );
});

test('the builder ships new and recycled rows with their ids, and refuses a shrinking catalogue', () => {
  const w0 = syntheticWeights(arch, 3);
  const b = new DeltaBuilder(1, { weights: w0, itemIds: ids });
  const grown = syntheticWeights({ ...arch, nItems: 10 }, 3);
  for (const [n, t] of Object.entries(w0.tensors)) if (grown.tensors[n].data.length === t.data.length) grown.tensors[n] = { shape: [...t.shape], data: Float32Array.from(t.data) };
  for (const n of ['gru0.Wx', 'out.Wy', 'out.by']) grown.tensors[n].data.set(w0.tensors[n].data);
  const grownIds = [...ids.slice(0, 4), 'recycled', ...ids.slice(5), 'n8', 'n9'];
  const d = b.build({ weights: grown, itemIds: grownIds }, { newestClickAt: 1, oldestClickAt: 1, trainingOffsets: {} })!;
  assert.deepEqual(d.ids, [
    [4, 'recycled'],
    [8, 'n8'],
    [9, 'n9'],
  ]);
  for (const t of d.tensors) assert.deepEqual([...t.rows!], [4, 8, 9], `${t.name}: the recycled and new rows`);
  const applied = applyDelta({ weights: w0, itemIds: ids }, d, 'd');
  assert.deepEqual(applied.itemIds, grownIds);
  assert.ok(sameWeights(applied.weights, grown));
  assert.throws(() => b.build({ weights: w0, itemIds: ids }, { newestClickAt: 1, oldestClickAt: 1, trainingOffsets: {} }), /the catalogue shrank/);
});

test('a trainer with sync writes deltas between gated snapshots; the registry chain rebuilds its weights exactly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-delta-sync-'));
  const registry = new ModelRegistry(join(dir, 'registry'));
  const store = new DeltaStore(registry);
  const config = followConfig('rsc15-xe-fast', { nItems: 30, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: true, useBias: true });
  const model = Gru4Rec.init(archOf(config, 30), 7);
  const itemIds = Array.from({ length: 30 }, (_, i) => `i${i}`);
  const v1 = await registry.publish({ weights: model.toWeights(), itemIds, config, parent: null });
  await registry.promote(v1.version);
  const start = await store.chainState(v1.version);
  const written: ModelDelta[] = [];
  const sync = new DeltaSync(
    store,
    { intervalMs: 0, snapshotEveryDeltas: 3, snapshotEveryMs: 3_600_000, onDelta: (d) => written.push(d) },
    { base: v1.version, state: start.state, seq: 0 },
  );
  const target: PromotionTarget = {
    serving: async () => ({ version: v1.version, model, itemIds }),
    publish: async (c: PassedCandidate) => {
      const info = await registry.publish({ weights: c.weights, itemIds: c.itemIds, config: c.config, parent: c.parent });
      await registry.promote(info.version);
      return info.version;
    },
  };
  const options = followOptions({ windowEvents: 1_000_000, gateWindowEvents: 40, gateMargin: 1, minItemCount: 1, checkpointEveryEvents: 1_000_000 });
  const trainer = new StreamTrainer({ options, checkpointDir: join(dir, 'ckpt'), target, sync }, { weights: model.toWeights(), itemIds, parent: v1.version });
  const rng = new Rng(4);
  // intervalMs 0: every event closes a training window; the 4th window is a gate (snapshot due after 3 deltas).
  for (let e = 0; e < 120; e++) await trainer.event(`s${Math.floor(e / 5)}`, `i${Math.floor(rng.next() * 30)}`, 0, e, 1_000_000 + e);
  assert.ok(written.length >= 6, `${written.length} deltas`);
  const current = (await registry.current())!;
  assert.ok(current > v1.version, 'the gate published snapshots between the chains');
  const firstChain = written.filter((d) => d.base === v1.version).map((d) => d.seq);
  assert.deepEqual(firstChain, [1, 2, 3], 'three deltas on the first base, in order, then a snapshot');
  assert.ok(
    written.every((d) => d.newestClickAt !== null && d.newestClickAt >= 1_000_000),
    'each delta carries the append time of its newest trained click',
  );
  // What serving rebuilds from the registry is exactly what the trainer holds.
  const rebuilt = await store.chainState(current);
  assert.equal(rebuilt.seq, (await store.seqs(current)).at(-1) ?? 0);
  const now = trainer.snapshot();
  assert.deepEqual(rebuilt.state.itemIds, now.itemIds);
  assert.ok(sameWeights(rebuilt.state.weights, now.weights), 'snapshot + its deltas = the trainer weights, bit for bit');
  // Old chains are pruned: at most the current base and the one before.
  const kept = (await Promise.all((await registry.list()).map(async (v) => ((await store.seqs(v.version)).length > 0 ? v.version : null)))).filter((v) => v !== null);
  assert.ok(kept.length <= 2, `chains kept: ${kept}`);
  trainer.dispose();
  model.dispose();
});
