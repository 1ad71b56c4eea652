import { RecencySlots } from './recency-slots.ts';

/** What PrequentialMetrics.observe returns for an event that is not a target (no list held for its session). */
export const NOT_A_TARGET = -2;
/** What PrequentialMetrics.observe returns for a target whose item is not in the top `cutoff` of the list. */
export const MISS = -1;

/**
 * Prequential (test-then-learn) quality on the live stream: when a session's next event
 * arrives, was its item in the list we emitted for that session's previous event, and at
 * which rank? The same definition as offline Recall@K / MRR@K, measured online.
 * Sessions live in one partition, so every serving process measures its own sessions exactly.
 *
 * Only the latest list of the `maxSessions` most recently emitted-to sessions is kept; a
 * session evicted from that table (or forgotten) makes its next event a non-target, never a
 * miss. The table is a RecencySlots, so eviction stays O(1) however many sessions pass.
 *
 * Each held list carries an integer tag given at emit time (OnlineQuality stores the emitting
 * model version's serial there), read back as `observedTag` after the observe that judged it.
 */
export class PrequentialMetrics {
  private readonly sessions: RecencySlots;
  /** Latest emitted list per session slot (the caller's array, kept by reference). */
  private readonly lastList: Array<readonly string[] | null> = [];
  /** Tag of the latest list per session slot (a small integer array: slots are dense). */
  private readonly tags: number[] = [];
  hits = 0;
  reciprocalRankSum = 0;
  targets = 0;
  /** Tag of the list the last observe() judged; meaningful only when it returned a rank or MISS. */
  observedTag = 0;
  private windowHits = 0;
  private windowRr = 0;
  private windowTargets = 0;

  constructor(
    readonly cutoff = 20,
    readonly maxSessions = 200_000,
  ) {
    this.sessions = new RecencySlots(maxSessions);
  }

  /** Sessions whose latest list is held. */
  get size(): number {
    return this.sessions.size;
  }

  /**
   * Call for each event before emitting its new list. Returns the item's 0-based rank in the
   * session's previous list when it is within the cutoff, MISS when that list does not hold it,
   * NOT_A_TARGET when no list is held for the session.
   */
  observe(sessionId: string, itemId: string): number {
    const slot = this.sessions.slotOf(sessionId);
    if (slot < 0) return NOT_A_TARGET;
    const list = this.lastList[slot]!;
    this.observedTag = this.tags[slot];
    this.targets++;
    this.windowTargets++;
    const limit = Math.min(this.cutoff, list.length);
    for (let r = 0; r < limit; r++) {
      if (list[r] === itemId) {
        this.hits++;
        this.windowHits++;
        this.reciprocalRankSum += 1 / (r + 1);
        this.windowRr += 1 / (r + 1);
        return r;
      }
    }
    return MISS;
  }

  /** Remember the list emitted for the session's latest event (and the tag it is credited to). */
  emitted(sessionId: string, itemIds: readonly string[], tag = 0): void {
    const slot = this.sessions.touch(sessionId);
    if (slot === this.lastList.length) {
      this.lastList.push(itemIds);
      this.tags.push(tag);
    } else {
      this.lastList[slot] = itemIds;
      this.tags[slot] = tag;
    }
  }

  forget(sessionId: string): void {
    const slot = this.sessions.delete(sessionId);
    if (slot >= 0) this.lastList[slot] = null;
  }

  get recall(): number {
    return this.targets === 0 ? 0 : this.hits / this.targets;
  }

  get mrr(): number {
    return this.targets === 0 ? 0 : this.reciprocalRankSum / this.targets;
  }

  /** Recall/MRR since the previous call (for a live line that shows drift). */
  takeWindow(): { recall: number; mrr: number; targets: number } {
    const w = {
      recall: this.windowTargets === 0 ? 0 : this.windowHits / this.windowTargets,
      mrr: this.windowTargets === 0 ? 0 : this.windowRr / this.windowTargets,
      targets: this.windowTargets,
    };
    this.windowHits = this.windowRr = this.windowTargets = 0;
    return w;
  }
}

/**
 * Latency histogram with fixed log-spaced buckets (0.1 ms .. ~100 s): constant memory, no
 * per-sample allocation, quantiles good to one bucket width (~12%).
 */
export class LatencyHistogram {
  static readonly BUCKETS = 120;
  private static readonly MIN = 0.1;
  private static readonly GROWTH = 1.122;
  readonly counts = new Float64Array(LatencyHistogram.BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    const v = Math.max(ms, LatencyHistogram.MIN);
    let b = Math.floor(Math.log(v / LatencyHistogram.MIN) / Math.log(LatencyHistogram.GROWTH));
    if (b >= LatencyHistogram.BUCKETS) b = LatencyHistogram.BUCKETS - 1;
    this.counts[b]++;
    this.count++;
    this.sum += ms;
    if (ms > this.max) this.max = ms;
  }

  /** Upper edge of the bucket holding quantile q. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = q * this.count;
    let acc = 0;
    for (let b = 0; b < LatencyHistogram.BUCKETS; b++) {
      acc += this.counts[b];
      if (acc >= target) return Math.min(this.max, LatencyHistogram.MIN * LatencyHistogram.GROWTH ** (b + 1));
    }
    return this.max;
  }

  merge(other: LatencyHistogram): void {
    for (let b = 0; b < LatencyHistogram.BUCKETS; b++) this.counts[b] += other.counts[b];
    this.count += other.count;
    this.sum += other.sum;
    this.max = Math.max(this.max, other.max);
  }

  reset(): void {
    this.counts.fill(0);
    this.count = this.sum = this.max = 0;
  }
}
