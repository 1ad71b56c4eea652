/**
 * npm run bench:latency — latency percentiles of the serving topology on the local broker, from
 * HDR histograms (3 significant digits): clicks produced at a fixed rate into a fresh topology
 * served by GRU4Rec (synthetic weights, 3k items, H=100), per delivery mode and rate:
 *   produced: click appended → its recommendation produced by serving (serving's own figure);
 *   visible:  click appended → the recommendation read by a read_committed downstream consumer
 *             (src/kafka/visible-latency.ts): under exactly-once it includes the commit;
 *   stages:   per micro-batch, p50/p99 of queue, decode, store, engine, produce, commit.
 * A warm-up (group join, first fetches, JIT) is served first and left out of every histogram.
 *
 *   node --import tsx bench/latency.ts [--rates 500,2000] [--seconds 8] [--out results/latency.json]
 *        [--max-size 1024] [--commit-interval-ms 100] [--deliveries exactly-once,at-least-once]
 * (without --max-size / --commit-interval-ms, the default topology's serving.batch / serving.commit)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalBroker } from '../scripts/kafka/local-broker.ts';
import { makeCodecs } from '../src/ingest/codec.ts';
import { createKafka } from '../src/kafka/client.ts';
import { VisibleLatencyProbe } from '../src/kafka/visible-latency.ts';
import { STAGES, type Stage } from '../src/metrics/instruments.ts';
import { LatencyHistogram, type LatencyPercentiles, latencyPercentiles } from '../src/metrics/latency-histogram.ts';
import { buildGru4RecRecommender } from '../src/serving/create-recommender.ts';
import { ServingApp } from '../src/serving/serving-app.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';
import { clickMessages, freshBenchConfig, sendAtRate } from './serving-load.ts';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: '500,2000' },
    seconds: { type: 'string', default: '8' },
    items: { type: 'string', default: '3000' },
    out: { type: 'string', default: 'results/latency.json' },
    'max-size': { type: 'string' },
    'commit-interval-ms': { type: 'string' },
    deliveries: { type: 'string', default: 'exactly-once,at-least-once' },
  },
});
const H = 100;
const WARMUP = 300;
const rates = args.rates!.split(',').map(Number);
const seconds = Number(args.seconds);
const nItems = Number(args.items);
const log = (s: string) => process.stderr.write(s + '\n');

type Delivery = 'exactly-once' | 'at-least-once';
interface Row {
  delivery: Delivery;
  rate: number;
  events: number;
  maxSize: number;
  maxWaitMs: number;
  /** serving.commit.intervalMs: under exactly-once, outputs become visible at the commit. */
  commitIntervalMs: number;
  meanBatch: number;
  produced: LatencyPercentiles;
  visible: LatencyPercentiles;
  stages: Record<Stage, { batches: number; p50: number; p99: number }>;
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runOne(brokers: string, delivery: Delivery, rate: number, weights: ReturnType<typeof syntheticWeights>, itemIds: string[]): Promise<Row> {
  const base = await freshBenchConfig(brokers, `lat-${delivery === 'exactly-once' ? 'eos' : 'alo'}-${rate}`, { delivery });
  const cfg = {
    ...base,
    serving: {
      ...base.serving,
      batch: args['max-size'] ? { ...base.serving.batch, maxSize: Number(args['max-size']) } : base.serving.batch,
      commit: args['commit-interval-ms'] ? { ...base.serving.commit, intervalMs: Number(args['commit-interval-ms']) } : base.serving.commit,
    },
  };

  const codec = makeCodecs(cfg.wireFormat).recommendation;
  const visible = new LatencyHistogram();
  const probe = new VisibleLatencyProbe({
    kafka: createKafka(cfg, '-bench-downstream'),
    topic: cfg.topics.recommendations.name,
    sink: visible,
    // The record says when it was produced and how long after its click's append time.
    sourceAppendedAt: (m) => {
      const r = codec.decode(m.value);
      return r.producedAt - r.latencyMs;
    },
  });
  const app = new ServingApp({
    config: cfg,
    recommender: await buildGru4RecRecommender(cfg, weights, itemIds, 'bench', () => undefined),
    instanceId: 'bench',
    log: () => undefined,
  });
  await app.start();
  await probe.start();
  try {
    await sendAtRate(cfg, clickMessages(cfg, nItems, WARMUP, 3), rate);
    await until(() => app.stats.recommendationsOut >= WARMUP && probe.records >= WARMUP, 120_000, 'the warm-up');
    const s = app.stats;
    for (const h of [s.latency, visible, ...STAGES.map((st) => s.stages[st])]) h.reset();
    const batches0 = s.batches;
    const events0 = s.eventsIn;
    const events = Math.round(rate * seconds);
    await sendAtRate(cfg, clickMessages(cfg, nItems, events, 2), rate);
    await until(() => s.recommendationsOut >= WARMUP + events && probe.records >= WARMUP + events, 300_000, 'every recommendation downstream');
    const stages = Object.fromEntries(
      STAGES.map((st) => [st, { batches: s.stages[st].count, p50: s.stages[st].quantile(0.5), p99: s.stages[st].quantile(0.99) }]),
    ) as Row['stages'];
    return {
      delivery,
      rate,
      events,
      maxSize: cfg.serving.batch.maxSize,
      maxWaitMs: cfg.serving.batch.maxWaitMs,
      commitIntervalMs: cfg.serving.commit.intervalMs,
      meanBatch: (s.eventsIn - events0) / Math.max(1, s.batches - batches0),
      produced: latencyPercentiles(s.latency),
      visible: latencyPercentiles(visible),
      stages,
    };
  } finally {
    await probe.stop();
    await app.stop();
  }
}

const f = (x: number) => x.toFixed(1).padStart(7);
function print(r: Row): void {
  const q = (p: LatencyPercentiles) => `${f(p.p50)} ${f(p.p95)} ${f(p.p99)} ${f(p.p999)}`;
  log(`${r.delivery.padEnd(13)} ${String(r.rate).padStart(5)}  ${r.meanBatch.toFixed(1).padStart(6)}   produced ${q(r.produced)}   visible ${q(r.visible)}`);
  log(
    `${''.padEnd(30)}stages p50/p99 ms: ${STAGES.map((st) => `${st} ${r.stages[st].batches === 0 ? '–' : `${r.stages[st].p50.toFixed(2)}/${r.stages[st].p99.toFixed(2)}`}`).join('  ')}`,
  );
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
  const rows: Row[] = [];
  const load = os.loadavg()[0];
  log(`bench:latency on ${os.cpus().length} cores (load ${load.toFixed(2)}), broker ${brokers}; ${nItems} items, H=${H}, 3 partitions, ${seconds} s per row, HDR 3 digits`);
  log('delivery       rate  batch   ms         p50     p95     p99   p99.9             p50     p95     p99   p99.9');
  try {
    for (const delivery of args.deliveries!.split(',') as Delivery[])
      for (const rate of rates) {
        const r = await runOne(brokers, delivery, rate, weights, itemIds);
        rows.push(r);
        print(r);
      }
  } finally {
    if (broker) await broker.stop();
  }
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(
    args.out!,
    JSON.stringify(
      {
        bench: 'latency',
        date: new Date().toISOString(),
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model,
        loadAvg1mAtStart: load,
        nItems,
        hidden: H,
        partitions: 3,
        secondsPerRow: seconds,
        rows,
      },
      null,
      2,
    ),
  );
  log(`wrote ${args.out}`);
}

await main();
