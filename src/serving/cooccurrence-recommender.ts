import type { ClickInput, Recommender, RecommendOutcome } from './recommender.ts';
import { RecencySlots } from '../metrics/recency-slots.ts';

export interface CooccurrenceOptions {
  /**
   * Distinct items kept (vocabulary, transitions, popularity); beyond it the least recently
   * seen item is evicted, and if it comes back it starts from nothing.
   */
  maxItems?: number;
  /**
   * Transitions kept per item: once twice as many have accumulated, only the `maxSuccessors`
   * most frequent survive. Memory is at most maxItems × 2·maxSuccessors transition entries.
   */
  maxSuccessors?: number;
}

/** Candidate items for the popularity backfill, per place in the list. */
const POPULAR_PER_PLACE = 4;
/** Events after which the backfill order is re-sorted even if no item entered or left it. */
const POPULAR_RESORT_EVENTS = 500;

/**
 * The online stand-in model: next-item transition counts learned from the stream itself
 * (prequential: each event is first answered, then learned from). Scores the successors of
 * the session's current item by how often they followed it, backfilled by popularity.
 * It learns new items as they appear, so it never dead-letters an unknown item.
 *
 * Every table is bounded, so cost per event and memory stay flat on an endless stream of new
 * sessions and items: sessions and items are RecencySlots (least recently touched evicted),
 * each item keeps its top transitions only, and the backfill is an incrementally kept set of
 * the most popular items instead of a sort of the whole catalogue.
 *
 * Item slots are reused after an eviction, so a transition is keyed by slot and the slot's
 * generation (bumped on every eviction): `generation * maxItems + slot`. A transition whose
 * generation is not the slot's current one points to an evicted item; it is skipped when
 * ranking and dropped when its item's transitions are pruned. This stays exact for 2^53 /
 * maxItems evictions of one slot (9·10^9 at the default).
 */
export class CooccurrenceRecommender implements Recommender {
  readonly version = 'cooccurrence-online';
  readonly maxItems: number;
  readonly maxSuccessors: number;
  private readonly items: RecencySlots;
  private readonly generation: number[] = [];
  private readonly popularity: number[] = [];
  /** Transition counts out of each item slot, by successor key; null until one is seen. */
  private readonly successors: Array<Map<number, number> | null> = [];
  private readonly sessions: RecencySlots;
  /** Successor key of each session's latest item. */
  private readonly lastItemKey: number[] = [];
  private totalEvents = 0;

  /** The POPULAR_PER_PLACE·topK most popular items, unordered; popularPos[slot] is the index in it or -1. */
  private readonly popular: Int32Array;
  private popularCount = 0;
  private readonly popularPos: number[] = [];
  /** Index in `popular` of its least popular member: the one a more popular outsider replaces. */
  private popularMin = 0;
  /** `popular` sorted by popularity, refreshed lazily: exact order matters little for a backfill. */
  private readonly popularOrder: Int32Array;
  private popularOrderCount = 0;
  private popularStale = true;
  private popularDirty = 0;

  /** Per-call scratch of rank(): the best successors so far, by count then slot. */
  private readonly bestKeys: Float64Array;
  private readonly bestCounts: Float64Array;
  private bestCount = 0;
  /** takenStamp[slot] === rankStamp marks an item already in the list being built. */
  private readonly takenStamp: number[] = [];
  private rankStamp = 0;
  /** Scratch of prune(), sized for one item's transitions at the pruning point. */
  private readonly pruneKeys: Float64Array;
  private readonly pruneCounts: Float64Array;
  private readonly pruneOrder: Int32Array;
  private pruneLength = 0;

  constructor(
    private readonly topK = 20,
    readonly maxSessions = 200_000,
    options: CooccurrenceOptions = {},
  ) {
    this.maxItems = options.maxItems ?? 1_000_000;
    this.maxSuccessors = options.maxSuccessors ?? 32;
    if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`topK must be a positive integer, got ${topK}`);
    if (!Number.isInteger(this.maxSuccessors) || this.maxSuccessors < 1) throw new RangeError(`maxSuccessors must be a positive integer, got ${this.maxSuccessors}`);
    this.items = new RecencySlots(this.maxItems, (slot) => this.itemEvicted(slot));
    this.sessions = new RecencySlots(maxSessions);
    this.popular = new Int32Array(POPULAR_PER_PLACE * topK);
    this.popularOrder = new Int32Array(POPULAR_PER_PLACE * topK);
    this.bestKeys = new Float64Array(topK);
    this.bestCounts = new Float64Array(topK);
    const pruneAt = 2 * this.maxSuccessors + 1;
    this.pruneKeys = new Float64Array(pruneAt);
    this.pruneCounts = new Float64Array(pruneAt);
    this.pruneOrder = new Int32Array(pruneAt);
  }

  /** Distinct items currently known (at most maxItems). */
  get itemCount(): number {
    return this.items.size;
  }

  /** Sessions whose latest item is remembered (at most maxSessions). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Transitions kept out of the item (at most 2·maxSuccessors, stale ones included); 0 when unknown. */
  successorCount(itemId: string): number {
    const slot = this.items.slotOf(itemId);
    return slot < 0 ? 0 : (this.successors[slot]?.size ?? 0);
  }

  async recommendBatch(events: readonly ClickInput[], out: RecommendOutcome[]): Promise<void> {
    for (let i = 0; i < events.length; i++) out[i] = this.observe(events[i]);
  }

  partitionsRevoked(): void {
    // The last-item table is a cache of the stream; a session that moves simply starts over.
  }

  /** Answers for the event, then learns from it. */
  observe(ev: ClickInput): RecommendOutcome {
    const item = this.items.touch(ev.itemId);
    if (item === this.popularity.length) {
      this.generation.push(0);
      this.popularity.push(0);
      this.successors.push(null);
      this.popularPos.push(-1);
      this.takenStamp.push(0);
    }
    const key = this.generation[item] * this.maxItems + item;
    const known = this.sessions.slotOf(ev.sessionId);
    if (known >= 0) {
      const prevKey = this.lastItemKey[known];
      // The session's previous item may have been evicted since (and its slot reused).
      if (this.isCurrent(prevKey)) this.learn(prevKey % this.maxItems, key);
    }
    const session = this.sessions.touch(ev.sessionId);
    if (session === this.lastItemKey.length) this.lastItemKey.push(key);
    else this.lastItemKey[session] = key;
    this.popularity[item]++;
    this.totalEvents++;
    this.popularityRose(item);
    return this.rank(item);
  }

  private isCurrent(key: number): boolean {
    const slot = key % this.maxItems;
    return this.generation[slot] === (key - slot) / this.maxItems;
  }

  private learn(prev: number, key: number): void {
    let m = this.successors[prev];
    if (m === null) m = this.successors[prev] = new Map();
    m.set(key, (m.get(key) ?? 0) + 1);
    if (m.size > 2 * this.maxSuccessors) this.prune(m);
  }

  /**
   * Keeps the maxSuccessors most frequent live transitions. Ties go to the more recently added
   * transition (Map order is insertion order): an old one-off had its chance to repeat already.
   * Pruning only at twice the bound keeps the cost amortised O(log) per new transition.
   */
  private prune(m: Map<number, number>): void {
    this.pruneLength = 0;
    m.forEach(this.collectForPrune, this);
    const n = this.pruneLength;
    const counts = this.pruneCounts;
    const order = this.pruneOrder.subarray(0, n);
    for (let i = 0; i < n; i++) order[i] = i;
    order.sort((a, b) => counts[b] - counts[a] || b - a);
    for (let r = this.maxSuccessors; r < n; r++) m.delete(this.pruneKeys[order[r]]);
  }

  private collectForPrune(count: number, key: number, m: Map<number, number>): void {
    if (!this.isCurrent(key)) {
      m.delete(key);
      return;
    }
    this.pruneKeys[this.pruneLength] = key;
    this.pruneCounts[this.pruneLength] = count;
    this.pruneLength++;
  }

  private itemEvicted(slot: number): void {
    this.generation[slot]++;
    this.popularity[slot] = 0;
    // Dropped rather than cleared: an emptied Map keeps its backing store, and most evicted items are one-offs.
    this.successors[slot] = null;
    const pos = this.popularPos[slot];
    if (pos >= 0) {
      // Its place stays empty until an outsider's popularity rises past the new minimum.
      const last = this.popular[--this.popularCount];
      this.popular[pos] = last;
      this.popularPos[last] = pos;
      this.popularPos[slot] = -1;
      this.findPopularMin();
      this.popularStale = true;
    }
  }

  /** Keeps `popular` the most popular items as counts rise: O(1) unless it changes. */
  private popularityRose(item: number): void {
    this.popularDirty++;
    const pos = this.popularPos[item];
    if (pos >= 0) {
      if (pos === this.popularMin) this.findPopularMin();
      return;
    }
    if (this.popularCount < this.popular.length) {
      this.popular[this.popularCount] = item;
      this.popularPos[item] = this.popularCount++;
    } else {
      const min = this.popular[this.popularMin];
      // Strictly more popular: equal counts would churn the set on every new item.
      if (this.popularity[item] <= this.popularity[min]) return;
      this.popularPos[min] = -1;
      this.popular[this.popularMin] = item;
      this.popularPos[item] = this.popularMin;
    }
    this.findPopularMin();
    this.popularStale = true;
  }

  private findPopularMin(): void {
    let min = 0;
    for (let i = 1; i < this.popularCount; i++) if (this.popularity[this.popular[i]] < this.popularity[this.popular[min]]) min = i;
    this.popularMin = min;
  }

  private sortPopular(): void {
    const n = this.popularCount;
    this.popularOrder.set(this.popular.subarray(0, n));
    // Ties by slot, i.e. first seen first while nothing has been evicted.
    this.popularOrder.subarray(0, n).sort((a, b) => this.popularity[b] - this.popularity[a] || a - b);
    this.popularOrderCount = n;
    this.popularStale = false;
    this.popularDirty = 0;
  }

  /** rank()'s Map.forEach callback: insertion into the best-topK scratch, by count then slot. */
  private considerSuccessor(count: number, key: number): void {
    if (!this.isCurrent(key)) return;
    const k = this.bestKeys.length;
    const slot = key % this.maxItems;
    let i = this.bestCount;
    if (i === k) {
      const worst = this.bestCounts[k - 1];
      if (count < worst || (count === worst && slot > this.bestKeys[k - 1] % this.maxItems)) return;
      i = k - 1;
    } else {
      this.bestCount++;
    }
    while (i > 0) {
      const c = this.bestCounts[i - 1];
      if (c > count || (c === count && this.bestKeys[i - 1] % this.maxItems < slot)) break;
      this.bestCounts[i] = c;
      this.bestKeys[i] = this.bestKeys[i - 1];
      i--;
    }
    this.bestCounts[i] = count;
    this.bestKeys[i] = key;
  }

  private rank(current: number): RecommendOutcome {
    if (this.popularStale || this.popularDirty > POPULAR_RESORT_EVENTS) this.sortPopular();
    this.bestCount = 0;
    this.successors[current]?.forEach(this.considerSuccessor, this);
    const stamp = ++this.rankStamp;
    const itemIds: string[] = [];
    const scores: number[] = [];
    for (let i = 0; i < this.bestCount; i++) {
      const slot = this.bestKeys[i] % this.maxItems;
      itemIds.push(this.items.keyOf(slot));
      scores.push(this.bestCounts[i]);
      this.takenStamp[slot] = stamp;
    }
    for (let i = 0; i < this.popularOrderCount && itemIds.length < this.topK; i++) {
      const slot = this.popularOrder[i];
      if (this.takenStamp[slot] === stamp) continue;
      itemIds.push(this.items.keyOf(slot));
      // Below any transition count: popularity only breaks the remaining places.
      scores.push(this.popularity[slot] / this.totalEvents);
    }
    return { ok: true, itemIds, scores };
  }
}
