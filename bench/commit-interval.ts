/**
 * bench:commit-interval — serving throughput with a commit per micro-batch against a commit
 * span (serving.commit.intervalMs), from one run on the local broker: GRU4Rec (synthetic
 * weights, H=100), 3 partitions, a backlog of clicks served as fast as it goes (events/s from the
 * first committed span to the last record), rows alternated and repeated so that their spread
 * shows. Each row also reports transactions (spans), micro-batches and changelog records.
 *
 *   node --import tsx bench/commit-interval.ts [--items 3000] [--max-size 1024] [--events 100000]
 *        [--repeats 3] [--rows eos:0,eos:100,alo:100] [--out results/commit-interval.json]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalBroker } from '../scripts/kafka/local-broker.ts';
import { buildGru4RecRecommender } from '../src/serving/create-recommender.ts';
import { ServingApp } from '../src/serving/serving-app.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';
import { clickMessages, freshBenchConfig, sendAtRate } from './serving-load.ts';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '3000' },
    'max-size': { type: 'string', default: '1024' },
    events: { type: 'string', default: '100000' },
    repeats: { type: 'string', default: '3' },
    rows: { type: 'string', default: 'eos:0,eos:100,alo:100' },
    out: { type: 'string', default: 'results/commit-interval.json' },
  },
});
const H = 100;
const nItems = Number(args.items);
const maxSize = Number(args['max-size']);
const events = Number(args.events);
const repeats = Number(args.repeats);
const specs = args.rows!.split(',').map((r) => {
  const [mode, interval] = r.split(':');
  if (mode !== 'eos' && mode !== 'alo') throw new Error(`row ${r}: mode is eos or alo`);
  return { delivery: mode === 'eos' ? ('exactly-once' as const) : ('at-least-once' as const), intervalMs: Number(interval) };
});
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Result {
  delivery: string;
  intervalMs: number;
  repeat: number;
  events: number;
  eventsPerSec: number;
  spans: number;
  batches: number;
  changelogRecords: number;
  loadAvg1m: number;
}

async function runRow(brokers: string, spec: (typeof specs)[number], repeat: number, weights: ReturnType<typeof syntheticWeights>, itemIds: string[]): Promise<Result> {
  const cfg = await freshBenchConfig(brokers, `ci-${spec.delivery === 'exactly-once' ? 'eos' : 'alo'}-${spec.intervalMs}-${repeat}`, {
    delivery: spec.delivery,
    batch: { maxSize, maxWaitMs: 10 },
    commit: { intervalMs: spec.intervalMs, maxRecords: 10_000_000 },
  });
  await sendAtRate(cfg, clickMessages(cfg, nItems, events, 1 + repeat), 0);
  const app = new ServingApp({
    config: cfg,
    recommender: await buildGru4RecRecommender(cfg, weights, itemIds, 'bench', () => undefined),
    instanceId: 'bench',
    log: () => undefined,
  });
  let spans = 0;
  app.events.on('spanCommitted', () => spans++);
  await app.start();
  try {
    const deadline = Date.now() + 600_000;
    while (app.stats.eventsIn === 0) {
      if (Date.now() > deadline) throw new Error('nothing served');
      await new Promise((r) => setTimeout(r, 5));
    }
    const t0 = performance.now();
    const first = app.stats.eventsIn;
    const spans0 = spans;
    while (app.stats.eventsIn < events) {
      if (Date.now() > deadline) throw new Error(`served ${app.stats.eventsIn} of ${events}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const seconds = (performance.now() - t0) / 1000;
    return {
      delivery: spec.delivery,
      intervalMs: spec.intervalMs,
      repeat,
      events: events - first,
      eventsPerSec: (events - first) / seconds,
      spans: spans - spans0,
      batches: app.stats.batches,
      changelogRecords: app.stats.changelogRecordsOut,
      loadAvg1m: os.loadavg()[0],
    };
  } finally {
    await app.stop();
  }
}

async function main(): Promise<void> {
  let broker = null;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    broker = await startLocalBroker({ log });
    brokers = broker.brokers;
  }
  const weights = syntheticWeights({ nItems, embeddingDim: H, hiddenSizes: [H], constrainedEmbedding: true, useBias: true }, 11);
  const itemIds = Array.from({ length: nItems }, (_, i) => `i${i}`);
  const results: Result[] = [];
  const started = new Date().toISOString();
  log(
    `bench:commit-interval on ${os.cpus().length} cores (${os.cpus()[0]?.model}), load ${os.loadavg()[0].toFixed(2)}; ${nItems} items, H=${H}, batch ${maxSize}, ${events} events per row, ${repeats} repeats alternated`,
  );
  try {
    // Alternated: repeat r of every row before repeat r+1 of any, so drift in the machine's load hits all rows alike.
    for (let r = 0; r < repeats; r++)
      for (const spec of specs) {
        const res = await runRow(brokers, spec, r, weights, itemIds);
        results.push(res);
        log(
          `${res.delivery.padEnd(13)} interval ${String(res.intervalMs).padStart(4)} ms  #${r}  ${res.eventsPerSec.toFixed(0).padStart(7)} ev/s  ${res.spans} commits, ${res.batches} batches, ${res.changelogRecords} changelog records  (load ${res.loadAvg1m.toFixed(2)})`,
        );
      }
  } finally {
    if (broker) await broker.stop();
  }
  log('summary (median [min–max] ev/s):');
  for (const spec of specs) {
    const xs = results
      .filter((x) => x.delivery === spec.delivery && x.intervalMs === spec.intervalMs)
      .map((x) => x.eventsPerSec)
      .sort((a, b) => a - b);
    log(
      `  ${spec.delivery.padEnd(13)} interval ${String(spec.intervalMs).padStart(4)} ms: ${xs[Math.floor(xs.length / 2)].toFixed(0)} [${xs[0].toFixed(0)}–${xs[xs.length - 1].toFixed(0)}]`,
    );
  }
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(
    args.out!,
    JSON.stringify(
      { bench: 'commit-interval', date: started, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, nItems, hidden: H, maxSize, events, partitions: 3, results },
      null,
      2,
    ),
  );
  log(`wrote ${args.out}`);
}

await main();
