import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SessionStore, type EvictionReason } from '../../src/session/session-store.ts';
import { SessionRecordError, recordBytes } from '../../src/session/session-codec.ts';
import { seededRandom } from '../../src/random/rng.ts';

function makeStore(over: Partial<ConstructorParameters<typeof SessionStore>[0]> = {}) {
  const evicted: Array<[string, EvictionReason, number]> = [];
  const store = new SessionStore({
    hiddenSizes: [3, 5],
    historyLength: 4,
    maxSessions: 8,
    ttlMs: 1000,
    clock: () => 0,
    onEvict: (id, reason, partition) => evicted.push([id, reason, partition]),
    ...over,
  });
  return { store, evicted };
}

/** Deterministic pseudo-random floats so failures reproduce. */
const rng = seededRandom;

test('each layer keeps an isolated zero-initialised vector per session', () => {
  const { store } = makeStore();
  const a = store.acquire('a', 0, 1);
  const b = store.acquire('b', 0, 1);
  assert.notEqual(a, b);
  store.hiddenView(0, a).fill(1);
  store.hiddenView(1, a).fill(2);
  store.hiddenView(0, b).set([7, 8, 9]);
  assert.deepEqual([...store.hiddenView(0, a)], [1, 1, 1]);
  assert.deepEqual([...store.hiddenView(1, a)], [2, 2, 2, 2, 2]);
  assert.deepEqual([...store.hiddenView(0, b)], [7, 8, 9]);
  assert.deepEqual([...store.hiddenView(1, b)], [0, 0, 0, 0, 0]);
  assert.equal(store.hiddenView(1, b).length, 5);
  // Re-acquiring is a hit that keeps the state.
  assert.equal(store.acquire('a', 0, 2), a);
  assert.deepEqual([...store.hiddenView(1, a)], [2, 2, 2, 2, 2]);
  assert.deepEqual(store.stats().hits, 1);
  assert.deepEqual(store.stats().misses, 2);
});

test('a recycled slot starts from zero state and empty history', () => {
  const { store } = makeStore({ maxSessions: 1 });
  const s = store.acquire('a', 0, 0);
  store.hiddenView(0, s).fill(5);
  store.pushItem(s, 42);
  assert.ok(store.delete('a'));
  const t = store.acquire('b', 0, 0);
  assert.equal(t, s);
  assert.deepEqual([...store.hiddenView(0, t)], [0, 0, 0]);
  assert.equal(store.historyCount(t), 0);
  assert.equal(store.eventCount(t), 0);
  assert.equal(store.lastItem(t), -1);
});

test('capacity eviction removes the least recently touched session and reports it', () => {
  const { store, evicted } = makeStore({ maxSessions: 3 });
  store.acquire('a', 0, 1);
  store.acquire('b', 1, 2);
  store.acquire('c', 0, 3);
  store.acquire('a', 0, 4); // a becomes most recent; b is now the oldest
  store.acquire('d', 2, 5);
  assert.deepEqual(evicted, [['b', 'capacity', 1]]);
  assert.equal(store.has('b'), false);
  store.acquire('e', 2, 6);
  assert.deepEqual(evicted[1], ['c', 'capacity', 0]);
  assert.equal(store.size, 3);
  assert.deepEqual(store.stats().evictions, { ttl: 0, capacity: 2 });
  const order: string[] = [];
  store.forEachSession((id) => order.push(id));
  assert.deepEqual(order, ['a', 'd', 'e']);
});

test('a batch larger than the store is refused instead of recycling its own slots', () => {
  const { store } = makeStore({ maxSessions: 2 });
  store.acquire('old', 0, 0);
  store.beginBatch();
  store.acquire('x', 0, 1); // evicts 'old', which belongs to no batch
  store.acquire('y', 0, 1);
  assert.throws(() => store.acquire('z', 0, 1), /smaller than the distinct sessions of one batch/);
  store.beginBatch();
  store.acquire('z', 0, 2);
  assert.equal(store.has('x'), false);
});

test('TTL sweep removes exactly the idle sessions, oldest first, honouring the limit', () => {
  const { store, evicted } = makeStore({ ttlMs: 100 });
  store.acquire('a', 0, 0);
  store.acquire('b', 1, 50);
  store.acquire('c', 0, 120);
  assert.equal(store.expire(149), 1); // a idle 149 ≥ 100, b idle 99
  assert.deepEqual(evicted, [['a', 'ttl', 0]]);
  store.acquire('d', 0, 200);
  store.acquire('e', 0, 210);
  assert.equal(store.expire(400, 2), 2); // all four are idle, the limit stops at two
  assert.deepEqual(
    evicted.slice(1).map((e) => e[0]),
    ['b', 'c'],
  );
  assert.equal(store.expire(400), 2);
  assert.equal(store.size, 0);
  assert.deepEqual(store.stats().evictions, { ttl: 5, capacity: 0 });
});

test('acquiring a session past its TTL starts it over even before a sweep', () => {
  const { store, evicted } = makeStore({ ttlMs: 100 });
  const s = store.acquire('a', 3, 0);
  store.hiddenView(0, s).fill(1);
  store.pushItem(s, 9);
  const t = store.acquire('a', 3, 100);
  assert.deepEqual(evicted, [['a', 'ttl', 3]]);
  assert.deepEqual([...store.hiddenView(0, t)], [0, 0, 0]);
  assert.equal(store.eventCount(t), 0);
  assert.equal(store.stats().misses, 2);
});

test('history ring keeps the newest items in order across wraparound', () => {
  const { store } = makeStore({ historyLength: 4 });
  const s = store.acquire('a', 0, 0);
  const dst = new Int32Array(4);
  store.pushItem(s, 1);
  store.pushItem(s, 2);
  assert.equal(store.history(s, dst), 2);
  assert.deepEqual([...dst.subarray(0, 2)], [1, 2]);
  for (let i = 3; i <= 10; i++) store.pushItem(s, i);
  assert.equal(store.history(s, dst), 4);
  assert.deepEqual([...dst], [7, 8, 9, 10]);
  assert.equal(store.lastItem(s), 10);
  assert.equal(store.eventCount(s), 10);
  store.pushItem(s, 11);
  assert.equal(store.history(s, dst), 4);
  assert.deepEqual([...dst], [8, 9, 10, 11]);
  assert.throws(() => store.history(s, new Int32Array(3)), RangeError);
});

test('a store without history still counts events', () => {
  const { store } = makeStore({ historyLength: 0 });
  const s = store.acquire('a', 0, 0);
  store.pushItem(s, 3);
  assert.equal(store.eventCount(s), 1);
  assert.equal(store.history(s, new Int32Array(0)), 0);
  assert.equal(store.lastItem(s), -1);
});

test('gather and scatter move batches between the slabs and contiguous buffers', () => {
  // Layer 1 is wide enough to take the TypedArray.set copy path, layer 0 the element loop.
  const { store } = makeStore({ maxSessions: 16, hiddenSizes: [3, 40] });
  const r = rng(1);
  const ids = Array.from({ length: 10 }, (_, i) => `s${i}`);
  const slot = new Map(ids.map((id) => [id, store.acquire(id, 0, 0)]));
  for (const [, s] of slot) for (let l = 0; l < 2; l++) store.hiddenView(l, s).forEach((_, k, v) => (v[k] = r()));
  const picked = ['s7', 's2', 's9', 's0'];
  const slots = Int32Array.from(picked.map((id) => slot.get(id)!));
  for (let l = 0; l < 2; l++) {
    const h = store.hiddenSizes[l];
    const buf = new Float32Array(2 + picked.length * h);
    store.gather(l, slots, picked.length, buf, 2);
    picked.forEach((id, i) => assert.deepEqual(buf.subarray(2 + i * h, 2 + (i + 1) * h), store.hiddenView(l, slot.get(id)!)));
    for (let i = 2; i < buf.length; i++) buf[i] = -i;
    store.scatter(l, slots, picked.length, buf, 2);
    picked.forEach((id, i) => assert.deepEqual([...store.hiddenView(l, slot.get(id)!)], [...buf.subarray(2 + i * h, 2 + (i + 1) * h)]));
  }
  // Unpicked sessions are untouched by scatter.
  assert.ok(store.hiddenView(0, slot.get('s1')!).every((v) => v >= 0 && v < 1));
  assert.throws(() => store.gather(0, slots, 4, new Float32Array(11)), RangeError);
  assert.throws(() => store.gather(0, Int32Array.of(16), 1, new Float32Array(3)), /out of range/);
});

function fillRandomState(store: SessionStore, slot: number, seed: number, events: number) {
  const r = rng(seed);
  for (let l = 0; l < store.layers; l++) store.hiddenView(l, slot).forEach((_, k, v) => (v[k] = (r() - 0.5) * 1e3));
  for (let i = 0; i < events; i++) store.pushItem(slot, Math.floor(r() * 1e6));
}

test('encode/restore round trip is bit-exact, including -0, subnormals and NaN payloads', () => {
  const { store } = makeStore();
  const s = store.acquire('sess-1', 4, 1234.5);
  fillRandomState(store, s, 7, 6);
  const bits0 = new Uint32Array(store.hiddenView(0, s).buffer, store.hiddenView(0, s).byteOffset, 3);
  bits0[0] = 0x80000000; // -0
  bits0[1] = 0x00000001; // smallest subnormal
  bits0[2] = 0x7fc12345; // NaN with payload
  const rec = store.encodeSession(s);
  assert.equal(rec.length, recordBytes([3, 5], 4));

  const { store: other } = makeStore();
  other.acquire('filler', 0, 0);
  const t = other.restoreSession('sess-1', 4, rec);
  assert.equal(other.partitionOf(t), 4);
  assert.equal(other.lastUpdate(t), 1234.5);
  assert.equal(other.eventCount(t), 6);
  const h1 = new Int32Array(4);
  const h2 = new Int32Array(4);
  assert.equal(other.history(t, h2), store.history(s, h1));
  assert.deepEqual(h2, h1);
  for (let l = 0; l < 2; l++) {
    const a = store.hiddenView(l, s);
    const b = other.hiddenView(l, t);
    assert.deepEqual(new Uint32Array(b.buffer, b.byteOffset, b.length), new Uint32Array(a.buffer, a.byteOffset, a.length));
  }
  assert.deepEqual(other.encodeSession(t), rec);
  // Unaligned input (a slice of a larger buffer, as a Kafka client may hand it) restores the same.
  const shifted = Buffer.alloc(rec.length + 1);
  rec.copy(shifted, 1);
  const u = other.restoreSession('sess-2', 4, shifted.subarray(1));
  assert.deepEqual(other.encodeSession(u), rec);
});

test('restoring into a shorter history keeps the newest items', () => {
  const { store } = makeStore({ historyLength: 6 });
  const s = store.acquire('a', 0, 0);
  for (let i = 1; i <= 9; i++) store.pushItem(s, i);
  const { store: small } = makeStore({ historyLength: 3 });
  const t = small.restoreSession('a', 0, store.encodeSession(s));
  const dst = new Int32Array(3);
  assert.equal(small.history(t, dst), 3);
  assert.deepEqual([...dst], [7, 8, 9]);
  assert.equal(small.eventCount(t), 9);
  small.pushItem(t, 10);
  assert.equal(small.history(t, dst), 3);
  assert.deepEqual([...dst], [8, 9, 10]);
});

test('malformed records are refused with a clear error and change nothing', () => {
  const { store } = makeStore();
  const s = store.acquire('a', 0, 10);
  fillRandomState(store, s, 3, 5);
  const good = store.encodeSession(s);
  const before = Buffer.from(good);
  // Version-2 header: version, layer count, two sizes, three 8-byte stamps, then the counts.
  const counts = 2 + 2 * 4 + 3 * 8;

  const expectCode = (buf: Buffer, code: string, re: RegExp) =>
    assert.throws(
      () => store.restoreSession('a', 0, buf),
      (e: unknown) => e instanceof SessionRecordError && e.code === code && re.test(e.message),
    );

  expectCode(good.subarray(0, 1), 'truncated', /header/);
  expectCode(good.subarray(0, 9), 'truncated', /header of 2 layers/);
  expectCode(good.subarray(0, good.length - 1), 'length', /announces/);
  expectCode(Buffer.concat([good, Buffer.alloc(4)]), 'length', /announces/);
  const v4 = Buffer.from(good);
  v4[0] = 4;
  expectCode(v4, 'version', /version 4, this build reads versions 1 to 3/);
  // A full record relabelled history-only (v3) is longer than its header announces.
  const v3 = Buffer.from(good);
  v3[0] = 3;
  expectCode(v3, 'length', /announces/);
  // A layout that does not match the bytes that follow is a broken record, not another model's.
  const wrongLayers = Buffer.from(good);
  wrongLayers[1] = 1;
  expectCode(wrongLayers, 'length', /announces/);
  const wrongSize = Buffer.from(good);
  wrongSize.writeUInt32LE(4, 2);
  expectCode(wrongSize, 'length', /announces/);
  const zeroLayers = Buffer.from(good);
  zeroLayers[1] = 0;
  expectCode(zeroLayers, 'value', /0 layers/);
  const negative = Buffer.from(good);
  negative.writeInt32LE(-5, negative.length - 4);
  expectCode(negative, 'value', /negative item/);
  const tooManyItems = Buffer.from(good);
  tooManyItems.writeUInt32LE(2, counts + 4); // event count below the 4 history items
  expectCode(tooManyItems, 'value', /only 2 events/);

  // The live session is exactly as before every refused attempt.
  assert.deepEqual(store.encodeSession(s), before);
});

test('dropPartition forgets only that partition, without eviction callbacks', () => {
  const seen: number[] = [];
  const { store, evicted } = makeStore();
  store.addListener({ partitionDropped: (p, n) => seen.push(p, n) });
  for (let i = 0; i < 6; i++) store.acquire(`s${i}`, i % 2, i);
  assert.deepEqual(store.sessionsOfPartition(1), ['s1', 's3', 's5']);
  assert.equal(store.dropPartition(1), 3);
  assert.deepEqual(seen, [1, 3]);
  assert.deepEqual(evicted, []);
  assert.deepEqual(store.sessionsOfPartition(1), []);
  assert.deepEqual(store.sessionsOfPartition(0), ['s0', 's2', 's4']);
  assert.equal(store.size, 3);
  // The freed slots are reused before anything is evicted.
  for (let i = 0; i < 5; i++) store.acquire(`n${i}`, 2, 10);
  assert.equal(store.size, 8);
  assert.deepEqual(evicted, []);
  assert.equal(store.stats().dropped, 3);
});

test('memoryBytes is set by capacity and layout, not by events', () => {
  const small = new SessionStore({ hiddenSizes: [100], historyLength: 10, maxSessions: 1000, ttlMs: Infinity });
  const large = new SessionStore({ hiddenSizes: [100], historyLength: 10, maxSessions: 10000, ttlMs: Infinity });
  const empty = small.memoryBytes();
  assert.ok(empty >= 1000 * 100 * 4 + 1000 * 10 * 4, `${empty} below the slab size`);
  assert.ok(large.memoryBytes() > 9 * empty && large.memoryBytes() < 11 * empty);
  const s = small.acquire('one-session', 0, 0);
  const withOne = small.memoryBytes();
  for (let i = 0; i < 100000; i++) small.pushItem(s, i);
  assert.equal(small.memoryBytes(), withOne);
  assert.ok(withOne - empty < 200, 'a session costs only its index entry beyond the slabs');
});

test('sortByRecency orders restored sessions so that expiry is exact again', () => {
  const { store } = makeStore({ ttlMs: 100 });
  const src = makeStore({ ttlMs: 100 }).store;
  const records: Array<[string, Buffer]> = [];
  for (const [id, t] of [
    ['p0-a', 10],
    ['p0-b', 80],
    ['p1-a', 5],
    ['p1-b', 60],
  ] as const) {
    records.push([id, src.encodeSession(src.acquire(id, 0, t))]);
  }
  for (const [id, rec] of records) store.restoreSession(id, 0, rec);
  assert.equal(store.sortByRecency(), true);
  assert.equal(store.sortByRecency(), false);
  const order: string[] = [];
  store.forEachSession((id) => order.push(id));
  assert.deepEqual(order, ['p1-a', 'p0-a', 'p1-b', 'p0-b']);
  assert.equal(store.expire(165), 3);
  assert.deepEqual(store.sessionsOfPartition(0), ['p0-b']);
});

test('resetHiddenStates zeroes or re-lays out states and keeps histories for replay', () => {
  const { store } = makeStore();
  const a = store.acquire('a', 0, 0);
  const b = store.acquire('b', 1, 0);
  fillRandomState(store, a, 1, 3);
  fillRandomState(store, b, 2, 2);
  store.resetHiddenStates([4]);
  assert.deepEqual(store.hiddenSizes, [4]);
  assert.deepEqual([...store.hiddenView(0, a)], [0, 0, 0, 0]);
  // Replay as a model swap would: one pass over live sessions, rebuilding from history.
  const hist = new Int32Array(store.historyLength);
  const replayed: string[] = [];
  store.forEachSession((id, slot) => {
    const n = store.history(slot, hist);
    store.hiddenView(0, slot).fill(n);
    replayed.push(id);
  });
  assert.deepEqual(replayed, ['a', 'b']);
  assert.deepEqual([...store.hiddenView(0, a)], [3, 3, 3, 3]);
  assert.deepEqual([...store.hiddenView(0, b)], [2, 2, 2, 2]);
  const slots = new Int32Array(2);
  assert.equal(store.liveSlots(slots), 2);
  assert.deepEqual([...slots], [a, b]);
  store.resetHiddenStates();
  assert.deepEqual([...store.hiddenView(0, b)], [0, 0, 0, 0]);
});

test('constructor validates its layout', () => {
  assert.throws(() => new SessionStore({ hiddenSizes: [], historyLength: 1, maxSessions: 1, ttlMs: 1 }), /hidden layers/);
  assert.throws(() => new SessionStore({ hiddenSizes: [0], historyLength: 1, maxSessions: 1, ttlMs: 1 }), /positive integers/);
  assert.throws(() => new SessionStore({ hiddenSizes: [2], historyLength: 1, maxSessions: 0, ttlMs: 1 }), /maxSessions/);
  assert.throws(() => new SessionStore({ hiddenSizes: [2], historyLength: -1, maxSessions: 1, ttlMs: 1 }), /historyLength/);
  assert.throws(() => new SessionStore({ hiddenSizes: [2], historyLength: 1, maxSessions: 1, ttlMs: 0 }), /ttlMs/);
});
