import type { Kafka, KafkaMessage } from 'kafkajs';
import type { ClientConsumer, KafkaClient } from './kafka-client.ts';
import { asKafkaClient } from './kafkajs-client.ts';

/** Where the probe's samples go (a LatencyHistogram from src/metrics satisfies it). */
export interface LatencySink {
  record(ms: number): void;
}

export interface VisibleLatencyProbeOptions {
  kafka: Kafka | KafkaClient;
  /** The output topic a downstream consumer reads (serving's recommendations). */
  topic: string;
  /**
   * When the input this record answers was appended to its topic (epoch ms), read from the
   * record; NaN for a record that carries none (it is counted as skipped, not sampled).
   */
  sourceAppendedAt: (message: KafkaMessage) => number;
  sink: LatencySink;
  /** Defaults to a fresh group of its own, so the probe takes no partitions from anyone. */
  groupId?: string;
  now?: () => number;
}

/**
 * End-to-end latency as a downstream reader sees it: a read_committed consumer of an output
 * topic records, per record, (time the fetch delivered it) − (time its source click was
 * appended). Under exactly-once, output becomes readable only when its transaction commits, so
 * this includes the commit; the latency serving reports stops at the produce call.
 *
 * It runs beside serving (a bench, a test, an operator's check), never in serving's path. It
 * reads from the beginning of the topic: start it before the traffic it should measure, or
 * reset the sink once `records` has covered a warm-up.
 */
export class VisibleLatencyProbe {
  /** Records that produced a sample. */
  records = 0;
  /** Records without a source time. */
  skipped = 0;
  private consumer: ClientConsumer | null = null;

  constructor(private readonly o: VisibleLatencyProbeOptions) {}

  /** Resolves once the probe's consumer joined its group (fetching starts right after). */
  async start(): Promise<void> {
    const now = this.o.now ?? Date.now;
    let onJoined!: () => void;
    const joined = new Promise<void>((resolve) => (onJoined = resolve));
    const consumer = asKafkaClient(this.o.kafka).consumer({
      groupId: this.o.groupId ?? `${this.o.topic}-visible-latency-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`,
      readUncommitted: false,
      fromBeginning: true,
      onAssigned: () => onJoined(),
      // The broker answers a fetch as soon as committed data is there (min bytes 1): the wait
      // bounds only how long an idle fetch is held, not when data arrives.
      maxWaitTimeInMs: 100,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe([this.o.topic]);
    await consumer.run({
      eachBatch: async ({ batch }) => {
        // One clock reading per fetched batch: every record in it became visible to us together.
        const visibleAt = now();
        for (const m of batch.messages) {
          const appendedAt = this.o.sourceAppendedAt(m);
          if (!Number.isFinite(appendedAt)) {
            this.skipped++;
            continue;
          }
          this.o.sink.record(visibleAt - appendedAt);
          this.records++;
        }
      },
    });
    await joined;
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = null;
    await c?.disconnect();
  }
}
