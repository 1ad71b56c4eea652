import { PartitionQueue } from './partition-queue.ts';

/**
 * Per-partition micro-batcher: events are buffered per Kafka partition and
 * handed to `onBatch` in batches of one partition, when the partition has
 * `maxBatchSize` items or its oldest item has waited `maxWaitMs` (the latency
 * budget), whichever comes first.
 *
 * Ordering: each partition is a FIFO and batches run one at a time, so events
 * of a partition — and therefore of a session, which lives in one partition —
 * reach `onBatch` in push order. The items of a batch stay at the head of their
 * queue until `onBatch` resolves, so a failing batch is neither lost nor
 * overtaken: the batcher stops, reports the error, and `retry()` runs the very
 * same items again first.
 *
 * Back-pressure: `buffered` counts every item not yet processed (queued or in
 * flight). Going above `highWaterMark` calls `onPause` (map to
 * consumer.pause), falling below `lowWaterMark` calls `onResume`; the gap
 * between the two keeps the consumer from flapping. Pushing while paused is
 * allowed (a fetched Kafka batch is pushed whole); `whenBelowHighWater()` lets
 * a push-per-message loop wait instead.
 *
 * Batch ownership: by default each batch is a fresh array that the handler
 * owns and may keep. With `reuseBatchArray`, one array is refilled for every
 * batch; it is valid only until the handler's promise settles.
 *
 * With kafkajs: push every message of an `eachBatch` call (items carry their
 * offsets), then `await whenBelowHighWater()` before returning, or map
 * onPause/onResume to consumer.pause/resume. `onBatch` runs the encoder step,
 * produces the recommendations and changelog records, and commits the offsets
 * of its items; on a rebalance, `flush()` (or `whenIdle()` and
 * `discardPartition`) before giving the partition up; on shutdown, `flush()`
 * then `close()`.
 */

export type FlushReason = 'size' | 'time' | 'flush' | 'retry';

export interface BatchMeta {
  partition: number;
  /** Number of batches this batcher has started before, retries included. */
  seq: number;
  reason: FlushReason;
  /** 1 on the first try, higher after `retry()`. */
  attempt: number;
  /** Clock time at which the oldest item of the batch was pushed. */
  oldestPushedAt: number;
}

export interface MicroBatcherOptions<T> {
  maxBatchSize: number;
  /** Longest an item waits for its batch to fill; 0 flushes whatever is there on the next tick. */
  maxWaitMs: number;
  /** Pause above this many buffered items (default 4 × maxBatchSize). */
  highWaterMark?: number;
  /** Resume below this many (default highWaterMark / 2). */
  lowWaterMark?: number;
  onBatch: (batch: T[], meta: BatchMeta) => Promise<void> | void;
  onPause?: () => void;
  onResume?: () => void;
  /** Called once when a batch fails and the batcher stops; must not throw. */
  onError?: (error: unknown, meta: BatchMeta) => void;
  reuseBatchArray?: boolean;
  /** Time source for enqueue times; must agree with the timers (mock both in tests). */
  clock?: () => number;
}

export interface MicroBatcherStats {
  buffered: number;
  inFlight: number;
  batches: number;
  items: number;
  failures: number;
  paused: boolean;
}

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class BatcherClosedError extends Error {
  constructor() {
    super('micro-batcher is closed');
    this.name = 'BatcherClosedError';
  }
}

export class MicroBatcher<T> {
  readonly maxBatchSize: number;
  readonly maxWaitMs: number;
  readonly highWaterMark: number;
  readonly lowWaterMark: number;
  private readonly opts: MicroBatcherOptions<T>;
  private readonly clock: () => number;
  private readonly queues = new Map<number, PartitionQueue<T>>();
  private readonly queueList: PartitionQueue<T>[] = [];
  private readonly sharedBatch: T[] | null;
  private bufferedCount = 0;
  private inFlight: PartitionQueue<T> | null = null;
  private inFlightSize = 0;
  private inFlightDone: Promise<void> | null = null;
  private failure: { error: unknown } | null = null;
  private isPaused = false;
  private closed = false;
  private draining = false;
  private pumpScheduled = false;
  private seq = 0;
  private itemsDone = 0;
  private batchesDone = 0;
  private failures = 0;
  private idleWaiters: Waiter[] = [];
  private flushWaiters: Waiter[] = [];
  private waterWaiters: Waiter[] = [];
  private readonly pumpTask = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  constructor(opts: MicroBatcherOptions<T>) {
    const { maxBatchSize, maxWaitMs } = opts;
    if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) throw new RangeError(`maxBatchSize must be a positive integer, got ${maxBatchSize}`);
    if (!(maxWaitMs >= 0) || !Number.isFinite(maxWaitMs)) throw new RangeError(`maxWaitMs must be a finite number >= 0, got ${maxWaitMs}`);
    const high = opts.highWaterMark ?? 4 * maxBatchSize;
    const low = opts.lowWaterMark ?? Math.floor(high / 2);
    if (!(high >= 1) || !(low >= 1) || low > high) {
      throw new RangeError(`need 1 <= lowWaterMark <= highWaterMark, got ${low} and ${high}`);
    }
    this.opts = opts;
    this.maxBatchSize = maxBatchSize;
    this.maxWaitMs = maxWaitMs;
    this.highWaterMark = high;
    this.lowWaterMark = low;
    this.clock = opts.clock ?? Date.now;
    this.sharedBatch = opts.reuseBatchArray ? [] : null;
  }

  /** Items pushed and not yet processed (queued or in flight). */
  get buffered(): number {
    return this.bufferedCount;
  }

  get paused(): boolean {
    return this.isPaused;
  }

  /** The error that stopped the batcher, or null. */
  get error(): unknown {
    return this.failure ? this.failure.error : null;
  }

  /** Items of one partition not yet processed. */
  bufferedOf(partition: number): number {
    return this.queues.get(partition)?.length ?? 0;
  }

  push(partition: number, item: T): void {
    if (this.closed) throw new BatcherClosedError();
    let q = this.queues.get(partition);
    if (q === undefined) {
      q = new PartitionQueue<T>(partition, 2 * this.maxBatchSize);
      this.queues.set(partition, q);
      this.queueList.push(q);
    }
    q.push(item, this.clock());
    this.bufferedCount++;
    if (q.length === 1) this.startWait(q, this.maxWaitMs);
    if (!this.isPaused && this.bufferedCount > this.highWaterMark) {
      this.isPaused = true;
      this.opts.onPause?.();
    }
    if (q.length >= this.maxBatchSize || q.due) this.schedulePump();
  }

  /** Resolves once buffered items have fallen below the low-water mark (at once when not paused). */
  whenBelowHighWater(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.closed) return Promise.reject(new BatcherClosedError());
    if (!this.isPaused) return Promise.resolve();
    return new Promise((resolve, reject) => this.waterWaiters.push({ resolve, reject }));
  }

  /**
   * Resolves when no batch is running or due; items still within their wait
   * budget may remain buffered. Rejects if the batcher has failed.
   */
  whenIdle(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
  }

  /**
   * Processes everything buffered now, without waiting for batches to fill or
   * budgets to expire; resolves when nothing is left (items pushed meanwhile
   * included). Rejects if a batch fails.
   */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.bufferedCount === 0 && this.inFlight === null) return Promise.resolve();
    if (this.closed) return Promise.reject(new BatcherClosedError());
    this.draining = true;
    this.schedulePump();
    return new Promise((resolve, reject) => this.flushWaiters.push({ resolve, reject }));
  }

  /** Clears the failure and runs the failed batch again, then carries on. */
  retry(): void {
    if (!this.failure || this.closed) return;
    this.failure = null;
    this.schedulePump();
  }

  /**
   * Drops the buffered items of a revoked partition (their offsets were not
   * committed, so the partition's next owner receives them again). Throws if
   * the partition's batch is in flight: await whenIdle() first.
   */
  discardPartition(partition: number): number {
    const q = this.queues.get(partition);
    if (q === undefined) return 0;
    if (this.inFlight === q) throw new Error(`partition ${partition} has a batch in flight; await whenIdle() before discarding it`);
    const n = q.length;
    this.stopWait(q);
    q.clear();
    q.retry = false;
    q.attempts = 0;
    this.queues.delete(partition);
    this.queueList.splice(this.queueList.indexOf(q), 1);
    this.bufferedCount -= n;
    this.checkResume();
    this.settleWaiters();
    return n;
  }

  /**
   * Stops intake and batching, waits for the batch in flight, and resolves
   * with the number of items left unprocessed (call flush() first to process
   * them). Rejects if the batch in flight fails.
   */
  async close(): Promise<number> {
    if (!this.closed) {
      this.closed = true;
      for (const q of this.queueList) this.stopWait(q);
      const err = new BatcherClosedError();
      for (const w of this.waterWaiters.splice(0)) w.reject(err);
    }
    if (this.inFlightDone) await this.inFlightDone;
    if (this.failure) throw this.failure.error;
    this.settleWaiters();
    return this.bufferedCount;
  }

  stats(): MicroBatcherStats {
    return {
      buffered: this.bufferedCount,
      inFlight: this.inFlightSize,
      batches: this.batchesDone,
      items: this.itemsDone,
      failures: this.failures,
      paused: this.isPaused,
    };
  }

  private startWait(q: PartitionQueue<T>, delay: number): void {
    if (delay <= 0) {
      q.due = true;
      return;
    }
    q.timer = setTimeout(() => {
      q.timer = null;
      q.due = true;
      this.schedulePump();
    }, delay);
  }

  private stopWait(q: PartitionQueue<T>): void {
    if (q.timer !== null) clearTimeout(q.timer);
    q.timer = null;
    q.due = false;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(this.pumpTask);
  }

  /** Oldest-first among partitions that are full, due, retried, or being flushed. */
  private pickReady(): PartitionQueue<T> | null {
    let best: PartitionQueue<T> | null = null;
    for (const q of this.queueList) {
      if (q.length === 0) continue;
      if (q.retry) return q;
      if (q.length >= this.maxBatchSize || q.due || this.draining) {
        if (best === null || q.headTime() < best.headTime()) best = q;
      }
    }
    return best;
  }

  private isIdle(): boolean {
    return this.inFlight === null && !this.pumpScheduled && (this.closed || this.failure !== null || this.pickReady() === null);
  }

  private pump(): void {
    if (this.inFlight !== null || this.failure !== null || this.closed) return;
    const q = this.pickReady();
    if (q === null) {
      this.settleWaiters();
      return;
    }
    const n = Math.min(q.length, this.maxBatchSize);
    const reason: FlushReason = q.retry ? 'retry' : n === this.maxBatchSize ? 'size' : q.due ? 'time' : 'flush';
    let batch: T[];
    if (this.sharedBatch) {
      batch = this.sharedBatch;
      batch.length = n;
    } else {
      batch = new Array<T>(n);
    }
    for (let i = 0; i < n; i++) batch[i] = q.at(i);
    q.retry = false;
    q.attempts++;
    const meta: BatchMeta = { partition: q.partition, seq: this.seq++, reason, attempt: q.attempts, oldestPushedAt: q.headTime() };
    this.inFlight = q;
    this.inFlightSize = n;
    this.inFlightDone = this.run(q, batch, n, meta);
  }

  private async run(q: PartitionQueue<T>, batch: T[], n: number, meta: BatchMeta): Promise<void> {
    let failed = false;
    let error: unknown;
    try {
      await this.opts.onBatch(batch, meta);
    } catch (err) {
      failed = true;
      error = err;
    }
    if (this.sharedBatch) this.sharedBatch.length = 0;
    this.inFlight = null;
    this.inFlightSize = 0;
    this.inFlightDone = null;
    if (failed) {
      // The items stay at the head of their queue; retry() sends them first.
      this.failures++;
      q.retry = true;
      this.failure = { error };
      const all = [...this.idleWaiters.splice(0), ...this.flushWaiters.splice(0), ...this.waterWaiters.splice(0)];
      this.draining = false;
      for (const w of all) w.reject(error);
      this.opts.onError?.(error, meta);
      return;
    }
    q.attempts = 0;
    q.shift(n);
    this.bufferedCount -= n;
    this.itemsDone += n;
    this.batchesDone++;
    this.stopWait(q);
    if (q.length > 0 && !this.closed) this.startWait(q, q.headTime() + this.maxWaitMs - this.clock());
    this.checkResume();
    this.pump();
  }

  private checkResume(): void {
    if (this.isPaused && this.bufferedCount < this.lowWaterMark) {
      this.isPaused = false;
      for (const w of this.waterWaiters.splice(0)) w.resolve();
      this.opts.onResume?.();
    }
  }

  private settleWaiters(): void {
    if (this.inFlight !== null || this.failure !== null) return;
    if (this.bufferedCount === 0) {
      this.draining = false;
      for (const w of this.flushWaiters.splice(0)) w.resolve();
    } else if (this.closed) {
      this.draining = false;
      const err = new BatcherClosedError();
      for (const w of this.flushWaiters.splice(0)) w.reject(err);
    }
    if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w.resolve();
  }
}
