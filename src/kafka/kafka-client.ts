/**
 * The one Kafka client seam streamrec uses: admin, (transactional) producer and consumer group.
 * Two implementations sit behind it, chosen by `kafka.client`: kafkajs (pure JavaScript) and
 * @confluentinc/kafka-javascript (librdkafka). Records and offsets keep kafkajs' shapes
 * (KafkaMessage, TopicMessages, TopicOffsets), which the confluent client's KafkaJS-compatible
 * API also uses; what differs between the two libraries is hidden here:
 *  - client configuration (kafkajs options vs librdkafka properties),
 *  - group events (kafkajs GROUP_JOIN / REBALANCING / CRASH vs librdkafka rebalance callbacks):
 *    exposed as the `onAssigned` / `onRebalancing` / `onCrash` hooks of a consumer,
 *  - transactional offsets: kafkajs sends them by group id (KIP-98: the coordinator cannot tell a
 *    zombie member from a live one); confluent sends the consumer's group metadata (KIP-447: an
 *    offset commit from an older group generation is refused, so a zombie is fenced),
 *  - per-send acks (confluent sets them per producer: every producer here uses acks=all),
 *  - heartbeats (kafkajs heartbeats only when asked; librdkafka in its own thread, a no-op here).
 */
import type { ITopicConfig, ITopicMetadata, KafkaMessage, TopicMessages, TopicOffsets } from 'kafkajs';

export type KafkaClientKind = 'kafkajs' | 'confluent';

export interface KafkaClient {
  readonly kind: KafkaClientKind;
  admin(): ClientAdmin;
  producer(o?: ClientProducerOptions): ClientProducer;
  consumer(o: ClientConsumerOptions): ClientConsumer;
  /**
   * Reads partitions of a topic from their beginning up to the end they had when the call
   * started, read_committed, handing records over in offset order per partition; resolves with
   * how many were read. A partition whose log ends in a transaction marker still counts as read
   * to its end. kafkajs has no manual assignment (a throwaway group subscribes); confluent
   * assigns the partitions directly and stops at librdkafka's exact position.
   */
  readToEnd(topic: string, onMessages: (partition: number, messages: KafkaMessage[]) => void, o?: ReadToEndOptions): Promise<number>;
}

export interface ReadToEndOptions {
  /** Only these partitions (the default: all). */
  partitions?: readonly number[];
  /** Fails when not at the end by then (an open transaction holds a partition?); 120 s by default. */
  timeoutMs?: number;
}

/** The admin calls streamrec makes (topic set-up, offsets for restore and lag). */
export interface ClientAdmin {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Resolves once the topics exist (with their leaders, where the client can wait for them). */
  createTopics(topics: ITopicConfig[]): Promise<void>;
  fetchTopicMetadata(topics: string[]): Promise<ITopicMetadata[]>;
  /** Per partition, the low and high watermark (high: the offset the next record will get). */
  fetchTopicOffsets(topic: string): Promise<{ partition: number; low: string; high: string }[]>;
  /** The group's committed offsets of one topic ('-1': none), read_committed as the broker has them. */
  fetchOffsets(groupId: string, topic: string): Promise<{ partition: number; offset: string }[]>;
  deleteTopics(topics: string[]): Promise<void>;
}

export interface ClientProducerOptions {
  /** Makes the producer transactional (and idempotent); a new instance with the same id fences the old one. */
  transactionalId?: string;
  idempotent?: boolean;
  maxInFlightRequests?: number;
  transactionTimeoutMs?: number;
  /** Retries of retriable send errors (kafkajs' retry options; librdkafka's retry.backoff.ms / max.ms). */
  retry?: { initialRetryTime?: number; maxRetryTime?: number; retries?: number };
  allowAutoTopicCreation?: boolean;
}

/** Every send waits for all in-sync replicas (acks=all). */
export interface ClientProducer {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(topicMessages: TopicMessages[]): Promise<void>;
  /** Only on a transactional producer; one transaction at a time. */
  transaction(): Promise<ClientTransaction>;
}

export interface ClientTransaction {
  sendBatch(topicMessages: TopicMessages[]): Promise<void>;
  /**
   * Commits `consumer`'s group offsets with this transaction. kafkajs sends the group id only;
   * confluent sends the consumer's group metadata (generation, member id), so the coordinator
   * refuses it from a member that was rebalanced away (KIP-447).
   */
  sendOffsets(consumer: ClientConsumer, offsets: TopicOffsets[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** Group events, the same for both clients. */
export interface GroupHooks {
  /** After every (re)balance: the whole assignment now held, per subscribed topic. */
  onAssigned?(assignment: Record<string, number[]>): void;
  /** A rebalance began (partitions may be revoked): nothing may commit on the old assignment. */
  onRebalancing?(): void;
  /** The consumer stopped for good and will not restart by itself. */
  onCrash?(error: Error): void;
}

export interface ClientConsumerOptions extends GroupHooks {
  groupId: string;
  /** false (the default): read_committed, records of open or aborted transactions are never delivered. */
  readUncommitted?: boolean;
  /** Where a partition without a committed offset starts (the default: its beginning). */
  fromBeginning?: boolean;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  rebalanceTimeoutMs?: number;
  /** How long the broker may hold an idle fetch. */
  maxWaitTimeInMs?: number;
  maxBytesPerPartition?: number;
  /**
   * The most records one eachBatch call gets. kafkajs hands over what one fetch returned for a
   * partition (its bytes bound it, not this); librdkafka builds batches client-side from its
   * queue, 32 records by default, so confluent needs this raised to batch like kafkajs.
   */
  maxBatchRecords?: number;
  /** Commit resolved offsets periodically in the background (the default: false, offsets are committed explicitly). */
  autoCommit?: boolean;
}

export interface ClientBatch {
  topic: string;
  partition: number;
  /** For read_committed consumers, the last stable offset as the fetch saw it. */
  highWatermark: string;
  messages: KafkaMessage[];
}

export interface EachBatchPayload {
  batch: ClientBatch;
  /** Marks records up to this offset consumed; what is left unresolved is fetched again. */
  resolveOffset(offset: string): void;
  /** Keeps the group membership alive during long work (kafkajs); a no-op with confluent. */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** The batch predates a seek or a rebalance: stop processing it. */
  isStale(): boolean;
}

export interface ClientRunOptions {
  eachBatch(payload: EachBatchPayload): Promise<void>;
  partitionsConsumedConcurrently?: number;
  /** Resolve the whole batch when eachBatch returns (the default: true). */
  autoResolve?: boolean;
}

/** A consumer-group member. */
export interface ClientConsumer {
  readonly groupId: string;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(topics: string[]): Promise<void>;
  /** Starts the fetch loop and resolves once it runs. */
  run(o: ClientRunOptions): Promise<void>;
  /** The next fetch of the partition starts at `offset`. */
  seek(topic: string, partition: number, offset: string): void;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
}
