import type { Rng } from '../random/rng.ts';

export interface SamplerOptions {
  /** Negatives handed out per training step. */
  nSample: number;
  /** Sampling probability ∝ support^alpha (0 = uniform, 1 = popularity). */
  alpha: number;
  /** Most item ids held in the precomputed store (the official sample_cache_max_size). */
  cacheSize: number;
  rng: Rng;
}

/**
 * Popularity^alpha negative sampler with a precomputed store, the way the official GRU4Rec
 * does it: draw cacheSize/nSample batches at once by binary search over the cumulative
 * distribution, hand out one batch per step, redraw when the store runs dry. One big draw
 * keeps the per-step cost to a subarray view.
 */
export class PopularitySampler {
  readonly nSample: number;
  /** Probability of drawing each item (support^alpha, normalised). */
  readonly probs: Float64Array;
  private readonly cdf: Float64Array;
  private readonly rng: Rng;
  private readonly store: Int32Array;
  private readonly batches: number;
  private pointer: number;

  constructor(support: ArrayLike<number>, opts: SamplerOptions) {
    const n = support.length;
    if (n === 0) throw new Error('sampler: the item support is empty');
    if (!Number.isInteger(opts.nSample) || opts.nSample < 0) throw new Error(`sampler: nSample must be a non-negative integer, got ${opts.nSample}`);
    this.nSample = opts.nSample;
    this.rng = opts.rng;
    const weights = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      const s = support[i];
      if (!(s >= 0)) throw new Error(`sampler: support of item ${i} is ${s}, must be >= 0`);
      weights[i] = s ** opts.alpha;
      total += weights[i];
    }
    if (!(total > 0)) throw new Error('sampler: every item has zero sampling weight');
    this.probs = new Float64Array(n);
    this.cdf = new Float64Array(n);
    let acc = 0;
    for (let i = 0; i < n; i++) {
      this.probs[i] = weights[i] / total;
      acc += weights[i];
      this.cdf[i] = acc / total;
    }
    // Rounding must not leave the last bucket unreachable.
    this.cdf[n - 1] = 1;
    this.batches = this.nSample > 0 ? Math.max(1, Math.floor(opts.cacheSize / this.nSample)) : 0;
    this.store = new Int32Array(this.batches * this.nSample);
    this.pointer = this.batches;
  }

  /** The next nSample negatives: a view into the store, valid until the next call. */
  next(): Int32Array {
    if (this.nSample === 0) return this.store;
    if (this.pointer >= this.batches) this.refill();
    const start = this.pointer * this.nSample;
    this.pointer++;
    return this.store.subarray(start, start + this.nSample);
  }

  private refill(): void {
    const { cdf, store, rng } = this;
    const n = cdf.length;
    for (let k = 0; k < store.length; k++) {
      const x = rng.next();
      // First index whose cumulative mass exceeds x.
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (cdf[mid] <= x) lo = mid + 1;
        else hi = mid;
      }
      store[k] = lo;
    }
    this.pointer = 0;
  }
}
