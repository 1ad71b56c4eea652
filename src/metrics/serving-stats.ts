import type { DeadLetterKind } from '../errors/errors.ts';
import { STAGES, type Stage } from './instruments.ts';
import { LatencyHistogram } from './latency-histogram.ts';
import type { PrequentialMetrics } from './online-metrics.ts';
import { OnlineQuality, type OnlineQualityOptions } from './online-quality.ts';

/**
 * Counters of one serving process: the OpenTelemetry instruments read them at collection time
 * (serving-instruments.ts), the CLI's live line, the demo and tests read them directly.
 */
export interface ServingStats {
  eventsIn: number;
  recommendationsOut: number;
  deadLetters: Record<DeadLetterKind, number>;
  batches: number;
  transactionsAborted: number;
  changelogRecordsOut: number;
  restoredRecords: number;
  modelSwaps: number;
  /** Per assigned clicks partition: records between the last fetched offset and the high watermark. */
  consumerLag: Map<number, number>;
  /** For the CLI's quantiles (p50/p99 lines); the exported histogram is the OTel one. */
  latency: LatencyHistogram;
  /** Same samples as latency; whoever reports a live window resets it. */
  recentLatency: LatencyHistogram;
  /**
   * Per-stage time of each committed micro-batch (ms, one sample per batch and stage, STAGES
   * order: queue, decode, store, engine, produce, commit), cumulative; a stage a batch did not
   * measure (NaN) adds no sample.
   */
  stages: Record<Stage, LatencyHistogram>;
  /** Recall@k / MRR@k per model version, cumulative and sliding. */
  online: OnlineQuality;
  /** All versions together at k = 20 (online.overall). */
  quality: PrequentialMetrics;
}

export function createServingStats(quality: OnlineQualityOptions): ServingStats {
  const online = new OnlineQuality(quality);
  return {
    eventsIn: 0,
    recommendationsOut: 0,
    deadLetters: { MALFORMED: 0, UNKNOWN_SCHEMA: 0, INVALID_FIELD: 0, UNKNOWN_ITEM: 0, TOO_LARGE: 0, KEY_MISMATCH: 0 },
    batches: 0,
    transactionsAborted: 0,
    changelogRecordsOut: 0,
    restoredRecords: 0,
    modelSwaps: 0,
    consumerLag: new Map(),
    latency: new LatencyHistogram(),
    recentLatency: new LatencyHistogram(),
    stages: Object.fromEntries(STAGES.map((s) => [s, new LatencyHistogram()])) as Record<Stage, LatencyHistogram>,
    online,
    quality: online.overall,
  };
}
