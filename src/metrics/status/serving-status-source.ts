import type { ServingStats } from '../serving-stats.ts';
import { readingsAt20, type StatusSource } from './status-source.ts';

/**
 * A serving process as the status page reads it: its ServingStats (the cumulative latency
 * histogram, not recentLatency, which the CLI's live line resets), per-version quality from
 * stats.online, and the lag summed over the partitions it holds.
 */
export function servingStatusSource(stats: ServingStats, instanceId: string, currentVersion: () => string): StatusSource {
  return {
    instanceId,
    eventsIn: () => stats.eventsIn,
    eventsOut: () => stats.recommendationsOut,
    latency: () => stats.latency,
    quality: () => ({ recall20: stats.quality.recall, mrr20: stats.quality.mrr, targets: stats.quality.targets }),
    qualityByVersion: () => readingsAt20(stats.online.versions()),
    currentVersion,
    consumerLag: () => {
      // No partition assigned (yet): unknown, not zero.
      if (stats.consumerLag.size === 0) return undefined;
      let total = 0;
      for (const lag of stats.consumerLag.values()) total += lag;
      return total;
    },
  };
}
