/**
 * `streamrec demo`: a local Kafka broker, rsc15-100k replayed as a live clickstream, the serving
 * topology with a model learning from the same stream, and a live line with events/s and online
 * Recall@20. Stops by itself when every produced event has its recommendation, or on Ctrl-C.
 */
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { loadConfig, type StreamrecConfig } from '../config/config.ts';
import { startLocalBroker, type LocalBroker } from '../kafka/local-broker.ts';
import { createKafka, ensureTopics } from '../kafka/client.ts';
import { makeCodecs } from '../ingest/codec.ts';
import { clicksInTimeOrder, replayClicks } from '../ingest/replay.ts';
import { loadSessionTsv, sharedDataDir } from '../data/sessions.ts';
import { ServingApp } from '../pipeline/serving-app.ts';
import { createRecommender } from '../pipeline/create-recommender.ts';

export interface DemoOptions {
  rate: number;
  limit?: number;
  dataDir?: string;
  topology?: string;
  /** Write a JSON summary here at the end. */
  out?: string;
}

export interface DemoSummary {
  produced: number;
  served: number;
  seconds: number;
  eventsPerSec: number;
  recallAt20: number;
  mrrAt20: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  deadLetters: number;
  model: string;
  delivery: string;
}

function fmt(n: number, d = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const dir = join(o.dataDir ?? sharedDataDir(), 'rsc15-100k');
  if (!existsSync(join(dir, 'train_full.tsv'))) throw new Error(`demo data not found in ${dir} (set SHARED_DATA_DIR to the folder holding rsc15-100k/)`);
  let broker: LocalBroker | null = null;
  const env = { ...process.env };
  if (!env.KAFKA_BROKERS) {
    process.stderr.write('demo: starting a local Kafka broker (KRaft) on 127.0.0.1…\n');
    broker = await startLocalBroker();
    env.KAFKA_BROKERS = broker.brokers;
  }
  const base = loadConfig(o.topology, env);
  // Fresh topics and group per run, so a demo against a shared cluster never mixes with old data.
  const run = `demo-${Date.now().toString(36)}`;
  const config: StreamrecConfig = {
    ...base,
    topics: {
      clicks: { ...base.topics.clicks, name: `${run}-clicks` },
      recommendations: { ...base.topics.recommendations, name: `${run}-recommendations` },
      deadLetter: { ...base.topics.deadLetter, name: `${run}-dead-letter` },
      sessionChangelog: { ...base.topics.sessionChangelog, name: `${run}-session-changelog` },
      modelUpdates: { ...base.topics.modelUpdates, name: `${run}-model-updates` },
    },
    groups: { serving: `${run}-serving`, trainer: `${run}-trainer` },
  };
  const abort = new AbortController();
  const onSigint = () => {
    process.stderr.write('\ndemo: stopping…\n');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  const recommender = await createRecommender(config);
  const app = new ServingApp({ config, recommender, instanceId: '0' });
  const kafka = createKafka(config, '-demo-producer');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  let produced = 0;
  let ticker: NodeJS.Timeout | undefined;
  const t0 = performance.now();
  try {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, config);
    await admin.disconnect();
    await app.start();
    await producer.connect();
    const train = loadSessionTsv(join(dir, 'train_full.tsv'));
    const test = loadSessionTsv(join(dir, 'test.tsv'), { index: train.index });
    const codec = makeCodecs(config.wireFormat).click;
    const events = (function* () {
      yield* clicksInTimeOrder(train.data, train.index);
      yield* clicksInTimeOrder(test.data, train.index);
    })();
    const total = Math.min(o.limit ?? Infinity, train.data.items.length + test.data.items.length);
    process.stderr.write(
      `demo: replaying ${fmt(total)} rsc15-100k clicks at ${o.rate > 0 ? fmt(o.rate) + '/s' : 'full speed'} → ${config.topics.clicks.name} (${config.topics.clicks.partitions} partitions); model ${recommender.version}, ${config.serving.delivery}\n`,
    );
    let lastServed = 0;
    let lastT = performance.now();
    ticker = setInterval(() => {
      const now = performance.now();
      const s = app.stats;
      const rate = ((s.eventsIn - lastServed) * 1000) / (now - lastT);
      lastServed = s.eventsIn;
      lastT = now;
      const w = s.quality.takeWindow();
      process.stderr.write(
        `[${((now - t0) / 1000).toFixed(0).padStart(4)}s] produced ${fmt(produced).padStart(7)}  served ${fmt(s.eventsIn).padStart(7)}  ${fmt(rate).padStart(6)} ev/s  ` +
          `Recall@20 ${s.quality.recall.toFixed(3)} (last 1s ${w.recall.toFixed(3)})  MRR@20 ${s.quality.mrr.toFixed(3)}  ` +
          `latency p50 ${s.recentLatency.quantile(0.5).toFixed(1)} ms p99 ${s.recentLatency.quantile(0.99).toFixed(1)} ms  dead-letter ${Object.values(s.deadLetters).reduce((a, b) => a + b, 0)}\n`,
      );
      s.recentLatency.reset();
    }, 1000);
    produced = await replayClicks(producer, codec, events, {
      topic: config.topics.clicks.name,
      rate: o.rate,
      limit: total,
      signal: abort.signal,
      onProgress: (n) => (produced = n),
    });
    while (!abort.signal.aborted && app.stats.eventsIn < produced) await new Promise((r) => setTimeout(r, 100));
  } finally {
    if (ticker) clearInterval(ticker);
    process.removeListener('SIGINT', onSigint);
    await producer.disconnect().catch(() => undefined);
    await app.stop().catch((e) => process.stderr.write(`demo: serving stop failed: ${(e as Error).message}\n`));
    if (broker) await broker.stop();
  }
  const seconds = (performance.now() - t0) / 1000;
  const s = app.stats;
  const summary: DemoSummary = {
    produced,
    served: s.eventsIn,
    seconds,
    eventsPerSec: s.eventsIn / seconds,
    recallAt20: s.quality.recall,
    mrrAt20: s.quality.mrr,
    latencyP50Ms: s.latency.quantile(0.5),
    latencyP99Ms: s.latency.quantile(0.99),
    deadLetters: Object.values(s.deadLetters).reduce((a, b) => a + b, 0),
    model: recommender.version,
    delivery: config.serving.delivery,
  };
  process.stderr.write(
    `demo: done. ${fmt(summary.served)} of ${fmt(produced)} events served in ${seconds.toFixed(1)} s (${fmt(summary.eventsPerSec)} ev/s end to end); ` +
      `online Recall@20 ${summary.recallAt20.toFixed(4)}, MRR@20 ${summary.mrrAt20.toFixed(4)} over ${fmt(s.quality.targets)} next-click targets; ` +
      `latency p50 ${summary.latencyP50Ms.toFixed(1)} ms, p99 ${summary.latencyP99Ms.toFixed(1)} ms\n`,
  );
  return summary;
}
