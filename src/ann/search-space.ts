/**
 * How a model's items and queries enter a library index whose metric knows nothing of biases.
 *
 * 'ip' folds the bias in as one extra coordinate (the standard MIPS augmentation), item
 * [v, (b − c)/s] and query [q, s], so that the library's inner product is q·v + b − c: the model's
 * score up to a constant, hence the same ranking. c (the mean bias) and s (biasScale) do not change
 * the ranking; they shape the graph the library builds from item-to-item inner products, where
 * the bias coordinate also enters as (b_i − c)(b_j − c)/s². In exploratory runs on the 100k
 * synthetic set (M=16, efAdd=128, ef=64): with c = 0 and s = 1 the tail items' shared negative
 * bias makes them one another's nearest neighbours and recall@20 was 0.22; with c = min b and
 * s = 1 the popular items became hubs (0.58); with s = 10 the graph ignores the bias and search
 * cannot reach items that win by it (0.85); centred with s = 2 it was 0.95 (0.98 at M=32, efAdd=256).
 *
 * The norm-augmentation alternative (item [v, b, √(M² − ‖v‖² − b²)], query [q, 1, 0], then L2)
 * turns MIPS into a true metric search, but measured worse here (0.71 at ef=64, same set and
 * graph: the extra coordinate crowds the low-norm tail together), and M, the largest item norm, is global: one added
 * item with a larger norm changes every item's vector, so it cannot grow by incremental adds.
 * The inner-product fold is per item, so an index built with it can take new items as they come.
 *
 * 'cosine' passes vectors through to the library's cosine metric; there is no bias to fold.
 */
import type { AnnMetric, ItemMatrix } from './ann-index.ts';

export const DEFAULT_BIAS_SCALE = 2;

/** Plain data (it crosses to the build worker and back): everything needed to write rows the same way later. */
export interface SearchSpace {
  metric: AnnMetric;
  /** The metric the library index uses. */
  libraryMetric: 'ip' | 'cos';
  /** Dimension of the model's vectors. */
  itemDim: number;
  /** Dimension of the indexed vectors (itemDim + 1 when a bias is folded in). */
  dim: number;
  /** Whether a bias coordinate is appended. */
  folded: boolean;
  /** c: subtracted from every bias before scaling. */
  biasShift: number;
  /** s: the bias coordinate is (b − c)/s for items, s for queries. */
  biasScale: number;
}

export function searchSpaceFor(items: ItemMatrix, metric: AnnMetric, biasScale = DEFAULT_BIAS_SCALE): SearchSpace {
  if (!(biasScale > 0) || !Number.isFinite(biasScale)) throw new RangeError(`ann: biasScale must be a positive number, got ${biasScale}`);
  const folded = metric === 'ip' && items.bias !== undefined;
  let shift = 0;
  if (folded) {
    const bias = items.bias!;
    for (let i = 0; i < items.count; i++) shift += bias[i];
    shift /= items.count;
  }
  return {
    metric,
    libraryMetric: metric === 'cosine' ? 'cos' : 'ip',
    itemDim: items.dim,
    dim: items.dim + (folded ? 1 : 0),
    folded,
    biasShift: shift,
    biasScale,
  };
}

/** Writes items[from, to) as indexed rows into out (row i − from at (i − from)·space.dim). */
export function writeItemRows(space: SearchSpace, items: ItemMatrix, from: number, to: number, out: Float32Array): void {
  const { itemDim, dim } = space;
  if (!space.folded) {
    out.set(items.vectors.subarray(from * itemDim, to * itemDim));
    return;
  }
  const bias = items.bias!;
  const { biasShift, biasScale } = space;
  for (let i = from; i < to; i++) {
    const o = (i - from) * dim;
    out.set(items.vectors.subarray(i * itemDim, (i + 1) * itemDim), o);
    out[o + itemDim] = (bias[i] - biasShift) / biasScale;
  }
}

/**
 * The n queries as the index expects them: the caller's array itself when nothing is folded,
 * else written into scratch (which must hold n·space.dim values) with the bias coordinate s.
 */
export function indexedQueries(space: SearchSpace, queries: Float32Array, n: number, scratch: Float32Array): Float32Array {
  const { itemDim, dim } = space;
  if (!space.folded) return queries.length === n * itemDim ? queries : queries.subarray(0, n * itemDim);
  for (let r = 0; r < n; r++) {
    scratch.set(queries.subarray(r * itemDim, (r + 1) * itemDim), r * dim);
    scratch[r * dim + itemDim] = space.biasScale;
  }
  return scratch.length === n * dim ? scratch : scratch.subarray(0, n * dim);
}
