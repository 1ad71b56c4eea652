/**
 * Online Recall@K / MRR@K per model version, for the demo's summary once serving hot-swaps. A
 * target is credited to the version that emitted the list it is checked against (the model
 * that made the prediction), not to the one serving the click that reveals it: right after a
 * swap, the first next-clicks of open sessions still judge the old version's lists.
 *
 * One PrequentialMetrics per version, and a session's latest list is held by exactly one of
 * them: emitting under version v forgets the session in every other. Each event is therefore
 * observed by all of them and counted by the one holder, and the per-version targets add up to
 * the overall prequential metric's (same definition, same session bound). The cost is one hash
 * lookup per version per event; a demo has a handful of versions.
 */
import { PrequentialMetrics } from '../metrics/online-metrics.ts';

export interface VersionQuality {
  version: string;
  /** Events served by this version (lists it emitted). */
  events: number;
  targets: number;
  recall: number;
  mrr: number;
}

export class QualityByVersion {
  private readonly metrics: PrequentialMetrics[] = [];
  private readonly versions: string[] = [];
  private readonly events: number[] = [];
  private last = -1;

  constructor(
    readonly cutoff = 20,
    readonly maxSessions = 200_000,
  ) {}

  /** One served event: its click (checked against the session's previous list) and the list emitted for it by `version`. */
  record(version: string, sessionId: string, itemId: string, emitted: readonly string[]): void {
    const v = this.indexOf(version);
    const own = this.metrics[v];
    for (const m of this.metrics) {
      m.observe(sessionId, itemId);
      if (m !== own) m.forget(sessionId);
    }
    own.emitted(sessionId, emitted);
    this.events[v]++;
  }

  /** Versions in the order they first served. */
  rows(): VersionQuality[] {
    return this.versions.map((version, i) => ({ version, events: this.events[i], targets: this.metrics[i].targets, recall: this.metrics[i].recall, mrr: this.metrics[i].mrr }));
  }

  private indexOf(version: string): number {
    // Consecutive events almost always share the version: no search on the hot path.
    if (this.last >= 0 && this.versions[this.last] === version) return this.last;
    let i = this.versions.indexOf(version);
    if (i < 0) {
      i = this.versions.push(version) - 1;
      this.metrics.push(new PrequentialMetrics(this.cutoff, this.maxSessions));
      this.events.push(0);
    }
    this.last = i;
    return i;
  }
}
