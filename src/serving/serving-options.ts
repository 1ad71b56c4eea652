import type { StreamrecConfig } from '../config/config.ts';
import { type IngestLimits, ingestLimits } from '../ingest/click-decoder.ts';
import { BATCH_OVERHEAD_BYTES, RECORD_OVERHEAD_BYTES } from '../ingest/dead-letter.ts';

/**
 * What the serving loop needs from the topology, resolved once at start-up (instead of reaching
 * into the whole config from several places).
 */
export interface ServingOptions {
  exactlyOnce: boolean;
  groupId: string;
  /** The transactional id derives from the instance id, so a restarted instance fences its zombie. */
  transactionalId: string;
  topics: { clicks: string; recommendations: string; deadLetter: string; changelog: string };
  clickPartitions: number;
  /** Most records per engine pass. */
  maxBatch: number;
  /**
   * A commit span (one transaction, or one offset commit at-least-once) commits once it is this
   * old (ms), once it holds commitMaxRecords input records, or as soon as no input is waiting;
   * 0 commits every micro-batch.
   */
  commitIntervalMs: number;
  commitMaxRecords: number;
  maxWaitMs: number;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  ingest: IngestLimits;
  deadLetterTopicMaxBytes: number;
  /** Aborts in a row (each followed by a restore and a retry) before the process gives up. */
  maxConsecutiveAborts: number;
}

export function resolveServingOptions(config: StreamrecConfig, instanceId: string, overrides: { sessionTimeoutMs?: number } = {}): ServingOptions {
  const sessionTimeoutMs = overrides.sessionTimeoutMs ?? 30_000;
  return {
    exactlyOnce: config.serving.delivery === 'exactly-once',
    groupId: config.groups.serving,
    transactionalId: `${config.groups.serving}-${instanceId}`,
    topics: {
      clicks: config.topics.clicks.name,
      recommendations: config.topics.recommendations.name,
      deadLetter: config.topics.deadLetter.name,
      changelog: config.topics.sessionChangelog.name,
    },
    clickPartitions: config.topics.clicks.partitions,
    maxBatch: config.serving.batch.maxSize,
    commitIntervalMs: config.serving.commit.intervalMs,
    commitMaxRecords: config.serving.commit.maxRecords,
    maxWaitMs: Math.max(1, config.serving.batch.maxWaitMs),
    sessionTimeoutMs,
    heartbeatIntervalMs: Math.max(100, Math.floor(sessionTimeoutMs / 10)),
    // Dead letters leave room for record and batch framing under the topic's max.message.bytes.
    ingest: ingestLimits({ ...config.ingest, maxDeadLetterBytes: config.topics.deadLetter.maxMessageBytes - BATCH_OVERHEAD_BYTES - RECORD_OVERHEAD_BYTES }),
    deadLetterTopicMaxBytes: config.topics.deadLetter.maxMessageBytes,
    maxConsecutiveAborts: 5,
  };
}
