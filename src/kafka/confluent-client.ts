/**
 * The seam over @confluentinc/kafka-javascript (librdkafka), through its KafkaJS-compatible API
 * for groups and producers and its librdkafka-level consumer for read-to-end. The package is an
 * optional build (scripts/ensure-deps.mjs), so it is loaded at run time and typed here by the
 * few members streamrec calls; a machine without it reports the client unavailable.
 *
 * Where it differs from kafkajs, and what this adapter does about it:
 *  - configuration: kafkajs options go in `kafkaJS`, TLS files and everything else are librdkafka
 *    properties; acks are per producer (acks=all here), fromBeginning and autoCommit per consumer.
 *  - groups: no GROUP_JOIN / REBALANCING / CRASH events; a rebalance callback keeps the whole
 *    assignment (incremental with cooperative protocols) and calls onRebalancing / onAssigned.
 *    librdkafka restarts a consumer itself after errors, so onCrash is never called.
 *  - eachBatch: batches are built client-side (js.consumer.max.batch.size, 32 by default: set from
 *    maxBatchRecords); heartbeat() is a no-op (librdkafka heartbeats in its own thread); records
 *    left unresolved are fetched again, as with kafkajs; seek works at any time.
 *  - transactions: sendOffsets takes the consumer (KIP-447 group metadata); the "transaction" is
 *    the producer itself, so one is open at a time.
 *  - committed offsets are fetched with require_stable (KIP-447): a pending transactional offset
 *    commit is waited for rather than read stale.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { IHeaders, ITopicConfig, ITopicMetadata, KafkaMessage, TopicMessages, TopicOffsets } from 'kafkajs';
import type { StreamrecConfig } from '../config/config.ts';
import { ConfigError, StreamrecError } from '../errors/errors.ts';
import type {
  ClientAdmin,
  ClientConsumer,
  ClientConsumerOptions,
  ClientProducer,
  ClientProducerOptions,
  ClientRunOptions,
  ClientTransaction,
  EachBatchPayload,
  KafkaClient,
  ReadToEndOptions,
} from './kafka-client.ts';

// ---- the members of the package streamrec uses (its own .d.ts is not available without it) ----
type Props = Record<string, unknown>;
interface CkAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  createTopics(o: { topics: ITopicConfig[] }): Promise<boolean>;
  fetchTopicMetadata(o: { topics: string[] }): Promise<ITopicMetadata[]>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; low: string; high: string }[]>;
  fetchOffsets(o: { groupId: string; topics: string[]; requireStableOffsets?: boolean }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
  deleteTopics(o: { topics: string[] }): Promise<void>;
}
interface CkProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(o: { topicMessages: TopicMessages[] }): Promise<unknown>;
  transaction(): Promise<CkProducer>;
  sendOffsets(o: { consumer: CkConsumer; topics: TopicOffsets[] }): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}
interface CkConsumer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(o: { topics: string[] }): Promise<void>;
  run(o: { eachBatch(p: EachBatchPayload): Promise<void>; eachBatchAutoResolve?: boolean; partitionsConsumedConcurrently?: number }): Promise<void>;
  seek(o: { topic: string; partition: number; offset: string }): void;
  commitOffsets(o: { topic: string; partition: number; offset: string }[]): Promise<void>;
}
interface CkKafka {
  admin(config?: Props): CkAdmin;
  producer(config: Props): CkProducer;
  consumer(config: Props): CkConsumer;
}
interface RdMessage {
  topic: string;
  partition: number;
  offset: number;
  key?: Buffer | string | null;
  value: Buffer | null;
  timestamp?: number;
  headers?: Record<string, Buffer | string>[];
  size: number;
}
interface RdConsumer {
  connect(o: Props, cb: (err: Error | null) => void): void;
  disconnect(cb: (err: Error | null) => void): void;
  assign(toppars: { topic: string; partition: number; offset: number }[]): void;
  consume(n: number, cb: (err: Error | null, messages: RdMessage[]) => void): void;
  position(toppars: { topic: string; partition: number }[]): { partition: number; offset?: number }[];
  setDefaultConsumeTimeout(ms: number): void;
}
interface CkModule {
  KafkaJS: { Kafka: new (config: Props) => CkKafka; logLevel: Record<string, number> };
  KafkaConsumer: new (global: Props, topic: Props) => RdConsumer;
  CODES: { ERRORS: Record<string, number> };
  librdkafkaVersion: string;
}

/**
 * The package logs objects to stdout and stderr through console; route them to stderr as one
 * line each, as the kafkajs logger does, so they never interleave with a CLI's live line. The
 * package filters by the level it is given (KAFKAJS_LOG_LEVEL, warn by default).
 */
function stderrLogger(levels: Record<string, number>) {
  let level = levels.WARN;
  const write = (name: string, at: number) => (message: string, extra?: Record<string, unknown>) => {
    if (level < at) return;
    const { name: client, fac } = extra ?? {};
    process.stderr.write(`[confluent ${name}] ${client ?? ''}${fac ? ` ${fac}` : ''}: ${message}\n`);
  };
  const logger = {
    setLogLevel: (l: number) => void (level = l),
    error: write('ERROR', levels.ERROR),
    warn: write('WARN', levels.WARN),
    info: write('INFO', levels.INFO),
    debug: write('DEBUG', levels.DEBUG),
    namespace: () => logger,
  };
  return logger;
}

/** librdkafka's "the beginning of the partition" logical offset. */
const OFFSET_BEGINNING = -2;

let loaded: { module: CkModule } | { reason: string } | undefined;

function load(): { module: CkModule } | { reason: string } {
  if (loaded) return loaded;
  try {
    loaded = { module: createRequire(import.meta.url)('@confluentinc/kafka-javascript') as CkModule };
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not installed' : (e as Error).message.split('\n')[0];
    loaded = {
      reason: `@confluentinc/kafka-javascript is ${why === 'not installed' ? 'not installed' : `not loadable (${why})`}: \`npm run setup\` builds it (python3, make, g++, libssl-dev, zlib1g-dev)`,
    };
  }
  return loaded;
}

/** Whether the confluent client can be used here, and if not, one line saying why. */
export function confluentAvailability(): { available: true; librdkafka: string } | { available: false; reason: string } {
  const l = load();
  return 'module' in l ? { available: true, librdkafka: l.module.librdkafkaVersion } : { available: false, reason: l.reason };
}

function readPemPath(field: string, file: string): string {
  try {
    readFileSync(file);
  } catch (e) {
    throw new ConfigError(`kafka.security.ssl.${field}`, `cannot read ${file}: ${(e as Error).message}`);
  }
  return file;
}

/**
 * librdkafka properties and kafkaJS options of a security config. librdkafka reads the PEM files
 * itself; they are checked here so a missing one stops start-up naming the field, as with kafkajs.
 */
export function confluentSecurityOptions(security: StreamrecConfig['kafka']['security']): { kafkaJS: Props; props: Props } {
  const kafkaJS: Props = {};
  const props: Props = {};
  if (security.protocol === 'ssl' || security.protocol === 'sasl_ssl') {
    kafkaJS.ssl = true;
    const tls = security.ssl;
    if (tls !== undefined) {
      props['enable.ssl.certificate.verification'] = tls.rejectUnauthorized;
      if (tls.caFile !== undefined) props['ssl.ca.location'] = readPemPath('caFile', tls.caFile);
      if (tls.certFile !== undefined) props['ssl.certificate.location'] = readPemPath('certFile', tls.certFile);
      if (tls.keyFile !== undefined) props['ssl.key.location'] = readPemPath('keyFile', tls.keyFile);
    }
  }
  if (security.sasl !== undefined) {
    const { mechanism, username, password } = security.sasl;
    kafkaJS.sasl = { mechanism, username, password: password.reveal() };
  }
  return { kafkaJS, props };
}

export class ConfluentClient implements KafkaClient {
  readonly kind = 'confluent' as const;
  private readonly m: CkModule;
  private readonly kafka: CkKafka;
  private readonly bootstrap: Props;

  constructor(cfg: Pick<StreamrecConfig, 'kafka'>, clientIdSuffix = '') {
    const l = load();
    if (!('module' in l)) throw new StreamrecError('config', `kafka.client is confluent, but ${l.reason}`);
    this.m = l.module;
    const sec = confluentSecurityOptions(cfg.kafka.security);
    const level = (process.env.KAFKAJS_LOG_LEVEL ?? 'warn').toUpperCase();
    const clientId = cfg.kafka.clientId + clientIdSuffix;
    this.kafka = new this.m.KafkaJS.Kafka({
      kafkaJS: {
        brokers: cfg.kafka.brokers,
        clientId,
        logger: stderrLogger(this.m.KafkaJS.logLevel),
        logLevel: this.m.KafkaJS.logLevel[level] ?? this.m.KafkaJS.logLevel.WARN,
        ...sec.kafkaJS,
      },
      ...sec.props,
    });
    // The same connection settings for the librdkafka-level consumer of readToEnd.
    const sasl = cfg.kafka.security.sasl;
    this.bootstrap = {
      'bootstrap.servers': cfg.kafka.brokers.join(','),
      'client.id': clientId,
      'security.protocol': cfg.kafka.security.protocol,
      ...sec.props,
      ...(sasl ? { 'sasl.mechanisms': sasl.mechanism.toUpperCase(), 'sasl.username': sasl.username, 'sasl.password': sasl.password.reveal() } : {}),
    };
  }

  admin(): ClientAdmin {
    const a = this.kafka.admin();
    return {
      connect: () => a.connect(),
      disconnect: () => a.disconnect(),
      listTopics: () => a.listTopics(),
      createTopics: async (topics) => {
        await a.createTopics({ topics });
        // No waitForLeaders here: wait until the metadata shows a leader for every partition.
        const deadline = Date.now() + 30_000;
        for (;;) {
          const meta = await a.fetchTopicMetadata({ topics: topics.map((t) => t.topic) }).catch(() => []);
          if (meta.length === topics.length && meta.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
          if (Date.now() > deadline) throw new StreamrecError('broker', `topics ${topics.map((t) => t.topic)} have no leaders 30 s after creation`);
          await new Promise((r) => setTimeout(r, 100));
        }
      },
      fetchTopicMetadata: (topics) => a.fetchTopicMetadata({ topics }),
      fetchTopicOffsets: async (topic) => (await a.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high })),
      fetchOffsets: async (groupId, topic) => {
        const [t] = await a.fetchOffsets({ groupId, topics: [topic], requireStableOffsets: true });
        return (t?.partitions ?? []).map((p) => ({ partition: p.partition, offset: String(p.offset) }));
      },
      deleteTopics: (topics) => a.deleteTopics({ topics }),
    };
  }

  producer(o: ClientProducerOptions = {}): ClientProducer {
    const kafkaJS: Props = {
      acks: -1,
      idempotent: o.idempotent ?? o.transactionalId !== undefined,
      allowAutoTopicCreation: o.allowAutoTopicCreation ?? false,
      ...(o.transactionalId === undefined ? {} : { transactionalId: o.transactionalId }),
      ...(o.maxInFlightRequests === undefined ? {} : { maxInFlightRequests: o.maxInFlightRequests }),
      ...(o.transactionTimeoutMs === undefined ? {} : { transactionTimeout: o.transactionTimeoutMs }),
    };
    const props: Props = {
      // sendBatch hands librdkafka the whole batch at once, so it batches without waiting;
      // the default 5 ms linger would only add latency to every awaited send.
      'linger.ms': 0,
      // librdkafka refuses records over 1,000,000 bytes client-side by default, below the 1 MiB dead-letter
      // topic default (and kafkajs has no such cap): the topic's own max.message.bytes is the limit that counts.
      'message.max.bytes': 128 * 1024 * 1024,
      ...(o.retry?.initialRetryTime === undefined ? {} : { 'retry.backoff.ms': o.retry.initialRetryTime }),
      ...(o.retry?.maxRetryTime === undefined ? {} : { 'retry.backoff.max.ms': Math.max(o.retry.maxRetryTime, o.retry.initialRetryTime ?? 100) }),
    };
    return new ConfluentProducer(this.kafka.producer({ kafkaJS, ...props }));
  }

  consumer(o: ClientConsumerOptions): ClientConsumer {
    return new ConfluentConsumer(this.kafka, this.m, o);
  }

  async readToEnd(topic: string, onMessages: (partition: number, messages: KafkaMessage[]) => void, o: ReadToEndOptions = {}): Promise<number> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: Map<number, bigint>;
    try {
      const offsets = await admin.fetchTopicOffsets(topic);
      ends = new Map(offsets.filter((p) => (o.partitions ?? [p.partition]).includes(p.partition) && BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
    } finally {
      await admin.disconnect();
    }
    if (ends.size === 0) return 0;
    // Manual assignment, no group: the group id only satisfies librdkafka, nothing is committed.
    const c = new this.m.KafkaConsumer(
      {
        ...this.bootstrap,
        'group.id': `${topic}-reader-${process.pid}-${Date.now().toString(36)}`,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        'isolation.level': 'read_committed',
        'fetch.wait.max.ms': 50,
        'fetch.max.bytes': 64 * 1024 * 1024,
        'max.partition.fetch.bytes': 8 * 1024 * 1024,
      },
      {},
    );
    await new Promise<void>((resolve, reject) => c.connect({}, (err) => (err ? reject(err) : resolve())));
    let count = 0;
    try {
      c.setDefaultConsumeTimeout(50);
      c.assign([...ends.keys()].map((partition) => ({ topic, partition, offset: OFFSET_BEGINNING })));
      const deadline = Date.now() + (o.timeoutMs ?? 120_000);
      const pending = new Set(ends.keys());
      while (pending.size > 0) {
        if (Date.now() > deadline)
          throw new StreamrecError('broker', `${topic} partitions [${[...pending]}] not read to their end within ${o.timeoutMs ?? 120_000} ms (an open transaction holds them?)`);
        const batch = await new Promise<RdMessage[]>((resolve, reject) => c.consume(10_000, (err, ms) => (err ? reject(err) : resolve(ms))));
        const byPartition = new Map<number, KafkaMessage[]>();
        for (const m of batch) {
          const end = ends.get(m.partition);
          if (end === undefined || BigInt(m.offset) >= end) continue;
          let list = byPartition.get(m.partition);
          if (!list) byPartition.set(m.partition, (list = []));
          list.push(toKafkaMessage(m));
        }
        for (const [partition, list] of byPartition) {
          count += list.length;
          onMessages(partition, list);
        }
        // The position is the offset after the last record consume() returned, transaction markers
        // skipped over: exact, since this consumer has no cache of its own between.
        for (const p of c.position([...pending].map((partition) => ({ topic, partition })))) {
          const end = ends.get(p.partition);
          if (end !== undefined && p.offset !== undefined && p.offset >= 0 && BigInt(p.offset) >= end) pending.delete(p.partition);
        }
      }
    } finally {
      await new Promise<void>((resolve) => c.disconnect(() => resolve()));
    }
    return count;
  }
}

function toKafkaMessage(m: RdMessage): KafkaMessage {
  const headers: IHeaders = {};
  for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = typeof v === 'string' ? Buffer.from(v) : v;
  // A record-batch entry, as kafkajs delivers records of every broker since Kafka 0.11.
  return {
    key: typeof m.key === 'string' ? Buffer.from(m.key) : (m.key ?? null),
    value: m.value,
    timestamp: String(m.timestamp ?? -1),
    attributes: 0,
    offset: String(m.offset),
    headers,
  };
}

class ConfluentProducer implements ClientProducer {
  constructor(private readonly p: CkProducer) {}

  connect(): Promise<void> {
    return this.p.connect();
  }

  disconnect(): Promise<void> {
    return this.p.disconnect();
  }

  async sendBatch(topicMessages: TopicMessages[]): Promise<void> {
    await this.p.sendBatch({ topicMessages });
  }

  async transaction(): Promise<ClientTransaction> {
    const tx = await this.p.transaction();
    return {
      sendBatch: async (topicMessages) => {
        await tx.sendBatch({ topicMessages });
      },
      sendOffsets: (consumer, topics) => {
        if (!(consumer instanceof ConfluentConsumer)) throw new StreamrecError('internal', 'a confluent transaction takes offsets of a confluent consumer');
        return tx.sendOffsets({ consumer: consumer.inner, topics });
      },
      commit: () => tx.commit(),
      abort: () => tx.abort(),
    };
  }
}

class ConfluentConsumer implements ClientConsumer {
  readonly groupId: string;
  readonly inner: CkConsumer;
  /** The assignment held, per topic (kept across incremental rebalances). */
  private readonly assigned = new Map<string, Set<number>>();

  constructor(kafka: CkKafka, m: CkModule, o: ClientConsumerOptions) {
    this.groupId = o.groupId;
    const assignCode = m.CODES.ERRORS.ERR__ASSIGN_PARTITIONS;
    const kafkaJS: Props = {
      groupId: o.groupId,
      fromBeginning: o.fromBeginning ?? true,
      autoCommit: o.autoCommit ?? false,
      readUncommitted: o.readUncommitted ?? false,
      ...(o.sessionTimeoutMs === undefined ? {} : { sessionTimeout: o.sessionTimeoutMs }),
      ...(o.heartbeatIntervalMs === undefined ? {} : { heartbeatInterval: o.heartbeatIntervalMs }),
      ...(o.rebalanceTimeoutMs === undefined ? {} : { rebalanceTimeout: o.rebalanceTimeoutMs }),
      ...(o.maxWaitTimeInMs === undefined ? {} : { maxWaitTimeInMs: o.maxWaitTimeInMs }),
      ...(o.maxBytesPerPartition === undefined ? {} : { maxBytesPerPartition: o.maxBytesPerPartition }),
    };
    this.inner = kafka.consumer({
      kafkaJS,
      ...(o.maxBatchRecords === undefined ? {} : { 'js.consumer.max.batch.size': o.maxBatchRecords }),
      // Called before librdkafka applies the change; returning nothing keeps its default handling.
      rebalance_cb: (err: { code: number }, assignment: { topic: string; partition: number }[]) => {
        if (err.code === assignCode) {
          for (const { topic, partition } of assignment) {
            let set = this.assigned.get(topic);
            if (!set) this.assigned.set(topic, (set = new Set()));
            set.add(partition);
          }
          o.onAssigned?.(Object.fromEntries([...this.assigned].map(([t, ps]) => [t, [...ps].sort((a, b) => a - b)])));
        } else {
          o.onRebalancing?.();
          for (const { topic, partition } of assignment) this.assigned.get(topic)?.delete(partition);
        }
      },
    });
  }

  connect(): Promise<void> {
    return this.inner.connect();
  }

  disconnect(): Promise<void> {
    return this.inner.disconnect();
  }

  subscribe(topics: string[]): Promise<void> {
    return this.inner.subscribe({ topics });
  }

  run(o: ClientRunOptions): Promise<void> {
    // The package checks for the key, not the value: an undefined concurrency would size its worker array NaN.
    return this.inner.run({
      eachBatch: o.eachBatch,
      eachBatchAutoResolve: o.autoResolve ?? true,
      ...(o.partitionsConsumedConcurrently === undefined ? {} : { partitionsConsumedConcurrently: o.partitionsConsumedConcurrently }),
    });
  }

  seek(topic: string, partition: number, offset: string): void {
    this.inner.seek({ topic, partition, offset });
  }

  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    return this.inner.commitOffsets(offsets);
  }
}
