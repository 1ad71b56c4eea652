import type { KafkaClient } from '../kafka/kafka-client.ts';
import type { RestoreCounts, StatefulRecommender } from './recommender.ts';

/**
 * Restores the session state of partitions from the compacted changelog topic. The state there
 * was committed in the same transactions as the consumer offsets, so it is exactly the state after
 * the last committed input. A partition is served only once its restore has finished.
 */
export class StateRestorer {
  private readonly pending = new Map<number, Promise<void>>();
  /** Partitions whose last restore failed: not served until restored again. */
  private readonly failedPartitions = new Map<number, Error>();

  constructor(
    private readonly kafka: KafkaClient,
    private readonly topic: string,
    private readonly recommender: StatefulRecommender,
    private readonly hooks: {
      /** Runs right before the changelog is read (e.g. to note the committed offsets the state will match). */
      beforeRead?(partitions: number[]): Promise<void>;
      restored(partitions: number[], counts: RestoreCounts, reencoded: number, ms: number): void;
      /** The restore failed: the partitions must not be served until they are restored again. */
      failed(partitions: number[], error: Error): void;
    },
  ) {}

  /**
   * Restores these partitions, after `gate` (e.g. the in-flight batch finishing). The partitions
   * count as restoring from this call on, so a fetch that arrives before the gate opens waits.
   * Whatever state the store still holds for them is dropped first.
   */
  restore(partitions: number[], gate: Promise<void> = Promise.resolve()): void {
    if (partitions.length === 0) return;
    for (const p of partitions) this.failedPartitions.delete(p);
    let started = 0;
    let reencoded = 0;
    const counts: RestoreCounts = { restored: 0, reencodeNeeded: 0, dropped: 0, deleted: 0, invalid: 0 };
    let applied: Promise<void> = Promise.resolve();
    const job = gate
      .then(async () => {
        started = performance.now();
        await this.hooks.beforeRead?.(partitions);
        this.recommender.partitionsRevoked(partitions);
        return this.kafka.readToEnd(
          this.topic,
          (partition, messages) => {
            const batch = messages.map((m) => ({ key: m.key, value: m.value, partition }));
            // Applied in fetch order, each between two serving batches (the recommender serialises).
            applied = applied.then(async () => addCounts(counts, await this.recommender.restorePartition(batch)));
          },
          { partitions },
        );
      })
      .then(() => applied)
      .then(async () => {
        reencoded = (await this.recommender.completeRestore?.()) ?? 0;
      })
      .then(
        () => {
          for (const p of partitions) if (this.pending.get(p) === job) this.pending.delete(p);
          this.hooks.restored(partitions, counts, reencoded, performance.now() - started);
        },
        (e: Error) => {
          for (const p of partitions) {
            if (this.pending.get(p) === job) this.pending.delete(p);
            this.failedPartitions.set(p, e);
          }
          this.hooks.failed(partitions, e);
          throw e;
        },
      );
    // Partitions without traffic never await their restore; its failure is reported above.
    job.catch(() => undefined);
    for (const p of partitions) this.pending.set(p, job);
  }

  /** Resolves when the partition's restore (if any) is done; rejects if it failed. */
  async ready(partition: number): Promise<void> {
    await this.pending.get(partition);
    const failed = this.failedPartitions.get(partition);
    if (failed) throw new Error(`partition ${partition}: session state not restored (${failed.message})`, { cause: failed });
  }

  get restoring(): number {
    return this.pending.size;
  }
}

function addCounts(into: RestoreCounts, c: RestoreCounts): void {
  into.restored += c.restored;
  into.reencodeNeeded += c.reencodeNeeded;
  into.dropped += c.dropped;
  into.deleted += c.deleted;
  into.invalid += c.invalid;
}
