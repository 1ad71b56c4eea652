/**
 * FIFO of one partition's pending items with their enqueue times: a growable
 * power-of-two ring, so a steady stream of pushes and batch removals allocates
 * nothing once the ring has reached the working-set size.
 */
export class PartitionQueue<T> {
  readonly partition: number;
  length = 0;
  /** Pending wait timer for the item at the head. */
  timer: ReturnType<typeof setTimeout> | null = null;
  /** The head item has waited maxWaitMs. */
  due = false;
  /** The head batch failed and goes first once the batcher is retried. */
  retry = false;
  /** Attempts made at the current head batch. */
  attempts = 0;
  private items: (T | undefined)[];
  private times: Float64Array;
  private head = 0;
  private mask: number;

  constructor(partition: number, initialCapacity: number) {
    this.partition = partition;
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.items = new Array<T | undefined>(cap).fill(undefined);
    this.times = new Float64Array(cap);
    this.mask = cap - 1;
  }

  push(item: T, time: number): void {
    if (this.length === this.items.length) this.grow();
    const i = (this.head + this.length) & this.mask;
    this.items[i] = item;
    this.times[i] = time;
    this.length++;
  }

  /** i-th pending item from the head (0 = oldest). */
  at(i: number): T {
    return this.items[(this.head + i) & this.mask] as T;
  }

  headTime(): number {
    return this.times[this.head];
  }

  /** Removes the n oldest items, releasing references for the GC. */
  shift(n: number): void {
    for (let i = 0; i < n; i++) this.items[(this.head + i) & this.mask] = undefined;
    this.head = (this.head + n) & this.mask;
    this.length -= n;
  }

  clear(): void {
    this.shift(this.length);
    this.head = 0;
  }

  private grow(): void {
    const cap = this.items.length * 2;
    const items = new Array<T | undefined>(cap).fill(undefined);
    const times = new Float64Array(cap);
    for (let i = 0; i < this.length; i++) {
      const j = (this.head + i) & this.mask;
      items[i] = this.items[j];
      times[i] = this.times[j];
    }
    this.items = items;
    this.times = times;
    this.head = 0;
    this.mask = cap - 1;
  }
}
