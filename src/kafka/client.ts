import { Kafka, logLevel, type Admin, type ITopicConfig } from 'kafkajs';
import type { StreamrecConfig, TopicConfig } from '../config/config.ts';

const LEVEL_NAMES: Record<number, string> = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' };

/**
 * kafkajs logs through its own logger; route it to stderr at WARN so it never interleaves
 * with a CLI's live line, and KAFKAJS_LOG_LEVEL=debug can open it up.
 */
export function createKafka(cfg: Pick<StreamrecConfig, 'kafka'>, clientIdSuffix = ''): Kafka {
  const level = (process.env.KAFKAJS_LOG_LEVEL ?? 'warn').toUpperCase() as keyof typeof logLevel;
  return new Kafka({
    clientId: cfg.kafka.clientId + clientIdSuffix,
    brokers: cfg.kafka.brokers,
    logLevel: logLevel[level] ?? logLevel.WARN,
    retry: { retries: 8, initialRetryTime: 100 },
    logCreator:
      () =>
      ({ namespace, level: lvl, log }) => {
        const { message, ...extra } = log;
        // CONCURRENT_TRANSACTIONS is the broker saying the previous EndTxn is still being written;
        // kafkajs retries it and it is expected back-to-back transactions, not a fault.
        if (`${message} ${String(extra.error)}`.includes('another concurrent operation on the same transaction')) return;
        // kafkajs warns about its default partitioner on every producer; not actionable for us.
        if (typeof message === 'string' && message.includes('switched default partitioner')) return;
        // Connection-level response errors (coordinator loading, leader moving) are retried by the
        // client and logged again by the producer/consumer if they end up failing.
        if (namespace === 'Connection' && lvl === logLevel.ERROR) return;
        process.stderr.write(`[kafkajs ${LEVEL_NAMES[lvl] ?? lvl}] ${namespace}: ${message} ${JSON.stringify(extra)}\n`);
      },
  });
}

function topicSpec(t: TopicConfig, configEntries: ITopicConfig['configEntries'] = []): ITopicConfig {
  return { topic: t.name, numPartitions: t.partitions, replicationFactor: -1, configEntries };
}

/**
 * Creates the topology's topics when missing (existing ones are left as they are, with a check
 * that the changelog is partitioned like the clicks topic, which state restoration relies on).
 */
export async function ensureTopics(admin: Admin, cfg: StreamrecConfig): Promise<void> {
  const compacted = [{ name: 'cleanup.policy', value: 'compact' }];
  const wanted = [
    topicSpec(cfg.topics.clicks),
    topicSpec(cfg.topics.recommendations),
    topicSpec(cfg.topics.deadLetter),
    topicSpec(cfg.topics.sessionChangelog, [...compacted, { name: 'min.cleanable.dirty.ratio', value: '0.1' }]),
    topicSpec(cfg.topics.modelUpdates, compacted),
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing, waitForLeaders: true });
    } catch (e) {
      // Another process may have created them between list and create.
      if (!String((e as Error).message).includes('already exists')) throw e;
    }
  }
  const meta = await admin.fetchTopicMetadata({ topics: [cfg.topics.clicks.name, cfg.topics.sessionChangelog.name] });
  const [clicks, changelog] = meta.topics;
  if (clicks.partitions.length !== changelog.partitions.length)
    throw new Error(
      `topic ${changelog.name} has ${changelog.partitions.length} partitions but ${clicks.name} has ${clicks.partitions.length}: the session changelog must be co-partitioned with the clicks topic`,
    );
}
