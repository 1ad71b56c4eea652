import { ConfigError } from '../../errors/errors.ts';
import { LatencyWindow } from './latency-window.ts';
import { Ring } from './ring.ts';
import type { StatusSource, VersionQualityReading } from './status-source.ts';

/** What the page shows as "now": one sample, rates and latency over the interval that ended at `at`. */
export interface StatusReading {
  /** Epoch ms. */
  at: number;
  /** Over the interval since the previous sample; null when no time passed or a counter went backwards. */
  eventsInPerSec: number | null;
  eventsOutPerSec: number | null;
  /** Over the interval since the previous sample; null when it recorded no latency. */
  latencyP50Ms: number | null;
  latencyP99Ms: number | null;
  lag: number | null;
  /** Cumulative since start, every version together. */
  recall20: number;
  mrr20: number;
  targets: number;
  version: string | null;
}

interface StatusPoint extends StatusReading {
  /** Versions whose quality moved in this interval (or that serve now): the chart plots a point for each. */
  byVersion: VersionQualityReading[];
}

export interface VersionHistoryRow {
  version: string;
  /** Epoch ms this process first saw the version serve (or, for a monitor, be judged). */
  firstSeen: number;
  /** How long the hot swap to it held serving; null when it was not swapped in here (it served from the start, or a monitor saw it). */
  swapPauseMs: number | null;
  /** Latest cumulative quality of the version; null until it has a target. */
  recall20: number | null;
  mrr20: number | null;
  targets: number;
}

/** Columns aligned on `t`, the form uPlot draws; null is a gap. */
export interface StatusSeries {
  /** Seconds since the epoch (uPlot's time unit). */
  t: number[];
  eventsInPerSec: Array<number | null>;
  eventsOutPerSec: Array<number | null>;
  latencyP50Ms: Array<number | null>;
  latencyP99Ms: Array<number | null>;
  lag: Array<number | null>;
  recall20: number[];
  mrr20: number[];
  /** One entry per version seen in the window, in order of first appearance. */
  byVersion: Array<{ version: string; recall20: Array<number | null>; mrr20: Array<number | null> }>;
}

export interface StatusSnapshot {
  instanceId: string;
  intervalMs: number;
  /** Epoch ms the snapshot was taken. */
  generatedAt: number;
  /** Why the last timed sample failed; null after a good one. */
  error: string | null;
  current: StatusReading | null;
  versions: VersionHistoryRow[];
  series: StatusSeries;
}

export interface StatusTimelineOptions {
  /** Sampling period of start() (ms; default 1,000). */
  intervalMs?: number;
  /** Samples kept (default 600: ten minutes at one a second). */
  capacity?: number;
  /** Versions kept in the history table (default 100); the oldest goes first. */
  maxVersions?: number;
  /** Epoch ms; injectable so tests control the intervals. */
  now?: () => number;
}

/**
 * The status page's memory: every `intervalMs` (or on sample()) it reads the source and keeps
 * throughput, latency quantiles, lag and online quality per version for the last `capacity`
 * samples, plus the history of model versions. Memory is bounded by capacity × the versions
 * active in one interval, and by maxVersions.
 */
export class StatusTimeline {
  readonly intervalMs: number;
  private readonly points: Ring<StatusPoint>;
  private readonly maxVersions: number;
  private readonly now: () => number;
  private readonly latencyWindow: LatencyWindow;
  private readonly versions = new Map<string, VersionHistoryRow>();
  /** Targets of each version at the previous sample, to tell which versions moved. */
  private readonly targetsSeen = new Map<string, number>();
  private lastAt: number;
  private lastIn: number;
  private lastOut: number;
  private timer: NodeJS.Timeout | null = null;
  private error: string | null = null;

  constructor(
    readonly source: StatusSource,
    options: StatusTimelineOptions = {},
  ) {
    this.intervalMs = positiveInteger('status.intervalMs', options.intervalMs ?? 1000);
    this.points = new Ring(positiveInteger('status.capacity', options.capacity ?? 600));
    this.maxVersions = positiveInteger('status.maxVersions', options.maxVersions ?? 100);
    this.now = options.now ?? Date.now;
    // The baseline: the first sample's rates cover the time since construction.
    this.lastAt = this.now();
    this.lastIn = source.eventsIn();
    this.lastOut = source.eventsOut();
    this.latencyWindow = new LatencyWindow(() => source.latency());
    const version = source.currentVersion?.();
    if (version !== undefined) this.seeVersion(version, this.lastAt);
  }

  /**
   * A hot swap to `version` that held serving `pauseMs`: recorded as it happens, since the
   * pause is not something a sample can read. Serving calls it from its modelSwapped event.
   */
  modelSwapped(version: string, pauseMs: number): void {
    const row = this.seeVersion(version, this.now());
    row.swapPauseMs = pauseMs;
  }

  /** Takes a sample now (the timer calls this too) and returns it. Throws what the source throws, keeping nothing of the failed sample. */
  sample(): StatusReading {
    const at = this.now();
    // Every read first, so a source that throws leaves the timeline as it was.
    const eventsIn = this.source.eventsIn();
    const eventsOut = this.source.eventsOut();
    const quality = this.source.quality();
    const byVersion = this.source.qualityByVersion();
    const version = this.source.currentVersion?.() ?? null;
    const lag = this.source.consumerLag?.() ?? null;
    const latency = this.latencyWindow.take();

    const seconds = (at - this.lastAt) / 1000;
    const rate = (now: number, before: number) => (seconds > 0 && now >= before ? (now - before) / seconds : null);
    const point: StatusPoint = {
      at,
      eventsInPerSec: rate(eventsIn, this.lastIn),
      eventsOutPerSec: rate(eventsOut, this.lastOut),
      latencyP50Ms: latency.count > 0 ? latency.quantile(0.5) : null,
      latencyP99Ms: latency.count > 0 ? latency.quantile(0.99) : null,
      lag,
      recall20: quality.recall20,
      mrr20: quality.mrr20,
      targets: quality.targets,
      version,
      byVersion: [],
    };
    if (version !== null) this.seeVersion(version, at);
    for (const v of byVersion) {
      const row = this.seeVersion(v.version, at);
      if (v.targets > 0) {
        row.recall20 = v.recall20;
        row.mrr20 = v.mrr20;
      }
      row.targets = v.targets;
      const moved = v.targets > (this.targetsSeen.get(v.version) ?? 0);
      if (v.targets > 0 && (moved || v.version === version)) point.byVersion.push({ ...v });
      this.targetsSeen.set(v.version, v.targets);
    }
    this.points.push(point);
    this.lastAt = at;
    this.lastIn = eventsIn;
    this.lastOut = eventsOut;
    return readingOf(point);
  }

  /** Samples every intervalMs until stop(); a failing sample is reported on the page, not thrown. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      try {
        this.sample();
        this.error = null;
      } catch (e) {
        this.error = e instanceof Error ? e.message : String(e);
      }
    }, this.intervalMs);
    // The page must never be what keeps a stopping process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** What /status.json serves. */
  snapshot(): StatusSnapshot {
    const points = this.points.toArray();
    const last = points.at(-1);
    const series: StatusSeries = {
      t: points.map((p) => p.at / 1000),
      eventsInPerSec: points.map((p) => p.eventsInPerSec),
      eventsOutPerSec: points.map((p) => p.eventsOutPerSec),
      latencyP50Ms: points.map((p) => p.latencyP50Ms),
      latencyP99Ms: points.map((p) => p.latencyP99Ms),
      lag: points.map((p) => p.lag),
      recall20: points.map((p) => p.recall20),
      mrr20: points.map((p) => p.mrr20),
      byVersion: [],
    };
    const columns = new Map<string, StatusSeries['byVersion'][number]>();
    points.forEach((p, i) => {
      for (const v of p.byVersion) {
        let c = columns.get(v.version);
        if (!c) {
          c = { version: v.version, recall20: new Array(points.length).fill(null), mrr20: new Array(points.length).fill(null) };
          columns.set(v.version, c);
          series.byVersion.push(c);
        }
        c.recall20[i] = v.recall20;
        c.mrr20[i] = v.mrr20;
      }
    });
    return {
      instanceId: this.source.instanceId,
      intervalMs: this.intervalMs,
      generatedAt: this.now(),
      error: this.error,
      current: last ? readingOf(last) : null,
      versions: [...this.versions.values()].map((r) => ({ ...r })),
      series,
    };
  }

  private seeVersion(version: string, at: number): VersionHistoryRow {
    let row = this.versions.get(version);
    if (row) return row;
    row = { version, firstSeen: at, swapPauseMs: null, recall20: null, mrr20: null, targets: 0 };
    this.versions.set(version, row);
    if (this.versions.size > this.maxVersions) {
      // Map keeps insertion order: the first key is the oldest version.
      const oldest = this.versions.keys().next().value!;
      this.versions.delete(oldest);
      this.targetsSeen.delete(oldest);
    }
    return row;
  }
}

function readingOf(p: StatusPoint): StatusReading {
  return {
    at: p.at,
    eventsInPerSec: p.eventsInPerSec,
    eventsOutPerSec: p.eventsOutPerSec,
    latencyP50Ms: p.latencyP50Ms,
    latencyP99Ms: p.latencyP99Ms,
    lag: p.lag,
    recall20: p.recall20,
    mrr20: p.mrr20,
    targets: p.targets,
    version: p.version,
  };
}

function positiveInteger(field: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new ConfigError(field, `expected a positive integer, got ${value}`);
  return value;
}
