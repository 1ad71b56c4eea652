/**
 * Online Recall@K / MRR@K per model version for the demo's summary: the rows of an OnlineQuality
 * (src/metrics/online-quality.ts), where a target is credited to the version that emitted the
 * list it is checked against. Serving keeps the same numbers itself (ServingStats.online); this
 * wrapper remains for callers that record their own stream of (version, click, list).
 */
import { OnlineQuality } from '../metrics/online-quality.ts';

export interface VersionQuality {
  version: string;
  /** Events served by this version (lists it emitted). */
  events: number;
  targets: number;
  recall: number;
  mrr: number;
}

/** Rows of an OnlineQuality at one cutoff, versions in the order they first served. */
export function versionRows(quality: OnlineQuality, cutoff = 20): VersionQuality[] {
  return quality.versions().map((v) => ({ version: v.version, events: v.events, targets: v.targets, recall: v.recall(cutoff), mrr: v.mrr(cutoff) }));
}

export class QualityByVersion {
  private readonly quality: OnlineQuality;

  constructor(
    readonly cutoff = 20,
    maxSessions = 200_000,
  ) {
    // A demo has a handful of versions: none is retired; the sliding window is not shown.
    this.quality = new OnlineQuality({ cutoffs: [cutoff], maxSessions, maxVersions: 1000, slidingTargets: 1 });
  }

  /** One served event: its click (checked against the session's previous list) and the list emitted for it by `version`. */
  record(version: string, sessionId: string, itemId: string, emitted: readonly string[]): void {
    this.quality.observe(sessionId, itemId);
    this.quality.emitted(sessionId, version, emitted);
  }

  rows(): VersionQuality[] {
    return versionRows(this.quality, this.cutoff);
  }
}
