/**
 * The cross-partition micro-batcher. Partitions fetch concurrently and each submits one chunk
 * of its records at a time, waiting for it; whatever chunks are queued when the processor
 * frees up are merged (up to maxSize records) into one batch, processed by one call. One batch
 * at a time. A session lives in one partition and a partition has at most one chunk queued or
 * in flight, so per-session order holds across batches.
 *
 * The batch follows the backlog without a timer: at low load a batch leaves as soon as the
 * processor is free (whatever has arrived, however small), at high load the queue has filled
 * while the previous batch ran and the batch is full. When the queue runs dry, `whenDry` runs
 * (still inside the loop, so nothing is processed meanwhile): the serving loop commits its open
 * span there, since no more input can join it for now.
 *
 * Knows nothing of Kafka: the serving process gives it chunks and a processor.
 */

export interface Chunk<T> {
  partition: number;
  records: T[];
}

/** A queued chunk was taken back before it was processed (its partition was revoked). */
export class ChunkDroppedError extends Error {
  constructor(readonly partition: number) {
    super(`chunk of partition ${partition} dropped before processing (partition revoked)`);
    this.name = 'ChunkDroppedError';
  }
}

interface Queued<T, R> {
  chunk: Chunk<T>;
  resolve: (result: R) => void;
  reject: (e: Error) => void;
}

export class MicroBatcher<T, R = void> {
  private readonly queue: Queued<T, R>[] = [];
  /** Work that must run between two batches, never during one (a model swap); before queued chunks. */
  private readonly between: Array<() => Promise<void>> = [];
  private running: Promise<void> | null = null;

  constructor(
    private readonly maxSize: number,
    /** Processes one merged batch; its result resolves every chunk of it, a rejection fails them all. */
    private readonly process: (chunks: readonly Chunk<T>[]) => Promise<R>,
    /** Runs once each time the queue runs dry after work, before the loop ends; chunks submitted meanwhile wait for it. Must not reject. */
    private readonly whenDry?: () => Promise<void>,
  ) {
    if (!Number.isInteger(maxSize) || maxSize < 1) throw new RangeError(`maxSize must be a positive integer, got ${maxSize}`);
  }

  /** Resolves with the result of the batch holding this chunk once it has been processed; rejects with its error. */
  submit(chunk: Chunk<T>): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ chunk, resolve, reject });
      if (!this.running) this.running = this.drain();
    });
  }

  /** Runs `task` between two batches: after the one in flight (if any), before the next. */
  betweenBatches<U>(task: () => Promise<U>): Promise<U> {
    return new Promise<U>((resolve, reject) => {
      this.between.push(() => task().then(resolve, reject));
      if (!this.running) this.running = this.drain();
    });
  }

  /** Rejects the queued (not yet processing) chunks of these partitions with ChunkDroppedError. */
  drop(partitions: ReadonlySet<number>): number {
    let dropped = 0;
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const q = this.queue[i];
      if (!partitions.has(q.chunk.partition)) continue;
      this.queue.splice(i, 1);
      q.reject(new ChunkDroppedError(q.chunk.partition));
      dropped++;
    }
    return dropped;
  }

  get queuedChunks(): number {
    return this.queue.length;
  }

  /** Resolves when no batch is being processed (the queue may refill right after). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /**
   * `running` is cleared in the same synchronous step in which the loop sees an empty queue: a
   * chunk submitted by a continuation of the last batch's promise runs after that step, so it
   * either is seen by this loop or starts a new one; it never waits in a queue with no loop.
   */
  private async drain(): Promise<void> {
    try {
      for (;;) {
        while (this.queue.length > 0 || this.between.length > 0) {
          const task = this.between.shift();
          if (task) {
            await task();
            continue;
          }
          const group = [this.queue.shift()!];
          let size = group[0].chunk.records.length;
          while (this.queue.length > 0 && size + this.queue[0].chunk.records.length <= this.maxSize) {
            size += this.queue[0].chunk.records.length;
            group.push(this.queue.shift()!);
          }
          try {
            const result = await this.process(group.map((g) => g.chunk));
            for (const g of group) g.resolve(result);
          } catch (e) {
            for (const g of group) g.reject(e as Error);
          }
        }
        if (!this.whenDry) break;
        // Dry means nothing is coming right now, not a microtask gap: the callers whose chunks
        // just resolved submit their next chunk in a continuation, which runs before this.
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (this.queue.length > 0 || this.between.length > 0) continue;
        await this.whenDry();
        if (this.queue.length === 0 && this.between.length === 0) break;
      }
    } finally {
      this.running = null;
    }
  }
}
