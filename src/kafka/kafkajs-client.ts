import type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { StreamrecConfig } from '../config/config.ts';
import { createKafka, kafkajsAdmin } from './client.ts';
import type {
  ClientAdmin,
  ClientConsumer,
  ClientConsumerOptions,
  ClientProducer,
  ClientProducerOptions,
  ClientRunOptions,
  ClientTransaction,
  KafkaClient,
  ReadToEndOptions,
} from './kafka-client.ts';
import { readTopicToEnd } from './read-to-end.ts';

/** The seam over kafkajs: mostly a pass-through, since the seam keeps kafkajs' record shapes. */
export class KafkajsClient implements KafkaClient {
  readonly kind = 'kafkajs' as const;
  /** The kafkajs instance, for code that still uses kafkajs directly. */
  readonly kafka: Kafka;

  /** From a topology's kafka section, or around a kafkajs instance made elsewhere (benchmarks, tests). */
  constructor(cfg: Pick<StreamrecConfig, 'kafka'> | Kafka, clientIdSuffix = '') {
    this.kafka = 'kafka' in cfg ? createKafka(cfg, clientIdSuffix) : cfg;
  }

  admin(): ClientAdmin {
    return kafkajsAdmin(this.kafka.admin());
  }

  producer(o: ClientProducerOptions = {}): ClientProducer {
    const p = this.kafka.producer({
      transactionalId: o.transactionalId,
      idempotent: o.idempotent ?? o.transactionalId !== undefined,
      maxInFlightRequests: o.maxInFlightRequests,
      transactionTimeout: o.transactionTimeoutMs,
      retry: o.retry,
      allowAutoTopicCreation: o.allowAutoTopicCreation ?? false,
    });
    return new KafkajsProducer(p);
  }

  consumer(o: ClientConsumerOptions): ClientConsumer {
    return new KafkajsConsumer(this.kafka, o);
  }

  readToEnd(topic: string, onMessages: (partition: number, messages: KafkaMessage[]) => void, o?: ReadToEndOptions): Promise<number> {
    return readTopicToEnd(this.kafka, topic, onMessages, o);
  }
}

class KafkajsProducer implements ClientProducer {
  constructor(private readonly p: Producer) {}

  connect(): Promise<void> {
    return this.p.connect();
  }

  disconnect(): Promise<void> {
    return this.p.disconnect();
  }

  async sendBatch(topicMessages: Parameters<ClientProducer['sendBatch']>[0]): Promise<void> {
    await this.p.sendBatch({ topicMessages, acks: -1 });
  }

  async transaction(): Promise<ClientTransaction> {
    const tx = await this.p.transaction();
    return {
      sendBatch: async (topicMessages) => {
        await tx.sendBatch({ topicMessages, acks: -1 });
      },
      // KIP-98 only: kafkajs cannot send group metadata, so the coordinator checks the group id, not the generation.
      sendOffsets: (consumer, topics) => tx.sendOffsets({ consumerGroupId: consumer.groupId, topics }),
      commit: () => tx.commit(),
      abort: () => tx.abort(),
    };
  }
}

class KafkajsConsumer implements ClientConsumer {
  readonly groupId: string;
  private readonly c: Consumer;
  private readonly fromBeginning: boolean;
  private readonly autoCommit: boolean;

  constructor(kafka: Kafka, o: ClientConsumerOptions) {
    this.groupId = o.groupId;
    this.autoCommit = o.autoCommit ?? false;
    this.fromBeginning = o.fromBeginning ?? true;
    const c = kafka.consumer({
      groupId: o.groupId,
      readUncommitted: o.readUncommitted ?? false,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: o.heartbeatIntervalMs,
      rebalanceTimeout: o.rebalanceTimeoutMs,
      maxWaitTimeInMs: o.maxWaitTimeInMs,
      maxBytesPerPartition: o.maxBytesPerPartition,
    });
    this.c = c;
    if (o.onAssigned) {
      const onAssigned = o.onAssigned;
      c.on(c.events.GROUP_JOIN, (e) => onAssigned(e.payload.memberAssignment));
    }
    if (o.onRebalancing) {
      const onRebalancing = o.onRebalancing;
      c.on(c.events.REBALANCING, () => onRebalancing());
    }
    if (o.onCrash) {
      const onCrash = o.onCrash;
      // A crash kafkajs restarts from (retriable errors) is not the end of the consumer.
      c.on(c.events.CRASH, (e) => {
        if (!e.payload.restart) onCrash(e.payload.error);
      });
    }
  }

  connect(): Promise<void> {
    return this.c.connect();
  }

  disconnect(): Promise<void> {
    return this.c.disconnect();
  }

  subscribe(topics: string[]): Promise<void> {
    return this.c.subscribe({ topics, fromBeginning: this.fromBeginning });
  }

  run(o: ClientRunOptions): Promise<void> {
    return this.c.run({
      autoCommit: this.autoCommit,
      eachBatchAutoResolve: o.autoResolve ?? true,
      partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
      eachBatch: ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => o.eachBatch({ batch, resolveOffset, heartbeat, isRunning, isStale }),
    });
  }

  seek(topic: string, partition: number, offset: string): void {
    this.c.seek({ topic, partition, offset });
  }

  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    return this.c.commitOffsets(offsets);
  }
}

/** The seam over what a caller holds: a seam client as it is, a kafkajs instance wrapped. */
export function asKafkaClient(k: Kafka | KafkaClient): KafkaClient {
  return 'kind' in k ? k : new KafkajsClient(k);
}
