/**
 * The trainer's item catalogue on a live stream: which item ids the model has rows for, how often
 * each was seen lately, and which ids are waiting to get rows. An unknown id is pending until it
 * has been seen minItemCount times, then admitted (a recycled index of an expired item, else a new
 * one at the end); an item not seen for itemTtlEvents expires and its index goes back to the free
 * list. Counts decay with a half-life in events, so the negative sampler follows current
 * popularity rather than all-time popularity.
 *
 * An expired item keeps its id in `ids` (and its rows in the model) until its index is recycled:
 * a published model stays self-consistent, and the id simply stops being trained or sampled.
 */
export interface CatalogueOptions {
  minItemCount: number;
  itemTtlEvents: number;
  /** Events over which a count halves. */
  halfLifeEvents: number;
}

/** What changed since the last takeChanges(): the model must grow to nItems and re-initialise `recycled` rows. */
export interface CatalogueChanges {
  nItems: number;
  /** Indices that now belong to another (newly admitted) item. */
  recycled: number[];
  admitted: number;
}

export interface CatalogueCounts {
  /** Items with rows and not expired. */
  active: number;
  /** Ids seen but not yet admitted. */
  pending: number;
  /** Totals since the trainer started. */
  admitted: number;
  expired: number;
}

/** The catalogue as plain data, for a checkpoint. */
export interface CatalogueState {
  ids: string[];
  /** Per index: decayed count, event number of the last sighting, 1 when expired. */
  counts: number[];
  lastSeen: number[];
  expired: number[];
  free: number[];
  pending: Array<[id: string, count: number, lastSeen: number]>;
  admitted: number;
  expiredTotal: number;
}

export class StreamCatalogue {
  readonly ids: string[];
  private readonly o: CatalogueOptions;
  private readonly byId = new Map<string, number>();
  private counts: Float64Array;
  private lastSeen: Float64Array;
  private expiredFlag: Uint8Array;
  private readonly free: number[];
  private readonly pending = new Map<string, { count: number; lastSeen: number }>();
  private recycled: number[] = [];
  private admittedSince = 0;
  private admittedTotal: number;
  private expiredTotal: number;

  /** A catalogue of the model's items, all active, counted as last seen at event `now`. */
  static ofModel(itemIds: readonly string[], o: CatalogueOptions, now = 0): StreamCatalogue {
    const n = itemIds.length;
    return new StreamCatalogue(o, {
      ids: [...itemIds],
      counts: new Array(n).fill(0),
      lastSeen: new Array(n).fill(now),
      expired: new Array(n).fill(0),
      free: [],
      pending: [],
      admitted: 0,
      expiredTotal: 0,
    });
  }

  constructor(o: CatalogueOptions, s: CatalogueState) {
    this.o = o;
    this.ids = [...s.ids];
    const n = this.ids.length;
    if (s.counts.length !== n || s.lastSeen.length !== n || s.expired.length !== n) throw new Error(`catalogue: state arrays do not all have ${n} entries`);
    this.counts = Float64Array.from(s.counts);
    this.lastSeen = Float64Array.from(s.lastSeen);
    this.expiredFlag = Uint8Array.from(s.expired);
    for (let i = 0; i < n; i++) if (!this.expiredFlag[i]) this.byId.set(this.ids[i], i);
    this.free = [...s.free];
    for (const [id, count, lastSeen] of s.pending) this.pending.set(id, { count, lastSeen });
    this.admittedTotal = s.admitted;
    this.expiredTotal = s.expiredTotal;
  }

  get nItems(): number {
    return this.ids.length;
  }

  /**
   * One sighting of `id` at event number `now`: its index, or -1 while it is pending (the event
   * cannot be trained on: the model has no row for it yet). Admission happens on the sighting
   * that reaches minItemCount, so that event already trains the new row.
   */
  observe(id: string, now: number): number {
    const idx = this.byId.get(id);
    if (idx !== undefined) {
      this.counts[idx]++;
      this.lastSeen[idx] = now;
      return idx;
    }
    let p = this.pending.get(id);
    if (!p) {
      p = { count: 0, lastSeen: now };
      this.pending.set(id, p);
    }
    p.count++;
    p.lastSeen = now;
    if (p.count < this.o.minItemCount) return -1;
    this.pending.delete(id);
    return this.admit(id, p.count, now);
  }

  /** Index of an active item, or -1. */
  indexOf(id: string): number {
    return this.byId.get(id) ?? -1;
  }

  /**
   * Window-boundary upkeep at event `now` after `events` more events: decay the counts, expire
   * items and pending ids unseen for itemTtlEvents. O(items), once per window.
   */
  advance(now: number, events: number): void {
    const decay = 0.5 ** (events / this.o.halfLifeEvents);
    const horizon = now - this.o.itemTtlEvents;
    for (let i = 0; i < this.ids.length; i++) {
      this.counts[i] *= decay;
      if (!this.expiredFlag[i] && this.lastSeen[i] < horizon) {
        this.expiredFlag[i] = 1;
        this.counts[i] = 0;
        this.byId.delete(this.ids[i]);
        this.free.push(i);
        this.expiredTotal++;
      }
    }
    for (const [id, p] of this.pending) if (p.lastSeen < horizon) this.pending.delete(id);
  }

  /** Changes since the previous call (admissions that grew the catalogue or recycled rows). */
  takeChanges(): CatalogueChanges {
    const out = { nItems: this.ids.length, recycled: this.recycled, admitted: this.admittedSince };
    this.recycled = [];
    this.admittedSince = 0;
    return out;
  }

  /**
   * The sampling support: the decayed count + 1 of every active item (so an item the model already
   * knew but the stream has not shown yet can still be a negative), 0 for expired rows, which
   * are never drawn.
   */
  support(out: Float64Array = new Float64Array(this.ids.length)): Float64Array {
    for (let i = 0; i < this.ids.length; i++) out[i] = this.expiredFlag[i] ? 0 : this.counts[i] + 1;
    return out;
  }

  summary(): CatalogueCounts {
    return { active: this.byId.size, pending: this.pending.size, admitted: this.admittedTotal, expired: this.expiredTotal };
  }

  state(): CatalogueState {
    const n = this.ids.length;
    return {
      ids: [...this.ids],
      counts: Array.from(this.counts.subarray(0, n)),
      lastSeen: Array.from(this.lastSeen.subarray(0, n)),
      expired: Array.from(this.expiredFlag.subarray(0, n)),
      free: [...this.free],
      pending: [...this.pending].map(([id, p]) => [id, p.count, p.lastSeen]),
      admitted: this.admittedTotal,
      expiredTotal: this.expiredTotal,
    };
  }

  private admit(id: string, count: number, now: number): number {
    let idx = this.free.pop();
    if (idx !== undefined) {
      this.recycled.push(idx);
      this.ids[idx] = id;
      this.expiredFlag[idx] = 0;
    } else {
      idx = this.ids.length;
      this.ids.push(id);
      this.counts = grown(this.counts, idx + 1);
      this.lastSeen = grown(this.lastSeen, idx + 1);
      this.expiredFlag = grown(this.expiredFlag, idx + 1);
    }
    this.byId.set(id, idx);
    this.counts[idx] = count;
    this.lastSeen[idx] = now;
    this.admittedTotal++;
    this.admittedSince++;
    return idx;
  }
}

/** A copy at least `size` long (doubling, so admissions cost amortised O(1)); entries past ids.length are unused. */
function grown<T extends Float64Array | Uint8Array>(a: T, size: number): T {
  if (a.length >= size) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(size, a.length * 2));
  b.set(a);
  return b;
}
