/**
 * A bounded table of string keys, each holding a small integer slot, evicted least recently
 * touched first. Owners keep their per-key data in arrays indexed by slot.
 *
 * Why not a Map in touch order with `map.keys().next()` for the oldest key: V8's Map leaves a
 * hole for every deleted entry until its next rehash, and an iterator starts at the first
 * entry, so finding the oldest key walks every hole left by the previous evictions. Under
 * churn (millions of distinct sessions through a table of 200k) each eviction costs tens of
 * thousands of steps and throughput collapses. Here recency is a doubly linked list threaded
 * through two Int32Arrays: touch, evict and delete are O(1), and the Map only ever does
 * get / set / delete, which stay O(1) amortised through its rehashes.
 *
 * Slots are handed out densely: a slot that was never used before is always the next integer
 * (`slot === highWater - 1` after the call), so owners can grow plain arrays with push; any other
 * slot is a reused one. The link arrays grow by doubling up to the capacity, so a large capacity
 * costs nothing until it is used.
 */
const NONE = -1;
const INITIAL_SLOTS = 1024;

export class RecencySlots {
  readonly capacity: number;
  private readonly index = new Map<string, number>();
  private keys: string[] = [];
  private prev: Int32Array;
  private next: Int32Array;
  /** Slots released by delete(), reused before fresh ones. */
  private free: Int32Array;
  private freeTop = 0;
  /** Slots [0, highWater) have been handed out at least once. */
  private used = 0;
  /** Least recently touched. */
  private head = NONE;
  /** Most recently touched. */
  private tail = NONE;

  /**
   * @param onEvict called when touch() makes room by evicting the least recently touched key,
   *   before its slot is handed to the new key (owners reset their per-slot data here).
   */
  constructor(
    capacity: number,
    private readonly onEvict?: (slot: number, key: string) => void,
  ) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.capacity = capacity;
    const initial = Math.min(capacity, INITIAL_SLOTS);
    this.prev = new Int32Array(initial);
    this.next = new Int32Array(initial);
    this.free = new Int32Array(initial);
  }

  get size(): number {
    return this.index.size;
  }

  /** Number of distinct slots ever handed out; slots are always below it. */
  get highWater(): number {
    return this.used;
  }

  /** Slot of the key, or -1; does not change its recency. */
  slotOf(key: string): number {
    const slot = this.index.get(key);
    return slot === undefined ? NONE : slot;
  }

  keyOf(slot: number): string {
    return this.keys[slot];
  }

  /** Slot of the key, marked most recently touched; a new key evicts the least recent one when full. */
  touch(key: string): number {
    let slot = this.index.get(key);
    if (slot !== undefined) {
      if (slot !== this.tail) {
        this.unlink(slot);
        this.linkTail(slot);
      }
      return slot;
    }
    if (this.freeTop > 0) {
      slot = this.free[--this.freeTop];
    } else if (this.used < this.capacity) {
      slot = this.used++;
      if (slot === this.prev.length) this.grow();
    } else {
      slot = this.head;
      const evicted = this.keys[slot];
      this.unlink(slot);
      this.index.delete(evicted);
      this.onEvict?.(slot, evicted);
    }
    if (slot === this.keys.length) this.keys.push(key);
    else this.keys[slot] = key;
    this.index.set(key, slot);
    this.linkTail(slot);
    return slot;
  }

  /** Forgets the key; returns the slot it held (now free), or -1. onEvict is not called. */
  delete(key: string): number {
    const slot = this.index.get(key);
    if (slot === undefined) return NONE;
    this.index.delete(key);
    this.unlink(slot);
    // Drop the string so a forgotten key does not stay reachable until its slot is reused.
    this.keys[slot] = '';
    this.free[this.freeTop++] = slot;
    return slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot];
    const n = this.next[slot];
    if (p === NONE) this.head = n;
    else this.next[p] = n;
    if (n === NONE) this.tail = p;
    else this.prev[n] = p;
  }

  private linkTail(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = NONE;
    if (this.tail === NONE) this.head = slot;
    else this.next[this.tail] = slot;
    this.tail = slot;
  }

  private grow(): void {
    const length = Math.min(this.capacity, this.prev.length * 2);
    const grown = (a: Int32Array) => {
      const b = new Int32Array(length);
      b.set(a);
      return b;
    };
    this.prev = grown(this.prev);
    this.next = grown(this.next);
    this.free = grown(this.free);
  }
}
