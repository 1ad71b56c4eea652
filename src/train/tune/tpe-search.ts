import { Rng } from '../../random/rng.ts';
import type { Observation, Sampler } from './sampler.ts';
import { type ChoiceDim, choiceIndex, type Dim, type FloatDim, fromUnit, type IntDim, type Point, type SearchSpace, sampleUniform, toUnit } from './search-space.ts';

export interface TpeOptions {
  /** Random proposals before the model takes over (it needs a few scores to split). Default 5. */
  startup?: number;
  /** Share of the scored trials that counts as "good". Default 0.25 (the best quartile). */
  goodFraction?: number;
  /** Candidates drawn around the good trials per proposal; the one the model likes best is proposed. Default 24. */
  candidates?: number;
}

/**
 * A small Tree-structured Parzen Estimator (Bergstra et al. 2011, the sampler of hyperopt and
 * Optuna), without their refinements. After `startup` random points:
 *  1. the scored trials split into the best quartile ("good") and the rest ("bad"; failed trials
 *     are bad);
 *  2. each side gets a density per dimension, independent across dimensions: numeric dimensions a
 *     Gaussian kernel on every trial's unit-space position plus a flat prior, choices the smoothed
 *     frequencies of each value;
 *  3. candidates are drawn from the good density (around a random good trial, or from the prior)
 *     and the one with the highest good/bad density ratio is proposed.
 * So it samples near the best quartile, away from where the rest landed, and keeps exploring
 * through the prior. Kernel widths shrink as trials accumulate (Scott's rule, n^-1/5); densities
 * near the ends of a range are not renormalised for truncation (both sides are equally off).
 */
export class TpeSearch implements Sampler {
  readonly name = 'bayes (TPE)';
  private readonly rng: Rng;
  private readonly startup: number;
  private readonly goodFraction: number;
  private readonly nCandidates: number;

  constructor(
    readonly space: SearchSpace,
    seed: number,
    opts: TpeOptions = {},
  ) {
    this.rng = new Rng(seed);
    this.startup = opts.startup ?? 5;
    this.goodFraction = opts.goodFraction ?? 0.25;
    this.nCandidates = opts.candidates ?? 24;
  }

  propose(history: readonly Observation[]): Point {
    const scored = history.filter((o) => o.score !== null);
    if (history.length < this.startup || scored.length < 2) return sampleUniform(this.space, this.rng);
    const ranked = [...history].sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity));
    const nGood = Math.max(1, Math.ceil(this.goodFraction * scored.length));
    const good = ranked.slice(0, nGood).map((o) => o.point);
    const bad = ranked.slice(nGood).map((o) => o.point);
    const dims = Object.entries(this.space).map(([name, d]) => ({ name, d, good: densityOf(d, good, name), bad: densityOf(d, bad, name) }));

    let best: Point | null = null;
    let bestRatio = -Infinity;
    for (let c = 0; c < this.nCandidates; c++) {
      // One good trial (or the prior) anchors every numeric dimension of a candidate, as in TPE.
      const anchor = Math.floor(this.rng.next() * (good.length + 1));
      const candidate: Point = {};
      let logRatio = 0;
      for (const { name, good: l, bad: g } of dims) {
        candidate[name] = l.sample(this.rng, anchor < good.length ? anchor : -1);
        logRatio += Math.log(l.at(candidate[name])) - Math.log(g.at(candidate[name]));
      }
      if (logRatio > bestRatio) {
        bestRatio = logRatio;
        best = candidate;
      }
    }
    return best!;
  }
}

interface Density {
  /** Density (unnormalised for numeric dimensions: only ratios matter) at a value. */
  at(value: Point[string]): number;
  /** A draw near the anchor-th trial's value (numeric dimensions), or from the whole density (anchor -1). */
  sample(rng: Rng, anchor: number): Point[string];
}

function densityOf(d: Dim, points: readonly Point[], name: string): Density {
  return d.kind === 'choice' ? choiceDensity(d, points, name) : kernelDensity(d, points, name);
}

/** Smoothed value frequencies: (count + 1) / (n + K), so no value ever becomes impossible. */
function choiceDensity(d: ChoiceDim, points: readonly Point[], name: string): Density {
  const k = d.values.length;
  const weights = new Float64Array(k).fill(1);
  for (const p of points) {
    const i = choiceIndex(d, p[name]);
    if (i >= 0) weights[i]++;
  }
  const total = weights.reduce((a, b) => a + b, 0);
  return {
    at: (v) => {
      const i = choiceIndex(d, v);
      return i < 0 ? 1 / total : weights[i] / total;
    },
    sample: (rng) => {
      let u = rng.next() * total;
      for (let i = 0; i < k; i++) if ((u -= weights[i]) < 0) return d.values[i];
      return d.values[k - 1];
    },
  };
}

/** Gaussian kernels on the points' unit positions plus one flat prior component on [0, 1]. */
function kernelDensity(d: FloatDim | IntDim, points: readonly Point[], name: string): Density {
  const centres = points.map((p) => toUnit(d, p[name] as number));
  const n = centres.length;
  const sigma = Math.max(0.05, 0.25 * (n + 1) ** -0.2);
  const norm = 1 / (sigma * Math.sqrt(2 * Math.PI));
  return {
    at: (v) => {
      const u = toUnit(d, v as number);
      let sum = 1; // the prior: density 1 on [0, 1]
      for (const c of centres) sum += norm * Math.exp(-0.5 * ((u - c) / sigma) ** 2);
      return sum / (n + 1);
    },
    sample: (rng, anchor) => {
      if (anchor < 0 || anchor >= n) return fromUnit(d, rng.next());
      return fromUnit(d, centres[anchor] + sigma * gaussian(rng));
    },
  };
}

/** A standard normal draw (Box–Muller). */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}
