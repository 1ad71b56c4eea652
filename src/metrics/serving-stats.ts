import type { DeadLetterKind } from '../errors/errors.ts';
import { LatencyHistogram, PrequentialMetrics } from './online-metrics.ts';

/** Counters of one serving process, read by the Prometheus endpoint and the CLI's live line. */
export interface ServingStats {
  eventsIn: number;
  recommendationsOut: number;
  deadLetters: Record<DeadLetterKind, number>;
  batches: number;
  transactionsAborted: number;
  changelogRecordsOut: number;
  restoredRecords: number;
  latency: LatencyHistogram;
  /** Same samples as latency; whoever reports a live window resets it. */
  recentLatency: LatencyHistogram;
  quality: PrequentialMetrics;
}

export function createServingStats(topK: number): ServingStats {
  return {
    eventsIn: 0,
    recommendationsOut: 0,
    deadLetters: { MALFORMED: 0, UNKNOWN_SCHEMA: 0, INVALID_FIELD: 0, UNKNOWN_ITEM: 0, TOO_LARGE: 0, KEY_MISMATCH: 0 },
    batches: 0,
    transactionsAborted: 0,
    changelogRecordsOut: 0,
    restoredRecords: 0,
    latency: new LatencyHistogram(),
    recentLatency: new LatencyHistogram(),
    quality: new PrequentialMetrics(topK),
  };
}
