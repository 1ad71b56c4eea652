/**
 * `streamrec demo`: everything through a real Kafka broker.
 *  1. history: the rsc15-100k training days are published to the clicks topic;
 *  2. trainer: reads that history back from the topic, trains GRU4Rec, and publishes it as
 *     version 1 of a fresh demo registry, recording the clicks offsets it was trained up to;
 *  3. serving: version 1 serves the clicks topic from the end of the history, while the test day
 *     is replayed as a live stream; a live line shows the serving version, events/s, online
 *     Recall@20 / MRR@20 (prequential: was the next click in the list emitted before it?) and
 *     end-to-end latency;
 *  4. side by side, the continuous trainer (`streamrec train --follow`, a child process) reads the
 *     live day from where version 1's training stopped, fine-tunes in small windows and promotes
 *     the candidates its gate passes; serving follows model-updates and hot-swaps each one (one
 *     line per promotion). The summary gives online Recall@20 / MRR@20 per version.
 * Stops by itself when every live event has its recommendation, or on Ctrl-C. --no-trainer
 * serves version 1 frozen. With --model cooccurrence there is no training phase: the online
 * co-occurrence model learns from the whole replay (training days, then test day) as it serves.
 */
import { join } from 'node:path';
import { existsSync, mkdirSync } from 'node:fs';
import { DataFileError, UsageError } from '../errors/errors.ts';
import { loadConfig, namespaced } from '../config/config.ts';
import { createKafka, ensureTopics } from '../kafka/client.ts';
import { makeCodecs, type ClickEvent } from '../ingest/codec.ts';
import { clicksInTimeOrder, replayClicks } from '../ingest/replay.ts';
import { loadSessionTsv, sharedDataDir } from '../data/sessions.ts';
import { readFile } from 'node:fs/promises';
import { ServingApp } from '../serving/serving-app.ts';
import { createRecommender } from '../serving/create-recommender.ts';
import { CooccurrenceRecommender } from '../serving/cooccurrence-recommender.ts';
import type { SwapReport } from '../serving/gru4rec-recommender.ts';
import { ModelFollower } from '../serving/model-follower.ts';
import type { Recommender } from '../serving/recommender.ts';
import { loadClickHistory } from '../train/topic-history.ts';
import { trainGru4Rec } from '../train/trainer.ts';
import { gru4recPreset } from '../model/gru4rec-config.ts';
import { initBackend } from '../model/backend.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { ModelUpdatesFollower } from '../registry/model-updates.ts';
import { type GateRecord, parseVersionJson, VERSION_JSON } from '../registry/version-json.ts';
import { DemoTrainer, parseGateLine } from './demo-trainer.ts';
import { MODEL_ONNX, onnxOf } from './train-start.ts';
import { encodeOptimizerState, OPTIMIZER_BIN } from '../train/optimizer-file.ts';
import { type VersionQuality, versionRows } from './demo-version-quality.ts';
import { type ServingEndpoints, serveEndpoints } from './serve.ts';
import { servingStatusSource } from '../metrics/status/serving-status-source.ts';
import { statusRoutes } from '../metrics/status/status-routes.ts';
import { StatusTimeline } from '../metrics/status/status-timeline.ts';
import { formatPercentiles, type LatencyPercentiles, latencyPercentiles } from '../metrics/latency-histogram.ts';

export interface DemoOptions {
  rate: number;
  limit?: number;
  dataDir?: string;
  topology?: string;
  model: 'gru4rec' | 'cooccurrence';
  epochs: number;
  preset: string;
  /** Run the continuous trainer beside serving (default true; gru4rec only). */
  trainer?: boolean;
  /** The trainer's training window in events (default 2,000); its gate window is half of it. */
  followWindow?: number;
}

/** One promotion the demo saw swapped in. */
export interface DemoPromotion {
  version: string;
  /** Seconds into the live replay. */
  at: number;
  gate: GateRecord | null;
  pauseMs: number;
  sessions: number;
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
  /** End-to-end latency (click appended → recommendation produced), HDR percentiles in ms. */
  latency: LatencyPercentiles;
  deadLetters: number;
  /** Promotions swapped in during the live replay, and the quality of each version that served. */
  promotions: DemoPromotion[];
  versions: VersionQuality[];
}

export const DEFAULT_FOLLOW_WINDOW = 2000;

/**
 * ServingApp's own line for a swap or a refusal: the demo prints one line per promotion itself
 * (with the gate's scores, which serving does not know), so these are not printed twice.
 */
const SERVING_SWAP_LOG = /^serving \S+: model \S+ (→|refused)/;

const say = (s: string) => process.stderr.write(s + '\n');

function fmt(n: number, d = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const dir = join(o.dataDir ?? sharedDataDir(), 'rsc15-100k');
  if (!existsSync(join(dir, 'train_full.tsv')))
    throw new DataFileError(join(dir, 'train_full.tsv'), 'demo data not found (set SHARED_DATA_DIR to the folder holding rsc15-100k/)', { missing: true });
  const followWindow = o.followWindow ?? DEFAULT_FOLLOW_WINDOW;
  if (!Number.isSafeInteger(followWindow) || followWindow < 4) throw new UsageError(`--follow-window: expected an integer ≥ 4, got ${followWindow}`);
  const withTrainer = o.model === 'gru4rec' && (o.trainer ?? true);
  const abort = new AbortController();
  let interrupted = false;
  const onSigint = () => {
    say('\ndemo: stopping…');
    interrupted = true;
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
  // Fresh topics, groups and registry per run, so a demo never mixes with old data or versions.
  const runId = `demo-${Date.now().toString(36)}`;
  const runDir = join(new URL('../../', import.meta.url).pathname, '.streamrec', runId);
  const config = namespaced(loadConfig(o.topology, env), runId);
  config.registry = { path: join(runDir, 'registry') };
  config.model = { ...config.model, kind: 'registry' };
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
    latency: { count: 0, p50: 0, p95: 0, p99: 0, p999: 0, max: 0 },
    deadLetters: 0,
    promotions: [],
    versions: [],
  };
  let app: ServingApp | null = null;
  let trainer: DemoTrainer | null = null;
  let follower: ModelFollower | null = null;
  let ticker: NodeJS.Timeout | undefined;
  let endpoints: ServingEndpoints | null = null;
  const trainerProgress: TrainerProgress = { events: 0, lastPhase: null, passed: 0 };
  let timeline: StatusTimeline | null = null;
  let t0 = performance.now();
  const elapsed = () => `[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s]`;
  try {
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, config);
    await producer.connect();
    let recommender: Recommender;
    let live: Iterable<ClickEvent>;
    let liveTotal: number;
    const registry = new ModelRegistry(config.registry.path);
    if (o.model === 'gru4rec') {
      summary.historyEvents = await replayClicks(producer, codec, clicksInTimeOrder(train.data, train.index), { topic: config.topics.clicks.name, rate: 0, signal: abort.signal });
      say(`demo: published ${fmt(summary.historyEvents)} history clicks (rsc15-100k training days) to ${config.topics.clicks.name}`);
      // Serving starts where the history ends: its group's offsets are set before it joins.
      // The same positions are version 1's trainingOffsets, where the continuous trainer starts.
      const ends = await admin.fetchTopicOffsets(config.topics.clicks.name);
      await admin.setOffsets({ groupId: config.groups.serving, topic: config.topics.clicks.name, partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })) });
      const trainingOffsets = Object.fromEntries(ends.map((p) => [String(p.partition), p.high]));
      const trainerKafka = createKafka(config, '-trainer');
      const history = await loadClickHistory(trainerKafka, config.topics.clicks.name, codec);
      const gru = gru4recPreset(o.preset, { nEpochs: o.epochs });
      const backend = await initBackend(undefined, () => undefined);
      say(
        `trainer: read ${fmt(history.data.items.length)} clicks / ${fmt(history.data.offsets.length - 1)} sessions / ${fmt(history.index.size)} items back from Kafka; ` +
          `training GRU4Rec (${o.preset}: ${gru.loss}, layers [${gru.layers}], ${gru.nEpochs} epochs), tfjs ${backend} with the step on onnxruntime where the model allows…`,
      );
      let lastLine = 0;
      const { model, stats, optimizer } = await trainGru4Rec(history.data, history.index.size, gru, {
        keepOptimizerState: true,
        signal: abort.signal,
        onProgress: (p) => {
          if (performance.now() - lastLine < 2000) return;
          lastLine = performance.now();
          say(`trainer: epoch ${p.epoch}/${p.nEpochs}  ${fmt((100 * p.epochEvents) / p.epochTotal)}%  loss ${p.loss.toFixed(4)}  ${fmt(p.eventsPerSec)} events/s`);
        },
      });
      summary.trainSeconds = stats.seconds;
      summary.trainEventsPerSec = stats.eventsPerSec;
      const weights = model.toWeights();
      model.dispose();
      // Ctrl-C during training: a clean stop, not a failure (exit 0, like a stop while serving).
      if (abort.signal.aborted) return stoppedEarly(summary);
      // With its optimizer state and ONNX export, as the continuous trainer publishes every later version.
      const attachments: Record<string, Uint8Array> = { [MODEL_ONNX]: onnxOf(weights, config.serving.topK) };
      if (optimizer) attachments[OPTIMIZER_BIN] = encodeOptimizerState({ optimizer: gru.optimizer, momentum: gru.momentum, state: optimizer });
      const v1 = await registry.publish({ weights, itemIds: history.index.ids, config: gru, parent: null, trainingOffsets, attachments });
      await registry.promote(v1.version);
      say(
        `trainer: ${stats.epochs} epochs in ${stats.seconds.toFixed(1)} s (${fmt(stats.eventsPerSec)} events/s, step kernel ${stats.kernel.engine}${stats.kernel.provider ? ` on ${stats.kernel.provider}` : ''}); published and promoted version ${v1.version} → ${v1.dir} ` +
          `(trained up to offsets ${JSON.stringify(trainingOffsets)})`,
      );
      if (withTrainer) {
        const gateWindow = Math.max(2, Math.round(followWindow / 2));
        const logFile = join(runDir, 'trainer.log');
        mkdirSync(runDir, { recursive: true });
        trainer = new DemoTrainer({
          env,
          config,
          topology: o.topology,
          windowEvents: followWindow,
          gateWindowEvents: gateWindow,
          checkpointDir: join(runDir, 'trainer-checkpoint'),
          logFile,
          onLine: (line) => {
            const w = WINDOW_LINE.exec(line);
            if (w) {
              trainerProgress.events += Number(w[2]);
              trainerProgress.lastPhase = w[1] as 'train' | 'gate';
            }
            const g = parseGateLine(line);
            if (g?.passed) trainerProgress.passed++;
            if (g && !g.passed)
              say(
                `${elapsed()} trainer: gate window ${g.window} rejected its candidate (Recall@20 ${g.candidateRecall.toFixed(3)} vs serving ${g.servingRecall?.toFixed(3) ?? '-'} on ${fmt(g.targets)} targets); serving stays`,
              );
          },
        });
        say(
          `trainer: continuous trainer started beside serving (windows of ${fmt(followWindow)} events, gate ${fmt(gateWindow)}), reading from version 1's offsets; log → ${logFile}`,
        );
      }
      recommender = await createRecommender(config, say);
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
    if (abort.signal.aborted) return stoppedEarly(summary);
    summary.model = recommender.version;
    const server = new ServingApp({ config, recommender, instanceId: '0', log: (line) => SERVING_SWAP_LOG.test(line) || say(line) });
    app = server;
    // /metrics and the status page, as `streamrec serve` has them; a taken port only costs the page.
    const status = new StatusTimeline(servingStatusSource(server.stats, 'demo', () => recommender.version));
    timeline = status;
    server.events.on('modelSwapped', (r) => status.modelSwapped(r.to, r.pauseMs));
    try {
      endpoints = await serveEndpoints(server, recommender, config, 'demo', statusRoutes(status));
      if (endpoints.server) {
        status.start();
        say(`demo: status page http://${config.metrics.host}:${config.metrics.port}/status (metrics on /metrics)`);
      }
    } catch (e) {
      say(`demo: no status page: ${(e as Error).message}`);
    }
    server.events.on('modelSwapped', (r) => void reportPromotion(registry, r, (performance.now() - t0) / 1000, elapsed()).then((p) => summary.promotions.push(p)));
    server.events.on('swapRefused', (r) => say(`${elapsed()} demo: version ${r.version} refused, still serving ${recommender.version}: ${r.reason}`));
    await server.start();
    if (trainer) {
      follower = new ModelFollower(server, registry, new ModelUpdatesFollower(kafka, config.topics.modelUpdates.name, say), config, () => recommender.version);
      await follower.start();
      // Replaying before the trainer consumes would only make it trail further behind serving.
      await trainer.ready(60_000).catch((e: Error) => {
        say(`demo: ${e.message}\ndemo: going on without the trainer; ${recommender.version} serves frozen`);
      });
    }
    const total = Math.min(o.limit ?? Infinity, liveTotal);
    say(
      `demo: replaying ${fmt(total)} clicks live at ${o.rate > 0 ? fmt(o.rate) + '/s' : 'full speed'} → ${config.topics.clicks.name} (${config.topics.clicks.partitions} partitions); serving ${recommender.version}, ${config.serving.delivery}` +
        (trainer?.running ? ', continuous trainer following' : ''),
    );
    t0 = performance.now();
    let lastServed = 0;
    let lastT = t0;
    let trainerReported = false;
    ticker = setInterval(() => {
      const now = performance.now();
      const s = server.stats;
      const rate = ((s.eventsIn - lastServed) * 1000) / (now - lastT);
      lastServed = s.eventsIn;
      lastT = now;
      const w = s.quality.takeWindow();
      if (trainer && !trainer.running && !trainerReported && !abort.signal.aborted) {
        trainerReported = true;
        say(`demo: the continuous trainer stopped on its own; ${recommender.version} goes on serving. Its last lines:\n${trainer.lastLines()}`);
      }
      // Idle seconds (the replay served, the trainer catching up) print nothing.
      if (w.targets === 0 && rate === 0) return;
      say(
        `${elapsed()} produced ${fmt(summary.produced).padStart(7)}  served ${fmt(s.eventsIn).padStart(7)} by ${recommender.version.padEnd(3)} ${fmt(rate).padStart(6)} ev/s  ` +
          `Recall@20 ${s.quality.recall.toFixed(3)} (last 1s ${w.recall.toFixed(3)})  MRR@20 ${s.quality.mrr.toFixed(3)}  ` +
          `latency ${formatPercentiles(s.recentLatency)}  dead-letter ${Object.values(s.deadLetters).reduce((a, b) => a + b, 0)}`,
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
    if (trainer?.running && !abort.signal.aborted)
      await awaitTrainer(trainer, trainerProgress, summary, { train: followWindow, gate: Math.max(2, Math.round(followWindow / 2)) }, say);
  } finally {
    if (ticker) clearInterval(ticker);
    timeline?.stop();
    await endpoints?.close().catch(() => undefined);
    process.removeListener('SIGINT', onSigint);
    await producer.disconnect().catch(() => undefined);
    // The trainer stops first: its last window is trained and checkpointed while serving stops.
    const trainerExit = trainer?.stop({ alreadySignalled: interrupted });
    await follower?.stop().catch((e) => say(`demo: model-updates follower stop failed: ${(e as Error).message}`));
    await app?.stop().catch((e) => say(`demo: serving stop failed: ${(e as Error).message}`));
    const code = await trainerExit;
    if (trainer && code !== 0) say(`demo: the continuous trainer exited with ${code ?? 'a signal'}; its last lines:\n${trainer.lastLines()}`);
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
    latency: latencyPercentiles(s.latency),
    deadLetters: Object.values(s.deadLetters).reduce((a, b) => a + b, 0),
    // Each target credited to the version that emitted the list it is judged against; clicks on
    // items a version did not know count as its misses.
    versions: versionRows(s.online, 20),
  });
  say(
    `demo: done. ${fmt(summary.served)} of ${fmt(summary.produced)} live events served in ${summary.seconds.toFixed(1)} s (${fmt(summary.eventsPerSec)} ev/s end to end); ` +
      `online Recall@20 ${summary.recallAt20.toFixed(4)}, MRR@20 ${summary.mrrAt20.toFixed(4)} over ${fmt(summary.targets)} next-click targets; ` +
      `latency ${formatPercentiles(s.latency)}`,
  );
  if (withTrainer || summary.versions.length > 1) {
    say(`demo: ${summary.promotions.length} promotion${summary.promotions.length === 1 ? '' : 's'} swapped in; online quality by the version that emitted the list:`);
    for (const line of versionLines(summary.versions)) say(line);
  }
  return summary;
}

/** A trainer window line (`train: window 3 (gate): 1000 events, ...`): the events it trained on. */
const WINDOW_LINE = /window \d+ \((train|gate)\): (\d+) events/;
/** How long the demo waits after the replay for the trainer to reach the end of the stream. */
const TRAINER_CATCH_UP_MS = 120_000;

interface TrainerProgress {
  /** Stream events the trainer's closed windows held. */
  events: number;
  /** Phase of the last closed window (null: none yet, the first window trains). */
  lastPhase: 'train' | 'gate' | null;
  /** Gates passed (versions published and announced). */
  passed: number;
}

/**
 * After the replay: the trainer trails serving (it trains in windows, at its own pace), so the
 * last windows' candidates would be gated after serving stopped and never seen. Wait, bounded,
 * until the events left are fewer than the next window needs (train and gate windows alternate),
 * then until every passed gate's version has swapped in.
 */
async function awaitTrainer(
  trainer: DemoTrainer,
  progress: TrainerProgress,
  summary: DemoSummary,
  windows: { train: number; gate: number },
  say: (s: string) => void,
): Promise<void> {
  const deadline = performance.now() + TRAINER_CATCH_UP_MS;
  const sleep = () => new Promise((r) => setTimeout(r, 200));
  const behind = () => summary.produced - progress.events;
  const canClose = () => behind() >= (progress.lastPhase === 'train' ? windows.gate : windows.train);
  if (canClose())
    say(`demo: replay served; waiting up to ${TRAINER_CATCH_UP_MS / 1000} s for the trainer (${fmt(behind())} events behind) so its last candidates are gated and swapped in`);
  while (trainer.running && performance.now() < deadline && canClose()) await sleep();
  while (trainer.running && performance.now() < deadline && summary.promotions.length < progress.passed) await sleep();
}

function stoppedEarly(summary: DemoSummary): DemoSummary {
  say('demo: stopped before serving started');
  return summary;
}

/** Reads the gate's scores of a swapped-in version from the registry and prints its one promotion line. */
async function reportPromotion(registry: ModelRegistry, r: SwapReport, at: number, stamp: string): Promise<DemoPromotion> {
  const n = Number(r.to.slice(1));
  let gate: GateRecord | null = null;
  if (r.to.startsWith('v') && Number.isInteger(n)) {
    const path = join(registry.dirOf(n), VERSION_JSON);
    // The line is informational: a record that cannot be read prints as "no gate record", never fails the demo.
    gate = await readFile(path)
      .then((bytes) => parseVersionJson(bytes, path).gate ?? null)
      .catch(() => null);
  }
  const p: DemoPromotion = { version: r.to, at, gate, pauseMs: r.pauseMs, sessions: r.sessions };
  say(`${stamp} ${promotionLine(p, r.from)}`);
  return p;
}

/** One line per promotion: the version, what its gate measured, and what the swap cost serving. */
export function promotionLine(p: DemoPromotion, from: string): string {
  const g = p.gate;
  const gate = g
    ? `gate on ${fmt(g.window)} held-out targets: candidate Recall@20 ${g.candidate.recall.toFixed(3)} vs serving ${g.serving ? g.serving.recall.toFixed(3) : '-'}`
    : 'no gate record';
  return `promoted ${p.version} (${gate}) → swapped in for ${from}: pause ${p.pauseMs.toFixed(0)} ms, ${fmt(p.sessions)} sessions re-encoded`;
}

/** The summary's table: one line per version that served, in serving order. */
export function versionLines(rows: readonly VersionQuality[]): string[] {
  return rows.map(
    (r) =>
      `  ${r.version.padEnd(4)} served ${fmt(r.events).padStart(6)} events  Recall@20 ${r.recall.toFixed(4)}  MRR@20 ${r.mrr.toFixed(4)}  over ${fmt(r.targets).padStart(6)} targets`,
  );
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
