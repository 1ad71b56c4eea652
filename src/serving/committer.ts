import { FencedError } from '../errors/errors.ts';
import type { TopicMessages, TopicOffsets } from 'kafkajs';
import type { ClientConsumer, ClientProducer, ClientTransaction } from '../kafka/kafka-client.ts';

/**
 * Where a commit span's outputs go and how they become durable together with its input offsets
 * (src/serving/commit-span.ts). One span at a time: `begin`, any number of `send`s (one at a
 * time, in order), then `commit` or `abort`. `check` runs after everything is sent and right
 * before the commit point; throwing there abandons the span (the caller then calls `abort`).
 */
export interface Committer {
  begin(): Promise<void>;
  /** Outputs of one micro-batch, sent as soon as it is scored. */
  send(messages: TopicMessages[]): Promise<void>;
  /** The span's last writes (its changelog), its offsets, `check`, then the commit point. */
  commit(messages: TopicMessages[], offsets: TopicOffsets[], check: () => void): Promise<void>;
  /** Abandons the open span (exactly-once: nothing of it becomes visible). Throws FencedError when that fails. */
  abort(cause: unknown): Promise<void>;
}

/** Exactly-once: outputs, changelog and offsets of a span in one Kafka transaction (consume-transform-produce). */
export class TransactionalCommitter implements Committer {
  private tx: ClientTransaction | null = null;

  constructor(
    private readonly producer: ClientProducer,
    /** Whose group the offsets are committed for (with confluent, its group metadata fences a zombie: KIP-447). */
    private readonly consumer: ClientConsumer,
  ) {}

  async begin(): Promise<void> {
    this.tx = await this.producer.transaction();
  }

  async send(messages: TopicMessages[]): Promise<void> {
    const tx = this.open();
    for (const round of sendRounds(messages)) await tx.sendBatch(round);
  }

  async commit(messages: TopicMessages[], offsets: TopicOffsets[], check: () => void): Promise<void> {
    const tx = this.open();
    await this.send(messages);
    await tx.sendOffsets(this.consumer, offsets);
    check();
    await tx.commit();
    this.tx = null;
  }

  async abort(cause: unknown): Promise<void> {
    const tx = this.tx;
    this.tx = null;
    if (!tx) return;
    // An abort that fails leaves the producer unusable: only a new producer (a restarted
    // process, which fences this transactional id) can write again.
    await tx.abort().catch((abortError: Error) => {
      throw new FencedError(`transaction abort failed after "${(cause as Error)?.message ?? String(cause)}": ${abortError.message}`, { cause });
    });
  }

  private open(): ClientTransaction {
    if (!this.tx) throw new Error('no transaction is open (begin() did not run or failed)');
    return this.tx;
  }
}

/**
 * At-least-once: every batch's outputs are produced with acks=all as soon as it is scored; the
 * span's offsets are committed after all of them (a crash in between repeats the tail).
 */
export class AtLeastOnceCommitter implements Committer {
  constructor(
    private readonly producer: ClientProducer,
    private readonly consumer: ClientConsumer,
  ) {}

  async begin(): Promise<void> {}

  async send(messages: TopicMessages[]): Promise<void> {
    for (const round of sendRounds(messages)) await this.producer.sendBatch(round);
  }

  async commit(messages: TopicMessages[], offsets: TopicOffsets[], check: () => void): Promise<void> {
    await this.send(messages);
    check();
    await this.consumer.commitOffsets(offsets.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p }))));
  }

  /** What was produced stays (at-least-once); the offsets are not committed, so it is served again. */
  async abort(): Promise<void> {}
}

/**
 * kafkajs merges every entry for one topic-partition of a sendBatch into one record batch, and
 * the broker checks max.message.bytes against the whole batch: entries for the same topic (dead
 * letters packed to fit the limit) go out in separate requests, everything else in the first.
 */
export function sendRounds(messages: TopicMessages[]): TopicMessages[][] {
  const rounds: TopicMessages[][] = [];
  for (const m of messages) {
    let round = rounds.find((r) => !r.some((x) => x.topic === m.topic));
    if (!round) rounds.push((round = []));
    round.push(m);
  }
  return rounds;
}
