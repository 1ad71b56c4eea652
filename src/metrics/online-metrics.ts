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

/** Moved to its own module on hdr-histogram-js; re-exported here for the existing importers. */
export { LatencyHistogram } from './latency-histogram.ts';
