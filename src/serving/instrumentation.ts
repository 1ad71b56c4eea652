import type { Meter } from '@opentelemetry/api';
import type { StreamrecConfig } from '../config/config.ts';
import { STAGES } from '../metrics/instruments.ts';
import { type ServingGaugeSources, ServingInstruments } from '../metrics/serving-instruments.ts';
import { createServingStats, type ServingStats } from '../metrics/serving-stats.ts';
import type { ServingEvents } from './serving-events.ts';
import { splitServedVersion } from './served-version.ts';

/** The config fields the serving stats depend on. */
export type StatsConfig = Pick<StreamrecConfig, 'serving' | 'metrics'>;

/**
 * The serving counters, kept by a subscriber of the serving events (the loop itself shares no
 * mutable stats): read by the OpenTelemetry instruments, the CLI's live line, the demo and tests.
 * Only committed batches count, since only their outputs are durable.
 */
export function attachStats(events: ServingEvents, config: StatsConfig): ServingStats {
  const stats = createServingStats({
    slidingTargets: config.metrics.quality.slidingTargets,
    maxVersions: config.metrics.quality.maxVersions,
    maxSessions: config.serving.sessions.maxSessions,
  });
  events.on('batchCommitted', (b) => {
    // Per registry version, deltas included: a label value per delta (every few seconds) would
    // grow the series without bound; the delta follower's rollback guard compares deltas itself.
    const version = splitServedVersion(b.modelVersion).version;
    for (let i = 0; i < b.inputs.length; i++) {
      const o = b.outcomes[i];
      // A click on an item the model does not know is still a target (a miss): leaving it out
      // would flatter a model whose catalogue falls behind the stream.
      stats.online.observe(b.inputs[i].sessionId, b.inputs[i].itemId);
      if (!o.ok) continue;
      stats.online.emitted(b.inputs[i].sessionId, version, o.itemIds);
      stats.latency.record(b.latencyMs[i]);
      stats.recentLatency.record(b.latencyMs[i]);
    }
    // One sample per batch and stage: a stage's cost is paid once for the whole batch.
    for (let s = 0; s < STAGES.length; s++) stats.stages[STAGES[s]].record(b.stageMs[s]);
    for (const [kind, n] of b.deadLetters) stats.deadLetters[kind] += n;
    stats.eventsIn += b.consumed;
    stats.recommendationsOut += b.recommendations;
    stats.changelogRecordsOut += b.changelogRecords;
    stats.batches++;
  });
  events.on('batchAborted', () => stats.transactionsAborted++);
  events.on('restored', (r) => (stats.restoredRecords += r.records));
  events.on('modelSwapped', () => stats.modelSwaps++);
  events.on('lag', (l) => stats.consumerLag.set(l.partition, l.records));
  // A partition that is no longer ours has no lag here (its new owner reports it).
  events.on('assigned', (a) => {
    for (const p of a.revoked) stats.consumerLag.delete(p);
  });
  return stats;
}

/**
 * Exports the serving process on an OpenTelemetry meter: the stats as observable instruments,
 * and the per-batch timings as histograms, from a second subscriber of the same events.
 * Returns a function that detaches it.
 */
export function instrumentServing(events: ServingEvents, stats: ServingStats, meter: Meter, sources: ServingGaugeSources): () => void {
  const instruments = new ServingInstruments(meter, stats, sources);
  const onBatch = (b: import('./serving-events.ts').BatchCommitted) => instruments.recordBatch(b.consumed, b.waitMs, b.stageMs, b.latencyMs, b.inputs.length);
  const onSwap = (r: { pauseMs: number }) => instruments.recordSwapPause(r.pauseMs);
  events.on('batchCommitted', onBatch);
  events.on('modelSwapped', onSwap);
  return () => {
    events.off('batchCommitted', onBatch);
    events.off('modelSwapped', onSwap);
    instruments.close();
  };
}
