/**
 * Online Recall@k / MRR@k (k = 5, 10, 20) per model version, cumulative and over a sliding
 * window: the prequential definition of PrequentialMetrics (a click's target is the list
 * emitted for the same session's previous event; a click on an unknown item is a miss), with
 * each target credited to the version that EMITTED the list it is checked against. Right after
 * a hot swap the first next-clicks of open sessions still judge the old version's lists, and
 * they count for the old version.
 *
 * One session table for all versions (the PrequentialMetrics `overall`, whose per-list tag is
 * the emitting version's serial), so an event costs one hash lookup whatever the number of
 * versions, and nothing is allocated per event: per version, targets are counted by rank in
 * typed arrays, so Recall@k and MRR@k for every k come out exactly (integer counts, no running
 * floating-point sums to drift) at read time, O(max k).
 *
 * The sliding window is the last `slidingTargets` targets of each version, not a time span:
 * every point of it has the same statistical weight whatever the traffic (a quiet hour does not
 * turn it into noise), it is O(1) per event with a fixed ring, and time windows are already
 * exact in Prometheus from the streamrec.online.hits / .targets counters
 * (increase(hits[5m]) / increase(targets[5m])), where a second in-process time window would only
 * duplicate them.
 *
 * Versions are bounded (`maxVersions`): a continuous trainer promotes for ever, and each version
 * is a dozen series. Beyond the bound the version that emitted least recently is retired; lists
 * it emitted that are still held stop counting for anyone (the overall metric still counts them).
 */
import type { Attributes, Meter } from '@opentelemetry/api';
import { counterSpec, gaugeSpec, INSTRUMENTS, QUALITY_CUTOFFS, type QualityWindow } from './instruments.ts';
import { NOT_A_TARGET, PrequentialMetrics } from './online-metrics.ts';

/** Largest cutoff (serving.topK's bound): window ranks are kept as 16-bit integers. */
const MAX_CUTOFF = 1000;

export interface OnlineQualityOptions {
  /** Targets in each version's sliding window. */
  slidingTargets: number;
  /** Sessions whose latest list is held (the oldest is forgotten beyond it: its next click is no target). */
  maxSessions: number;
  /** Versions kept at once; beyond it the one that emitted least recently is retired. */
  maxVersions: number;
  /** Cutoffs k, ascending; defaults to 5, 10, 20. */
  cutoffs?: readonly number[];
}

/** One version's quality, read-only. */
export interface VersionQuality {
  readonly version: string;
  /** Lists this version emitted. */
  readonly events: number;
  /** Targets judged against lists of this version, since it first served. */
  readonly targets: number;
  /** Targets in the sliding window (at most slidingTargets). */
  readonly windowTargets: number;
  /** Targets found in the top k. */
  hits(k: number, window?: QualityWindow): number;
  /** Sum over targets of 1/rank within the top k (0 beyond). */
  reciprocalRankSum(k: number, window?: QualityWindow): number;
  /** hits / targets (0 without targets). */
  recall(k: number, window?: QualityWindow): number;
  mrr(k: number, window?: QualityWindow): number;
}

class VersionAccumulator implements VersionQuality {
  events = 0;
  targets = 0;
  windowTargets = 0;
  /** Emission sequence number of this version's latest list (retirement order). */
  lastEmit = 0;
  /** Cumulative targets by 0-based rank within the largest cutoff. */
  private readonly byRank: Float64Array;
  private readonly windowByRank: Int32Array;
  /** Ranks of the window's targets, oldest at `next` once full; MISS (-1) for a miss. */
  private readonly ring: Int16Array;
  private next = 0;

  constructor(
    readonly version: string,
    readonly serial: number,
    maxRank: number,
    windowSize: number,
  ) {
    this.byRank = new Float64Array(maxRank);
    this.windowByRank = new Int32Array(maxRank);
    this.ring = new Int16Array(windowSize);
  }

  add(rank: number): void {
    this.targets++;
    if (rank >= 0) this.byRank[rank]++;
    const ring = this.ring;
    if (this.windowTargets === ring.length) {
      const old = ring[this.next];
      if (old >= 0) this.windowByRank[old]--;
    } else this.windowTargets++;
    ring[this.next] = rank;
    if (rank >= 0) this.windowByRank[rank]++;
    this.next = this.next + 1 === ring.length ? 0 : this.next + 1;
  }

  hits(k: number, window: QualityWindow = 'cumulative'): number {
    const counts = window === 'cumulative' ? this.byRank : this.windowByRank;
    let n = 0;
    for (let r = 0; r < Math.min(k, counts.length); r++) n += counts[r];
    return n;
  }

  reciprocalRankSum(k: number, window: QualityWindow = 'cumulative'): number {
    const counts = window === 'cumulative' ? this.byRank : this.windowByRank;
    let s = 0;
    for (let r = 0; r < Math.min(k, counts.length); r++) s += counts[r] / (r + 1);
    return s;
  }

  recall(k: number, window: QualityWindow = 'cumulative'): number {
    const n = window === 'cumulative' ? this.targets : this.windowTargets;
    return n === 0 ? 0 : this.hits(k, window) / n;
  }

  mrr(k: number, window: QualityWindow = 'cumulative'): number {
    const n = window === 'cumulative' ? this.targets : this.windowTargets;
    return n === 0 ? 0 : this.reciprocalRankSum(k, window) / n;
  }
}

export class OnlineQuality {
  readonly cutoffs: readonly number[];
  /** All versions together at the largest cutoff (the CLI's live line, the demo summary). */
  readonly overall: PrequentialMetrics;
  private readonly bySerial = new Map<number, VersionAccumulator>();
  private readonly byName = new Map<string, VersionAccumulator>();
  /** Live versions in the order they first served. */
  private readonly order: VersionAccumulator[] = [];
  private last: VersionAccumulator | null = null;
  private nextSerial = 1;
  private emitSeq = 0;

  constructor(private readonly o: OnlineQualityOptions) {
    this.cutoffs = o.cutoffs ?? QUALITY_CUTOFFS;
    const bad = this.cutoffs.find((k, i) => !Number.isInteger(k) || k < 1 || k > MAX_CUTOFF || (i > 0 && k <= this.cutoffs[i - 1]));
    if (bad !== undefined || this.cutoffs.length === 0) throw new RangeError(`cutoffs must be ascending integers in [1, ${MAX_CUTOFF}], got [${this.cutoffs}]`);
    if (!Number.isInteger(o.slidingTargets) || o.slidingTargets < 1) throw new RangeError(`slidingTargets must be a positive integer, got ${o.slidingTargets}`);
    if (!Number.isInteger(o.maxVersions) || o.maxVersions < 1) throw new RangeError(`maxVersions must be a positive integer, got ${o.maxVersions}`);
    this.overall = new PrequentialMetrics(this.cutoffs[this.cutoffs.length - 1], o.maxSessions);
  }

  /** One click: checked against the list emitted for the session's previous event, if one is held. */
  observe(sessionId: string, itemId: string): void {
    const rank = this.overall.observe(sessionId, itemId);
    if (rank === NOT_A_TARGET) return;
    // undefined: the list's version was retired since; it counts only overall.
    this.bySerial.get(this.overall.observedTag)?.add(rank);
  }

  /** The list `version` emitted for the session's latest event. */
  emitted(sessionId: string, version: string, itemIds: readonly string[]): void {
    const acc = this.accumulatorOf(version);
    acc.events++;
    acc.lastEmit = ++this.emitSeq;
    this.overall.emitted(sessionId, itemIds, acc.serial);
  }

  /** The session ended (or its state was dropped): its next click is no target. */
  forget(sessionId: string): void {
    this.overall.forget(sessionId);
  }

  /** Live versions in the order they first served (live views: they change as events arrive). */
  versions(): readonly VersionQuality[] {
    return this.order;
  }

  version(name: string): VersionQuality | undefined {
    return this.byName.get(name);
  }

  private accumulatorOf(version: string): VersionAccumulator {
    // Consecutive events almost always share the version: no lookup on the hot path.
    const last = this.last;
    if (last !== null && last.version === version) return last;
    let acc = this.byName.get(version);
    if (acc === undefined) {
      if (this.order.length >= this.o.maxVersions) this.retireLeastRecent();
      acc = new VersionAccumulator(version, this.nextSerial++, this.cutoffs[this.cutoffs.length - 1], this.o.slidingTargets);
      this.byName.set(version, acc);
      this.bySerial.set(acc.serial, acc);
      this.order.push(acc);
    }
    this.last = acc;
    return acc;
  }

  private retireLeastRecent(): void {
    let oldest = 0;
    for (let i = 1; i < this.order.length; i++) if (this.order[i].lastEmit < this.order[oldest].lastEmit) oldest = i;
    const [gone] = this.order.splice(oldest, 1);
    this.byName.delete(gone.version);
    this.bySerial.delete(gone.serial);
    if (this.last === gone) this.last = null;
  }
}

/** What registerOnlineQualityInstruments reads: an OnlineQuality, or anything that keeps the same numbers. */
export interface OnlineQualitySource {
  readonly cutoffs: readonly number[];
  versions(): readonly VersionQuality[];
}

/**
 * Exports an OnlineQuality on `meter`: streamrec.online.recall / .mrr gauges (k, model_version,
 * window) and the .targets / .hits / .reciprocal_rank counters, read at collection time (nothing
 * on the event path). Serving and `streamrec monitor` both call this, so they export identical
 * series. A version without targets (in the window) has no recall point rather than a false 0.
 * Returns a function that removes the callback.
 */
export function registerOnlineQualityInstruments(meter: Meter, quality: OnlineQualitySource): () => void {
  const recall = gaugeSpec(meter, INSTRUMENTS.onlineRecall);
  const mrr = gaugeSpec(meter, INSTRUMENTS.onlineMrr);
  const targets = counterSpec(meter, INSTRUMENTS.onlineTargets);
  const hits = counterSpec(meter, INSTRUMENTS.onlineHits);
  const reciprocalRank = counterSpec(meter, INSTRUMENTS.onlineReciprocalRank);
  const callback = (r: import('@opentelemetry/api').BatchObservableResult) => {
    for (const v of quality.versions()) {
      const model_version = v.version;
      if (v.targets > 0) r.observe(targets, v.targets, { model_version });
      for (const k of quality.cutoffs) {
        const kLabel = String(k);
        if (v.targets > 0) {
          r.observe(hits, v.hits(k), { k: kLabel, model_version });
          r.observe(reciprocalRank, v.reciprocalRankSum(k), { k: kLabel, model_version });
        }
        for (const window of ['cumulative', 'sliding'] as const) {
          if ((window === 'cumulative' ? v.targets : v.windowTargets) === 0) continue;
          const attrs: Attributes = { k: kLabel, model_version, window };
          r.observe(recall, v.recall(k, window), attrs);
          r.observe(mrr, v.mrr(k, window), attrs);
        }
      }
    }
  };
  const observables = [recall, mrr, targets, hits, reciprocalRank];
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}
