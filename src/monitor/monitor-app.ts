/**
 * `streamrec monitor`: a standalone consumer of the clicks, recommendations and dead-letter
 * topics that measures the prequential quality of whatever recommender writes the
 * recommendations topic, with the definitions serving uses for its own metric (see
 * prequential-join.ts). It writes nothing to Kafka.
 *
 * One kafkajs consumer in its own group (groups.monitor) reads all three topics with
 * read_committed isolation, so records of aborted transactions never count; a new group starts
 * at the beginning of the topics. Its offsets are committed as it goes; what it holds in memory
 * (waiting clicks, sessions' latest lists) is not, so after a restart the first click of each
 * open session is not a target, exactly as after a serving restart. Records read again (after a
 * rebalance) are skipped by offset.
 */
import type { Kafka } from 'kafkajs';
import type { StreamrecConfig } from '../config/config.ts';
import { BrokerUnavailableError, StreamrecError } from '../errors/errors.ts';
import { type Codecs, makeCodecs } from '../ingest/codec.ts';
import { createKafkaClient } from '../kafka/create-client.ts';
import type { ClientConsumer, KafkaClient } from '../kafka/kafka-client.ts';
import { asKafkaClient } from '../kafka/kafkajs-client.ts';
import { OnlineQuality } from '../metrics/online-quality.ts';
import { type MonitorHealth, MonitorReadiness } from './monitor-health.ts';
import { type MonitorOptions, resolveMonitorOptions } from './monitor-options.ts';
import { MonitorRecords } from './monitor-records.ts';
import { type PrequentialSink, PrequentialJoin } from './prequential-join.ts';

export interface MonitorAppOptions {
  config: StreamrecConfig;
  /** Where the joined stream goes; an OnlineQuality built from the config by default. */
  quality?: OnlineQuality;
  log?: (line: string) => void;
  /** Wall clock (ms); the join's idle-partition window and the tests use it. */
  now?: () => number;
  /** How often partitions without answers are checked for clicks past the window (ms). */
  advanceEveryMs?: number;
  kafka?: Kafka | KafkaClient;
}

export class MonitorApp {
  readonly options: MonitorOptions;
  readonly quality: OnlineQuality;
  readonly join: PrequentialJoin;
  readonly records: MonitorRecords;
  private readonly kafka: KafkaClient;
  private readonly codecs: Codecs;
  private readonly now: () => number;
  private readonly log: (line: string) => void;
  private readiness: MonitorReadiness | null = null;
  private consumer: ClientConsumer | null = null;
  private ticker: NodeJS.Timeout | null = null;
  /** Next offset to read per topic and partition: a record below it is a re-delivery. */
  private readonly positions = new Map<string, number[]>();
  private stopping = false;
  private fail: (e: Error) => void = () => undefined;
  /** Settles when the consumer stops for good (it will not restart): the process should exit. */
  readonly fatal: Promise<Error> = new Promise((resolve) => (this.fail = resolve));

  constructor(private readonly o: MonitorAppOptions) {
    this.options = resolveMonitorOptions(o.config);
    this.quality = o.quality ?? new OnlineQuality(this.options.quality);
    this.join = new PrequentialJoin(this.quality satisfies PrequentialSink, this.options.join);
    this.codecs = makeCodecs(o.config.wireFormat);
    this.records = new MonitorRecords(this.join, this.codecs, this.options.topics.clicks, this.options.ingest);
    this.kafka = o.kafka ? asKafkaClient(o.kafka) : createKafkaClient(o.config, '-monitor');
    this.now = o.now ?? Date.now;
    this.log = o.log ?? ((line) => process.stderr.write(`monitor: ${line}\n`));
  }

  health(): MonitorHealth {
    return this.readiness?.health() ?? { alive: true, ready: false, reason: 'starting: reading the topics’ metadata' };
  }

  /** Connects, checks the topics exist and starts consuming; resolves once the consumer runs. */
  async start(): Promise<void> {
    try {
      await this.startConsumer();
    } catch (e) {
      if (e instanceof StreamrecError) throw e;
      throw new BrokerUnavailableError(`cannot start consuming from ${this.o.config.kafka.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
    }
    this.ticker = setInterval(() => this.join.advance(this.now()), this.o.advanceEveryMs ?? 1000);
    this.ticker.unref();
    const t = this.options.topics;
    this.log(`group ${this.options.groupId} reading ${t.clicks}, ${t.recommendations}, ${t.deadLetter} (read_committed); join window ${this.options.join.windowMs} ms`);
  }

  private async startConsumer(): Promise<void> {
    const t = this.options.topics;
    const topics = [t.clicks, t.recommendations, t.deadLetter];
    this.readiness = new MonitorReadiness(await this.partitionCounts(topics));
    const readiness = this.readiness;
    const consumer = this.kafka.consumer({
      groupId: this.options.groupId,
      readUncommitted: false,
      fromBeginning: true,
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 1024 * 1024,
      maxBatchRecords: 1024,
      // The group's committed position is where a restarted monitor resumes.
      autoCommit: true,
      onAssigned: (assignment) => readiness.joined(assignment),
      onRebalancing: () => readiness.rebalancing(),
      onCrash: (e) => {
        if (this.stopping) return;
        readiness.failed(e.message);
        this.fail(new BrokerUnavailableError(`monitor consumer stopped: ${e.message}`, { cause: e }));
      },
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe(topics);
    await consumer.run({
      autoResolve: false,
      eachBatch: async ({ batch, resolveOffset, isRunning, isStale }) => {
        const now = this.now();
        const { topic, partition } = batch;
        const position = this.positionsOf(topic);
        for (const m of batch.messages) {
          if (!isRunning() || isStale()) return;
          const offset = Number(m.offset);
          if (offset < (position[partition] ?? 0)) continue;
          position[partition] = offset + 1;
          if (topic === t.clicks) this.records.click(partition, m, now);
          else if (topic === t.recommendations) this.records.recommendation(m, now);
          else this.records.deadLetter(m, now);
          resolveOffset(m.offset);
        }
      },
    });
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.readiness?.stopped();
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.disconnect();
  }

  private positionsOf(topic: string): number[] {
    let p = this.positions.get(topic);
    if (p === undefined) {
      p = [];
      this.positions.set(topic, p);
    }
    return p;
  }

  /** Partition count of each topic; a topic that does not exist (yet) stops the start, to be retried. */
  private async partitionCounts(topics: string[]): Promise<Map<string, number>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const existing = new Set(await admin.listTopics());
      const absent = topics.filter((topic) => !existing.has(topic));
      if (absent.length > 0) throw new BrokerUnavailableError(`topic ${absent.join(', ')} does not exist (serving creates the topology's topics)`);
      const meta = await admin.fetchTopicMetadata(topics);
      return new Map(meta.map((m) => [m.name, m.partitions.length]));
    } finally {
      await admin.disconnect();
    }
  }
}
