import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type Admin, type ITopicConfig, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { KafkaSecurity, StreamrecConfig, TopicConfig } from '../config/config.ts';
import { ConfigError } from '../errors/errors.ts';
import type { ClientAdmin } from './kafka-client.ts';

const LEVEL_NAMES: Record<number, string> = { [logLevel.ERROR]: 'ERROR', [logLevel.WARN]: 'WARN', [logLevel.INFO]: 'INFO', [logLevel.DEBUG]: 'DEBUG' };

function readPem(field: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ConfigError(`kafka.security.ssl.${field}`, `cannot read ${file}: ${(e as Error).message}`);
  }
}

/**
 * The kafkajs `ssl` and `sasl` options of a security config. PEM files are read here, when a
 * client is created at start-up, so a missing certificate stops the process before it connects,
 * naming the field and the file; the SASL password is revealed only into the client's options.
 */
export function kafkaSecurityOptions(security: KafkaSecurity): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (security.protocol === 'ssl' || security.protocol === 'sasl_ssl') {
    const tls = security.ssl;
    out.ssl =
      tls === undefined
        ? true
        : {
            rejectUnauthorized: tls.rejectUnauthorized,
            ...(tls.caFile === undefined ? {} : { ca: [readPem('caFile', tls.caFile)] }),
            ...(tls.certFile === undefined ? {} : { cert: readPem('certFile', tls.certFile) }),
            ...(tls.keyFile === undefined ? {} : { key: readPem('keyFile', tls.keyFile) }),
          };
  }
  // The schema guarantees credentials exactly when the protocol is sasl_*.
  if (security.sasl !== undefined) {
    const { mechanism, username, password } = security.sasl;
    // kafkajs types the options one union member per mechanism; the schema allows exactly those three.
    out.sasl = { mechanism, username, password: password.reveal() } as SASLOptions;
  }
  return out;
}

/**
 * kafkajs logs through its own logger; route it to stderr at WARN so it never interleaves
 * with a CLI's live line, and KAFKAJS_LOG_LEVEL=debug can open it up.
 */
export function createKafka(cfg: { kafka: Omit<StreamrecConfig['kafka'], 'client'> }, clientIdSuffix = ''): Kafka {
  const level = (process.env.KAFKAJS_LOG_LEVEL ?? 'warn').toUpperCase() as keyof typeof logLevel;
  return new Kafka({
    clientId: cfg.kafka.clientId + clientIdSuffix,
    brokers: cfg.kafka.brokers,
    ...kafkaSecurityOptions(cfg.kafka.security),
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

/** A kafkajs Admin seen through the seam. */
export function kafkajsAdmin(a: Admin): ClientAdmin {
  return {
    connect: () => a.connect(),
    disconnect: () => a.disconnect(),
    listTopics: () => a.listTopics(),
    createTopics: async (topics) => {
      await a.createTopics({ topics, waitForLeaders: true });
    },
    fetchTopicMetadata: async (topics) => (await a.fetchTopicMetadata({ topics })).topics,
    fetchTopicOffsets: (topic) => a.fetchTopicOffsets(topic),
    fetchOffsets: async (groupId, topic) => {
      const [t] = await a.fetchOffsets({ groupId, topics: [topic] });
      return (t?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset }));
    },
    deleteTopics: (topics) => a.deleteTopics({ topics }),
  };
}

function topicSpec(t: TopicConfig, configEntries: ITopicConfig['configEntries'] = []): ITopicConfig {
  return { topic: t.name, numPartitions: t.partitions, replicationFactor: -1, configEntries };
}

/**
 * Creates the topology's topics when missing, model-updates included (existing ones are left as they are, with a check
 * that the changelog is partitioned like the clicks topic, which state restoration relies on).
 */
export async function ensureTopics(anyAdmin: Admin | ClientAdmin, cfg: StreamrecConfig): Promise<void> {
  // Callers that still hold a kafkajs Admin pass it as it is.
  const admin = 'createPartitions' in anyAdmin ? kafkajsAdmin(anyAdmin) : anyAdmin;
  const wanted = [
    topicSpec(cfg.topics.clicks),
    topicSpec(cfg.topics.recommendations),
    // Dead letters carry a bad record's original bytes: the topic's own cap, not the broker default.
    topicSpec(cfg.topics.deadLetter, [{ name: 'max.message.bytes', value: String(cfg.topics.deadLetter.maxMessageBytes) }]),
    topicSpec(cfg.topics.sessionChangelog, [
      { name: 'cleanup.policy', value: 'compact' },
      { name: 'min.cleanable.dirty.ratio', value: '0.1' },
    ]),
    // Every announcement has the key "model": compaction keeps the latest, which is all a
    // serving process that starts later needs.
    topicSpec(cfg.topics.modelUpdates, [{ name: 'cleanup.policy', value: 'compact' }]),
  ];
  const existing = new Set(await admin.listTopics());
  const missing = wanted.filter((t) => !existing.has(t.topic));
  if (missing.length > 0) {
    try {
      await admin.createTopics(missing);
    } catch (e) {
      // Another process may have created them between list and create.
      if (!String((e as Error).message).includes('already exists')) throw e;
    }
  }
  const meta = await admin.fetchTopicMetadata([cfg.topics.clicks.name, cfg.topics.sessionChangelog.name]);
  const byName = new Map(meta.map((t) => [t.name, t]));
  const clicks = byName.get(cfg.topics.clicks.name)!;
  const changelog = byName.get(cfg.topics.sessionChangelog.name)!;
  if (clicks.partitions.length !== changelog.partitions.length)
    throw new Error(
      `topic ${changelog.name} has ${changelog.partitions.length} partitions but ${clicks.name} has ${clicks.partitions.length}: the session changelog must be co-partitioned with the clicks topic`,
    );
}
