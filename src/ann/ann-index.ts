/**
 * The contract of a top-K item index for serving: built once from a model version's item matrix,
 * then searched batch after batch, read-only, until a newer index replaces it whole.
 *
 * Scores are the model's own: for 'ip', score(q, i) = q·v_i + b_i (the dot-product head with its
 * item bias); for 'cosine', score(q, i) = q·v_i / (‖q‖‖v_i‖), no bias. Approximate indexes only
 * choose the candidates; every score they return is recomputed exactly from the item matrix, so a
 * returned (item, score) pair always equals the exact scorer's for that item.
 */

export type AnnMetric = 'ip' | 'cosine';

/** A catalogue's item vectors (row-major count × dim) and, for 'ip', the optional item bias. */
export interface ItemMatrix {
  vectors: Float32Array;
  count: number;
  dim: number;
  bias?: Float32Array;
}

/** Reusable result buffers: row r's best k at [r·k, (r+1)·k), best first; −1 / −Infinity where fewer than k items exist. */
export interface AnnSearchOutput {
  ids: Int32Array;
  scores: Float32Array;
}

export interface AnnIndex {
  /** 'exact', 'usearch', 'hnswlib'. */
  readonly library: string;
  readonly metric: AnnMetric;
  /** Items indexed; ids are their rows, 0 ≤ id < count. */
  readonly count: number;
  readonly dim: number;
  /** Whether the results may miss true top-K items. */
  readonly approximate: boolean;
  /**
   * The best k items of n queries (row-major n × dim) into out, which must hold n·k of each.
   * Synchronous: no other search can run on this index meanwhile, so a swap between two calls
   * is atomic.
   */
  search(queries: Float32Array, n: number, k: number, out: AnnSearchOutput): void;
  /** Frees native memory (where the library allows it); the index is unusable afterwards. */
  dispose(): void;
}

export function checkItemMatrix(items: ItemMatrix, metric: AnnMetric): void {
  const { vectors, count, dim, bias } = items;
  if (!Number.isInteger(count) || count < 1) throw new RangeError(`ann: item count must be a positive integer, got ${count}`);
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`ann: dim must be a positive integer, got ${dim}`);
  if (vectors.length < count * dim) throw new RangeError(`ann: item matrix holds ${vectors.length} values, needs count × dim = ${count * dim}`);
  if (bias && bias.length < count) throw new RangeError(`ann: bias holds ${bias.length} values for ${count} items`);
  if (bias && metric === 'cosine') throw new RangeError("ann: metric 'cosine' ranks by cosine alone; an item bias needs metric 'ip'");
}

export function checkSearchArgs(index: Pick<AnnIndex, 'dim' | 'count'>, queries: Float32Array, n: number, k: number, out: AnnSearchOutput): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`ann search: n must be a non-negative integer, got ${n}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`ann search: k must be a positive integer, got ${k}`);
  if (queries.length < n * index.dim) throw new RangeError(`ann search: queries hold ${queries.length} values, need n × dim = ${n * index.dim}`);
  if (out.ids.length < n * k || out.scores.length < n * k) throw new RangeError(`ann search: out.ids/out.scores must hold n × k = ${n * k} values`);
}
