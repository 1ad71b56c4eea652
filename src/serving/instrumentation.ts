import { createServingStats, type ServingStats } from '../metrics/serving-stats.ts';
import type { ServingEvents } from './serving-events.ts';

/**
 * The serving counters, kept by a subscriber of the serving events (the loop itself shares no
 * mutable stats): read by the Prometheus endpoint, the CLI's live line, the demo and tests.
 * Only committed batches count, since only their outputs are durable.
 */
export function attachStats(events: ServingEvents, topK: number): ServingStats {
  const stats = createServingStats(topK);
  events.on('batchCommitted', (b) => {
    for (let i = 0; i < b.inputs.length; i++) {
      const o = b.outcomes[i];
      // A click on an item the model does not know is still a target (a miss): leaving it out
      // would flatter a model whose catalogue falls behind the stream.
      stats.quality.observe(b.inputs[i].sessionId, b.inputs[i].itemId);
      if (!o.ok) continue;
      stats.quality.emitted(b.inputs[i].sessionId, o.itemIds);
      stats.latency.record(b.latencyMs[i]);
      stats.recentLatency.record(b.latencyMs[i]);
    }
    for (const [kind, n] of b.deadLetters) stats.deadLetters[kind] += n;
    stats.eventsIn += b.consumed;
    stats.recommendationsOut += b.recommendations;
    stats.changelogRecordsOut += b.changelogRecords;
    stats.batches++;
  });
  events.on('batchAborted', () => stats.transactionsAborted++);
  events.on('restored', (r) => (stats.restoredRecords += r.records));
  return stats;
}
