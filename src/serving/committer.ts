import { FencedError } from '../errors/errors.ts';
import type { Consumer, Producer, TopicMessages, TopicOffsets } from 'kafkajs';

/**
 * The last step of a micro-batch: make its outputs and its input offsets durable together.
 * `check` runs after everything is sent and right before the commit point; throwing there
 * abandons the batch (exactly-once: the transaction is aborted, so nothing of it is visible).
 */
export interface Committer {
  commit(messages: TopicMessages[], offsets: TopicOffsets[], check: () => void): Promise<void>;
}

/** Exactly-once: outputs, changelog and offsets in one Kafka transaction (consume-transform-produce). */
export class TransactionalCommitter implements Committer {
  constructor(
    private readonly producer: Producer,
    private readonly groupId: string,
  ) {}

  async commit(messages: TopicMessages[], offsets: TopicOffsets[], check: () => void): Promise<void> {
    const tx = await this.producer.transaction();
    try {
      for (const round of sendRounds(messages)) await tx.sendBatch({ topicMessages: round, acks: -1 });
      await tx.sendOffsets({ consumerGroupId: this.groupId, topics: offsets });
      check();
      await tx.commit();
    } catch (e) {
      // An abort that fails leaves the producer unusable: only a new producer (a restarted
      // process, which fences this transactional id) can write again.
      await tx.abort().catch((abortError: Error) => {
        throw new FencedError(`transaction abort failed after "${(e as Error).message}": ${abortError.message}`, { cause: e });
      });
      throw e;
    }
  }
}

/** At-least-once: produce with acks=all, then commit the offsets; a crash between them repeats the tail. */
export class AtLeastOnceCommitter implements Committer {
  constructor(
    private readonly producer: Producer,
    private readonly consumer: Consumer,
  ) {}

  async commit(messages: TopicMessages[], offsets: TopicOffsets[], check: () => void): Promise<void> {
    for (const round of sendRounds(messages)) await this.producer.sendBatch({ topicMessages: round, acks: -1 });
    check();
    await this.consumer.commitOffsets(offsets.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p }))));
  }
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
