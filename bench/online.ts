/**
 * Online quality of a frozen vs a continuously trained GRU4Rec on a stream served in time order:
 *
 *   node --import tsx bench/online.ts [--data rsc15|drift|rsc15,drift] [--events N] [--quick]
 *        [--epochs N] [--out results/online.json] [--png results/online.png]
 *
 * The first 30% of the stream pre-trains GRU4Rec (rsc15-xe-fast); the rest is served twice in
 * micro-batches of 256, in process (no Kafka: the serving loop's recommender, engine and metrics,
 * without the broker):
 *   frozen      the pre-trained model throughout;
 *   continuous  the same start, while a StreamTrainer (the follow-options defaults: windows, gate,
 *               admission) trains on every event AFTER it was answered, and each candidate the gate
 *               promotes is hot-swapped (swapModel, re-encode) at the next batch boundary;
 *   deltas      continuous with incremental sync (train.sync defaults): a training window closes
 *               every intervalMs of STREAM time (events at --rate events/s, default 1000) and ships
 *               a delta, applied at the next batch boundary (applyDelta, a new engine, swapModel
 *               'keep'); a gated snapshot every snapshotEveryDeltas deltas (re-encode), as serving's
 *               DeltaFollower does it. Bytes shipped per stream minute are counted for both
 *               (deltas + snapshots vs full versions, float32 weights).
 * Quality is prequential Recall@20 / MRR@20 (PrequentialMetrics): every event whose session had a
 * list is a target, so a click on an item the serving model does not know is a miss. Both runs use
 * `unknownItems: cold-start` (a click on an unknown item is answered with the bias ranking), so
 * both see the same targets.
 *
 * The trainer runs in the serving thread, between batches: the run is deterministic for a seed,
 * and trainer throughput is measured on its own time (training and gate scoring), not shared.
 * --quick shortens the drift stream and pre-trains one epoch: a smoke test, not a claim.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type StreamrecConfig } from '../src/config/config.ts';
import { driftClicks, driftStreamOptions } from '../src/data/drift-stream.ts';
import { loadSessionTsv, sessionsFromClicks, sharedDataDir } from '../src/data/sessions.ts';
import { onlineRecallSpec, writeChartPng } from '../src/eval/plot-png.ts';
import { clicksInTimeOrder } from '../src/ingest/replay.ts';
import { PrequentialMetrics } from '../src/metrics/online-metrics.ts';
import { initBackend } from '../src/model/backend.ts';
import { Gru4Rec } from '../src/model/gru4rec.ts';
import { gru4recPreset } from '../src/model/gru4rec-config.ts';
import type { Gru4RecWeights } from '../src/model/weights.ts';
import { buildGru4RecRecommender, prepareModel } from '../src/serving/create-recommender.ts';
import type { Gru4RecRecommender, SwapReport } from '../src/serving/gru4rec-recommender.ts';
import type { ClickInput, RecommendOutcome } from '../src/serving/recommender.ts';
import { DEFAULT_FOLLOW_OPTIONS, followOptions } from '../src/train/continuous/follow-options.ts';
import type { ScoredModel } from '../src/train/continuous/promotion-gate.ts';
import { type PassedCandidate, type PromotionTarget, StreamTrainer, type WindowReport } from '../src/train/continuous/stream-trainer.ts';
import { trainGru4Rec } from '../src/train/fit.ts';
import { applyDelta, encodeDelta, type ModelDelta, type ModelState } from '../src/registry/model-delta.ts';
import { type DeltaStamp, DeltaBuilder } from '../src/train/continuous/delta-builder.ts';
import type { TrainerSync } from '../src/train/continuous/delta-sync.ts';

const { values: args } = parseArgs({
  options: {
    data: { type: 'string', default: 'rsc15,drift' },
    events: { type: 'string' },
    quick: { type: 'boolean', default: false },
    epochs: { type: 'string' },
    out: { type: 'string', default: 'results/online.json' },
    png: { type: 'string', default: 'results/online.png' },
    rate: { type: 'string', default: '1000' },
  },
});
const quick = args.quick!;
const PRETRAIN_SHARE = 0.3;
const BATCH = 256;
const BUCKETS = 20;
const CUTOFF = 20;
const QUICK_DRIFT_EVENTS = 100_000;
const epochs = args.epochs !== undefined ? Number(args.epochs) : quick ? 1 : 2;
const eventLimit = args.events !== undefined ? Number(args.events) : undefined;
const quiet = (): void => undefined;
/** Events per second of stream time the deltas run's clock assumes (its intervals are in stream time). */
const RATE = Number(args.rate);

interface Stream {
  key: string;
  title: string;
  clicks: ClickInput[];
}

/** rsc15-100k: the training days then the test day, every click in time order. */
function rsc15Stream(): Stream {
  const dir = join(sharedDataDir(), 'rsc15-100k');
  const { data: train, index } = loadSessionTsv(join(dir, 'train_full.tsv'));
  const { data: test } = loadSessionTsv(join(dir, 'test.tsv'), { index });
  const clicks: ClickInput[] = [];
  for (const data of [train, test]) for (const c of clicksInTimeOrder(data, index)) clicks.push({ sessionId: c.sessionId, itemId: c.itemId, partition: 0, timestamp: c.timestamp });
  // The test day follows the training days; the stable sort only guards that assumption.
  clicks.sort((a, b) => a.timestamp - b.timestamp);
  return { key: 'rsc15-100k', title: 'rsc15-100k (train_full + test, time order)', clicks: eventLimit ? clicks.slice(0, eventLimit) : clicks };
}

function driftStream(): Stream {
  const o = driftStreamOptions({ events: eventLimit ?? (quick ? QUICK_DRIFT_EVENTS : driftStreamOptions().events) });
  const clicks: ClickInput[] = [];
  for (const c of driftClicks(o)) clicks.push({ sessionId: c.sessionId, itemId: c.itemId, partition: 0, timestamp: Math.round(c.time * 1000) });
  return {
    key: 'drift',
    title: `drift stream (${o.events.toLocaleString('en')} events, +1 item / ${o.newItemEveryEvents} events, ${Math.round(o.rotateFraction * 100)}% of head rotated / ${o.rotateEveryEvents} events)`,
    clicks,
  };
}

/** Recall/MRR per time bucket and over the second half of the served stream, from one PrequentialMetrics. */
class QualityTimeline {
  readonly metrics = new PrequentialMetrics(CUTOFF);
  readonly buckets: Array<{ recall: number; mrr: number; targets: number }> = [];
  private halfMark: { hits: number; rr: number; targets: number } | null = null;
  private nextBoundary: number;

  constructor(private readonly total: number) {
    this.nextBoundary = this.boundary(1);
  }

  /** Event `e` (0-based, of the served stream) was answered with `list`; the target is checked first. */
  event(e: number, session: string, item: string, list: readonly string[]): void {
    if (e === Math.floor(this.total / 2)) this.halfMark = { hits: this.metrics.hits, rr: this.metrics.reciprocalRankSum, targets: this.metrics.targets };
    this.metrics.observe(session, item);
    this.metrics.emitted(session, list);
    if (e + 1 === this.nextBoundary) {
      this.buckets.push(this.metrics.takeWindow());
      this.nextBoundary = this.boundary(this.buckets.length + 1);
    }
  }

  secondHalf(): { recall: number; mrr: number; targets: number } {
    const m = this.metrics;
    const h = this.halfMark ?? { hits: 0, rr: 0, targets: 0 };
    const targets = m.targets - h.targets;
    return { recall: (m.hits - h.hits) / Math.max(targets, 1), mrr: (m.reciprocalRankSum - h.rr) / Math.max(targets, 1), targets };
  }

  overall(): { recall: number; mrr: number; targets: number } {
    return { recall: this.metrics.recall, mrr: this.metrics.mrr, targets: this.metrics.targets };
  }

  private boundary(b: number): number {
    return Math.round((b * this.total) / BUCKETS);
  }
}

/**
 * The registry, in memory: what the gate scores against (the version being served) and where a
 * promoted candidate waits for the serving loop's next batch boundary.
 */
class InMemoryTarget implements PromotionTarget {
  private current: ScoredModel & { version: number };
  pending: (PassedCandidate & { version: number }) | null = null;

  constructor(weights: Gru4RecWeights, itemIds: readonly string[]) {
    this.current = { version: 0, model: Gru4Rec.fromWeights(weights), itemIds };
  }

  async serving(): Promise<ScoredModel & { version: number }> {
    return this.current;
  }

  async publish(c: PassedCandidate): Promise<number> {
    const version = this.current.version + 1;
    this.current.model.dispose();
    this.current = { version, model: Gru4Rec.fromWeights(c.weights), itemIds: c.itemIds };
    this.pending = { ...c, version };
    return version;
  }

  dispose(): void {
    this.current.model.dispose();
  }
}

interface Promotion {
  version: number;
  /** Served-stream event after which the swap happened. */
  atEvent: number;
  gate: PassedCandidate['gate'];
  nItems: number;
  prepareMs: number;
  swap: SwapReport;
}

interface RunResult {
  name: 'frozen' | 'continuous' | 'deltas';
  overall: { recall: number; mrr: number; targets: number };
  secondHalf: { recall: number; mrr: number; targets: number };
  buckets: Array<{ recall: number; mrr: number; targets: number }>;
  seconds: number;
  servingSeconds: number;
  servingEventsPerSec: number;
  /** Events whose item the serving model did not know when it was answered. */
  unknownItemEvents: number;
  promotions?: Promotion[];
  /** What the run shipped to serving: full versions (float32 weights) and deltas, per minute of stream time at RATE. */
  shipped?: {
    fullVersions: number;
    fullBytes: number;
    deltas: number;
    deltaBytes: number;
    streamMinutes: number;
    bytesPerMinute: number;
    deltaPrepareMsP50: number;
    deltaPauseMsP50: number;
  };
  trainer?: {
    windows: number;
    gates: number;
    trainedEvents: number;
    trainSeconds: number;
    eventsPerSec: number;
    gateAndUpkeepSeconds: number;
    admitted: number;
    finalItems: number;
  };
}

function servingConfig(): StreamrecConfig {
  const c = loadConfig(undefined, {});
  c.serving.batch.maxSize = BATCH;
  c.serving.topK = CUTOFF;
  c.serving.unknownItems = 'cold-start';
  c.model.kind = 'gru4rec';
  return c;
}

/** Serves `clicks` in micro-batches; `afterBatch` sees every answered batch (the continuous run trains and swaps there). */
async function serve(
  name: RunResult['name'],
  rec: Gru4RecRecommender,
  served: { itemIds: ReadonlySet<string> },
  clicks: readonly ClickInput[],
  afterBatch: (from: number, to: number) => Promise<void>,
): Promise<Omit<RunResult, 'name' | 'seconds'> & { servingSeconds: number }> {
  const timeline = new QualityTimeline(clicks.length);
  const out: RecommendOutcome[] = new Array(BATCH);
  let servingMs = 0;
  let unknown = 0;
  let lastLine = performance.now();
  for (let from = 0; from < clicks.length; from += BATCH) {
    const to = Math.min(clicks.length, from + BATCH);
    const batch = clicks.slice(from, to);
    const t0 = performance.now();
    await rec.recommendBatch(batch, out);
    servingMs += performance.now() - t0;
    for (let i = 0; i < batch.length; i++) {
      const o = out[i];
      if (!o.ok) throw new Error(`${name}: event ${from + i} was not answered: ${o.reason}`);
      if (!served.itemIds.has(batch[i].itemId)) unknown++;
      timeline.event(from + i, batch[i].sessionId, batch[i].itemId, o.itemIds);
    }
    await afterBatch(from, to);
    if (performance.now() - lastLine > 15_000) {
      lastLine = performance.now();
      console.error(`  ${name}: ${to.toLocaleString('en')} / ${clicks.length.toLocaleString('en')} events, Recall@20 so far ${timeline.metrics.recall.toFixed(4)}`);
    }
  }
  return {
    overall: timeline.overall(),
    secondHalf: timeline.secondHalf(),
    buckets: timeline.buckets,
    servingSeconds: servingMs / 1000,
    servingEventsPerSec: clicks.length / Math.max(servingMs / 1000, 1e-9),
    unknownItemEvents: unknown,
  };
}

async function runFrozen(config: StreamrecConfig, weights: Gru4RecWeights, itemIds: readonly string[], clicks: readonly ClickInput[]): Promise<RunResult> {
  const t0 = performance.now();
  const rec = await buildGru4RecRecommender(config, weights, itemIds, 'v0', quiet);
  const r = await serve('frozen', rec, { itemIds: new Set(itemIds) }, clicks, async () => undefined);
  await rec.close();
  return { name: 'frozen', ...r, seconds: (performance.now() - t0) / 1000 };
}

async function runContinuous(config: StreamrecConfig, weights: Gru4RecWeights, itemIds: readonly string[], clicks: readonly ClickInput[]): Promise<RunResult> {
  const t0 = performance.now();
  const rec = await buildGru4RecRecommender(config, weights, itemIds, 'v0', quiet);
  const target = new InMemoryTarget(weights, itemIds);
  const checkpointDir = mkdtempSync(join(tmpdir(), 'streamrec-online-'));
  const windows: WindowReport[] = [];
  const trainer = new StreamTrainer({ options: followOptions(), checkpointDir, target, onWindow: (w) => windows.push(w) }, { weights, itemIds, parent: 0 });
  const promotions: Promotion[] = [];
  const served = { itemIds: new Set(itemIds) };
  let trainerMs = 0;
  let fullBytes = 0;
  const r = await serve('continuous', rec, served, clicks, async (from, to) => {
    // Prequential: the trainer sees a click only after it was answered.
    const t = performance.now();
    for (let e = from; e < to; e++) await trainer.event(clicks[e].sessionId, clicks[e].itemId, 0, e);
    trainerMs += performance.now() - t;
    const c = target.pending;
    if (!c) return;
    target.pending = null;
    const p0 = performance.now();
    const next = await prepareModel(config, c.weights, c.itemIds, `v${c.version}`, quiet);
    const prepareMs = performance.now() - p0;
    const swap = await rec.swapModel(next, 're-encode');
    served.itemIds = new Set(c.itemIds);
    promotions.push({ version: c.version, atEvent: to, gate: c.gate, nItems: c.itemIds.length, prepareMs, swap });
    fullBytes += weightBytes(c.weights);
    console.error(
      `  continuous: v${c.version} promoted after event ${to.toLocaleString('en')} (gate Recall@20 ${c.gate.candidate.recall.toFixed(4)} vs ${c.gate.serving?.recall.toFixed(4) ?? '-'}), ` +
        `${c.itemIds.length} items, swap pause ${swap.pauseMs.toFixed(1)} ms over ${swap.sessions} live sessions`,
    );
  });
  await rec.close();
  trainer.dispose();
  target.dispose();
  rmSync(checkpointDir, { recursive: true, force: true });
  const streamMinutes = clicks.length / RATE / 60;
  return {
    name: 'continuous',
    ...r,
    seconds: (performance.now() - t0) / 1000,
    promotions,
    shipped: {
      fullVersions: promotions.length,
      fullBytes,
      deltas: 0,
      deltaBytes: 0,
      streamMinutes,
      bytesPerMinute: fullBytes / streamMinutes,
      deltaPrepareMsP50: Number.NaN,
      deltaPauseMsP50: Number.NaN,
    },
    trainer: trainerSummary(windows, trainerMs, itemIds.length),
  };
}

/** What a run's trainer did: windows and gates, events/s on its own training time, catalogue growth. */
function trainerSummary(windows: readonly WindowReport[], trainerMs: number, startItems: number): NonNullable<RunResult['trainer']> {
  const trainSeconds = windows.reduce((a, w) => a + w.seconds, 0);
  const trainedEvents = windows.reduce((a, w) => a + w.events, 0);
  const last = windows.at(-1);
  return {
    windows: windows.length,
    gates: windows.filter((w) => w.gate !== null).length,
    trainedEvents,
    trainSeconds,
    eventsPerSec: trainedEvents / Math.max(trainSeconds, 1e-9),
    gateAndUpkeepSeconds: trainerMs / 1000 - trainSeconds,
    admitted: last?.catalogue.admitted ?? 0,
    finalItems: last?.nItems ?? startItems,
  };
}

/** Bytes of a full version's weights (float32 tensors): what serving loads at a promotion, ONNX and optimizer state not counted. */
function weightBytes(w: Gru4RecWeights): number {
  let n = 0;
  for (const t of Object.values(w.tensors)) n += t.data.byteLength;
  return n;
}

/**
 * TrainerSync for the bench: the DeltaBuilder of the real DeltaSync without files, on the
 * stream's clock; deltas and snapshots queue in order for the serving loop's next batch boundary.
 */
class InMemorySync implements TrainerSync {
  readonly queue: Array<{ kind: 'delta'; d: ModelDelta; bytes: number } | { kind: 'snapshot'; version: number; state: ModelState }> = [];
  private readonly builder: DeltaBuilder;
  private sinceSnapshot = 0;
  private snapshotAt: number;

  constructor(
    readonly intervalMs: number,
    private readonly everyDeltas: number,
    private readonly everyMs: number,
    readonly now: () => number,
    start: ModelState,
  ) {
    this.builder = new DeltaBuilder(0, start);
    this.snapshotAt = now();
  }

  snapshotDue(): boolean {
    return this.sinceSnapshot >= this.everyDeltas || this.now() - this.snapshotAt >= this.everyMs;
  }

  async trained(state: ModelState, stamp: DeltaStamp): Promise<void> {
    const d = this.builder.build(state, stamp);
    if (!d) return;
    this.sinceSnapshot++;
    this.queue.push({ kind: 'delta', d, bytes: encodeDelta(d).length });
  }

  async snapshotted(version: number, state: ModelState): Promise<void> {
    this.builder.rebase(version, state);
    this.sinceSnapshot = 0;
    this.snapshotAt = this.now();
    this.queue.push({ kind: 'snapshot', version, state });
  }
}

async function runDeltas(config: StreamrecConfig, weights: Gru4RecWeights, itemIds: readonly string[], clicks: readonly ClickInput[]): Promise<RunResult> {
  const t0 = performance.now();
  const rec = await buildGru4RecRecommender(config, weights, itemIds, 'v0', quiet);
  const target = new InMemoryTarget(weights, itemIds);
  const checkpointDir = mkdtempSync(join(tmpdir(), 'streamrec-online-'));
  const windows: WindowReport[] = [];
  let streamMs = 0;
  const s = config.train.sync;
  const sync = new InMemorySync(s.intervalMs, s.snapshotEveryDeltas, s.snapshotEveryMs, () => streamMs, { weights, itemIds });
  const trainer = new StreamTrainer({ options: followOptions(), checkpointDir, target, onWindow: (w) => windows.push(w), sync }, { weights, itemIds, parent: 0 });
  const promotions: Promotion[] = [];
  const served = { itemIds: new Set(itemIds) };
  let state: ModelState = { weights, itemIds };
  let base = 0;
  let seq = 0;
  let trainerMs = 0;
  let fullBytes = 0;
  let deltaBytes = 0;
  const prepares: number[] = [];
  const pauses: number[] = [];
  const r = await serve('deltas', rec, served, clicks, async (from, to) => {
    const t = performance.now();
    for (let e = from; e < to; e++) {
      streamMs = (e / RATE) * 1000;
      await trainer.event(clicks[e].sessionId, clicks[e].itemId, 0, e, streamMs);
    }
    trainerMs += performance.now() - t;
    target.pending = null; // snapshots arrive through the sync queue, in order with the deltas
    for (const q of sync.queue.splice(0)) {
      const p0 = performance.now();
      if (q.kind === 'snapshot') {
        state = q.state;
        base = q.version;
        seq = 0;
        const next = await prepareModel(config, state.weights, state.itemIds, `v${base}`, quiet);
        const prepareMs = performance.now() - p0;
        const swap = await rec.swapModel(next, 're-encode');
        fullBytes += weightBytes(state.weights);
        let gate: PassedCandidate['gate'] | null = null;
        for (let i = windows.length - 1; i >= 0 && !gate; i--) gate = windows[i].gate;
        promotions.push({ version: base, atEvent: to, gate: gate!, nItems: state.itemIds.length, prepareMs, swap });
      } else {
        if (q.d.base !== base || q.d.seq !== seq + 1) throw new Error(`deltas: got ${q.d.base}.${q.d.seq} after ${base}.${seq}`);
        state = applyDelta(state, q.d, 'bench');
        seq = q.d.seq;
        const next = await prepareModel(config, state.weights, state.itemIds, `v${base}+d${seq}`, quiet);
        prepares.push(performance.now() - p0);
        const swap = await rec.swapModel(next, 'keep');
        pauses.push(swap.pauseMs);
        deltaBytes += q.bytes;
      }
      served.itemIds = new Set(state.itemIds);
    }
  });
  await rec.close();
  trainer.dispose();
  target.dispose();
  rmSync(checkpointDir, { recursive: true, force: true });
  const streamMinutes = clicks.length / RATE / 60;
  console.error(
    `  deltas: ${prepares.length} deltas (${(deltaBytes / 1e6).toFixed(1)} MB) and ${promotions.length} snapshots (${(fullBytes / 1e6).toFixed(1)} MB) over ${streamMinutes.toFixed(1)} stream minutes`,
  );
  return {
    name: 'deltas',
    ...r,
    seconds: (performance.now() - t0) / 1000,
    promotions,
    shipped: {
      fullVersions: promotions.length,
      fullBytes,
      deltas: prepares.length,
      deltaBytes,
      streamMinutes,
      bytesPerMinute: (fullBytes + deltaBytes) / streamMinutes,
      deltaPrepareMsP50: quantile(prepares, 0.5),
      deltaPauseMsP50: quantile(pauses, 0.5),
    },
    trainer: trainerSummary(windows, trainerMs, itemIds.length),
  };
}

interface DatasetResult {
  dataset: string;
  title: string;
  events: number;
  pretrainEvents: number;
  servedEvents: number;
  pretrain: { epochs: number; seconds: number; eventsPerSec: number; nItems: number };
  /** Served events whose item is not in the pre-trained catalogue. */
  newItemEvents: number;
  runs: RunResult[];
  secondHalfRecallGain: number;
}

async function benchStream(s: Stream): Promise<DatasetResult> {
  const split = Math.round(s.clicks.length * PRETRAIN_SHARE);
  const pre = s.clicks.slice(0, split);
  const served = s.clicks.slice(split);
  const { data, index } = sessionsFromClicks(pre.map((c) => ({ session: c.sessionId, item: c.itemId, time: c.timestamp })));
  console.error(`${s.key}: pre-training on ${pre.length.toLocaleString('en')} events (${index.size} items, ${epochs} epoch(s) of rsc15-xe-fast)`);
  const { model, stats } = await trainGru4Rec(data, index.size, gru4recPreset('rsc15-xe-fast', { nEpochs: epochs }));
  const weights = model.toWeights();
  model.dispose();
  const itemIds = [...index.ids];
  const newItemEvents = served.filter((c) => index.get(c.itemId) < 0).length;
  const config = servingConfig();
  console.error(`${s.key}: serving ${served.length.toLocaleString('en')} events, frozen`);
  const frozen = await runFrozen(config, weights, itemIds, served);
  console.error(`${s.key}: serving ${served.length.toLocaleString('en')} events, continuous`);
  const continuous = await runContinuous(config, weights, itemIds, served);
  console.error(`${s.key}: serving ${served.length.toLocaleString('en')} events, continuous + deltas`);
  const deltas = await runDeltas(config, weights, itemIds, served);
  return {
    dataset: s.key,
    title: s.title,
    events: s.clicks.length,
    pretrainEvents: pre.length,
    servedEvents: served.length,
    pretrain: { epochs: stats.epochs, seconds: stats.seconds, eventsPerSec: stats.eventsPerSec, nItems: index.size },
    newItemEvents,
    runs: [frozen, continuous, deltas],
    secondHalfRecallGain: continuous.secondHalf.recall / Math.max(frozen.secondHalf.recall, 1e-12) - 1,
  };
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  // Nearest rank: the p50 of two swaps is the smaller one, not the max.
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}

function formatDataset(d: DatasetResult): string {
  const lines = [
    `${d.title}: pre-trained on the first ${d.pretrainEvents.toLocaleString('en')} events (${d.pretrain.epochs} epoch(s), ${d.pretrain.seconds.toFixed(1)} s), served ${d.servedEvents.toLocaleString('en')}; ` +
      `${((100 * d.newItemEvents) / d.servedEvents).toFixed(1)}% of served clicks are on items the pre-trained model does not know`,
    '| run | Recall@20 2nd half | MRR@20 2nd half | Recall@20 all | MRR@20 all | clicks on unknown items | promotions | swap pause p50 / max (ms) | live sessions at swaps | trainer ev/s | serving ev/s |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of d.runs) {
    const pauses = (r.promotions ?? []).map((p) => p.swap.pauseMs);
    lines.push(
      `| ${r.name} | ${r.secondHalf.recall.toFixed(4)} | ${r.secondHalf.mrr.toFixed(4)} | ${r.overall.recall.toFixed(4)} | ${r.overall.mrr.toFixed(4)} | ${r.unknownItemEvents.toLocaleString('en')} | ` +
        `${r.promotions ? r.promotions.length : '-'} | ${pauses.length ? `${quantile(pauses, 0.5).toFixed(1)} / ${Math.max(...pauses).toFixed(1)}` : '-'} | ` +
        `${r.promotions?.length ? r.promotions.map((p) => p.swap.sessions.toLocaleString('en')).join(', ') : '-'} | ${r.trainer ? r.trainer.eventsPerSec.toFixed(0) : '-'} | ${r.servingEventsPerSec.toFixed(0)} |`,
    );
  }
  lines.push(`continuous vs frozen, Recall@20 over the second half: ${(100 * d.secondHalfRecallGain).toFixed(1)}% relative`);
  for (const r of d.runs)
    if (r.shipped)
      lines.push(
        `  ${r.name}: shipped ${r.shipped.fullVersions} full versions (${(r.shipped.fullBytes / 1e6).toFixed(1)} MB) + ${r.shipped.deltas} deltas (${(r.shipped.deltaBytes / 1e6).toFixed(1)} MB) = ${(r.shipped.bytesPerMinute / 1e6).toFixed(2)} MB per stream minute at ${RATE} events/s` +
          (r.shipped.deltas ? `; delta engine prepare p50 ${r.shipped.deltaPrepareMsP50.toFixed(0)} ms, swap pause p50 ${r.shipped.deltaPauseMsP50.toFixed(1)} ms` : ''),
      );
  lines.push(`Recall@20 per ${100 / BUCKETS}% of the served stream:`);
  for (const r of d.runs) lines.push(`  ${r.name.padEnd(10)} ${r.buckets.map((b) => b.recall.toFixed(3)).join(' ')}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const backend = await initBackend(undefined, quiet);
  console.error(`online bench: in-process (no Kafka), tfjs backend ${backend}, micro-batches of ${BATCH}, ${quick ? 'quick' : 'full'} run`);
  const makers: Record<string, () => Stream> = { rsc15: rsc15Stream, drift: driftStream };
  const results: DatasetResult[] = [];
  for (const key of args.data!.split(',').map((d) => d.trim())) {
    const make = makers[key];
    if (!make) throw new Error(`unknown dataset "${key}"; known: ${Object.keys(makers).join(', ')}`);
    const d = await benchStream(make());
    results.push(d);
    console.log(`\n${formatDataset(d)}\n`);
  }
  mkdirSync(dirname(args.out!), { recursive: true });
  const report = {
    command: process.argv.slice(2).join(' '),
    createdAt: new Date().toISOString(),
    inProcess: true,
    note: 'no Kafka; the trainer runs between micro-batches in the serving thread; swaps at the next batch boundary after a promotion',
    backend,
    quick,
    batch: BATCH,
    cutoff: CUTOFF,
    buckets: BUCKETS,
    pretrainShare: PRETRAIN_SHARE,
    followOptions: DEFAULT_FOLLOW_OPTIONS,
    sync: { ...servingConfig().train.sync, rate: RATE },
    datasets: results,
  };
  writeFileSync(args.out!, `${JSON.stringify(report, null, 2)}\n`);
  await writeChartPng(args.png!, onlineRecallSpec(results, BUCKETS));
  console.error(`wrote ${args.out} and ${args.png}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
