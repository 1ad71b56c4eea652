/**
 * Session store micro-benchmark: the per-event work of the serving loop
 * (acquire + pushItem) and the per-batch copies between the slabs and the
 * engine's contiguous buffers (gather/scatter), at 1M session capacity, H=100.
 *
 *   node --import tsx bench/session-store.ts [--sessions 1000000] [--hidden 100] [--batch 256]
 */
import { parseArgs } from 'node:util';
import { SessionStore } from '../src/session/session-store.ts';
import { ChangelogWriter } from '../src/session/changelog.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000000' },
    hidden: { type: 'string', default: '100' },
    history: { type: 'string', default: '20' },
    batch: { type: 'string', default: '256' },
    events: { type: 'string', default: '4000000' },
  },
});
const CAPACITY = Number(values.sessions);
const H = Number(values.hidden);
const HISTORY = Number(values.history);
const BATCH = Number(values.batch);
const EVENTS = Number(values.events);

const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const rate = (n: number, ms: number) => `${(n / (ms / 1000) / 1e6).toFixed(2)} M/s`;

function time(label: string, ops: number, unit: string, fn: () => void, extra = () => ''): number {
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(52)} ${rate(ops, ms).padStart(10)} ${unit.padEnd(10)} (${ops.toLocaleString()} in ${ms.toFixed(0)} ms)${extra()}`);
  return ms;
}

/** xorshift32: cheap, deterministic session picks. */
let seed = 2463534242;
function rand(n: number): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) % n;
}

console.log(`session store: capacity ${CAPACITY.toLocaleString()}, hidden [${H}], history ${HISTORY}, batch ${BATCH}, node ${process.version}`);
const rssBefore = process.memoryUsage().rss;
let now = 1_700_000_000_000;
const store = new SessionStore({ hiddenSizes: [H], historyLength: HISTORY, maxSessions: CAPACITY, ttlMs: 30 * 60_000, clock: () => now });
console.log(`slabs allocated: memoryBytes ${mib(store.memoryBytes())}`);

// Ids are built up front: string creation is the decoder's cost, not the store's.
const ids: string[] = new Array(2 * CAPACITY);
for (let i = 0; i < ids.length; i++) ids[i] = `session-${i.toString(36).padStart(8, '0')}`;

const slots = new Int32Array(BATCH);
const engineBuf = new Float32Array(BATCH * H);

time('acquire (miss: new session) + pushItem', CAPACITY, 'events/s', () => {
  for (let i = 0; i < CAPACITY; i++) {
    const s = store.acquire(ids[i], i & 7, now);
    store.pushItem(s, i);
  }
});
console.log(`after fill: size ${store.size.toLocaleString()}, memoryBytes ${mib(store.memoryBytes())}`);

const picks = new Int32Array(EVENTS);
for (let i = 0; i < EVENTS; i++) picks[i] = rand(CAPACITY);

time('acquire (hit, random session) + pushItem', EVENTS, 'events/s', () => {
  for (let i = 0; i < EVENTS; i++) {
    now += 0.01;
    const s = store.acquire(ids[picks[i]], picks[i] & 7, now);
    store.pushItem(s, i);
  }
});

// Live traffic concentrates on the sessions active right now; 10k of them fit in cache far better.
const HOT = Math.min(10_000, CAPACITY);
const hotPicks = new Int32Array(EVENTS);
for (let i = 0; i < EVENTS; i++) hotPicks[i] = CAPACITY - HOT + rand(HOT);
time(`acquire (hit, ${HOT.toLocaleString()} hot sessions) + pushItem`, EVENTS, 'events/s', () => {
  for (let i = 0; i < EVENTS; i++) {
    now += 0.01;
    const s = store.acquire(ids[hotPicks[i]], hotPicks[i] & 7, now);
    store.pushItem(s, i);
  }
});

const batches = Math.floor(EVENTS / BATCH);
for (let i = 0; i < BATCH; i++) slots[i] = store.slotOf(ids[picks[i]]);
time(
  `gather + scatter, ${BATCH} random rows of ${H}`,
  batches * BATCH,
  'rows/s',
  () => {
    for (let b = 0; b < batches; b++) {
      for (let i = 0; i < BATCH; i++) slots[i] = rand(CAPACITY);
      store.gather(0, slots, BATCH, engineBuf);
      store.scatter(0, slots, BATCH, engineBuf);
    }
  },
  () => `  = ${((2 * batches * BATCH * H * 4) / 2 ** 30).toFixed(1)} GiB copied`,
);

time('serving loop per batch: acquire+push+gather+scatter', batches * BATCH, 'events/s', () => {
  for (let b = 0, e = 0; b < batches; b++) {
    store.beginBatch();
    for (let i = 0; i < BATCH; i++, e++) {
      now += 0.01;
      slots[i] = store.acquire(ids[picks[e]], picks[e] & 7, now);
      store.pushItem(slots[i], e);
    }
    store.gather(0, slots, BATCH, engineBuf);
    store.scatter(0, slots, BATCH, engineBuf);
  }
});

time('acquire over capacity (LRU eviction) + pushItem', CAPACITY / 2, 'events/s', () => {
  for (let i = CAPACITY; i < CAPACITY + CAPACITY / 2; i++) {
    now += 0.01;
    const s = store.acquire(ids[i], i & 7, now);
    store.pushItem(s, i);
  }
});

const writer = new ChangelogWriter(store);
const changelogN = Math.min(200_000, CAPACITY);
let bytes = 0;
time(
  'changelog: markDirty + drain (encode) per session',
  changelogN,
  'records/s',
  () => {
    for (let b = 0; b < changelogN; b += BATCH) {
      for (let i = 0; i < BATCH && b + i < changelogN; i++) writer.markDirty(store.slotOf(ids[CAPACITY + b + i]));
      for (const r of writer.drain()) bytes += r.value?.length ?? 0;
    }
  },
  () => `  (${(bytes / changelogN).toFixed(0)} B/record)`,
);
writer.close();

now += 31 * 60_000;
time('expire (TTL sweep of every session)', store.size, 'sessions/s', () => {
  store.expire(now);
});

const mem = process.memoryUsage();
console.log(
  `memoryBytes ${mib(store.memoryBytes())} (slabs fixed by capacity); process rss ${mib(mem.rss)} (+${mib(mem.rss - rssBefore)}), ` +
    `arrayBuffers ${mib(mem.arrayBuffers)}, heapUsed ${mib(mem.heapUsed)} (includes ${ids.length.toLocaleString()} benchmark id strings)`,
);
