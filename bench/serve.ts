/**
 * npm run bench:serve — the serving topology end to end on a real Kafka broker: GRU4Rec
 * (synthetic weights, H=100, constrained embedding) for catalogues of 3k / 30k / 300k items,
 * swept over micro-batch size / wait. Per configuration:
 *   throughput: a backlog of clicks is served as fast as possible (events/s, from the first
 *               committed batch to the last);
 *   latency:    clicks produced at a steady rate below that throughput; p50/p99 of
 *               recommendation produced-at minus click append time.
 * Beside each catalogue, the raw GEMM-bound limit measured in the same run: the scoring product
 * alone ([B,H]·[H,N] on onnxruntime) at the same batch size, as events/s.
 *
 *   node --import tsx bench/serve.ts [--quick] [--out results/serve.json]
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import os from 'node:os';
import { startLocalBroker } from '../scripts/kafka/local-broker.ts';
import { ServingApp } from '../src/serving/serving-app.ts';
import { buildGru4RecRecommender } from '../src/serving/create-recommender.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';
import { measureGemmBound } from '../test/support/gemm-bound.ts';
import type { Gru4RecWeights } from '../src/model/weights.ts';
import { clickMessages, freshBenchConfig, sendAtRate } from './serving-load.ts';

const { values: args } = parseArgs({
  options: { quick: { type: 'boolean', default: false }, out: { type: 'string', default: 'results/serve.json' }, catalogues: { type: 'string' } },
});
const H = 100;
const catalogues = (args.catalogues ?? (args.quick ? '3000,30000' : '3000,30000,300000')).split(',').map(Number);
const sweep: Array<{ maxSize: number; maxWaitMs: number }> = args.quick
  ? [
      { maxSize: 64, maxWaitMs: 5 },
      { maxSize: 256, maxWaitMs: 10 },
    ]
  : [
      { maxSize: 16, maxWaitMs: 2 },
      { maxSize: 64, maxWaitMs: 5 },
      { maxSize: 256, maxWaitMs: 10 },
      { maxSize: 512, maxWaitMs: 20 },
    ];
const log = (s: string) => process.stderr.write(s + '\n');

interface Row {
  nItems: number;
  delivery: string;
  maxSize: number;
  maxWaitMs: number;
  events: number;
  eventsPerSec: number;
  meanBatch: number;
  rateForLatency: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  gemmBoundEventsPerSec: number;
}

async function waitServed(app: ServingApp, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (app.stats.eventsIn < n) {
    if (Date.now() > deadline) throw new Error(`served ${app.stats.eventsIn} of ${n} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runConfig(
  brokers: string,
  weights: Gru4RecWeights,
  itemIds: string[],
  nItems: number,
  s: { maxSize: number; maxWaitMs: number },
  delivery: 'exactly-once' | 'at-least-once',
  bound: number,
): Promise<Row> {
  // Sized so every configuration runs a few seconds on 2 cores.
  const events = Math.round(Math.min(20_000, Math.max(3_000, 3_000_000 / Math.sqrt(nItems) / 3)) * (args.quick ? 0.5 : 1));
  // Throughput: backlog first, then serve.
  const cfgT = await freshBenchConfig(brokers, `t${nItems}-${s.maxSize}`, { delivery, batch: { maxSize: s.maxSize, maxWaitMs: s.maxWaitMs } });
  await sendAtRate(cfgT, clickMessages(cfgT, nItems, events, 1), 0);
  const appT = new ServingApp({
    config: cfgT,
    recommender: await buildGru4RecRecommender(cfgT, weights, itemIds, 'bench', () => undefined),
    instanceId: 'bench',
    log: () => undefined,
  });
  await appT.start();
  await waitServed(appT, 1, 60_000);
  const t0 = performance.now();
  const first = appT.stats.eventsIn;
  await waitServed(appT, events, 600_000);
  const eventsPerSec = ((events - first) * 1000) / (performance.now() - t0);
  const meanBatch = appT.stats.eventsIn / appT.stats.batches;
  await appT.stop();
  // Latency: steady rate at half the measured throughput.
  const rate = Math.max(50, Math.round(eventsPerSec * 0.5));
  const latEvents = Math.min(events, Math.round(rate * 6));
  const cfgL = await freshBenchConfig(brokers, `l${nItems}-${s.maxSize}`, { delivery, batch: { maxSize: s.maxSize, maxWaitMs: s.maxWaitMs } });
  const appL = new ServingApp({
    config: cfgL,
    recommender: await buildGru4RecRecommender(cfgL, weights, itemIds, 'bench', () => undefined),
    instanceId: 'bench',
    log: () => undefined,
  });
  await appL.start();
  // Warm-up (group join, first fetches) is excluded from the latency figures.
  await sendAtRate(cfgL, clickMessages(cfgL, nItems, 50, 3), 0);
  await waitServed(appL, 50, 60_000);
  appL.stats.latency.reset();
  await sendAtRate(cfgL, clickMessages(cfgL, nItems, latEvents, 2), rate);
  await waitServed(appL, 50 + latEvents, 300_000);
  const row: Row = {
    nItems,
    delivery,
    maxSize: s.maxSize,
    maxWaitMs: s.maxWaitMs,
    events,
    eventsPerSec,
    meanBatch,
    rateForLatency: rate,
    latencyP50Ms: appL.stats.latency.quantile(0.5),
    latencyP99Ms: appL.stats.latency.quantile(0.99),
    gemmBoundEventsPerSec: bound,
  };
  await appL.stop();
  return row;
}

function print(r: Row): void {
  log(
    `${String(r.nItems).padStart(7)}  ${r.delivery.padEnd(13)} ${String(r.maxSize).padStart(4)}/${String(r.maxWaitMs).padEnd(3)} ${r.eventsPerSec.toFixed(0).padStart(8)} ev/s  mean batch ${r.meanBatch.toFixed(1).padStart(6)}  ` +
      `@${String(r.rateForLatency).padStart(6)} ev/s: p50 ${r.latencyP50Ms.toFixed(1).padStart(7)} ms  p99 ${r.latencyP99Ms.toFixed(1).padStart(7)} ms   GEMM bound ${r.gemmBoundEventsPerSec.toFixed(0).padStart(8)} ev/s`,
  );
}

async function main(): Promise<void> {
  let broker = null;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    broker = await startLocalBroker({ log });
    brokers = broker.brokers;
  }
  const rows: Row[] = [];
  log(`bench:serve on ${os.cpus().length} cores, broker ${brokers}; H=${H}, 3 partitions, top-20`);
  log('  items  delivery      size/wait   throughput     mean batch          latency at half throughput            raw scoring GEMM');
  try {
    for (const nItems of catalogues) {
      const weights = syntheticWeights({ nItems, embeddingDim: H, hiddenSizes: [H], constrainedEmbedding: true, useBias: true }, 11);
      const itemIds = Array.from({ length: nItems }, (_, i) => `i${i}`);
      for (const s of sweep) {
        const bound = await measureGemmBound({ nItems, hidden: H, batch: s.maxSize, threads: os.cpus().length });
        const deliveries = s === sweep[sweep.length - 2] ? (['exactly-once', 'at-least-once'] as const) : (['exactly-once'] as const);
        for (const d of deliveries) {
          const r = await runConfig(brokers, weights, itemIds, nItems, s, d, bound.eventsPerSec);
          rows.push(r);
          print(r);
        }
      }
    }
  } finally {
    if (broker) await broker.stop();
  }
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, JSON.stringify({ bench: 'serve', date: new Date().toISOString(), cpus: os.cpus().length, hidden: H, partitions: 3, topK: 20, rows }, null, 2));
  log(`wrote ${args.out}`);
}

await main();
