import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore } from '../../src/session/session-store.ts';
import { ChangelogWriter, restoreFromRecords, type ChangelogInput, type ChangelogRecord } from '../../src/session/changelog.ts';

function makeStore(maxSessions = 16, ttlMs = 1000) {
  return new SessionStore({ hiddenSizes: [2, 3], historyLength: 3, maxSessions, ttlMs });
}

/** Applies one event the way the serving loop would: acquire, update state, mark dirty. */
function event(store: SessionStore, writer: ChangelogWriter, id: string, partition: number, item: number, now: number) {
  const slot = store.acquire(id, partition, now);
  store.pushItem(slot, item);
  store.hiddenView(0, slot).fill(item);
  store.hiddenView(1, slot).fill(-item);
  writer.markDirty(slot);
  return slot;
}

/** What a compacted topic keeps: the last record per key, per partition. */
class CompactedTopic {
  readonly log: ChangelogInput[] = [];
  append(records: ChangelogRecord[]) {
    for (const r of records) this.log.push({ key: Buffer.from(r.key), value: r.value, partition: r.partition });
  }
  compacted(): ChangelogInput[] {
    const last = new Map<string, ChangelogInput>();
    for (const r of this.log) {
      const k = `${r.partition}/${Buffer.from(r.key as Uint8Array).toString()}`;
      last.delete(k);
      last.set(k, r);
    }
    return [...last.values()].filter((r) => r.value !== null);
  }
}

test('one record per touched session per batch, carrying the latest state', () => {
  const store = makeStore();
  const writer = new ChangelogWriter(store);
  event(store, writer, 'a', 0, 1, 10);
  event(store, writer, 'b', 1, 2, 11);
  event(store, writer, 'a', 0, 3, 12);
  assert.equal(writer.pending, 2);
  const records = writer.drain();
  assert.deepEqual(
    records.map((r) => [r.key, r.partition]),
    [
      ['a', 0],
      ['b', 1],
    ],
  );
  assert.equal(writer.pending, 0);

  const check = makeStore();
  const slot = check.restoreSession('a', 0, records[0].value!);
  assert.deepEqual([...check.hiddenView(0, slot)], [3, 3]);
  assert.equal(check.eventCount(slot), 2);
  assert.equal(check.lastItem(slot), 3);
  assert.equal(check.lastUpdate(slot), 12);

  assert.deepEqual(writer.drain(), [], 'an untouched batch produces nothing');
  event(store, writer, 'b', 1, 4, 13);
  assert.deepEqual(
    writer.drain().map((r) => r.key),
    ['b'],
  );
});

test('TTL and capacity evictions and deletes become tombstones on the session partition', () => {
  const store = makeStore(2, 100);
  const writer = new ChangelogWriter(store);
  event(store, writer, 'a', 3, 1, 0);
  event(store, writer, 'b', 5, 1, 50);
  writer.drain();
  event(store, writer, 'c', 7, 1, 60); // full: evicts a
  assert.equal(store.expire(150), 1); // b is idle for 100
  const records = writer.drain();
  assert.deepEqual(
    records.map((r) => [r.key, r.partition, r.value === null]),
    // a's eviction is observed inside c's acquire, before c is marked.
    [
      ['a', 3, true],
      ['c', 7, false],
      ['b', 5, true],
    ],
  );
  assert.equal(writer.delete('c'), true);
  assert.equal(writer.delete('c'), false);
  assert.deepEqual(writer.drain(), [{ key: 'c', value: null, partition: 7 }]);
  assert.equal(store.size, 0);
});

test('a session evicted and re-created within a batch yields its new state, not a tombstone', () => {
  const store = makeStore(1);
  const writer = new ChangelogWriter(store);
  event(store, writer, 'a', 0, 1, 0);
  event(store, writer, 'b', 0, 2, 1); // evicts a
  event(store, writer, 'a', 0, 9, 2); // evicts b, a starts over
  const records = writer.drain();
  assert.deepEqual(
    records.map((r) => [r.key, r.value === null]),
    [
      ['a', false],
      ['b', true],
    ],
  );
  const check = makeStore();
  const slot = check.restoreSession('a', 0, records[0].value!);
  assert.equal(check.eventCount(slot), 1);
  assert.equal(check.lastItem(slot), 9);
});

test('dropping a revoked partition discards its pending records instead of tombstoning them', () => {
  const store = makeStore();
  const writer = new ChangelogWriter(store);
  event(store, writer, 'a', 0, 1, 0);
  event(store, writer, 'b', 1, 2, 0);
  event(store, writer, 'c', 1, 3, 0);
  store.dropPartition(1);
  assert.deepEqual(
    writer.drain().map((r) => [r.key, r.value === null]),
    [['a', false]],
  );
  writer.close();
  event(store, new ChangelogWriter(store), 'z', 0, 1, 0);
  store.expire(5000);
  assert.equal(writer.pending, 0, 'a closed writer no longer listens');
});

test('restore applies records in order: later wins, null deletes, nothing is written back', () => {
  const src = makeStore();
  const srcWriter = new ChangelogWriter(src);
  const topic = new CompactedTopic();
  event(src, srcWriter, 'a', 0, 1, 1);
  event(src, srcWriter, 'b', 0, 2, 2);
  topic.append(srcWriter.drain());
  event(src, srcWriter, 'a', 0, 5, 3);
  srcWriter.delete('b');
  event(src, srcWriter, 'c', 1, 7, 4);
  topic.append(srcWriter.drain());

  const dst = makeStore();
  const dstWriter = new ChangelogWriter(dst);
  dst.acquire('b', 0, 0); // stale local copy the tombstone must remove
  const result = restoreFromRecords(dst, topic.log);
  assert.deepEqual(result, { restored: 4, reencodeNeeded: 0, dropped: 0, deleted: 1, invalid: 0 });
  assert.equal(dst.has('b'), false);
  assert.equal(dstWriter.pending, 0);
  for (const id of ['a', 'c']) {
    assert.deepEqual(dst.encodeSession(dst.slotOf(id)), src.encodeSession(src.slotOf(id)), id);
  }
  assert.equal(dst.partitionOf(dst.slotOf('c')), 1);

  // The compacted view restores the same state as the full log.
  const fromCompacted = makeStore();
  restoreFromRecords(fromCompacted, topic.compacted());
  assert.deepEqual(fromCompacted.sessionsOfPartition(0), ['a']);
  assert.deepEqual(fromCompacted.encodeSession(fromCompacted.slotOf('a')), src.encodeSession(src.slotOf('a')));
});

test('an unreadable record is counted and skipped, never thrown: a retry would meet the same record', () => {
  const src = makeStore();
  const good = src.encodeSession(src.acquire('a', 0, 1));
  const records: ChangelogInput[] = [
    { key: 'x', value: good, partition: 0 },
    { key: 'x', value: good.subarray(0, 5), partition: 0 },
    { key: null, value: good, partition: 0 },
    { key: 'a', value: good, partition: 0 },
  ];
  const skipped: string[] = [];
  const dst = makeStore();
  const result = restoreFromRecords(dst, records, { onInvalid: (r, e) => skipped.push(`${r.key}: ${e.message}`) });
  assert.deepEqual(result, { restored: 2, reencodeNeeded: 0, dropped: 0, deleted: 0, invalid: 2 });
  assert.equal(skipped.length, 2);
  assert.match(skipped[0], /^x: invalid session record \(truncated\)/);
  assert.match(skipped[1], /without a key/);
  assert.ok(dst.has('a'));
  assert.equal(dst.has('x'), false, "the unreadable record was x's latest state: the earlier one is stale");
  // Without a callback the counts are all there is, and still nothing throws.
  assert.deepEqual(restoreFromRecords(makeStore(), records), result);
});

test('restoring partitions one after another keeps expiry exact', () => {
  const src = makeStore(16, 100);
  const w = new ChangelogWriter(src);
  const topic = new CompactedTopic();
  // Two partitions whose sessions interleave in time.
  for (const [id, p, t] of [
    ['a', 0, 10],
    ['b', 1, 20],
    ['c', 0, 30],
    ['d', 1, 40],
  ] as const)
    event(src, w, id, p, 1, t);
  topic.append(w.drain());
  const byPartition = [...topic.log].sort((x, y) => x.partition - y.partition);
  const dst = makeStore(16, 100);
  restoreFromRecords(dst, byPartition);
  const order: string[] = [];
  dst.forEachSession((id) => order.push(id));
  assert.deepEqual(order, ['a', 'b', 'c', 'd']);
  assert.equal(dst.expire(125), 2);
  assert.deepEqual([...dst.sessionsOfPartition(0), ...dst.sessionsOfPartition(1)], ['c', 'd']);
});
