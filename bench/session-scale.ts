/**
 * Per-session and per-item cost at scale: 10M events over ~10M distinct session ids and a
 * catalogue that keeps growing, driven straight into the three per-event structures of the
 * serving loop (no Kafka): PrequentialMetrics (online Recall/MRR), CooccurrenceRecommender
 * (the online model: sessions, items, transitions) and SessionStore (GRU4Rec state slabs,
 * maxSessions 200k). Prints events/s, RSS and heap for every successive block of 1M events:
 * a bounded structure must keep all three columns flat however many sessions have passed.
 *
 *   node --import tsx bench/session-scale.ts [--component metrics|cooccurrence|store]
 *     [--events 10000000] [--block 1000000] [--repeat 0.05] [--new-item 0.3] [--budget-s 300]
 *     [--metrics-module FILE] [--cooccurrence-module FILE]
 *
 * Run with `node --expose-gc …` to take the memory columns after a full GC (live memory rather
 * than wherever the collector happened to be); the GC itself is not timed.
 *
 * Without --component each component runs in a child process of its own, so that one's heap
 * does not show up in the next one's RSS. --metrics-module / --cooccurrence-module load another
 * implementation of the same class (e.g. the previous commit's file, `git show HEAD:…`) for a
 * before/after comparison on the same stream.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { SessionStore } from '../src/session/session-store.ts';

const COMPONENTS = ['metrics', 'cooccurrence', 'store'] as const;
type Component = (typeof COMPONENTS)[number];

const { values } = parseArgs({
  options: {
    component: { type: 'string' },
    events: { type: 'string', default: '10000000' },
    block: { type: 'string', default: '1000000' },
    /** Probability that an event continues one of the recently started sessions. */
    repeat: { type: 'string', default: '0.05' },
    /** Probability that an event's item is new to the catalogue. */
    'new-item': { type: 'string', default: '0.3' },
    /** Wall-clock budget of one component: a collapsing implementation stops here, not in hours. */
    'budget-s': { type: 'string', default: '300' },
    'metrics-module': { type: 'string', default: fileURLToPath(new URL('../src/metrics/online-metrics.ts', import.meta.url)) },
    'cooccurrence-module': { type: 'string', default: fileURLToPath(new URL('../src/serving/cooccurrence-recommender.ts', import.meta.url)) },
    'max-sessions': { type: 'string', default: '200000' },
  },
});

if (values.component === undefined) {
  // One process per component: RSS only ever grows within a process, so sharing one would blur the columns.
  const passthrough = process.argv.slice(2);
  for (const component of COMPONENTS) {
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...passthrough, '--component', component], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

const component = values.component as Component;
if (!COMPONENTS.includes(component)) throw new Error(`--component must be one of ${COMPONENTS.join(', ')}, got ${component}`);
const EVENTS = Number(values.events);
const BLOCK = Number(values.block);
const REPEAT = Number(values.repeat);
const NEW_ITEM = Number(values['new-item']);
const BUDGET_MS = Number(values['budget-s']) * 1000;
const MAX_SESSIONS = Number(values['max-sessions']);

/** xorshift32 → [0, 1): deterministic, so every implementation sees the same stream. */
let seed = 2463534242;
function uniform(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}

/**
 * The stream: sessions start continuously and a few continue (a ring of the most recently
 * started ones), so nearly every event brings a session id never seen before; items are new
 * with probability NEW_ITEM, else drawn with a cubic bias towards recently added ones, across
 * the whole (ever larger) catalogue, so old items come back now and then.
 */
const RECENT = 4096;
const recentSessions = new Int32Array(RECENT);
let sessionsStarted = 0;
let itemsAdded = 0;
const event = { sessionId: '', itemId: '', partition: 0, timestamp: 0 };
let sessionNo = 0;
let itemNo = 0;
function nextEvent(): void {
  if (sessionsStarted > 0 && uniform() < REPEAT) {
    sessionNo = recentSessions[Math.floor(uniform() * Math.min(RECENT, sessionsStarted))];
  } else {
    sessionNo = sessionsStarted++;
    recentSessions[sessionNo % RECENT] = sessionNo;
  }
  if (itemsAdded === 0 || uniform() < NEW_ITEM) {
    itemNo = itemsAdded++;
  } else {
    const u = uniform();
    itemNo = itemsAdded - 1 - Math.floor(u * u * u * itemsAdded);
  }
  // Fresh strings per event, as the Avro decoder hands them over.
  event.sessionId = `session-${sessionNo}`;
  event.itemId = `item-${itemNo}`;
}

interface Driver {
  step(): void;
  size(): string;
}

async function driver(): Promise<Driver> {
  if (component === 'metrics') {
    const { PrequentialMetrics } = await import(pathToFileURL(resolve(values['metrics-module']!)).href);
    const m = new PrequentialMetrics(20, MAX_SESSIONS);
    // Emitted lists are the recommender's allocation, not the metric's: a few prebuilt ones.
    const lists = Array.from({ length: 64 }, (_, k) => Array.from({ length: 20 }, (_, r) => `item-${k * 20 + r}`));
    return {
      step() {
        m.observe(event.sessionId, event.itemId);
        m.emitted(event.sessionId, lists[itemNo & 63]);
      },
      size: () => `sessions ${(m.size ?? m.lastList?.size ?? NaN).toLocaleString()}  targets ${m.targets.toLocaleString()}`,
    };
  }
  if (component === 'cooccurrence') {
    const { CooccurrenceRecommender } = await import(pathToFileURL(resolve(values['cooccurrence-module']!)).href);
    const rec = new CooccurrenceRecommender(20, MAX_SESSIONS);
    return {
      step() {
        rec.observe(event);
      },
      size: () => `items ${(rec.itemCount ?? rec.index?.size ?? NaN).toLocaleString()} of ${itemsAdded.toLocaleString()} seen`,
    };
  }
  const store = new SessionStore({ hiddenSizes: [100], historyLength: 20, maxSessions: MAX_SESSIONS, ttlMs: Number.POSITIVE_INFINITY });
  let n = 0;
  return {
    step() {
      // One generation per micro-batch of 256, as the serving loop does.
      if ((n++ & 255) === 0) store.beginBatch();
      store.pushItem(store.acquire(event.sessionId, 0, n), itemNo);
    },
    size: () => `sessions ${store.size.toLocaleString()}, memoryBytes ${(store.memoryBytes() / 2 ** 20).toFixed(0)} MiB`,
  };
}

const mib = (b: number) => (b / 2 ** 20).toFixed(0).padStart(6);
const d = await driver();
const label = component === 'metrics' ? values['metrics-module'] : component === 'cooccurrence' ? values['cooccurrence-module'] : 'src/session/session-store.ts';
console.log(`\n${component}: ${label} — ${EVENTS.toLocaleString()} events, maxSessions ${MAX_SESSIONS.toLocaleString()}, node ${process.version}`);
console.log(`   events      events/s  rss MiB  heap MiB  state${globalThis.gc ? '   (memory after a full GC)' : ''}`);
const start = performance.now();
let blockStart = start;
let blockEvents = 0;
for (let i = 1; i <= EVENTS; i++) {
  nextEvent();
  d.step();
  blockEvents++;
  const blockDone = i % BLOCK === 0 || i === EVENTS;
  const overBudget = (i & 16383) === 0 && performance.now() - start > BUDGET_MS;
  if (blockDone || overBudget) {
    const rate = (blockEvents / ((performance.now() - blockStart) / 1000)).toFixed(0);
    globalThis.gc?.();
    const mem = process.memoryUsage();
    console.log(`${i.toLocaleString().padStart(10)}  ${Number(rate).toLocaleString().padStart(12)}  ${mib(mem.rss)}  ${mib(mem.heapUsed)}    ${d.size()}`);
    blockStart = performance.now();
    blockEvents = 0;
    if (overBudget && !blockDone) {
      console.log(`stopped: over the ${BUDGET_MS / 1000} s budget after ${i.toLocaleString()} events (last row is a partial block)`);
      break;
    }
  }
}
console.log(`${sessionsStarted.toLocaleString()} distinct sessions, ${itemsAdded.toLocaleString()} distinct items; ${((performance.now() - start) / 1000).toFixed(1)} s`);
