/**
 * `streamrec demo`: everything through a real Kafka broker.
 *  1. history: the rsc15-100k training days are published to the clicks topic;
 *  2. trainer: reads that history back from the topic, trains GRU4Rec, writes a model directory;
 *  3. serving: the trained model serves the clicks topic from the end of the history, while the
 *     test day is replayed as a live stream; a live line shows events/s, online Recall@20 / MRR@20
 *     (prequential: was the next click in the list emitted before it?) and end-to-end latency.
 * Stops by itself when every live event has its recommendation, or on Ctrl-C.
 * With --model cooccurrence there is no training phase: the online co-occurrence model learns
 * from the whole replay (training days, then test day) as it serves.
 */
import { join } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { DataFileError, UsageError } from '../errors/errors.ts';
import { loadConfig, namespaced } from '../config/config.ts';
import { createKafka, ensureTopics } from '../kafka/client.ts';
import { makeCodecs, type ClickEvent } from '../ingest/codec.ts';
import { clicksInTimeOrder, replayClicks } from '../ingest/replay.ts';
import { loadSessionTsv, sharedDataDir } from '../data/sessions.ts';
import { ServingApp } from '../serving/serving-app.ts';
import { buildGru4RecRecommender } from '../serving/create-recommender.ts';
import { CooccurrenceRecommender } from '../serving/cooccurrence-recommender.ts';
import type { Recommender } from '../serving/recommender.ts';
import { loadClickHistory } from '../train/topic-history.ts';
import { trainGru4Rec } from '../train/trainer.ts';
import { gru4recPreset } from '../model/gru4rec-config.ts';
import { initBackend } from '../model/backend.ts';
import { saveModel } from '../registry/model-file.ts';

export interface DemoOptions {
  rate: number;
  limit?: number;
  dataDir?: string;
  topology?: string;
  model: 'gru4rec' | 'cooccurrence';
  epochs: number;
  preset: string;
}

export interface DemoSummary {
  model: string;
  delivery: string;
  historyEvents: number;
  trainSeconds: number;
  trainEventsPerSec: number;
  produced: number;
  served: number;
  seconds: number;
  eventsPerSec: number;
  recallAt20: number;
  mrrAt20: number;
  targets: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  deadLetters: number;
}

const say = (s: string) => process.stderr.write(s + '\n');

function fmt(n: number, d = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const dir = join(o.dataDir ?? sharedDataDir(), 'rsc15-100k');
  if (!existsSync(join(dir, 'train_full.tsv')))
    throw new DataFileError(join(dir, 'train_full.tsv'), 'demo data not found (set SHARED_DATA_DIR to the folder holding rsc15-100k/)', { missing: true });
  const abort = new AbortController();
  const onSigint = () => {
    say('\ndemo: stopping…');
    abort.abort();
  };
  process.once('SIGINT', onSigint);
  let broker: { brokers: string; stop(): Promise<void> } | null = null;
  const env = { ...process.env };
  if (!env.KAFKA_BROKERS) {
    say('demo: starting a local Kafka broker (KRaft) on 127.0.0.1…');
    broker = await (await loadLocalBroker()).startLocalBroker();
    env.KAFKA_BROKERS = broker.brokers;
  }
  // Fresh topics and groups per run, so a demo against a shared cluster never mixes with old data.
  const config = namespaced(loadConfig(o.topology, env), `demo-${Date.now().toString(36)}`);
  const kafka = createKafka(config, '-demo');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  const codec = makeCodecs(config.wireFormat).click;
  const train = loadSessionTsv(join(dir, 'train_full.tsv'));
  const test = loadSessionTsv(join(dir, 'test.tsv'), { index: train.index });
  const summary: DemoSummary = {
    model: '',
    delivery: config.serving.delivery,
    historyEvents: 0,
    trainSeconds: 0,
    trainEventsPerSec: 0,
    produced: 0,
    served: 0,
    seconds: 0,
    eventsPerSec: 0,
    recallAt20: 0,
    mrrAt20: 0,
    targets: 0,
    latencyP50Ms: 0,
    latencyP99Ms: 0,
    deadLetters: 0,
  };
  let app: ServingApp | null = null;
  let ticker: NodeJS.Timeout | undefined;
  try {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, config);
    await producer.connect();
    let recommender: Recommender;
    let live: Iterable<ClickEvent>;
    let liveTotal: number;
    if (o.model === 'gru4rec') {
      summary.historyEvents = await replayClicks(producer, codec, clicksInTimeOrder(train.data, train.index), { topic: config.topics.clicks.name, rate: 0, signal: abort.signal });
      say(`demo: published ${fmt(summary.historyEvents)} history clicks (rsc15-100k training days) to ${config.topics.clicks.name}`);
      // Serving starts where the history ends: its group's offsets are set before it joins.
      const ends = await admin.fetchTopicOffsets(config.topics.clicks.name);
      await admin.setOffsets({ groupId: config.groups.serving, topic: config.topics.clicks.name, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
      const trainerKafka = createKafka(config, '-trainer');
      const history = await loadClickHistory(trainerKafka, config.topics.clicks.name, codec);
      const gru = gru4recPreset(o.preset, { nEpochs: o.epochs });
      const backend = await initBackend(undefined, () => undefined);
      say(
        `trainer: read ${fmt(history.data.items.length)} clicks / ${fmt(history.data.offsets.length - 1)} sessions / ${fmt(history.index.size)} items back from Kafka; ` +
          `training GRU4Rec (${o.preset}: ${gru.loss}, layers [${gru.layers}], ${gru.nEpochs} epochs) on tfjs-${backend}…`,
      );
      let lastLine = 0;
      const { model, stats } = await trainGru4Rec(history.data, history.index.size, gru, {
        signal: abort.signal,
        onProgress: (p) => {
          if (performance.now() - lastLine < 2000) return;
          lastLine = performance.now();
          say(`trainer: epoch ${p.epoch}/${p.nEpochs}  ${fmt((100 * p.epochEvents) / p.epochTotal)}%  loss ${p.loss.toFixed(4)}  ${fmt(p.eventsPerSec)} events/s`);
        },
      });
      summary.trainSeconds = stats.seconds;
      summary.trainEventsPerSec = stats.eventsPerSec;
      const version = `gru4rec-demo-${Date.now().toString(36)}`;
      const modelDir = join(new URL('../../', import.meta.url).pathname, '.streamrec', 'models', version);
      mkdirSync(modelDir, { recursive: true });
      const weights = model.toWeights();
      model.dispose();
      await saveModel(modelDir, { weights, itemIds: history.index.ids, config: gru, version });
      say(`trainer: ${stats.epochs} epochs in ${stats.seconds.toFixed(1)} s (${fmt(stats.eventsPerSec)} events/s); model ${version} → ${modelDir}`);
      recommender = await buildGru4RecRecommender(config, weights, history.index.ids, version, say);
      live = clicksInTimeOrder(test.data, train.index);
      liveTotal = test.data.items.length;
    } else {
      recommender = new CooccurrenceRecommender(config.serving.topK, config.serving.sessions.maxSessions);
      live = (function* () {
        yield* clicksInTimeOrder(train.data, train.index);
        yield* clicksInTimeOrder(test.data, train.index);
      })();
      liveTotal = train.data.items.length + test.data.items.length;
    }
    await admin.disconnect();
    if (abort.signal.aborted) throw new Error('stopped before serving');
    summary.model = recommender.version;
    const server = new ServingApp({ config, recommender, instanceId: '0' });
    app = server;
    await server.start();
    const total = Math.min(o.limit ?? Infinity, liveTotal);
    say(
      `demo: replaying ${fmt(total)} clicks live at ${o.rate > 0 ? fmt(o.rate) + '/s' : 'full speed'} → ${config.topics.clicks.name} (${config.topics.clicks.partitions} partitions); serving ${recommender.version}, ${config.serving.delivery}`,
    );
    const t0 = performance.now();
    let lastServed = 0;
    let lastT = t0;
    ticker = setInterval(() => {
      const now = performance.now();
      const s = server.stats;
      const rate = ((s.eventsIn - lastServed) * 1000) / (now - lastT);
      lastServed = s.eventsIn;
      lastT = now;
      const w = s.quality.takeWindow();
      say(
        `[${((now - t0) / 1000).toFixed(0).padStart(4)}s] produced ${fmt(summary.produced).padStart(7)}  served ${fmt(s.eventsIn).padStart(7)}  ${fmt(rate).padStart(6)} ev/s  ` +
          `Recall@20 ${s.quality.recall.toFixed(3)} (last 1s ${w.recall.toFixed(3)})  MRR@20 ${s.quality.mrr.toFixed(3)}  ` +
          `latency p50 ${s.recentLatency.quantile(0.5).toFixed(1)} ms p99 ${s.recentLatency.quantile(0.99).toFixed(1)} ms  dead-letter ${Object.values(s.deadLetters).reduce((a, b) => a + b, 0)}`,
      );
      s.recentLatency.reset();
    }, 1000);
    summary.produced = await replayClicks(producer, codec, live, {
      topic: config.topics.clicks.name,
      rate: o.rate,
      limit: total,
      signal: abort.signal,
      onProgress: (n) => (summary.produced = n),
    });
    while (!abort.signal.aborted && server.stats.eventsIn < summary.produced) await new Promise((r) => setTimeout(r, 50));
    summary.seconds = (performance.now() - t0) / 1000;
  } finally {
    if (ticker) clearInterval(ticker);
    process.removeListener('SIGINT', onSigint);
    await producer.disconnect().catch(() => undefined);
    await app?.stop().catch((e) => say(`demo: serving stop failed: ${(e as Error).message}`));
    if (broker) await broker.stop();
  }
  const s = app!.stats;
  Object.assign(summary, {
    served: s.eventsIn,
    eventsPerSec: s.eventsIn / summary.seconds,
    recallAt20: s.quality.recall,
    mrrAt20: s.quality.mrr,
    targets: s.quality.targets,
    latencyP50Ms: s.latency.quantile(0.5),
    latencyP99Ms: s.latency.quantile(0.99),
    deadLetters: Object.values(s.deadLetters).reduce((a, b) => a + b, 0),
  });
  say(
    `demo: done. ${fmt(summary.served)} of ${fmt(summary.produced)} live events served in ${summary.seconds.toFixed(1)} s (${fmt(summary.eventsPerSec)} ev/s end to end); ` +
      `online Recall@20 ${summary.recallAt20.toFixed(4)}, MRR@20 ${summary.mrrAt20.toFixed(4)} over ${fmt(summary.targets)} next-click targets; ` +
      `latency p50 ${summary.latencyP50Ms.toFixed(1)} ms, p99 ${summary.latencyP99Ms.toFixed(1)} ms`,
  );
  return summary;
}

/**
 * The local broker helper is developer infrastructure (scripts/kafka/), not part of the shipped
 * build: the demo loads it from the source checkout it runs in, through tsx.
 */
async function loadLocalBroker(): Promise<{ startLocalBroker(): Promise<{ brokers: string; stop(): Promise<void> }> }> {
  const url = new URL('../../scripts/kafka/local-broker.ts', import.meta.url);
  try {
    return (await import(url.href)) as { startLocalBroker(): Promise<{ brokers: string; stop(): Promise<void> }> };
  } catch (e) {
    throw new UsageError(
      `the demo starts a local broker with ${url.pathname}, which only a source checkout has; run it there with \`npm run demo\`, or set KAFKA_BROKERS (${(e as Error).message})`,
    );
  }
}
