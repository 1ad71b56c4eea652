/**
 * Turns a library's candidate ids into the final top-k: each candidate scored exactly from the
 * item matrix (so reported scores are the model's, not the library's distance, and ties break
 * by id as in the exact scorer), then the best k kept. A library may return more candidates than
 * k (AnnSettings.candidates) so that re-ranking recovers items a coarse distance misordered.
 */
import type { AnnSearchOutput } from './ann-index.ts';
import { BestK } from './best-k.ts';
import type { ItemScorer } from './item-scorer.ts';

export class Rescorer {
  private best: BestK | null = null;

  constructor(private readonly scorer: ItemScorer) {}

  /**
   * Query row r of queries (row-major, scorer.dim wide); candidates[candStart, candStart + nCand)
   * are item ids (−1 = none); the best k go to out at r·k.
   */
  rescoreRow(queries: Float32Array, r: number, candidates: Int32Array, candStart: number, nCand: number, k: number, out: AnnSearchOutput): void {
    if (this.best?.k !== k) this.best = new BestK(k);
    const { scorer, best } = this;
    const offset = r * scorer.dim;
    const factor = scorer.queryFactor(queries, offset);
    for (let c = candStart, end = candStart + nCand; c < end; c++) {
      const id = candidates[c];
      if (id >= 0 && id < scorer.count) best.offer(scorer.score(queries, offset, factor, id), id);
    }
    best.drainInto(out.ids, out.scores, r * k);
  }
}
