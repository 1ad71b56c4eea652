/**
 * Fault drills on the real broker: each drill serves a click stream while a fault happens and
 * checks the committed output (read_committed) against an uninterrupted reference run of the
 * same stream. Used by `npm run drills` (full size, table) and by test/integration/fault-drills
 * (reduced). Loopback only; every wait is bounded.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { Message } from 'kafkajs';
import type { StreamrecConfig } from '../../src/config/config.ts';
import { FencedError } from '../../src/errors/errors.ts';
import { startLocalBroker } from '../../scripts/kafka/local-broker.ts';
import { type ClickEvent, makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import type { Gru4RecRecommender } from '../../src/serving/gru4rec-recommender.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { collect, testConfig, waitFor } from './kafka.ts';
import { TEST_ARCH, testItemIds } from './serve-child.ts';
import { syntheticWeights } from './synthetic-weights.ts';

export interface DrillResult {
  fault: string;
  eventsIn: number;
  /** Valid clicks: each must get exactly one recommendation. */
  expected: number;
  recommendationsOut: number;
  duplicates: number;
  lost: number;
  /** Recommendations whose list differs from the uninterrupted run. */
  differing: number;
  deadLetters: number;
  expectedDeadLetters: number;
  /** From the fault to the last recommendation committed (ms). */
  recoveryMs: number;
  /** What else the drill checked, and whether it held. */
  checks: Array<[string, boolean]>;
}

export function violations(r: DrillResult): string[] {
  const out: string[] = [];
  if (r.lost > 0) out.push(`${r.lost} lost`);
  if (r.duplicates > 0) out.push(`${r.duplicates} duplicated`);
  if (r.differing > 0) out.push(`${r.differing} lists differ from the reference`);
  if (r.deadLetters !== r.expectedDeadLetters) out.push(`${r.deadLetters} dead letters, expected ${r.expectedDeadLetters}`);
  for (const [what, ok] of r.checks) if (!ok) out.push(`failed: ${what}`);
  return out;
}

/** Recent enough for the ingest timestamp bounds, fixed per process so reference and drill agree. */
const EPOCH = Date.now() - 3_600_000;

/** Events from..to of `sessions` sessions; unique timestamps identify an event across runs. */
export function clickWave(sessions: number, to: number, from = 0): ClickEvent[] {
  const out: ClickEvent[] = [];
  for (let e = from; e < to; e++)
    for (let s = 0; s < sessions; s++)
      out.push({
        sessionId: `s${s}`,
        userId: null,
        itemId: testItemIds[(s * 37 + e * 11 + e * e) % TEST_ARCH.nItems],
        eventType: 'CLICK',
        timestamp: EPOCH + e * 1000 + s,
        context: null,
      });
  return out;
}

/** Produces `msgs`, at `rate` records/s when given (the drills that act on processes stretch the stream over the faults). */
async function produce(cfg: StreamrecConfig, msgs: Message[], rate = 0): Promise<void> {
  const producer = createKafka(cfg, '-drill-producer').producer();
  await producer.connect();
  const step = rate > 0 ? Math.max(1, Math.round(rate / 20)) : msgs.length;
  for (let i = 0; i < msgs.length; i += step) {
    await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + step), acks: -1 });
    if (rate > 0) await new Promise((r) => setTimeout(r, 50));
  }
  await producer.disconnect();
}

const encodeAll = (cfg: StreamrecConfig, evs: ClickEvent[]): Message[] => {
  const codec = makeCodecs(cfg.wireFormat).click;
  return evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
};

async function servingApp(cfg: StreamrecConfig, instance: string): Promise<{ app: ServingApp; rec: Gru4RecRecommender }> {
  const rec = await buildGru4RecRecommender(cfg, syntheticWeights(TEST_ARCH, 3), testItemIds, 'synthetic-v1', () => undefined);
  return { app: new ServingApp({ config: cfg, recommender: rec, instanceId: instance, sessionTimeoutMs: 6000, log: () => undefined }), rec };
}

function byEvent(cfg: StreamrecConfig, recs: Awaited<ReturnType<typeof collect>>): { map: Map<string, Recommendation>; duplicates: number } {
  const codec = makeCodecs(cfg.wireFormat).recommendation;
  const map = new Map<string, Recommendation>();
  let duplicates = 0;
  for (const r of recs) {
    const rec = codec.decode(r.message.value);
    const k = `${rec.sessionId}@${rec.eventTimestamp}`;
    if (map.has(k)) duplicates++;
    else map.set(k, rec);
  }
  return { map, duplicates };
}

const references = new Map<string, Map<string, Recommendation>>();

/** One process, never interrupted, exactly-once: what every drill's output must equal. */
async function reference(evs: ClickEvent[]): Promise<Map<string, Recommendation>> {
  const key = `${evs.length}`;
  const cached = references.get(key);
  if (cached) return cached;
  const cfg = await testConfig('drill-ref');
  const { app } = await servingApp(cfg, 'ref');
  await app.start();
  await produce(cfg, encodeAll(cfg, evs));
  await waitFor(() => app.stats.eventsIn >= evs.length, 120_000, 'reference run');
  await app.stop();
  const { map } = byEvent(cfg, await collect(cfg, cfg.topics.recommendations.name, evs.length, { settleMs: 500 }));
  references.set(key, map);
  return map;
}

async function compare(
  fault: string,
  cfg: StreamrecConfig,
  evs: ClickEvent[],
  o: { eventsIn: number; expectedDeadLetters: number; faultAt: number; checks: Array<[string, boolean]> },
): Promise<DrillResult> {
  const ref = await reference(evs);
  const recs = await collect(cfg, cfg.topics.recommendations.name, evs.length, { timeoutMs: 60_000, settleMs: 1500 });
  const { map, duplicates } = byEvent(cfg, recs);
  let lost = 0;
  let differing = 0;
  for (const [k, r] of ref) {
    const g = map.get(k);
    if (!g) lost++;
    else if (g.itemIds.join() !== r.itemIds.join()) differing++;
  }
  const lastProduced = recs.reduce((m, r) => Math.max(m, Number(r.message.timestamp)), 0);
  const dl = o.expectedDeadLetters > 0 ? await collect(cfg, cfg.topics.deadLetter.name, o.expectedDeadLetters, { timeoutMs: 30_000, settleMs: 500 }) : [];
  return {
    fault,
    eventsIn: o.eventsIn,
    expected: ref.size,
    recommendationsOut: recs.length,
    duplicates,
    lost,
    differing,
    deadLetters: dl.length,
    expectedDeadLetters: o.expectedDeadLetters,
    recoveryMs: Math.max(0, lastProduced - o.faultAt),
    checks: o.checks,
  };
}

/** The engine throws in the middle of the stream (once per `failEvery` steps): abort, restore, retry. */
export async function engineFailureDrill(sessions: number, events: number, failures = 3): Promise<DrillResult> {
  const evs = clickWave(sessions, events);
  const cfg = await testConfig('drill-engine');
  const { app, rec } = await servingApp(cfg, 'a');
  const engine = (rec as any).engine as { step: (...a: unknown[]) => Promise<void> };
  const step = engine.step.bind(engine);
  let calls = 0;
  let injected = 0;
  let faultAt = 0;
  engine.step = async (...a: unknown[]) => {
    calls++;
    // Fails after the state of some rows was gathered and others possibly written: the worst case.
    if (injected < failures && calls % 7 === 0) {
      injected++;
      faultAt ||= Date.now();
      throw new Error(`injected engine failure #${injected}`);
    }
    return step(...a);
  };
  let aborted = 0;
  app.events.on('batchAborted', () => aborted++);
  await app.start();
  await produce(cfg, encodeAll(cfg, evs), 2000);
  await waitFor(() => app.stats.eventsIn >= evs.length, 120_000, 'engine drill served');
  const healthy = app.health().alive;
  await app.stop();
  return compare('engine error mid-batch', cfg, evs, {
    eventsIn: evs.length,
    expectedDeadLetters: 0,
    faultAt,
    checks: [
      [`${failures} engine failures injected`, injected === failures],
      ['each failure aborted its batch', aborted >= failures],
      ['process alive afterwards', healthy],
    ],
  });
}

/** Avro whose map header claims 2^31 entries (the decoder would loop for minutes without the guard). */
function hugeMapCount(cfg: StreamrecConfig): Buffer {
  const codec = makeCodecs(cfg.wireFormat).click;
  const ok = codec.encode({ sessionId: 's0', userId: null, itemId: testItemIds[0], eventType: 'CLICK', timestamp: EPOCH, context: {} });
  // The record ends with the empty map's block count (0): replace it with zig-zag(2^31).
  let n = 2n ** 31n * 2n;
  const varint: number[] = [];
  while (n >= 0x80n) {
    varint.push(Number(n & 0x7fn) | 0x80);
    n >>= 7n;
  }
  varint.push(Number(n));
  return Buffer.concat([ok.subarray(0, ok.length - 1), Buffer.from(varint)]);
}

/** Poison pills of every kind mixed into a valid stream: each is dead-lettered, nothing else changes. */
export async function poisonPillDrill(sessions: number, events: number, bigRecordBytes = 10_000_000): Promise<DrillResult> {
  const evs = clickWave(sessions, events);
  const cfg = await testConfig('drill-poison');
  // The clicks topic accepts records far larger than the dead-letter topic (1 MiB), as in production.
  const admin = createKafka(cfg, '-drill-admin').admin();
  await admin.connect();
  await admin.alterConfigs({
    validateOnly: false,
    resources: [{ type: 2, name: cfg.topics.clicks.name, configEntries: [{ name: 'max.message.bytes', value: String(12 * 1024 * 1024) }] }],
  });
  await admin.disconnect();
  const codec = makeCodecs(cfg.wireFormat).click;
  const pills: Message[] = [
    { key: 's0', value: hugeMapCount(cfg) },
    { key: 's1', value: Buffer.alloc(bigRecordBytes, 7) },
    { key: null, value: codec.encode({ ...evs[0], timestamp: EPOCH + 1 }) },
    { key: 's2', value: invalidUtf8Click(cfg) },
    { key: 's3', value: codec.encode({ ...evs[3], timestamp: 5 }) },
    { key: 's4', value: Buffer.from([0xff, 0xff, 0xff]) },
  ];
  const msgs = encodeAll(cfg, evs);
  // Spread the pills through the stream.
  const mixed: Message[] = [];
  const every = Math.max(1, Math.floor(msgs.length / pills.length));
  for (let i = 0; i < msgs.length; i++) {
    mixed.push(msgs[i]);
    if (i % every === every - 1 && pills.length > 0) mixed.push(pills.shift()!);
  }
  mixed.push(...pills);
  const { app } = await servingApp(cfg, 'a');
  const started = Date.now();
  await app.start();
  await produce(cfg, mixed);
  await waitFor(() => app.stats.eventsIn >= mixed.length, 120_000, 'poison drill served');
  const healthy = app.health().alive;
  const kinds = { ...app.stats.deadLetters };
  await app.stop();
  const dl = makeCodecs(cfg.wireFormat).deadLetter;
  const letters = (await collect(cfg, cfg.topics.deadLetter.name, 6, { timeoutMs: 30_000, settleMs: 500 })).map((m) => dl.decode(m.message.value));
  const big = letters.find((l) => l.errorKind === 'TOO_LARGE') as (Record<string, unknown> & { value: Buffer | null }) | undefined;
  return compare('poison pills (2^31 map count, 10 MB, null key, bad UTF-8, 1970 time, garbage)', cfg, evs, {
    eventsIn: mixed.length,
    expectedDeadLetters: 6,
    faultAt: started,
    checks: [
      ['process alive afterwards', healthy],
      ['2 MALFORMED, 1 TOO_LARGE, 1 KEY_MISMATCH, 2 INVALID_FIELD', kinds.MALFORMED === 2 && kinds.TOO_LARGE === 1 && kinds.KEY_MISMATCH === 1 && kinds.INVALID_FIELD === 2],
      [
        'the 10 MB record is dead-lettered trimmed, with its size and SHA-256',
        !!big && big.truncated === true && Number(big.originalValueSize) === bigRecordBytes && typeof big.valueSha256 === 'string',
      ],
      ['every dead letter has a reason', letters.every((l) => l.reason.length > 0)],
    ],
  });
}

/** A click whose itemId bytes are not UTF-8 (avsc would decode them lossily). */
function invalidUtf8Click(cfg: StreamrecConfig): Buffer {
  const codec = makeCodecs(cfg.wireFormat).click;
  const b = codec.encode({ sessionId: 's2', userId: null, itemId: 'zz', eventType: 'CLICK', timestamp: EPOCH, context: null });
  const at = b.indexOf(Buffer.from('zz'));
  b[at] = 0xc3; // a lead byte followed by a non-continuation byte
  return b;
}

/** A second instance with the same id starts: the first (the zombie) is fenced and stops; nothing is duplicated. */
export async function zombieFencingDrill(sessions: number, events: number): Promise<DrillResult> {
  const evs = clickWave(sessions, events);
  const cfg = await testConfig('drill-zombie');
  const msgs = encodeAll(cfg, evs);
  const first = await servingApp(cfg, 'z');
  await first.app.start();
  const half = Math.floor(msgs.length / 2);
  await produce(cfg, msgs.slice(0, half), 2000);
  await waitFor(() => first.app.stats.eventsIn > 0, 60_000, 'the first instance to serve');
  const faultAt = Date.now();
  const second = await servingApp(cfg, 'z');
  let committedAfter = 0;
  let abortedAfter = 0;
  const abortReasons: string[] = [];
  // kafkajs initialises the transactional id lazily, with the first transaction: the zombie is
  // fenced from the new instance's first commit on, and must commit nothing after it.
  let secondCommitted = false;
  second.app.events.once('batchCommitted', () => (secondCommitted = true));
  first.app.events.on('batchCommitted', () => void (secondCommitted && committedAfter++));
  first.app.events.on('batchAborted', (a) => {
    if (!secondCommitted || /not committing/.test(a.reason)) return;
    abortedAfter++;
    abortReasons.push(a.reason.slice(0, 160));
  });
  await second.app.start();
  const producing = produce(cfg, msgs.slice(half), 2000);
  // The zombie's next transaction is refused; it must stop instead of serving on.
  const fatal = await Promise.race([first.app.fatal, new Promise<null>((r) => setTimeout(() => r(null), 10_000))]);
  await first.app.stop().catch(() => undefined);
  await producing;
  await waitFor(() => first.app.stats.eventsIn + second.app.stats.eventsIn >= msgs.length, 120_000, 'zombie drill served');
  const healthy = second.app.health().alive;
  await second.app.stop();
  return compare('producer fencing of a zombie', cfg, evs, {
    eventsIn: msgs.length,
    expectedDeadLetters: 0,
    faultAt,
    checks: [
      // Whether the zombie tries another transaction depends on the rebalance; if it does, it must stop.
      [
        `the zombie commits nothing once fenced (${committedAfter}), and stops with a fencing error if it tries (${abortedAfter} tries: ${abortReasons.join(' | ')}; fatal: ${fatal?.message ?? 'none'})`,
        committedAfter === 0 && (abortedAfter === 0 || fatal instanceof FencedError),
      ],
      ['the new instance is alive', healthy],
    ],
  });
}

export interface ChildServer {
  proc: ChildProcess;
  served(): number;
  restored(): number;
  ready: Promise<void>;
  exited: Promise<number | null>;
}

/** A serving process (test/support/serve-child.ts) on this config: what SIGKILL and SIGTERM drills act on. */
export function childServer(cfg: StreamrecConfig, instance: string, env: Record<string, string> = {}): ChildServer {
  const proc = spawn(process.execPath, ['--import', 'tsx', new URL('./serve-child.ts', import.meta.url).pathname], {
    env: {
      ...process.env,
      SERVE_INSTANCE: instance,
      STREAMREC_TOPICS__CLICKS__NAME: cfg.topics.clicks.name,
      STREAMREC_TOPICS__RECOMMENDATIONS__NAME: cfg.topics.recommendations.name,
      STREAMREC_TOPICS__DEAD_LETTER__NAME: cfg.topics.deadLetter.name,
      STREAMREC_TOPICS__SESSION_CHANGELOG__NAME: cfg.topics.sessionChangelog.name,
      STREAMREC_GROUPS__SERVING: cfg.groups.serving,
      STREAMREC_SERVING__BATCH__MAX_SIZE: '32',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let served = 0;
  let restored = 0;
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line === 'ready') onReady();
      const m = /^served (\d+)$/.exec(line);
      if (m) served = Number(m[1]);
      const r = /restored (\d+) changelog records/.exec(line);
      if (r) restored += Number(r[1]);
    }
  });
  return { proc, served: () => served, restored: () => restored, ready, exited };
}

async function kill(c: ChildServer, signal: NodeJS.Signals): Promise<void> {
  c.proc.kill(signal);
  await Promise.race([c.exited, new Promise((r) => setTimeout(r, 30_000))]);
}

/** SIGKILL one of two serving processes `kills` times under load, restarting it each time. */
export async function repeatedKillDrill(sessions: number, events: number, kills: number): Promise<DrillResult> {
  const evs = clickWave(sessions, events);
  const cfg = await testConfig('drill-kill');
  const a = childServer(cfg, 'a');
  let b = childServer(cfg, 'b');
  await Promise.all([a.ready, b.ready]);
  const msgs = encodeAll(cfg, evs);
  let done = false;
  const producing = produce(cfg, msgs, msgs.length / (kills * 6 + 4)).then(() => void (done = true));
  const faultAt = Date.now();
  let killsDone = 0;
  for (let k = 0; k < kills && !done; k++) {
    const before = b.served();
    await waitFor(() => b.served() > before + 10 || done, 60_000, 'the victim to serve');
    if (done) break;
    await kill(b, 'SIGKILL');
    killsDone++;
    b = childServer(cfg, 'b'); // same instance id: fences the dead one's open transaction
    await b.ready;
  }
  await producing;
  const result = await compare(`${killsDone}× SIGKILL of one of two processes under load`, cfg, evs, {
    eventsIn: msgs.length,
    expectedDeadLetters: 0,
    faultAt,
    checks: [[`killed ${kills} times mid-stream`, killsDone === kills]],
  });
  await Promise.all([kill(a, 'SIGTERM'), kill(b, 'SIGTERM')]);
  return result;
}

/** SIGTERM and restart each of two processes in turn under load (a rolling upgrade). */
export async function rollingRestartDrill(sessions: number, events: number): Promise<DrillResult> {
  const evs = clickWave(sessions, events);
  const cfg = await testConfig('drill-rolling');
  const procs = [childServer(cfg, 'a'), childServer(cfg, 'b')];
  await Promise.all(procs.map((p) => p.ready));
  const msgs = encodeAll(cfg, evs);
  let done = false;
  const producing = produce(cfg, msgs, msgs.length / 14).then(() => void (done = true));
  const faultAt = Date.now();
  const exitCodes: Array<number | null> = [];
  for (let i = 0; i < procs.length; i++) {
    await new Promise((r) => setTimeout(r, 1500));
    procs[i].proc.kill('SIGTERM');
    exitCodes.push(await procs[i].exited);
    procs[i] = childServer(cfg, i === 0 ? 'a' : 'b');
    await procs[i].ready;
  }
  const midStream = !done;
  await producing;
  const result = await compare('rolling restart of two processes (SIGTERM, restart)', cfg, evs, {
    eventsIn: msgs.length,
    expectedDeadLetters: 0,
    faultAt,
    checks: [
      ['both stopped cleanly (exit 0)', exitCodes.every((c) => c === 0)],
      ['restarts happened mid-stream', midStream],
    ],
  });
  await Promise.all(procs.map((p) => kill(p, 'SIGTERM')));
  return result;
}

/**
 * One of two instances is slow: some engine steps take longer than the consumer session timeout
 * (as when its output is throttled). It must keep its membership through the batch (heartbeats
 * continue) or, if it loses it, commit nothing; the output stays exactly once.
 */
export async function slowInstanceDrill(sessions: number, events: number, stallMs = 9000): Promise<DrillResult> {
  const evs = clickWave(sessions, events);
  const cfg = await testConfig('drill-slow');
  const slow = await servingApp(cfg, 'slow');
  const fast = await servingApp(cfg, 'fast');
  const engine = (slow.rec as unknown as { engine: { step: (...a: unknown[]) => Promise<void> } }).engine;
  const step = engine.step.bind(engine);
  let calls = 0;
  let stalls = 0;
  let faultAt = 0;
  engine.step = async (...a: unknown[]) => {
    calls++;
    if ((calls === 3 || calls === 8) && stalls < 2) {
      stalls++;
      faultAt ||= Date.now();
      await new Promise((r) => setTimeout(r, stallMs));
    }
    return step(...a);
  };
  let guardAborts = 0;
  slow.app.events.on('batchAborted', (b) => void (/not committing/.test(b.reason) && guardAborts++));
  await Promise.all([slow.app.start(), fast.app.start()]);
  const msgs = encodeAll(cfg, evs);
  await produce(cfg, msgs, msgs.length / 10);
  await waitFor(() => slow.app.stats.eventsIn + fast.app.stats.eventsIn >= msgs.length, 180_000, 'slow-instance drill served');
  const alive = slow.app.health().alive && fast.app.health().alive;
  await Promise.all([slow.app.stop(), fast.app.stop()]);
  return compare(`an instance stalls ${stallMs / 1000} s (> session timeout 6 s) inside batches`, cfg, evs, {
    eventsIn: msgs.length,
    expectedDeadLetters: 0,
    faultAt,
    checks: [
      [`stalled twice (${guardAborts} batches refused by the membership guard)`, stalls === 2],
      ['both alive afterwards', alive],
    ],
  });
}

/**
 * The broker goes away for `outageMs` mid-stream and comes back (same data, same port). The
 * serving process either rides it out or stops with an exit code; a supervisor (emulated here:
 * a new instance with the same id after a fatal error) restarts it. Output stays exactly once.
 */
export async function brokerOutageDrill(sessions: number, events: number, outageMs: number): Promise<DrillResult> {
  const evs = clickWave(sessions, events);
  await reference(evs);
  const shared = process.env.KAFKA_BROKERS;
  let broker = await startLocalBroker({ log: () => undefined });
  const port = Number(broker.brokers.split(':')[1]);
  process.env.KAFKA_BROKERS = broker.brokers;
  try {
    const cfg = await testConfig('drill-outage');
    const msgs = encodeAll(cfg, evs);
    const half = Math.floor(msgs.length / 2);
    let served = 0;
    let restarts = 0;
    let failedStarts = 0;
    const fatalKinds: string[] = [];
    let stopped = false;
    let current = await servingApp(cfg, 'a');
    await current.app.start();
    const supervisor = (async () => {
      while (!stopped) {
        const err = await Promise.race([current.app.fatal, new Promise<null>((r) => setTimeout(() => r(null), 500))]);
        if (!err || stopped) continue;
        fatalKinds.push((err as { kind?: string }).kind ?? err.name);
        served += current.app.stats.eventsIn;
        await Promise.race([current.app.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000))]);
        for (;;) {
          const next = await servingApp(cfg, 'a');
          try {
            await next.app.start();
            current = next;
            restarts++;
            break;
          } catch {
            failedStarts++;
            await next.app.stop().catch(() => undefined);
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
      }
    })();
    await produce(cfg, msgs.slice(0, half), 2000);
    await waitFor(() => served + current.app.stats.eventsIn >= half, 60_000, 'first half served');
    const faultAt = Date.now();
    await broker.stop();
    await new Promise((r) => setTimeout(r, outageMs));
    broker = await startLocalBroker({ dataDir: broker.dataDir, port, log: () => undefined });
    await produce(cfg, msgs.slice(half), 2000);
    await waitFor(() => served + current.app.stats.eventsIn >= msgs.length, 240_000, 'second half served after the outage');
    const alive = current.app.health().alive;
    stopped = true;
    await supervisor;
    await current.app.stop();
    return await compare(`broker down ${outageMs / 1000} s mid-stream`, cfg, evs, {
      eventsIn: msgs.length,
      expectedDeadLetters: 0,
      faultAt,
      checks: [
        [
          `ridden out or restarted after a clean fatal exit (${restarts} restarts, ${failedStarts} refused starts, exits: ${fatalKinds.join(', ') || 'none'})`,
          restarts === fatalKinds.length,
        ],
        ['serving alive at the end', alive],
      ],
    });
  } finally {
    await broker.stop();
    process.env.KAFKA_BROKERS = shared;
  }
}
