import type { StreamrecConfig } from '../config/config.ts';
import { type IngestLimits, ingestLimits } from '../ingest/click-decoder.ts';
import type { OnlineQualityOptions } from '../metrics/online-quality.ts';
import type { JoinOptions } from './prequential-join.ts';

/** What `streamrec monitor` needs from the topology, resolved once at start-up. */
export interface MonitorOptions {
  groupId: string;
  topics: { clicks: string; recommendations: string; deadLetter: string };
  join: JoinOptions;
  /** The same per-record limits serving decodes clicks with (its dead-letter size is irrelevant here). */
  ingest: IngestLimits;
  quality: OnlineQualityOptions;
}

export function resolveMonitorOptions(config: StreamrecConfig): MonitorOptions {
  return {
    groupId: config.groups.monitor,
    topics: { clicks: config.topics.clicks.name, recommendations: config.topics.recommendations.name, deadLetter: config.topics.deadLetter.name },
    join: { windowMs: config.monitor.joinWindowMs, maxPending: config.monitor.maxPending },
    ingest: ingestLimits({ maxRecordBytes: config.ingest.maxRecordBytes, maxPastMs: config.ingest.maxPastMs, maxFutureMs: config.ingest.maxFutureMs }),
    quality: { slidingTargets: config.metrics.quality.slidingTargets, maxVersions: config.metrics.quality.maxVersions, maxSessions: config.monitor.maxSessions },
  };
}
