/**
 * The one catalogue of every OpenTelemetry instrument streamrec exports: its OTel name, kind,
 * unit, description, attributes, histogram buckets, and the Prometheus series the 0.223
 * exporter (@opentelemetry/exporter-prometheus) writes for it. Everything that creates an
 * instrument takes its definition from here, and the Grafana dashboard, the scrape test and
 * the README table are checked against it, so a name cannot drift between them.
 *
 * How the 0.223 exporter names series (read from a real scrape, test/unit/metrics-instruments.test.ts):
 * the OTel name with every character outside [a-zA-Z0-9_] replaced by `_`; a monotonic sum
 * (counter) gets `_total`; a histogram is `<name>_bucket{le=…}`, `<name>_sum`, `<name>_count`.
 * It does NOT append unit suffixes (`_seconds`, `_bytes`): the unit travels in the `# UNIT`
 * metadata line only, which is why OTel names here carry no unit either (semantic conventions:
 * "units do not belong in the name"). Every series also carries `otel_scope_name="streamrec"`;
 * the resource (service.name, service.instance.id) is exported once as `target_info`.
 *
 * Names follow the OpenTelemetry conventions for metric names (dot-separated namespaces,
 * singular nouns for non-counters, `{annotation}` units for counts, UCUM `s` / `By` / `1`).
 * No semantic convention covers recommender quality, micro-batching or Kafka consumer lag yet
 * (messaging.* covers client operations, not lag), so they live under `streamrec.`.
 */

import type { Counter, Histogram, Meter, MetricOptions, ObservableCounter, ObservableGauge } from '@opentelemetry/api';

export type InstrumentKind = 'counter' | 'histogram' | 'gauge';

/** Which process exports it: serving (and `streamrec monitor` for the online.* ones) or the trainer. */
export type InstrumentProcess = 'serving' | 'trainer';

export interface InstrumentSpec {
  /** OpenTelemetry instrument name. */
  readonly name: string;
  readonly kind: InstrumentKind;
  /** UCUM unit (`s`, `By`, `1`) or an `{annotation}` for counts. */
  readonly unit: string;
  readonly description: string;
  /** Attribute keys every data point carries (Prometheus labels of the same name). */
  readonly attributes: readonly string[];
  /** Histogram bucket upper bounds (explicit-bucket advice), in the instrument's unit. */
  readonly buckets?: readonly number[];
  readonly process: InstrumentProcess;
  /** The metric family name in a Prometheus scrape of the 0.223 exporter. */
  readonly prometheus: string;
}

/** Seconds, 0.1 ms .. 10 s: per-stage timings and batch waits are sub-millisecond to seconds. */
const STAGE_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] as const;
/** Seconds, 1 ms .. 30 s: click appended to recommendation produced, including broker time. */
const LATENCY_SECONDS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30] as const;
/** Seconds, 0.1 s .. 10 min: a delta's newest trained click to serving with it (seconds), or a full version's interval (minutes). */
const FRESHNESS_SECONDS = [0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 60, 120, 300, 600] as const;
/** Events per micro-batch, powers of two up to the largest serving.batch.maxSize. */
const BATCH_EVENTS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 65536] as const;

/** OTel name → Prometheus family name, as the 0.223 exporter derives it. */
function prometheusName(name: string, kind: InstrumentKind): string {
  const base = name.replace(/[^a-zA-Z0-9_]/g, '_').replace(/_{2,}/g, '_');
  return kind === 'counter' && !base.endsWith('_total') ? `${base}_total` : base;
}

function spec<K extends InstrumentKind>(
  name: string,
  kind: K,
  unit: string,
  description: string,
  attributes: readonly string[],
  process: InstrumentProcess,
  buckets?: readonly number[],
): InstrumentSpec & { readonly kind: K } {
  return { name, kind, unit, description, attributes, process, prometheus: prometheusName(name, kind), ...(buckets ? { buckets } : {}) };
}

export const INSTRUMENTS = {
  // serving: throughput and outcomes (committed batches only: only their outputs are durable)
  eventsConsumed: spec('streamrec.events.consumed', 'counter', '{event}', 'Click records consumed and committed (valid and dead-lettered).', [], 'serving'),
  recommendationsProduced: spec('streamrec.recommendations.produced', 'counter', '{recommendation}', 'Recommendation lists committed to the output topic.', [], 'serving'),
  deadLetters: spec(
    'streamrec.dead_letters',
    'counter',
    '{record}',
    'Records committed to the dead-letter topic, by reason (MALFORMED, UNKNOWN_ITEM, ...).',
    ['reason'],
    'serving',
  ),
  transactionsAborted: spec(
    'streamrec.transactions.aborted',
    'counter',
    '{transaction}',
    'Micro-batch transactions aborted (rolled back, restored and fetched again).',
    [],
    'serving',
  ),
  // serving: micro-batching and latency
  batchSize: spec('streamrec.batch.size', 'histogram', '{event}', 'Events per committed micro-batch.', [], 'serving', BATCH_EVENTS),
  batchWait: spec(
    'streamrec.batch.wait',
    'histogram',
    's',
    'Time the oldest chunk of a micro-batch waited in the queue before its engine pass began.',
    [],
    'serving',
    STAGE_SECONDS,
  ),
  latencyEndToEnd: spec(
    'streamrec.latency.end_to_end',
    'histogram',
    's',
    'Click appended to the clicks topic to its recommendation produced, per recommendation.',
    [],
    'serving',
    LATENCY_SECONDS,
  ),
  stageDuration: spec(
    'streamrec.stage.duration',
    'histogram',
    's',
    'Time a committed micro-batch spent in one stage: queue (waiting for the engine), decode, store (session state), engine, produce, commit.',
    ['stage'],
    'serving',
    STAGE_SECONDS,
  ),
  consumerLag: spec(
    'streamrec.consumer.lag',
    'gauge',
    '{record}',
    'Records between the last fetched offset and the high watermark, per assigned clicks partition.',
    ['partition'],
    'serving',
  ),
  // serving: state and model
  sessionsLive: spec('streamrec.sessions.live', 'gauge', '{session}', 'Sessions held in the session store.', [], 'serving'),
  sessionStoreSize: spec('streamrec.session_store.size', 'gauge', 'By', 'Memory held by session state (typed-array slabs).', [], 'serving'),
  modelInfo: spec('streamrec.model.info', 'gauge', '1', 'Always 1; model_version names the version serving now.', ['model_version'], 'serving'),
  modelSwaps: spec('streamrec.model.swaps', 'counter', '{swap}', 'Model versions hot-swapped in.', [], 'serving'),
  modelSwapPause: spec('streamrec.model.swap_pause', 'histogram', 's', 'Time serving paused for a hot swap (between two micro-batches).', [], 'serving', STAGE_SECONDS),
  // serving: incremental weight sync (src/serving/delta-follower.ts)
  syncFreshness: spec(
    'streamrec.sync.freshness',
    'histogram',
    's',
    "Per applied delta: now minus the append time of the newest click the delta's weights trained on (click appended → serving scores with weights that learnt it).",
    [],
    'serving',
    FRESHNESS_SECONDS,
  ),
  syncRollbacks: spec(
    'streamrec.sync.rollbacks',
    'counter',
    '{rollback}',
    'Rollbacks from deltas to their snapshot, by trigger (automatic: live Recall@20 fell; manual).',
    ['trigger'],
    'serving',
  ),
  // online quality (serving and streamrec monitor export the same series, src/metrics/online-quality.ts)
  onlineRecall: spec(
    'streamrec.online.recall',
    'gauge',
    '1',
    'Prequential Recall@k: share of next-click targets found in the top k of the list emitted for the previous event, credited to the version that emitted it.',
    ['k', 'model_version', 'window'],
    'serving',
  ),
  onlineMrr: spec(
    'streamrec.online.mrr',
    'gauge',
    '1',
    'Prequential MRR@k (reciprocal rank, 0 beyond k) of next-click targets, by emitting version.',
    ['k', 'model_version', 'window'],
    'serving',
  ),
  onlineTargets: spec(
    'streamrec.online.targets',
    'counter',
    '{target}',
    'Next-click targets measured, by the version that emitted the list they were checked against.',
    ['model_version'],
    'serving',
  ),
  onlineHits: spec(
    'streamrec.online.hits',
    'counter',
    '{target}',
    'Targets found in the top k (Recall@k over any time range and across versions = increase(hits) / increase(targets)).',
    ['k', 'model_version'],
    'serving',
  ),
  onlineReciprocalRank: spec(
    'streamrec.online.reciprocal_rank',
    'counter',
    '1',
    'Sum of reciprocal ranks of targets within the top k (MRR@k over any range = increase(this) / increase(targets)).',
    ['k', 'model_version'],
    'serving',
  ),
  // trainer (streamrec train --follow)
  trainerLoss: spec('streamrec.trainer.loss', 'gauge', '1', 'Mean training loss of the last window.', [], 'trainer'),
  trainerEvents: spec('streamrec.trainer.events', 'counter', '{event}', 'Click events the trainer took into its windows (events/s: rate of this).', [], 'trainer'),
  gateRecall: spec('streamrec.gate.recall', 'gauge', '1', 'Recall@20 on the last promotion-gate window, of the candidate and of the serving version.', ['model'], 'trainer'),
  gateMrr: spec('streamrec.gate.mrr', 'gauge', '1', 'MRR@20 on the last promotion-gate window, of the candidate and of the serving version.', ['model'], 'trainer'),
  trainerPromotions: spec('streamrec.trainer.promotions', 'counter', '{candidate}', 'Gate decisions on candidates, by outcome (promoted, rejected).', ['outcome'], 'trainer'),
  catalogueItems: spec(
    'streamrec.catalogue.items',
    'gauge',
    '{item}',
    "The trainer's item catalogue now: active (items with rows) and pending (ids seen, not yet admitted).",
    ['state'],
    'trainer',
  ),
  catalogueAdmitted: spec(
    'streamrec.catalogue.admitted',
    'counter',
    '{item}',
    'Items admitted to the catalogue (given a row) since the trainer started (kept across checkpoints).',
    [],
    'trainer',
  ),
  catalogueExpired: spec(
    'streamrec.catalogue.expired',
    'counter',
    '{item}',
    'Items expired from the catalogue (row freed for reuse) since the trainer started (kept across checkpoints).',
    [],
    'trainer',
  ),
} as const satisfies Record<string, InstrumentSpec>;

export type InstrumentKey = keyof typeof INSTRUMENTS;

/** Attribute values with a closed set (the dashboard and tests rely on them). */
export const STAGES = ['queue', 'decode', 'store', 'engine', 'produce', 'commit'] as const;
export type Stage = (typeof STAGES)[number];
export const QUALITY_CUTOFFS = [5, 10, 20] as const;
export const QUALITY_WINDOWS = ['cumulative', 'sliding'] as const;
export type QualityWindow = (typeof QUALITY_WINDOWS)[number];
export const GATE_MODELS = ['candidate', 'serving'] as const;
export const PROMOTION_OUTCOMES = ['promoted', 'rejected'] as const;
export const CATALOGUE_STATES = ['active', 'pending'] as const;
export const SYNC_ROLLBACK_TRIGGERS = ['automatic', 'manual'] as const;

/**
 * The Prometheus series names a scrape holds for one instrument: the family itself for counters
 * and gauges, `_bucket` / `_sum` / `_count` for histograms.
 */
export function prometheusSeries(s: InstrumentSpec): string[] {
  return s.kind === 'histogram' ? [`${s.prometheus}_bucket`, `${s.prometheus}_sum`, `${s.prometheus}_count`] : [s.prometheus];
}

/** Instrumentation scope of every streamrec instrument (the otel_scope_name label). */
export const METER_NAME = 'streamrec';

function options(s: InstrumentSpec): MetricOptions {
  return { unit: s.unit, description: s.description, ...(s.buckets ? { advice: { explicitBucketBoundaries: [...s.buckets] } } : {}) };
}

type Of<K extends InstrumentKind> = InstrumentSpec & { readonly kind: K };

/** An observable gauge for a catalogue entry (its value is read at collection time). */
export function gaugeSpec(meter: Meter, s: Of<'gauge'>): ObservableGauge {
  return meter.createObservableGauge(s.name, options(s));
}

/** An observable counter for a catalogue entry: for totals a component already keeps. */
export function counterSpec(meter: Meter, s: Of<'counter'>): ObservableCounter {
  return meter.createObservableCounter(s.name, options(s));
}

/** A synchronous counter for a catalogue entry: for things counted as they happen. */
export function syncCounterSpec(meter: Meter, s: Of<'counter'>): Counter {
  return meter.createCounter(s.name, options(s));
}

/** A histogram for a catalogue entry, with the entry's bucket bounds. */
export function histogramSpec(meter: Meter, s: Of<'histogram'>): Histogram {
  return meter.createHistogram(s.name, options(s));
}
