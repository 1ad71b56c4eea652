/**
 * A commit span: the micro-batches whose outputs and input offsets become durable together, in
 * one Kafka transaction (exactly-once) or one offset commit after their sends (at-least-once).
 * It opens with its first batch and commits once it is old enough, holds enough records, or no
 * input is waiting (the serving loop decides, with `due`); until then every batch's outputs are
 * sent into it as soon as the batch is scored. What it collects is what its commit and its abort
 * need: the partitions every batch touched (an abort rolls all of them back), per partition the
 * first offset it holds (where the consumer fetches again after an abort) and the next offset
 * (what the commit records), the record count, and the batches' events, told only once the span
 * has committed so that every subscriber counts each record exactly once.
 *
 * Sends are chained: each starts when the one before has finished, in the order the batches were
 * scored, so one idempotent producer keeps per-partition order, while the caller goes on to step
 * the next batch (the pipelining: the engine works while the broker acknowledges).
 */
import { BatchLifecycle } from './batch-lifecycle.ts';
import type { MembershipTicket } from './group-membership.ts';

export interface SpanLimits {
  /** Commit once the span is this old (ms); 0: after every batch. */
  intervalMs: number;
  /** Commit once the span holds this many input records. */
  maxRecords: number;
}

export class CommitSpan<B = unknown> {
  readonly lifecycle: BatchLifecycle;
  /** Input records (valid and dead-lettered) of its batches. */
  records = 0;
  /** What each batch will tell once the span commits, in batch order. */
  readonly batches: B[] = [];
  private readonly first = new Map<number, bigint>();
  private readonly next = new Map<number, bigint>();
  private sending: Promise<void> = Promise.resolve();
  private sendFailure: { error: unknown } | null = null;
  private settle!: { resolve: () => void; reject: (e: unknown) => void };
  /**
   * Resolves when the span commits, rejects (with the abort's cause) when it aborts: a fetch
   * whose records are in the span waits for this before the consumer may move past them.
   */
  readonly settled: Promise<void>;

  constructor(
    /** The group generation the span opened in: it commits only in that generation. */
    readonly ticket: MembershipTicket,
    /** performance.now() at its first batch. */
    readonly openedAt: number,
    /** Undoes the in-memory effects of every batch of the span on these partitions (runs once, on abort). */
    rollback: (partitions: number[], cause: unknown) => Promise<void> | void,
  ) {
    this.lifecycle = new BatchLifecycle((cause) => rollback(this.partitions, cause));
    this.settled = new Promise<void>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // A span nobody waits on (every fetch of it already failed) must not be an unhandled rejection.
    this.settled.catch(() => undefined);
  }

  /**
   * Takes a chunk of one partition (offsets `firstOffset`..`lastOffset`, ascending), before its
   * batch's engine step: from then on an abort rolls the partition back.
   */
  addChunk(partition: number, firstOffset: string, lastOffset: string, records: number): void {
    const first = BigInt(firstOffset);
    const next = BigInt(lastOffset) + 1n;
    const f = this.first.get(partition);
    if (f === undefined || first < f) this.first.set(partition, first);
    const n = this.next.get(partition);
    if (n === undefined || next > n) this.next.set(partition, next);
    this.records += records;
  }

  /** Partitions any of its batches holds records of. */
  get partitions(): number[] {
    return [...this.first.keys()];
  }

  /** The first offset of `partition` in the span (where it is fetched again after an abort). */
  firstOffset(partition: number): string | undefined {
    return this.first.get(partition)?.toString();
  }

  /** Per partition, the next offset to consume once the span has committed. */
  nextOffsets(): Array<{ partition: number; offset: string }> {
    return [...this.next].map(([partition, o]) => ({ partition, offset: o.toString() }));
  }

  /**
   * Queues a send behind the earlier ones without waiting for it. After a failure the later
   * sends are skipped (the span will abort); `flush` reports the failure.
   */
  send(task: () => Promise<void>): void {
    this.sending = this.sending
      .then(() => (this.sendFailure ? undefined : task()))
      .catch((error: unknown) => {
        this.sendFailure ??= { error };
      });
  }

  /** Waits for every queued send; throws the first one's failure. */
  async flush(): Promise<void> {
    await this.sending;
    if (this.sendFailure) throw this.sendFailure.error;
  }

  /** Waits for the queued sends to finish, failed or not (before an abort). */
  async quiesce(): Promise<void> {
    await this.sending;
  }

  /** Whether the span should commit now (the serving loop also commits it when no input waits). */
  due(now: number, limits: SpanLimits): boolean {
    return limits.intervalMs === 0 || now - this.openedAt >= limits.intervalMs || this.records >= limits.maxRecords;
  }

  get committed(): boolean {
    return this.lifecycle.phase === 'committed';
  }

  get aborted(): boolean {
    return this.lifecycle.phase === 'aborted';
  }

  /** The commit point has passed: everything in the span is durable. */
  markCommitted(): void {
    this.lifecycle.advance('committed');
    this.settle.resolve();
  }

  /** Rolls back every partition of the span (once) and fails whoever waits on it; returns whether this call aborted it. */
  async abort(cause: unknown): Promise<boolean> {
    const aborted = await this.lifecycle.abort(cause);
    if (aborted) this.settle.reject(cause);
    return aborted;
  }
}
