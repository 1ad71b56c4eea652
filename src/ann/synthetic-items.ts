/**
 * Synthetic item embeddings and session states shaped like a trained recommender's, for the ANN
 * benchmark and tests. i.i.d. uniform vectors would make maximum-inner-product search look both
 * harder (no structure for a graph to follow) and easier (no hubs, no popularity) than it is, so:
 *
 * - items fall into clusters (categories) of power-law sizes; an item's direction is its cluster's
 *   direction plus item-specific noise;
 * - item popularity follows a Zipf law over a random order of the items; popular items get larger
 *   norms and larger biases (a trained output layer learns both), so the bias decides between
 *   close candidates and the norm spread makes inner product differ from cosine;
 * - queries are drawn like session states: mostly the direction of a popularity-drawn item's
 *   cluster, mixed with a second interest and noise, with a spread of norms.
 *
 * Deterministic for a given seed.
 */
import { Rng } from '../random/rng.ts';
import type { ItemMatrix } from './ann-index.ts';

export interface SyntheticItemsOptions {
  count: number;
  dim: number;
  /** Number of clusters (default ≈ √count). */
  clusters?: number;
  /** Zipf exponent of item popularity (default 1.05, as clickstreams measure). */
  zipf?: number;
  /** Bias per unit of log-popularity (default 0.15: the most popular items gain ≈ 2 over the tail at 1M). */
  biasScale?: number;
  seed?: number;
}

export interface SyntheticItems extends ItemMatrix {
  bias: Float32Array;
  /** Cluster of each item. */
  cluster: Int32Array;
  /** Unit direction of each cluster, clusters × dim. */
  centers: Float32Array;
  /** Cumulative popularity over items, for drawing popularity-weighted items. */
  popularityCdf: Float64Array;
}

/** A standard normal draw (Box–Muller; one of the pair is enough here). */
function gaussian(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

function normalizeInPlace(v: Float32Array, offset: number, dim: number): void {
  let s = 0;
  for (let j = 0; j < dim; j++) s += v[offset + j] * v[offset + j];
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  for (let j = 0; j < dim; j++) v[offset + j] *= inv;
}

/** Index i with cdf[i-1] ≤ u·total < cdf[i]. */
function drawFromCdf(cdf: Float64Array, u: number): number {
  const target = u * cdf[cdf.length - 1];
  let lo = 0;
  let hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cdf[mid] > target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

export function syntheticItems(o: SyntheticItemsOptions): SyntheticItems {
  const { count, dim } = o;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`synthetic items: count must be a positive integer, got ${count}`);
  if (!Number.isInteger(dim) || dim < 2) throw new RangeError(`synthetic items: dim must be an integer ≥ 2, got ${dim}`);
  const nClusters = o.clusters ?? Math.max(1, Math.round(Math.sqrt(count)));
  const zipf = o.zipf ?? 1.05;
  const biasScale = o.biasScale ?? 0.15;
  const rng = new Rng(o.seed ?? 1);

  const centers = new Float32Array(nClusters * dim);
  for (let i = 0; i < centers.length; i++) centers[i] = gaussian(rng);
  for (let c = 0; c < nClusters; c++) normalizeInPlace(centers, c * dim, dim);
  // Category sizes are skewed too (a few big categories, a long tail of small ones).
  const clusterCdf = new Float64Array(nClusters);
  let acc = 0;
  for (let c = 0; c < nClusters; c++) clusterCdf[c] = acc += 1 / (c + 1) ** 0.8;

  // Popularity rank = a random permutation of the items, so ids carry no popularity order.
  const rank = new Int32Array(count);
  for (let i = 0; i < count; i++) rank[i] = i;
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = rank[i];
    rank[i] = rank[j];
    rank[j] = t;
  }

  const vectors = new Float32Array(count * dim);
  const bias = new Float32Array(count);
  const cluster = new Int32Array(count);
  const popularityCdf = new Float64Array(count);
  const noiseScale = 0.8 / Math.sqrt(dim);
  let pop = 0;
  for (let i = 0; i < count; i++) {
    const c = drawFromCdf(clusterCdf, rng.next());
    cluster[i] = c;
    const off = i * dim;
    for (let j = 0; j < dim; j++) vectors[off + j] = centers[c * dim + j] + noiseScale * gaussian(rng);
    normalizeInPlace(vectors, off, dim);
    const logPop = -zipf * Math.log(rank[i] + 1);
    // Norm grows with popularity (≈ 1.6 for the head, ≈ 0.8 for the tail at 1M) with item noise.
    const norm = (1 + 0.05 * (logPop + 0.5 * Math.log(count))) * Math.exp(0.15 * gaussian(rng));
    for (let j = 0; j < dim; j++) vectors[off + j] *= norm;
    bias[i] = biasScale * logPop + 0.05 * gaussian(rng);
    popularityCdf[i] = pop += Math.exp(logPop);
  }
  return { vectors, bias, count, dim, cluster, centers, popularityCdf };
}

/**
 * n session-state-like queries (n × dim): a popularity-drawn item's cluster direction, 30 % of a
 * second random cluster, noise, and a norm around 3.
 */
export function syntheticQueries(items: SyntheticItems, n: number, seed = 2): Float32Array {
  const { dim, centers, cluster, popularityCdf } = items;
  const nClusters = centers.length / dim;
  const rng = new Rng(seed);
  const q = new Float32Array(n * dim);
  const noiseScale = 0.5 / Math.sqrt(dim);
  for (let r = 0; r < n; r++) {
    const main = cluster[drawFromCdf(popularityCdf, rng.next())];
    const second = Math.floor(rng.next() * nClusters);
    const off = r * dim;
    for (let j = 0; j < dim; j++) q[off + j] = centers[main * dim + j] + 0.3 * centers[second * dim + j] + noiseScale * gaussian(rng);
    normalizeInPlace(q, off, dim);
    const norm = 3 * Math.exp(0.2 * gaussian(rng));
    for (let j = 0; j < dim; j++) q[off + j] *= norm;
  }
  return q;
}
