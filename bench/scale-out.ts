/**
 * npm run bench:scale-out — serving scaled out by partitions: the same backlog of clicks served
 * by one serving process, then by two processes in one consumer group sharing the partitions
 * (each a child process: test/support/serve-child.ts with synthetic GRU4Rec weights), and a
 * rebalance under load (a second process joins a running one, takes half the partitions over and
 * restores their sessions from the changelog before serving them).
 *
 *   node --import tsx bench/scale-out.ts [--items 3000] [--events 200000] [--partitions 6]
 *        [--repeats 3] [--delivery exactly-once|at-least-once] [--out results/scale-out.json]
 *
 * Throughput counts from the first served record to the last (children report `served N` every
 * 100 ms), per process and in total. On this 2-core machine two processes share the same cores,
 * so the figure says what the partition protocol costs or gains here, not what a second machine
 * would add; the README maps it onto a cluster.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalBroker } from '../scripts/kafka/local-broker.ts';
import type { StreamrecConfig } from '../src/config/config.ts';
import { type ChildServer, childServer } from '../test/support/drills.ts';
import { clickMessages, freshBenchConfig, sendAtRate } from './serving-load.ts';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '3000' },
    events: { type: 'string', default: '200000' },
    partitions: { type: 'string', default: '6' },
    repeats: { type: 'string', default: '3' },
    delivery: { type: 'string', default: 'exactly-once' },
    batch: { type: 'string', default: '1024' },
    out: { type: 'string', default: 'results/scale-out.json' },
  },
});
const nItems = Number(args.items);
const events = Number(args.events);
const partitions = Number(args.partitions);
const repeats = Number(args.repeats);
const delivery = args.delivery as 'exactly-once' | 'at-least-once';
const maxBatch = Number(args.batch);
const log = (s: string) => process.stderr.write(`${s}\n`);

interface ThroughputRun {
  processes: number;
  eventsPerSec: number;
  perProcess: number[];
  served: number[];
}

interface RebalanceRun {
  /** Longest time without any record served, around the join. */
  outputGapMs: number;
  /** What the joining process restored from the changelog, as it logged it. */
  restoredRecords: number;
  restoreMs: number;
  /** Time from the second process's start to its first served record (join + rebalance + restore). */
  joinToServingMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function children(cfg: StreamrecConfig, n: number, tag: string): ChildServer[] {
  return Array.from({ length: n }, (_, i) => child(cfg, `${tag}${i}`));
}

function child(cfg: StreamrecConfig, instance: string): ChildServer {
  return childServer(cfg, instance, {
    SERVE_N_ITEMS: String(nItems),
    SERVE_HIDDEN: '100',
    STREAMREC_SERVING__BATCH__MAX_SIZE: String(maxBatch),
    STREAMREC_SERVING__DELIVERY: delivery,
  });
}

/** Every 20 ms: each child's served count, until the total reaches `target`. */
async function sample(
  procs: ChildServer[],
  target: number,
  timeoutMs: number,
  onTick?: (t: number, total: number) => void,
): Promise<{ firstAt: number[]; lastAt: number[]; done: number }> {
  const firstAt = procs.map(() => Number.NaN);
  const lastAt = procs.map(() => Number.NaN);
  const last = procs.map(() => 0);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const t = performance.now();
    let total = 0;
    procs.forEach((p, i) => {
      const s = p.served();
      if (s > 0 && Number.isNaN(firstAt[i])) firstAt[i] = t;
      if (s !== last[i]) lastAt[i] = t;
      last[i] = s;
      total += s;
    });
    onTick?.(t, total);
    if (total >= target) return { firstAt, lastAt, done: performance.now() };
    if (Date.now() > deadline) throw new Error(`served ${total} of ${target} within ${timeoutMs} ms`);
    await sleep(20);
  }
}

async function stopAll(procs: ChildServer[]): Promise<void> {
  for (const p of procs) p.proc.kill('SIGTERM');
  await Promise.all(procs.map((p) => Promise.race([p.exited, sleep(30_000)])));
}

/** n processes, all in the group and settled before the backlog is produced. */
async function throughput(brokers: string, n: number, rep: number): Promise<ThroughputRun> {
  const cfg = await freshBenchConfig(brokers, `so${n}-${rep}`, {}, partitions);
  const procs = children(cfg, n, 'p');
  try {
    await Promise.all(procs.map((p) => p.ready));
    // Joins settle in rounds; a backlog produced before the last one would be served by fewer processes.
    await sleep(8000);
    const msgs = clickMessages(cfg, nItems, events, rep + 1);
    const producing = sendAtRate(cfg, msgs, 0);
    const s = await sample(procs, events, 600_000);
    await producing;
    const first = Math.min(...s.firstAt.filter((x) => !Number.isNaN(x)));
    const served = procs.map((p) => p.served());
    const total = served.reduce((a, b) => a + b, 0);
    return {
      processes: n,
      eventsPerSec: (total * 1000) / (s.done - first),
      perProcess: procs.map((p, i) => (p.served() * 1000) / (s.lastAt[i] - s.firstAt[i])),
      served,
    };
  } finally {
    await stopAll(procs);
  }
}

/** One process serving a steady stream; a second joins mid-stream. */
async function rebalance(brokers: string, rep: number, rate: number): Promise<RebalanceRun> {
  const cfg = await freshBenchConfig(brokers, `sor-${rep}`, {}, partitions);
  // 30 s of clicks; the second process joins about 8 s in, leaving it time to join, restore and serve.
  const n = Math.round(rate * 30);
  const first = child(cfg, 'r0');
  const procs = [first];
  let restoredRecords = 0;
  let restoreMs = 0;
  try {
    await first.ready;
    await sleep(3000);
    const producing = sendAtRate(cfg, clickMessages(cfg, nItems, n, rep + 7), rate);
    let joinedAt = Number.NaN;
    let firstServedBySecond = Number.NaN;
    let lastTotal = 0;
    let lastChange = Number.NaN;
    let gap = 0;
    const s = sample(procs, n, 600_000, (t, total) => {
      if (total !== lastTotal) {
        if (!Number.isNaN(lastChange) && !Number.isNaN(joinedAt)) gap = Math.max(gap, t - lastChange);
        lastChange = t;
        lastTotal = total;
      }
      if (procs.length > 1 && Number.isNaN(firstServedBySecond) && procs[1].served() > 0) firstServedBySecond = t;
    });
    while (first.served() < rate * 8) await sleep(20);
    const second = child(cfg, 'r1');
    second.proc.stdout!.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/restored (\d+) changelog records of partitions \[[^\]]*\] in (\d+) ms/g)) {
        restoredRecords += Number(m[1]);
        restoreMs += Number(m[2]);
      }
    });
    joinedAt = performance.now();
    procs.push(second);
    await s;
    await producing;
    return { outputGapMs: gap, restoredRecords, restoreMs, joinToServingMs: firstServedBySecond - joinedAt };
  } finally {
    await stopAll(procs);
  }
}

const spread = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)})`;
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function main(): Promise<void> {
  let broker = null;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    broker = await startLocalBroker({ log });
    brokers = broker.brokers;
  }
  process.env.KAFKA_BROKERS = brokers;
  log(
    `bench:scale-out on ${os.cpus().length} cores (load ${os.loadavg()[0].toFixed(1)}), ${nItems} items, H=100, ${partitions} partitions, ${delivery}, batch ${maxBatch}, ${events} events`,
  );
  const one: ThroughputRun[] = [];
  const two: ThroughputRun[] = [];
  const rebalances: RebalanceRun[] = [];
  try {
    // Alternated, so a drift in machine load hits both alike.
    for (let r = 0; r < repeats; r++) {
      one.push(await throughput(brokers, 1, r));
      log(`  1 process:   ${one[r].eventsPerSec.toFixed(0)} ev/s`);
      two.push(await throughput(brokers, 2, r));
      log(
        `  2 processes: ${two[r].eventsPerSec.toFixed(0)} ev/s total, per process ${two[r].perProcess.map((x) => x.toFixed(0)).join(' / ')} (served ${two[r].served.join(' / ')})`,
      );
    }
    const rate = Math.round(median(one.map((x) => x.eventsPerSec)) / 2);
    for (let r = 0; r < repeats; r++) {
      rebalances.push(await rebalance(brokers, r, rate));
      const b = rebalances[r];
      log(
        `  rebalance at ${rate} ev/s: joiner serving after ${b.joinToServingMs.toFixed(0)} ms, restored ${b.restoredRecords} records in ${b.restoreMs} ms, longest output gap ${b.outputGapMs.toFixed(0)} ms`,
      );
    }
  } finally {
    if (broker) await broker.stop();
  }
  log('');
  log('| processes | total events/s, median (min–max) | per process |');
  log('|---|---|---|');
  log(`| 1 | ${spread(one.map((x) => x.eventsPerSec))} | – |`);
  log(`| 2 | ${spread(two.map((x) => x.eventsPerSec))} | ${spread(two.flatMap((x) => x.perProcess))} |`);
  log(
    `rebalance under load: joiner serving after ${spread(rebalances.map((b) => b.joinToServingMs))} ms; restore ${spread(rebalances.map((b) => b.restoreMs))} ms; longest output gap ${spread(rebalances.map((b) => b.outputGapMs))} ms`,
  );
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(
    args.out!,
    JSON.stringify({ bench: 'scale-out', date: new Date().toISOString(), cpus: os.cpus().length, nItems, partitions, delivery, maxBatch, events, one, two, rebalances }, null, 2),
  );
  log(`wrote ${args.out}`);
}

await main();
