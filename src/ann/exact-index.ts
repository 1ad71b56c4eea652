/**
 * The exact reference: every item scored for every query (plain loops, one thread). It is what
 * the approximate indexes are checked against in tests, and the fallback when a catalogue is too
 * small for an index to pay off; serving's own exact path is the engine's ORT product + TopK.
 */
import { type AnnIndex, type AnnMetric, type AnnSearchOutput, type ItemMatrix, checkSearchArgs } from './ann-index.ts';
import { BestK } from './best-k.ts';
import { ItemScorer } from './item-scorer.ts';

export class ExactIndex implements AnnIndex {
  readonly library = 'exact';
  readonly approximate = false;
  readonly count: number;
  readonly dim: number;
  private readonly scorer: ItemScorer;
  private best: BestK | null = null;

  constructor(
    items: ItemMatrix,
    readonly metric: AnnMetric,
  ) {
    this.scorer = new ItemScorer(items, metric);
    this.count = items.count;
    this.dim = items.dim;
  }

  search(queries: Float32Array, n: number, k: number, out: AnnSearchOutput): void {
    checkSearchArgs(this, queries, n, k, out);
    if (this.best?.k !== k) this.best = new BestK(k);
    const { scorer, best, count, dim } = this;
    for (let r = 0; r < n; r++) {
      const offset = r * dim;
      const factor = scorer.queryFactor(queries, offset);
      for (let item = 0; item < count; item++) best.offer(scorer.score(queries, offset, factor, item), item);
      best.drainInto(out.ids, out.scores, r * k);
    }
  }

  dispose(): void {
    this.best = null;
  }
}
