import type { ClickInput, Recommender, RecommendOutcome } from './recommender.ts';
import { ItemIndex } from '../data/item-index.ts';

/**
 * The online stand-in model: next-item transition counts learned from the stream itself
 * (prequential: each event is first answered, then learned from). Scores the successors of
 * the session's current item by how often they followed it, backfilled by popularity.
 * It learns new items as they appear, so it never dead-letters an unknown item.
 */
export class CooccurrenceRecommender implements Recommender {
  readonly version = 'cooccurrence-online';
  private readonly index = new ItemIndex();
  private readonly successors: Array<Map<number, number>> = [];
  private readonly popularity: number[] = [];
  /** Items by popularity, refreshed lazily: exact order matters little for a backfill. */
  private popularOrder: number[] = [];
  private popularDirty = 0;
  private readonly lastItem = new Map<string, number>();
  private totalEvents = 0;

  constructor(
    private readonly topK = 20,
    private readonly maxSessions = 200_000,
  ) {}

  async recommendBatch(events: readonly ClickInput[], out: RecommendOutcome[]): Promise<void> {
    for (let i = 0; i < events.length; i++) out[i] = this.observe(events[i]);
  }

  partitionsRevoked(): void {
    // The last-item map is a cache of the stream; a session that moves simply starts over.
  }

  /** Answers for the event, then learns from it. */
  observe(ev: ClickInput): RecommendOutcome {
    const item = this.index.add(ev.itemId);
    if (item === this.popularity.length) {
      this.popularity.push(0);
      this.successors.push(new Map());
    }
    const prev = this.lastItem.get(ev.sessionId);
    if (prev !== undefined) {
      const m = this.successors[prev];
      m.set(item, (m.get(item) ?? 0) + 1);
      this.lastItem.delete(ev.sessionId);
    } else if (this.lastItem.size >= this.maxSessions) {
      // Map iteration is insertion order and we re-insert on every touch: the first key is the LRU.
      const oldest = this.lastItem.keys().next().value as string;
      this.lastItem.delete(oldest);
    }
    this.lastItem.set(ev.sessionId, item);
    this.popularity[item]++;
    this.totalEvents++;
    this.popularDirty++;
    return this.rank(item);
  }

  private rank(current: number): RecommendOutcome {
    if (this.popularDirty > 500 || this.popularOrder.length === 0) {
      this.popularOrder = this.popularity
        .map((_, i) => i)
        .sort((a, b) => this.popularity[b] - this.popularity[a])
        .slice(0, 4 * this.topK);
      this.popularDirty = 0;
    }
    const succ = [...this.successors[current]].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    const itemIds: string[] = [];
    const scores: number[] = [];
    const taken = new Set<number>();
    for (const [item, count] of succ) {
      if (itemIds.length >= this.topK) break;
      itemIds.push(this.index.idOf(item));
      scores.push(count);
      taken.add(item);
    }
    for (const item of this.popularOrder) {
      if (itemIds.length >= this.topK) break;
      if (taken.has(item)) continue;
      itemIds.push(this.index.idOf(item));
      // Below any transition count: popularity only breaks the remaining places.
      scores.push(this.popularity[item] / this.totalEvents);
    }
    return { ok: true, itemIds, scores };
  }
}
