import { LatencyHistogram } from '../online-metrics.ts';

/**
 * The latency samples recorded since the previous take(), read off a cumulative histogram by
 * difference: a window of one's own without resetting the shared histogram (resetting is how
 * the CLI's recentLatency keeps its window, and two readers resetting one histogram would
 * each see a fraction of the samples).
 */
export class LatencyWindow {
  private readonly seen = new Float64Array(LatencyHistogram.BUCKETS);
  private seenCount = 0;
  private seenSum = 0;
  private readonly window = new LatencyHistogram();

  constructor(private readonly source: () => LatencyHistogram) {
    this.mark(source());
  }

  /** The samples since the previous call (or construction); the returned histogram is reused by the next call. */
  take(): LatencyHistogram {
    const h = this.source();
    const w = this.window;
    w.reset();
    // A histogram that went backwards was reset by its owner: everything in it is new.
    const restarted = h.count < this.seenCount;
    for (let b = 0; b < LatencyHistogram.BUCKETS; b++) w.counts[b] = restarted ? h.counts[b] : h.counts[b] - this.seen[b];
    w.count = restarted ? h.count : h.count - this.seenCount;
    w.sum = restarted ? h.sum : h.sum - this.seenSum;
    // The histogram keeps no per-window maximum; the overall one caps quantiles of the top bucket.
    w.max = w.count > 0 ? h.max : 0;
    this.mark(h);
    return w;
  }

  private mark(h: LatencyHistogram): void {
    this.seen.set(h.counts);
    this.seenCount = h.count;
    this.seenSum = h.sum;
  }
}
