import type { LatencyHistogram } from '../online-metrics.ts';

/** Online quality of one model version: targets credited to the version that emitted the list they are checked against. */
export interface VersionQualityReading {
  version: string;
  recall20: number;
  mrr20: number;
  targets: number;
}

/** Online quality over every version together (what /metrics reports as the process's Recall@20). */
export interface QualityReading {
  recall20: number;
  mrr20: number;
  targets: number;
}

/**
 * What the status page reads from the process it describes: serving and the monitor each adapt
 * their own counters to it. Every figure is cumulative since start; the timeline takes the
 * differences itself, so it never resets (or is reset by) a window someone else keeps, such as
 * the CLI's live line.
 */
export interface StatusSource {
  /** Names the process on the page (a serving instance id, the monitor's group). */
  readonly instanceId: string;
  /** Click records consumed. */
  eventsIn(): number;
  /** Recommendations produced (serving) or joined (monitor). */
  eventsOut(): number;
  /** End-to-end latency in ms, cumulative: a histogram that nobody resets (ServingStats.latency, not recentLatency). */
  latency(): LatencyHistogram;
  quality(): QualityReading;
  /** Per model version, in the order they first served; empty when the process does not keep it. */
  qualityByVersion(): readonly VersionQualityReading[];
  /** The version serving now; omitted by a process that serves none (the monitor). */
  currentVersion?(): string;
  /** Records between the committed offsets and the end of the input topic, summed over partitions; undefined while unknown. */
  consumerLag?(): number | undefined;
}

/** A per-version view as OnlineQuality (src/metrics/online-quality.ts) hands them out, typed by shape only. */
export interface VersionQualityView {
  readonly version: string;
  readonly targets: number;
  recall(k: number): number;
  mrr(k: number): number;
}

/** Cumulative Recall@20 / MRR@20 of each version, for StatusSource.qualityByVersion. */
export function readingsAt20(versions: readonly VersionQualityView[]): VersionQualityReading[] {
  return versions.map((v) => ({ version: v.version, recall20: v.recall(20), mrr20: v.mrr(20), targets: v.targets }));
}
