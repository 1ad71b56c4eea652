/**
 * The timed runs of bench:serve (bench/serve.ts), one job each: the engine step alone beside the
 * GEMM-bound limit, serving a backlog (max throughput), and serving a steady rate (latency
 * percentiles from HDR histograms, as serving sees it and as a read_committed reader sees it).
 */
import { loadConfig, type StreamrecConfig } from '../src/config/config.ts';
import type { InferenceEngine, StepOutput } from '../src/engine/engine.ts';
import { createEngine } from '../src/engine/create-engine.ts';
import { makeCodecs } from '../src/ingest/codec.ts';
import { createKafka } from '../src/kafka/client.ts';
import type { KafkaClientKind } from '../src/kafka/kafka-client.ts';
import { VisibleLatencyProbe } from '../src/kafka/visible-latency.ts';
import { LatencyHistogram, type LatencyPercentiles, latencyPercentiles } from '../src/metrics/latency-histogram.ts';
import type { Gru4RecWeights } from '../src/model/weights.ts';
import { buildGru4RecRecommender, prepareModel } from '../src/serving/create-recommender.ts';
import { ServingApp } from '../src/serving/serving-app.ts';
import { measureGemmBound } from '../test/support/gemm-bound.ts';
import { seededRandom } from '../test/support/synthetic-weights.ts';
import { type AnnScoring, annModel, annRecall, type Scoring } from './serve-ann.ts';
import { clickMessages, freshBenchConfig, sendAtRate } from './serving-load.ts';

export type Delivery = StreamrecConfig['serving']['delivery'];

/** One serving configuration: client, delivery, the commit interval (null: the topology has no commit setting), scoring (absent: exact). */
export interface ServingMode {
  client: KafkaClientKind;
  delivery: Delivery;
  commitIntervalMs: number | null;
  scoring?: Scoring;
}

export const modeId = (m: ServingMode): string =>
  `${m.client}-${m.delivery === 'exactly-once' ? 'eos' : 'alo'}${m.commitIntervalMs === null ? '' : `-commit${m.commitIntervalMs}ms`}${m.scoring === 'ann' ? '-ann' : ''}`;

/** The catalogue's model and ids: what every serving run of one catalogue shares. */
export interface Catalogue {
  nItems: number;
  weights: Gru4RecWeights;
  itemIds: string[];
  /** The catalogue's index, for modes with scoring ann (built once, bench/serve-ann.ts). */
  ann?: AnnScoring;
}

/** The topology's serving settings with this mode's delivery and commit interval. */
function servingFor(mode: ServingMode): Partial<StreamrecConfig['serving']> {
  const base = loadConfig().serving;
  return { delivery: mode.delivery, ...(mode.commitIntervalMs === null ? {} : { commit: { ...base.commit, intervalMs: mode.commitIntervalMs } }) };
}

async function freshServing(brokers: string, tag: string, cat: Catalogue, mode: ServingMode): Promise<{ cfg: StreamrecConfig; app: ServingApp }> {
  const cfg = await freshBenchConfig(brokers, tag, servingFor(mode));
  cfg.kafka.client = mode.client;
  const recommender = await buildGru4RecRecommender(cfg, cat.weights, cat.itemIds, 'bench', () => undefined);
  if (mode.scoring === 'ann') {
    // Installed as a hot swap installs a new version (before any session exists): building the
    // index through serving.scoring: ann would rebuild it, minutes at 10^5+ items, for every run.
    if (!cat.ann) throw new Error(`${modeId(mode)}: the catalogue has no ann index`);
    await recommender.swapModel(await annModel(cfg, cat.weights, cat.itemIds, cat.ann));
  }
  const app = new ServingApp({ config: cfg, recommender, instanceId: 'bench', log: () => undefined });
  return { cfg, app };
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface ThroughputRun {
  events: number;
  eventsPerSec: number;
  seconds: number;
  meanBatch: number;
  loadAvg1m: number;
}

/**
 * Serves a preloaded backlog of `events` clicks as fast as it goes. events/s counts from the first
 * committed batch to the one that commits the last click (times taken in the commit events, not
 * by polling), leaving group join and engine creation out.
 */
export async function servingThroughput(brokers: string, cat: Catalogue, mode: ServingMode, events: number, tag: string, loadAvg: () => number): Promise<ThroughputRun> {
  const { cfg, app } = await freshServing(brokers, tag, cat, mode);
  await sendAtRate(cfg, clickMessages(cfg, cat.nItems, events, 1), 0);
  let committed = 0;
  let firstAt = 0;
  let firstCount = 0;
  let lastAt = 0;
  app.events.on('batchCommitted', (b) => {
    committed += b.consumed;
    const now = performance.now();
    if (firstAt === 0) {
      firstAt = now;
      firstCount = committed;
    }
    if (committed >= events && lastAt === 0) lastAt = now;
  });
  const load = loadAvg();
  await app.start();
  try {
    await until(() => lastAt > 0, 900_000, `${events} committed clicks (${modeId(mode)})`);
  } finally {
    await app.stop();
  }
  const seconds = (lastAt - firstAt) / 1000;
  return { events, eventsPerSec: (committed - firstCount) / seconds, seconds, meanBatch: app.stats.eventsIn / Math.max(1, app.stats.batches), loadAvg1m: load };
}

export interface LatencyRun {
  rate: number;
  events: number;
  meanBatch: number;
  /** Click appended → its recommendation produced (serving's own histogram). */
  produced: LatencyPercentiles;
  /** Click appended → the recommendation read by a read_committed consumer (includes the commit under exactly-once). */
  visible: LatencyPercentiles;
}

/** Clicks at a steady `rate` for `seconds` after a warm-up (group join, first fetches, JIT) left out of both histograms. */
export async function servingLatency(brokers: string, cat: Catalogue, mode: ServingMode, rate: number, seconds: number, tag: string): Promise<LatencyRun> {
  const warmup = Math.max(100, Math.round(rate / 2));
  const { cfg, app } = await freshServing(brokers, tag, cat, mode);
  const codec = makeCodecs(cfg.wireFormat).recommendation;
  const visible = new LatencyHistogram();
  const probe = new VisibleLatencyProbe({
    kafka: createKafka(cfg, '-bench-downstream'),
    topic: cfg.topics.recommendations.name,
    sink: visible,
    sourceAppendedAt: (m) => {
      const r = codec.decode(m.value);
      return r.producedAt - r.latencyMs;
    },
  });
  await app.start();
  await probe.start();
  try {
    await sendAtRate(cfg, clickMessages(cfg, cat.nItems, warmup, 3), rate);
    const s = app.stats;
    await until(() => s.recommendationsOut >= warmup && probe.records >= warmup, 300_000, 'the latency warm-up');
    s.latency.reset();
    visible.reset();
    const batches0 = s.batches;
    const events0 = s.eventsIn;
    const events = Math.max(200, Math.round(rate * seconds));
    await sendAtRate(cfg, clickMessages(cfg, cat.nItems, events, 2), rate);
    await until(() => s.recommendationsOut >= warmup + events && probe.records >= warmup + events, 600_000, 'every recommendation downstream');
    return { rate, events, meanBatch: (s.eventsIn - events0) / Math.max(1, s.batches - batches0), produced: latencyPercentiles(s.latency), visible: latencyPercentiles(visible) };
  } finally {
    await probe.stop();
    await app.stop();
  }
}

/** Engine steps (or, with encodeOnly, encode() alone: the GRU update without scoring) of `batch` random sessions for about `ms`; events/s. */
async function timeEngine(engine: InferenceEngine, nItems: number, batch: number, ms: number, encodeOnly = false): Promise<number> {
  const rand = seededRandom(nItems);
  const H = engine.hiddenSizes;
  const items = new Int32Array(batch).map(() => Math.floor(rand() * nItems));
  const hidden = H.map((h) => new Float32Array(batch * h).map(() => (rand() - 0.5) * 0.5));
  const out: StepOutput = { topIdx: new Int32Array(batch * engine.topK), topScore: new Float32Array(batch * engine.topK) };
  const run = () => (encodeOnly ? engine.encode(batch, items, hidden) : engine.step(batch, items, hidden, out));
  await run();
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms || steps < 3) {
    await run();
    steps++;
  }
  return (steps * batch * 1000) / (performance.now() - t0);
}

export interface EngineVsBound {
  boundEventsPerSec: number[];
  engineEventsPerSec: number[];
}

/**
 * The engine serving creates (default kind, the topology's top-K and batch size) stepping alone,
 * and the GEMM-bound limit at the same batch size and thread count, alternated `repeats` times.
 */
export async function engineVsBound(cat: Catalogue, topK: number, batch: number, threads: number, repeats: number, ms: number): Promise<EngineVsBound> {
  const engine = await createEngine(cat.weights, { topK, maxBatch: batch, log: () => undefined });
  const H = cat.weights.arch.hiddenSizes[cat.weights.arch.hiddenSizes.length - 1];
  const r: EngineVsBound = { boundEventsPerSec: [], engineEventsPerSec: [] };
  try {
    for (let i = 0; i < repeats; i++) {
      r.boundEventsPerSec.push((await measureGemmBound({ nItems: cat.nItems, hidden: H, batch, threads, minTimeMs: ms })).eventsPerSec);
      r.engineEventsPerSec.push(await timeEngine(engine, cat.nItems, batch, ms));
    }
  } finally {
    await engine.dispose();
  }
  return r;
}

export interface AnnVsExact {
  annEventsPerSec: number[];
  exactEventsPerSec: number[];
  /** encode() alone (the GRU update, no scoring): what ANN scoring leaves of the step, its limit. */
  encodeEventsPerSec: number[];
  /** recall@K of the ANN engine's lists against the exact engine's, same clicks. */
  recall: number;
  recallLists: number;
}

/**
 * The engines serving creates for scoring ann and exact (prepareModel with the topology's serving
 * options; the ann one over the catalogue's prebuilt index) stepping alone and the exact engine's
 * encode() alone, alternated `repeats` times, then recall@K of the ann lists against the exact ones on `recallSessions` sessions.
 */
export async function annVsExact(cat: Catalogue, repeats: number, ms: number, recallSessions: number): Promise<AnnVsExact> {
  if (!cat.ann) throw new Error('annVsExact: the catalogue has no ann index');
  const cfg = loadConfig();
  const exact = (await prepareModel(cfg, cat.weights, cat.itemIds, 'bench', () => undefined)).engine;
  try {
    const ann = (await annModel(cfg, cat.weights, cat.itemIds, cat.ann)).engine;
    try {
      const r: AnnVsExact = { annEventsPerSec: [], exactEventsPerSec: [], encodeEventsPerSec: [], recall: 0, recallLists: 0 };
      const batch = cfg.serving.batch.maxSize;
      for (let i = 0; i < repeats; i++) {
        r.exactEventsPerSec.push(await timeEngine(exact, cat.nItems, batch, ms));
        r.annEventsPerSec.push(await timeEngine(ann, cat.nItems, batch, ms));
        r.encodeEventsPerSec.push(await timeEngine(exact, cat.nItems, batch, ms, true));
      }
      const rc = await annRecall(exact, ann, cat.nItems, recallSessions);
      return { ...r, recall: rc.recall, recallLists: rc.lists };
    } finally {
      await ann.dispose();
    }
  } finally {
    await exact.dispose();
  }
}
