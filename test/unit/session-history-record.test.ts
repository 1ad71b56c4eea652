import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore } from '../../src/session/session-store.ts';
import { ChangelogWriter, restoreFromRecords } from '../../src/session/changelog.ts';
import {
  HISTORY_RECORD_VERSION,
  modelStamp,
  parseSessionRecord,
  recordBytes,
  recordFit,
  SESSION_RECORD_VERSION,
  SessionRecordError,
  type ModelStamp,
  type RecordMode,
} from '../../src/session/session-codec.ts';

function stamp(layout: string, vocabulary: string, weights: string): ModelStamp {
  const hex = (c: string) => c.repeat(64);
  return modelStamp({ stateLayoutHash: hex(layout), vocabularyHash: hex(vocabulary), weightsHash: hex(weights) });
}
const MODEL_A = stamp('a', '1', 'a');
const MODEL_A_RETRAINED = stamp('a', '1', 'b');
const MODEL_OTHER_ITEMS = stamp('a', '2', 'c');

const HISTORY = 4;
function makeStore(recordMode: RecordMode, s: ModelStamp = MODEL_A, hiddenSizes = [3, 2]) {
  return new SessionStore({ hiddenSizes, historyLength: HISTORY, maxSessions: 8, ttlMs: Infinity, stamp: s, recordMode });
}

/** A session advanced the way serving advances it: push the item, then the new state. */
function click(store: SessionStore, id: string, item: number, now = 100): number {
  const slot = store.acquire(id, 0, now);
  store.pushItem(slot, item);
  for (let l = 0; l < store.layers; l++) store.hiddenView(l, slot).fill(item + l / 10);
  return slot;
}

const versionOf = (record: Buffer) => record.readUInt8(0);

test('history mode writes a v3 record: stamps and history, no hidden state', () => {
  const store = makeStore('history');
  const slot = click(store, 's', 7, 50);
  click(store, 's', 9, 60);
  const record = store.encodeSession(slot);
  assert.equal(versionOf(record), HISTORY_RECORD_VERSION);
  // 2 + 2 layer sizes + 24 stamp bytes + counts/time (16) + 2 items: no 5 floats.
  assert.equal(record.length, 2 + 8 + 24 + 16 + 8);
  assert.equal(record.length, recordBytes([3, 2], 2, HISTORY_RECORD_VERSION));
  assert.equal(record.length, recordBytes([3, 2], 2) - 4 * 5);
  const view = parseSessionRecord(record);
  assert.equal(view.version, 3);
  assert.equal(view.hiddenOffset, -1);
  assert.equal(view.historyCount, 2);
  assert.equal(view.eventCount, 2);
  assert.equal(view.lastUpdate, 60);
  // The full mode writes the state of the same session.
  const full = makeStore('full');
  const f = click(full, 's', 7, 50);
  click(full, 's', 9, 60);
  assert.equal(versionOf(full.encodeSession(f)), SESSION_RECORD_VERSION);
});

test('a v3 record round-trips: history, counts and time restored, the state flagged for re-encoding', () => {
  const writer = makeStore('history');
  const slot = click(writer, 's', 7, 50);
  click(writer, 's', 9, 60);
  click(writer, 's', 11, 70);
  const record = writer.encodeSession(slot);

  const reader = makeStore('history');
  const counts = restoreFromRecords(reader, [{ key: 's', value: record, partition: 2 }]);
  assert.deepEqual(counts, { restored: 0, reencodeNeeded: 1, dropped: 0, deleted: 0, invalid: 0 });
  const r = reader.slotOf('s');
  assert.ok(reader.needsReencode(r));
  const items = new Int32Array(HISTORY);
  assert.equal(reader.history(r, items), 3);
  assert.deepEqual([...items.subarray(0, 3)], [7, 9, 11]);
  assert.equal(reader.eventCount(r), 3);
  assert.equal(reader.lastUpdate(r), 70);
  assert.equal(reader.partitionOf(r), 2);
  assert.deepEqual([...reader.hiddenView(0, r)], [0, 0, 0]);
  // While it waits for its re-encode the slot is written history-only again, never as a zero state.
  assert.equal(versionOf(reader.encodeSession(r)), HISTORY_RECORD_VERSION);
});

test('a v3 record is re-encoded under any weights or layout of its vocabulary, dropped under another', () => {
  const record = (() => {
    const s = makeStore('history');
    return s.encodeSession(click(s, 's', 5));
  })();
  const view = parseSessionRecord(record);
  assert.equal(recordFit(record, view, [3, 2], MODEL_A), 'reencode');
  assert.equal(recordFit(record, view, [3, 2], MODEL_A_RETRAINED), 'reencode');
  assert.equal(recordFit(record, view, [16], stamp('d', '1', 'd')), 'reencode');
  assert.equal(recordFit(record, view, [3, 2], MODEL_OTHER_ITEMS), 'drop');
  const other = makeStore('history', MODEL_OTHER_ITEMS);
  assert.equal(restoreFromRecords(other, [{ key: 's', value: record, partition: 0 }]).dropped, 1);
  assert.equal(other.size, 0);
});

test('truncated or padded v3 records are refused and change nothing', () => {
  const store = makeStore('history');
  const good = store.encodeSession(click(store, 's', 5));
  const reader = makeStore('history');
  const code = (buf: Buffer) => {
    try {
      parseSessionRecord(buf);
      return 'ok';
    } catch (e) {
      assert.ok(e instanceof SessionRecordError);
      return e.code;
    }
  };
  assert.equal(code(good), 'ok');
  assert.equal(code(good.subarray(0, 20)), 'truncated');
  assert.equal(code(good.subarray(0, good.length - 1)), 'length');
  assert.equal(code(Buffer.concat([good, Buffer.alloc(4)])), 'length');
  const counts = restoreFromRecords(reader, [{ key: 's', value: good.subarray(0, good.length - 2), partition: 0 }]);
  assert.equal(counts.invalid, 1);
  assert.equal(reader.size, 0);
});

test('a history-mode store still reads v2 records as full states (v1: session-record-compat.test.ts)', () => {
  const full = makeStore('full');
  const slot = click(full, 's', 5);
  const v2 = full.encodeSession(slot);
  assert.equal(versionOf(v2), SESSION_RECORD_VERSION);
  const reader = makeStore('history');
  assert.equal(restoreFromRecords(reader, [{ key: 's', value: v2, partition: 0 }]).restored, 1);
  const r = reader.slotOf('s');
  assert.deepEqual([...reader.hiddenView(0, r)], [5, 5, 5]);
  assert.ok(!reader.needsReencode(r));
  // A stored state cannot be told to be its history's encoding: it is written in full again.
  assert.ok(!reader.encodesHistory(r));
  assert.equal(versionOf(reader.encodeSession(r)), SESSION_RECORD_VERSION);
});

test('history mode falls back to a full record exactly when re-encoding the history would not give the state back', () => {
  const store = makeStore('history');
  // Within the window: exact.
  const s = click(store, 'short', 1);
  assert.ok(store.encodesHistory(s));
  // Outgrows historyLength: the oldest item leaves the ring but not the state.
  let l = 0;
  for (let i = 0; i < HISTORY; i++) l = click(store, 'long', i + 1);
  assert.ok(store.encodesHistory(l));
  assert.equal(versionOf(store.encodeSession(l)), HISTORY_RECORD_VERSION);
  l = click(store, 'long', 99);
  assert.ok(!store.encodesHistory(l));
  assert.equal(versionOf(store.encodeSession(l)), SESSION_RECORD_VERSION);
  // A re-encode from the (windowed) history makes the state its encoding again.
  store.markEncodedFromHistory(Int32Array.of(l), 1);
  assert.equal(versionOf(store.encodeSession(l)), HISTORY_RECORD_VERSION);

  // A catalogue remap that drops an item of the history.
  const m = click(store, 'remapped', 2);
  click(store, 'remapped', 3);
  const map = Int32Array.from({ length: 100 }, (_, i) => (i === 2 ? -1 : i));
  store.remapHistories(map);
  assert.ok(!store.encodesHistory(m));
  assert.ok(store.encodesHistory(s), 'histories that lost nothing stay exact');

  // A swap that keeps the old states under new weights.
  store.resetStampOnly(MODEL_A_RETRAINED);
  assert.ok(!store.encodesHistory(s));
  assert.equal(versionOf(store.encodeSession(s)), SESSION_RECORD_VERSION);

  // A swap that resets states (history kept) is not exact either; one flagged for re-encoding is written history-only.
  store.resetHiddenStates();
  assert.ok(!store.encodesHistory(s));
  assert.equal(versionOf(store.encodeSession(s)), SESSION_RECORD_VERSION);
  store.markAllForReencode();
  assert.equal(versionOf(store.encodeSession(s)), HISTORY_RECORD_VERSION);

  // A new session (zero state, empty history) is exact whatever its slot held before.
  store.delete('short');
  const fresh = store.acquire('fresh', 0, 100);
  assert.ok(store.encodesHistory(fresh));
});

test('full mode writes hidden states except for slots awaiting re-encoding', () => {
  const store = makeStore('full');
  const s = click(store, 's', 1);
  assert.equal(versionOf(store.encodeSession(s)), SESSION_RECORD_VERSION);
  store.resetHiddenStates(undefined, MODEL_A_RETRAINED);
  store.markAllForReencode();
  // Its state is zero until the lazy re-encode: a full record would store a zero state stamped as the new model.
  assert.equal(versionOf(store.encodeSession(s)), HISTORY_RECORD_VERSION);
});

test('the writer keeps one record per session across batches until the drain at the commit', () => {
  const store = makeStore('history');
  const writer = new ChangelogWriter(store);
  // Three micro-batches of one transaction.
  for (const [id, item] of [
    ['a', 1],
    ['b', 2],
  ] as const)
    writer.markDirty(click(store, id, item));
  writer.markDirty(click(store, 'a', 3));
  writer.markDirty(click(store, 'c', 4));
  writer.markDirty(click(store, 'b', 5));
  writer.delete('c');
  assert.equal(writer.pending, 3);
  const records = writer.drain();
  assert.deepEqual(
    records.map((r) => r.key),
    ['a', 'b', 'c'],
    'first-touch order, once each',
  );
  const history = (value: Buffer | null) => {
    assert.ok(value);
    const view = parseSessionRecord(value);
    return Array.from({ length: view.historyCount }, (_, i) => value.readInt32LE(view.historyOffset + 4 * i));
  };
  assert.deepEqual(history(records[0].value), [1, 3], 'the last state of a, not one per batch');
  assert.deepEqual(history(records[1].value), [2, 5]);
  assert.equal(records[2].value, null, 'c was deleted in the last batch: its tombstone replaces its earlier record');
  assert.equal(writer.pending, 0);
  assert.deepEqual(writer.drain(), []);
});

test('an aborted multi-batch transaction forgets the records of all its batches', () => {
  const store = makeStore('history');
  const writer = new ChangelogWriter(store);
  writer.markDirty(click(store, 'a', 1));
  writer.markDirty(click(store, 'b', 2));
  writer.discard();
  assert.equal(writer.pending, 0);
  writer.markDirty(click(store, 'b', 3));
  assert.deepEqual(
    writer.drain().map((r) => r.key),
    ['b'],
  );
});
