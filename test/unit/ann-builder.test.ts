import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ItemMatrix } from '../../src/ann/ann-index.ts';
import { ExactIndex } from '../../src/ann/exact-index.ts';
import { AnnIndexBuilder } from '../../src/ann/index-builder.ts';
import { AnnIndexFollower } from '../../src/ann/index-follower.ts';
import { AnnIndexSlot } from '../../src/ann/index-slot.ts';
import { syntheticItems, syntheticQueries } from '../../src/ann/synthetic-items.ts';
import { sharedIds } from '../../src/ann/list-recall.ts';

const out = (n: number, k: number) => ({ ids: new Int32Array(n * k), scores: new Float32Array(n * k) });
const small = { connectivity: 16, expansionAdd: 64, expansionSearch: 64 };

function recall(items: ItemMatrix, search: (q: Float32Array, n: number, k: number, o: ReturnType<typeof out>) => void, queries: Float32Array, n: number, k: number): number {
  const a = out(n, k);
  const e = out(n, k);
  search(queries, n, k, a);
  new ExactIndex(items, 'ip').search(queries, n, k, e);
  return sharedIds(e.ids, a.ids, k) / (n * k);
}

test('a catalogue that only appends items is added incrementally; a changed item forces a full rebuild', async () => {
  const all = syntheticItems({ count: 6000, dim: 16, seed: 21 });
  const first: ItemMatrix = { vectors: all.vectors.subarray(0, 5000 * 16), bias: all.bias.subarray(0, 5000), count: 5000, dim: 16 };
  const builder = new AnnIndexBuilder(small);
  try {
    const v1 = await builder.build(first);
    assert.equal(v1.mode, 'full');
    assert.equal(v1.added, 5000);
    const grown = await builder.build(all);
    assert.equal(grown.mode, 'incremental');
    assert.equal(grown.added, 1000);
    assert.equal(grown.index.count, 6000);
    // The new items are searchable: a query along a new item's vector finds it first.
    const q = all.vectors.slice(5500 * 16, 5501 * 16).map((x) => x * 10);
    const top = out(1, 1);
    grown.index.search(q, 1, 1, top);
    const exactTop = out(1, 1);
    new ExactIndex(all, 'ip').search(q, 1, 1, exactTop);
    assert.equal(top.ids[0], exactTop.ids[0]);
    const queries = syntheticQueries(all, 100, 22);
    assert.ok(recall(all, (qq, n, k, o) => grown.index.search(qq, n, k, o), queries, 100, 20) >= 0.95);
    // The earlier index is untouched by the later build (its own snapshot): still 5000 items, still searchable.
    assert.equal(v1.index.count, 5000);
    v1.index.search(queries, 1, 20, out(1, 20));

    const changed = { ...all, vectors: all.vectors.slice() };
    changed.vectors[17] += 0.5;
    const rebuilt = await builder.build(changed);
    assert.equal(rebuilt.mode, 'full');
    assert.equal(rebuilt.added, 6000);
    const noIncrement = await builder.build(changed, { incremental: false });
    assert.equal(noIncrement.mode, 'full');
  } finally {
    await builder.close();
  }
});

test('the build runs off the calling thread: timers keep firing while a 20k-item index builds', async () => {
  const items = syntheticItems({ count: 20_000, dim: 100, seed: 23 });
  const builder = new AnnIndexBuilder({ connectivity: 32, expansionAdd: 256 });
  try {
    let last = performance.now();
    let worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 5);
    const built = await builder.build(items);
    clearInterval(timer);
    // Copying 8 MB into shared memory and mapping the snapshot are the only work on this thread.
    assert.ok(built.buildMs > 4 * worstGap, `build ${built.buildMs.toFixed(0)} ms, longest timer gap ${worstGap.toFixed(0)} ms`);
    assert.ok(worstGap < 250, `longest timer gap ${worstGap.toFixed(0)} ms`);
  } finally {
    await builder.close();
  }
});

test('the follower swaps each version in whole, coalesces versions that arrive during a build, and disposes what it replaces', async () => {
  const versions = [1, 2, 3, 4].map((v) => syntheticItems({ count: 2000, dim: 16, seed: 30 + v }));
  const builder = new AnnIndexBuilder(small);
  const slot = new AnnIndexSlot();
  const built: number[] = [];
  const follower = new AnnIndexFollower(builder, slot, (v) => built.push(v));
  const queries = syntheticQueries(versions[0], 50, 40);
  try {
    assert.throws(() => slot.search(queries, 1, 5, out(1, 5)), /no index installed/);
    await follower.update(1, versions[0]);
    assert.equal(slot.version, 1);
    const v1 = slot.current!;
    assert.ok(recall(versions[0], (q, n, k, o) => slot.search(q, n, k, o), queries, 50, 10) >= 0.95);
    // Three versions in quick succession: 2 starts at once, 3 is superseded by 4 while 2 builds.
    await Promise.all([follower.update(2, versions[1]), follower.update(3, versions[2]), follower.update(4, versions[3])]);
    assert.deepEqual(built, [1, 2, 4]);
    assert.equal(slot.version, 4);
    assert.ok(recall(versions[3], (q, n, k, o) => slot.search(q, n, k, o), queries, 50, 10) >= 0.95);
    assert.throws(() => v1.search(queries, 1, 5, out(1, 5)), /after dispose/);
    // An older version never replaces a newer one.
    await follower.update(2, versions[1]);
    assert.equal(slot.version, 4);
    assert.deepEqual(built, [1, 2, 4]);
  } finally {
    slot.dispose();
    await builder.close();
  }
});
