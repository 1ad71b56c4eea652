/**
 * The model-updates topic: one compacted record per promotion, key "model", JSON value
 *   { "version": 3, "vocabularyHash": hex, "weightsHash": hex, "announcedAt": epoch ms }
 * The registry's CURRENT file is the truth on disk; the topic is how every serving process
 * learns that it moved, without polling the filesystem. All records share a key, so compaction
 * keeps the latest and a process that starts later needs only that one.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kafka, KafkaMessage } from 'kafkajs';
import type { ClientConsumer, KafkaClient } from '../kafka/kafka-client.ts';
import { asKafkaClient } from '../kafka/kafkajs-client.ts';
import { z } from 'zod';
import { describeError, StreamrecError } from '../errors/errors.ts';
import { describeIssue } from './schema-issues.ts';

export const MODEL_UPDATE_KEY = 'model';
/** Tries of the start-up offsets lookup, 0.1 s, 0.2 s, … apart (about 4.5 s in all). */
const OFFSETS_ATTEMPTS = 10;

export interface ModelUpdate {
  version: number;
  vocabularyHash: string;
  weightsHash: string;
  announcedAt: number;
}

const hex256 = z.string({ error: 'must be a lowercase hex SHA-256' }).regex(/^[0-9a-f]{64}$/, { error: 'must be a lowercase hex SHA-256' });

/** Unknown fields are dropped, not refused: an older follower keeps working when announcements gain a field. */
export const ModelUpdateSchema = z.object({
  version: z.int({ error: 'must be a positive integer' }).min(1, { error: 'must be a positive integer' }),
  vocabularyHash: hex256,
  weightsHash: hex256,
  announcedAt: z.int({ error: 'must be epoch milliseconds' }).min(0, { error: 'must be epoch milliseconds' }),
}) satisfies z.ZodType<ModelUpdate>;

/** The announcement in a record's value, or why it is not one. */
export function parseModelUpdate(value: Buffer | null): { update: ModelUpdate } | { problem: string } {
  if (value === null) return { problem: 'no value' };
  let raw: unknown;
  try {
    raw = JSON.parse(value.toString('utf8'));
  } catch (e) {
    return { problem: `not valid JSON: ${(e as Error).message}` };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { problem: 'expected a JSON object' };
  const parsed = ModelUpdateSchema.safeParse(raw);
  return parsed.success ? { update: parsed.data } : { problem: describeIssue(parsed.error.issues, raw) };
}

/** Publishes one announcement, acknowledged by all in-sync replicas before it resolves. */
export async function announceModel(kafka: Kafka | KafkaClient, topic: string, update: ModelUpdate): Promise<void> {
  const parsed = ModelUpdateSchema.safeParse(update);
  // A caller bug, not bad input: followers would log and skip it, and nobody would swap.
  if (!parsed.success) throw new StreamrecError('internal', `model update: ${describeIssue(parsed.error.issues, update)}`);
  // Not idempotent: a retried send may announce a version twice, which followers take as a no-op
  // (same version), and the client's bounded retries would void kafkajs's idempotence anyway.
  const producer = asKafkaClient(kafka).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.sendBatch([{ topic, messages: [{ key: MODEL_UPDATE_KEY, value: JSON.stringify(parsed.data) }] }]);
  } finally {
    await producer.disconnect();
  }
}

/**
 * Follows the model-updates topic. Every process reads it whole under a consumer group of its
 * own (a shared group would split the announcements between serving processes) and commits
 * nothing: where it stopped last time does not matter, only the latest announcement does.
 *
 * What was on the topic when start() was called is collapsed to its newest valid announcement
 * (the only one still true); everything announced after that is delivered, in order.
 * Malformed announcements are logged and skipped. onUpdate calls never overlap (kafkajs hands
 * over one message at a time and waits for it); an onUpdate that throws is logged and the
 * follower goes on, so a version that cannot be loaded leaves the process on the model it has.
 */
export class ModelUpdatesFollower {
  private consumer: ClientConsumer | null = null;
  private readonly kafka: KafkaClient;

  constructor(
    kafka: Kafka | KafkaClient,
    private readonly topic: string,
    private readonly log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ) {
    this.kafka = asKafkaClient(kafka);
  }

  async start(onUpdate: (u: ModelUpdate) => Promise<void> | void): Promise<void> {
    if (this.consumer) throw new StreamrecError('internal', `model updates: already following ${this.topic}`);
    const backlog = new BacklogCollapse(await this.backlogEnds());
    const deliver = async (u: ModelUpdate): Promise<void> => {
      try {
        await onUpdate(u);
      } catch (e) {
        this.log(`model updates: version ${u.version} was not taken: ${describeError(e)}`);
      }
    };
    const consumer = this.kafka.consumer({ groupId: `${this.topic}-follower-${hostname()}-${process.pid}-${randomUUID()}`, fromBeginning: true, maxWaitTimeInMs: 100 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe([this.topic]);
    await consumer.run({
      // One partition at a time, one record at a time: updates are delivered in order, never overlapping.
      eachBatch: async ({ batch }) => {
        for (const message of batch.messages) for (const u of backlog.take(batch.partition, message.offset, this.parse(batch.partition, message))) await deliver(u);
      },
    });
  }

  async stop(): Promise<void> {
    const consumer = this.consumer;
    this.consumer = null;
    await consumer?.disconnect();
  }

  private parse(partition: number, message: KafkaMessage): ModelUpdate | null {
    const result = parseModelUpdate(message.value);
    if ('update' in result) return result.update;
    this.log(`model updates: skipped the malformed announcement at ${this.topic}[${partition}]@${message.offset}: ${result.problem}`);
    return null;
  }

  /** Last offset of each partition that holds records now: the end of what start() finds there. */
  private async backlogEnds(): Promise<Map<number, bigint>> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          const offsets = await admin.fetchTopicOffsets(this.topic);
          return new Map(offsets.filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high) - 1n]));
        } catch (e) {
          // A topic created a moment ago (ensureTopics just before) answers NOT_LEADER until its
          // leader is elected; kafkajs's admin does not retry list-offsets on that by itself.
          if (!(e as { retriable?: boolean }).retriable || attempt >= OFFSETS_ATTEMPTS) throw e;
          await new Promise((r) => setTimeout(r, 100 * attempt));
        }
      }
    } finally {
      await admin.disconnect();
    }
  }
}

/**
 * Per partition: records up to the backlog's last offset are remembered, not delivered, and the
 * newest valid one is released when that offset is reached (or passed, should the last record
 * never arrive); later records pass straight through.
 */
export class BacklogCollapse {
  private readonly newest = new Map<number, ModelUpdate>();

  constructor(private readonly ends: Map<number, bigint>) {}

  take(partition: number, offset: string, update: ModelUpdate | null): ModelUpdate[] {
    const end = this.ends.get(partition);
    if (end === undefined) return update ? [update] : [];
    const at = BigInt(offset);
    if (update && at <= end) this.newest.set(partition, update);
    if (at < end) return [];
    this.ends.delete(partition);
    const held = this.newest.get(partition);
    this.newest.delete(partition);
    if (at === end) return held ? [held] : [];
    return [...(held ? [held] : []), ...(update ? [update] : [])];
  }
}
