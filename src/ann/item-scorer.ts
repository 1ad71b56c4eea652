/**
 * The model's score of one item for one query, straight from the item matrix: q·v + b ('ip') or
 * q·v / (‖q‖‖v‖) ('cosine'). The exact index scans every item with it; the approximate ones
 * rescore their candidates with it, so every index reports the same score for the same item.
 */
import { type AnnMetric, type ItemMatrix, checkItemMatrix } from './ann-index.ts';

export class ItemScorer {
  readonly count: number;
  readonly dim: number;
  private readonly vectors: Float32Array;
  private readonly bias: Float32Array | undefined;
  /** 1/‖v_i‖ for 'cosine' (0 for a zero vector, whose cosine is taken as 0). */
  private readonly invNorm: Float32Array | undefined;

  constructor(
    items: ItemMatrix,
    readonly metric: AnnMetric,
  ) {
    checkItemMatrix(items, metric);
    this.count = items.count;
    this.dim = items.dim;
    this.vectors = items.vectors;
    this.bias = items.bias;
    if (metric === 'cosine') {
      const { count, dim, vectors } = items;
      this.invNorm = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        let s = 0;
        for (let j = i * dim, end = j + dim; j < end; j++) s += vectors[j] * vectors[j];
        this.invNorm[i] = s > 0 ? 1 / Math.sqrt(s) : 0;
      }
    }
  }

  /**
   * What the query's own factor contributes: 1/‖q‖ for 'cosine' (constant over items, but part
   * of the reported score), 1 for 'ip'.
   */
  queryFactor(queries: Float32Array, offset: number): number {
    if (this.metric !== 'cosine') return 1;
    let s = 0;
    for (let j = offset, end = offset + this.dim; j < end; j++) s += queries[j] * queries[j];
    return s > 0 ? 1 / Math.sqrt(s) : 0;
  }

  /** Score of item for the query at queries[offset ..], given its queryFactor. */
  score(queries: Float32Array, offset: number, factor: number, item: number): number {
    const { dim, vectors } = this;
    let dot = 0;
    const base = item * dim;
    for (let j = 0; j < dim; j++) dot += queries[offset + j] * vectors[base + j];
    if (this.invNorm) return dot * factor * this.invNorm[item];
    return this.bias ? dot + this.bias[item] : dot;
  }
}
