import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore } from '../../src/session/session-store.ts';
import { ChangelogWriter, restoreFromRecords, type ChangelogInput } from '../../src/session/changelog.ts';
import { LEGACY_SESSION_RECORD_VERSION, modelStamp, recordBytes, SESSION_RECORD_VERSION, STAMP_BYTES, type ModelStamp } from '../../src/session/session-codec.ts';

/** A model's stamp from three distinct fake digests (a real one comes from modelStamp(loadModel(dir))). */
function stamp(layout: string, vocabulary: string, weights: string): ModelStamp {
  const hex = (c: string) => c.repeat(64);
  return modelStamp({ stateLayoutHash: hex(layout), vocabularyHash: hex(vocabulary), weightsHash: hex(weights) });
}

const MODEL_A = stamp('a', '1', 'a');
/** Retrained on the same catalogue: same layout and vocabulary, other weights. */
const MODEL_A_RETRAINED = stamp('a', '1', 'b');
/** Wider hidden layer, same catalogue. */
const MODEL_WIDE = stamp('c', '1', 'c');
/** Another catalogue. */
const MODEL_OTHER_ITEMS = stamp('a', '2', 'd');

function makeStore(hiddenSizes: number[], modelStamp: ModelStamp | undefined, maxSessions = 8) {
  return new SessionStore({ hiddenSizes, historyLength: 4, maxSessions, ttlMs: Infinity, ...(modelStamp ? { stamp: modelStamp } : {}) });
}

/** One session per id in `ids`, state filled with `fill`, items 1..3, written by a store of that model. */
function recordsOf(store: SessionStore, ids: string[], fill: number): ChangelogInput[] {
  const writer = new ChangelogWriter(store);
  for (const id of ids) {
    const slot = store.acquire(id, 0, 100);
    for (let l = 0; l < store.layers; l++) store.hiddenView(l, slot).fill(fill);
    for (const item of [1, 2, 3]) store.pushItem(slot, item);
    writer.markDirty(slot);
  }
  return writer.drain().map((r) => ({ key: r.key, value: r.value, partition: r.partition }));
}

/** A version-1 record, byte by byte as the previous build wrote it (no stamps). */
function legacyRecord(hiddenSizes: number[], fill: number, history: number[], events: number, lastUpdate: number): Buffer {
  const buf = Buffer.alloc(recordBytes(hiddenSizes, history.length, LEGACY_SESSION_RECORD_VERSION));
  let o = buf.writeUInt8(1, 0);
  o = buf.writeUInt8(hiddenSizes.length, o);
  for (const h of hiddenSizes) o = buf.writeUInt32LE(h, o);
  o = buf.writeUInt32LE(history.length, o);
  o = buf.writeUInt32LE(events, o);
  o = buf.writeDoubleLE(lastUpdate, o);
  for (const h of hiddenSizes) for (let k = 0; k < h; k++) o = buf.writeFloatLE(fill, o);
  for (const item of history) o = buf.writeInt32LE(item, o);
  return buf;
}

test('every record carries the stamp of the model that wrote it, in version 2', () => {
  const store = makeStore([3], MODEL_A);
  const [rec] = recordsOf(store, ['s'], 0.5);
  const value = rec.value as Buffer;
  assert.equal(value[0], SESSION_RECORD_VERSION);
  assert.equal(value.length, recordBytes([3], 3));
  const at = 2 + 4;
  assert.deepEqual(value.subarray(at, at + STAMP_BYTES), Buffer.from(MODEL_A.stateLayout));
  assert.deepEqual(value.subarray(at + STAMP_BYTES, at + 2 * STAMP_BYTES), Buffer.from(MODEL_A.vocabulary));
  assert.deepEqual(value.subarray(at + 2 * STAMP_BYTES, at + 3 * STAMP_BYTES), Buffer.from(MODEL_A.weights));
  // A model swap re-stamps what the store writes from then on.
  store.resetHiddenStates([3], MODEL_A_RETRAINED);
  const again = store.encodeSession(store.slotOf('s'));
  assert.deepEqual(again.subarray(at + 2 * STAMP_BYTES, at + 3 * STAMP_BYTES), Buffer.from(MODEL_A_RETRAINED.weights));
});

test('records of the same model restore as they are', () => {
  const records = recordsOf(makeStore([3, 2], MODEL_A), ['a', 'b'], 0.25);
  const dst = makeStore([3, 2], MODEL_A);
  assert.deepEqual(restoreFromRecords(dst, records), { restored: 2, reencodeNeeded: 0, dropped: 0, deleted: 0, invalid: 0 });
  const slot = dst.slotOf('a');
  assert.deepEqual([...dst.hiddenView(0, slot)], [0.25, 0.25, 0.25]);
  assert.equal(dst.needsReencode(slot), false);
  assert.equal(dst.reencodePending, 0);
});

test('a hidden-size change keeps the histories for re-encoding instead of failing the restore', () => {
  const records = recordsOf(makeStore([3], MODEL_A), ['a', 'b', 'c'], 0.75);
  const dst = makeStore([5], MODEL_WIDE);
  const result = restoreFromRecords(dst, records);
  assert.deepEqual(result, { restored: 0, reencodeNeeded: 3, dropped: 0, deleted: 0, invalid: 0 });
  const slot = dst.slotOf('b');
  assert.deepEqual([...dst.hiddenView(0, slot)], [0, 0, 0, 0, 0], 'no state of the other layout leaks in');
  const history = new Int32Array(4);
  assert.equal(dst.history(slot, history), 3);
  assert.deepEqual([...history.subarray(0, 3)], [1, 2, 3]);
  assert.equal(dst.eventCount(slot), 3);
  assert.equal(dst.needsReencode(slot), true);
  assert.equal(dst.reencodePending, 3);
  const pending = new Int32Array(8);
  const n = dst.takeReencodeSlots(pending);
  assert.deepEqual(
    [...pending.subarray(0, n)].map((s) => dst.sessionIdOf(s)),
    ['a', 'b', 'c'],
  );
  assert.equal(dst.reencodePending, 0);
  assert.equal(dst.needsReencode(slot), false);
});

test('states of other weights over the same vocabulary are re-encoded, not trusted', () => {
  const records = recordsOf(makeStore([3], MODEL_A), ['a'], 0.75);
  const dst = makeStore([3], MODEL_A_RETRAINED);
  assert.deepEqual(restoreFromRecords(dst, records), { restored: 0, reencodeNeeded: 1, dropped: 0, deleted: 0, invalid: 0 });
  assert.deepEqual([...dst.hiddenView(0, dst.slotOf('a'))], [0, 0, 0]);
  // A later record of this model for the same session is the truth again.
  const own = recordsOf(makeStore([3], MODEL_A_RETRAINED), ['a'], 0.5);
  assert.deepEqual(restoreFromRecords(dst, own), { restored: 1, reencodeNeeded: 0, dropped: 0, deleted: 0, invalid: 0 });
  assert.equal(dst.reencodePending, 0);
  assert.deepEqual([...dst.hiddenView(0, dst.slotOf('a'))], [0.5, 0.5, 0.5]);
});

test('records of another vocabulary are dropped, with the stale state they replace, and never throw', () => {
  const dst = makeStore([3], MODEL_OTHER_ITEMS);
  const own = recordsOf(makeStore([3], MODEL_OTHER_ITEMS), ['a'], 0.5);
  const foreign = recordsOf(makeStore([3], MODEL_A), ['a', 'b'], 0.75);
  const result = restoreFromRecords(dst, [...own, ...foreign]);
  assert.deepEqual(result, { restored: 1, reencodeNeeded: 0, dropped: 2, deleted: 0, invalid: 0 });
  assert.equal(dst.has('a'), false, "the dropped record was a's latest state");
  assert.equal(dst.has('b'), false);
  assert.equal(dst.size, 0);
  // Restoring the same records again (a retried restore) gives the same answer.
  assert.deepEqual(restoreFromRecords(makeStore([3], MODEL_OTHER_ITEMS), [...own, ...foreign]), result);
});

test('version-1 records are still read: same layout restores, another layout is dropped', () => {
  const v1 = legacyRecord([3, 2], 0.125, [7, 8, 9], 5, 250);
  const records: ChangelogInput[] = [
    { key: 'old', value: v1, partition: 2 },
    { key: 'old-other-layout', value: legacyRecord([4], 1, [1], 1, 10), partition: 2 },
  ];
  const dst = makeStore([3, 2], MODEL_A);
  assert.deepEqual(restoreFromRecords(dst, records), { restored: 1, reencodeNeeded: 0, dropped: 1, deleted: 0, invalid: 0 });
  const slot = dst.slotOf('old');
  assert.deepEqual([...dst.hiddenView(0, slot)], [0.125, 0.125, 0.125]);
  assert.deepEqual([...dst.hiddenView(1, slot)], [0.125, 0.125]);
  const history = new Int32Array(4);
  assert.equal(dst.history(slot, history), 3);
  assert.deepEqual([...history.subarray(0, 3)], [7, 8, 9]);
  assert.equal(dst.eventCount(slot), 5);
  assert.equal(dst.lastUpdate(slot), 250);
  assert.equal(dst.partitionOf(slot), 2);
  // Written back, it is a version-2 record of this model.
  const rewritten = dst.encodeSession(slot);
  assert.equal(rewritten[0], SESSION_RECORD_VERSION);
  assert.equal(rewritten.length, v1.length + 3 * STAMP_BYTES);
});

test('restored sessions stay evictable: a restore larger than the store after a batch does not throw', () => {
  const store = makeStore([2], MODEL_A, 4);
  store.beginBatch();
  const records = recordsOf(makeStore([2], MODEL_A, 16), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'], 1);
  // No batch holds a restored session, so the later ones may evict the earlier ones (oldest first).
  assert.deepEqual(restoreFromRecords(store, records), { restored: 6, reencodeNeeded: 0, dropped: 0, deleted: 0, invalid: 0 });
  assert.equal(store.size, 4);
  assert.equal(store.has('r0'), false);
  assert.equal(store.has('r5'), true);
  // And the next batch can make room for its own sessions by evicting restored ones.
  store.beginBatch();
  for (const id of ['n0', 'n1', 'n2']) store.acquire(id, 0, 200);
  assert.equal(store.size, 4);
});
