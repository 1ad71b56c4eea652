import { LatencyHistogram } from '../latency-histogram.ts';

/**
 * The latency samples recorded since the previous take(), read off a cumulative histogram by
 * difference (HDR histograms subtract bucket by bucket): a window of one's own without
 * resetting the shared histogram (resetting is how the CLI's recentLatency keeps its window,
 * and two readers resetting one histogram would each see a fraction of the samples).
 */
export class LatencyWindow {
  /** The source as it was at the previous take(). */
  private readonly seen = new LatencyHistogram();
  private seenResets = 0;
  private readonly window = new LatencyHistogram();

  constructor(private readonly source: () => LatencyHistogram) {
    this.mark(source());
  }

  /** The samples since the previous call (or construction); the returned histogram is reused by the next call. */
  take(): LatencyHistogram {
    const h = this.source();
    this.window.copyFrom(h);
    // A histogram its owner reset since the last look holds only new samples.
    const restarted = h.resets !== this.seenResets || h.count < this.seen.count;
    if (!restarted) this.window.subtract(this.seen);
    this.mark(h);
    return this.window;
  }

  private mark(h: LatencyHistogram): void {
    this.seen.copyFrom(h);
    this.seenResets = h.resets;
  }
}
