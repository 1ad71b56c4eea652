/** The last `capacity` values pushed, oldest first: a fixed array and a cursor, so memory stays flat however long the process runs. */
export class Ring<T> {
  private readonly slots: T[] = [];
  private start = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`ring capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.slots.length;
  }

  push(value: T): void {
    if (this.slots.length < this.capacity) {
      this.slots.push(value);
      return;
    }
    this.slots[this.start] = value;
    this.start = (this.start + 1) % this.capacity;
  }

  /** The newest value, or undefined when empty. */
  last(): T | undefined {
    if (this.slots.length === 0) return undefined;
    return this.slots[(this.start + this.slots.length - 1) % this.slots.length];
  }

  /** Oldest first. */
  toArray(): T[] {
    return [...this.slots.slice(this.start), ...this.slots.slice(0, this.start)];
  }
}
