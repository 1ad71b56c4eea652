/**
 * The monitor's own instruments, beside the online-quality series it shares with serving
 * (registerOnlineQualityInstruments): how the join of clicks with their answers went. Read at
 * collection time from the join's and the record decoder's counters; nothing on the record path.
 *
 * Named like the catalogue in src/metrics/instruments.ts (OTel names without units, `{annotation}`
 * units for counts; the 0.223 Prometheus exporter appends `_total` to counters). They live here
 * because the catalogue's process list has no monitor yet; `prometheus` is the series a scrape holds.
 */
import type { BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { RecordCounts } from './monitor-records.ts';
import type { JoinCounts } from './prequential-join.ts';

export interface MonitorInstrumentSpec {
  readonly name: string;
  readonly kind: 'counter' | 'gauge';
  readonly unit: string;
  readonly description: string;
  readonly attributes: readonly string[];
  readonly prometheus: string;
}

export const MONITOR_INSTRUMENTS = {
  clicks: {
    name: 'streamrec.monitor.clicks',
    kind: 'counter',
    unit: '{click}',
    description:
      'Click records the monitor read, by how they were joined: listed (a recommendation), unknown_item (dead-lettered, a target), rejected (dead-lettered undecodable), missing (no answer within the window), undecodable (skipped), duplicate (read again).',
    attributes: ['outcome'],
    prometheus: 'streamrec_monitor_clicks_total',
  },
  missingRecommendations: {
    name: 'streamrec.monitor.missing_recommendations',
    kind: 'counter',
    unit: '{click}',
    description: 'Clicks given up without a recommendation or dead letter: cause window (the join window passed) or overflow (monitor.maxPending forced the oldest out).',
    attributes: ['cause'],
    prometheus: 'streamrec_monitor_missing_recommendations_total',
  },
  answersUnmatched: {
    name: 'streamrec.monitor.answers.unmatched',
    kind: 'counter',
    unit: '{record}',
    description: 'Recommendations and dead letters that answered no waiting click: later than the window, duplicates, for clicks not read, or from another source topic.',
    attributes: [],
    prometheus: 'streamrec_monitor_answers_unmatched_total',
  },
  answersUndecodable: {
    name: 'streamrec.monitor.answers.undecodable',
    kind: 'counter',
    unit: '{record}',
    description: 'Records of the recommendations or dead-letter topic that did not decode, by topic (recommendations, dead_letter).',
    attributes: ['topic'],
    prometheus: 'streamrec_monitor_answers_undecodable_total',
  },
  pending: {
    name: 'streamrec.monitor.pending',
    kind: 'gauge',
    unit: '{record}',
    description: 'Records held by the join: side click (clicks waiting for their list or an earlier click of their session), side answer (lists waiting for their click).',
    attributes: ['side'],
    prometheus: 'streamrec_monitor_pending',
  },
} as const satisfies Record<string, MonitorInstrumentSpec>;

/** What the instruments read from the join (a PrequentialJoin fits). */
export interface JoinReadings {
  readonly counts: JoinCounts;
  readonly pendingClicks: number;
  readonly pendingAnswers: number;
}

/** Registers the monitor's instruments on `meter`; returns a function that removes the callback. */
export function registerMonitorInstruments(meter: Meter, join: JoinReadings, records: RecordCounts): () => void {
  const I = MONITOR_INSTRUMENTS;
  const opts = (s: MonitorInstrumentSpec) => ({ unit: s.unit, description: s.description });
  const clicks = meter.createObservableCounter(I.clicks.name, opts(I.clicks));
  const missing = meter.createObservableCounter(I.missingRecommendations.name, opts(I.missingRecommendations));
  const unmatched = meter.createObservableCounter(I.answersUnmatched.name, opts(I.answersUnmatched));
  const undecodable = meter.createObservableCounter(I.answersUndecodable.name, opts(I.answersUndecodable));
  const pending = meter.createObservableGauge(I.pending.name, opts(I.pending));
  const callback = (r: BatchObservableResult) => {
    const j = join.counts;
    r.observe(clicks, j.recommendations, { outcome: 'listed' });
    r.observe(clicks, j.deadLetteredUnknownItem, { outcome: 'unknown_item' });
    r.observe(clicks, j.deadLetteredRejected, { outcome: 'rejected' });
    r.observe(clicks, j.missing, { outcome: 'missing' });
    r.observe(clicks, j.clicksSkipped, { outcome: 'undecodable' });
    r.observe(clicks, j.clicksDuplicate, { outcome: 'duplicate' });
    r.observe(missing, j.missing - j.missingOverflow, { cause: 'window' });
    r.observe(missing, j.missingOverflow, { cause: 'overflow' });
    r.observe(unmatched, j.answersUnmatched + records.answersForeign);
    r.observe(undecodable, records.recommendationsUndecodable, { topic: 'recommendations' });
    r.observe(undecodable, records.deadLettersUndecodable, { topic: 'dead_letter' });
    r.observe(pending, join.pendingClicks, { side: 'click' });
    r.observe(pending, join.pendingAnswers, { side: 'answer' });
  };
  const observables: Observable[] = [clicks, missing, unmatched, undecodable, pending];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
