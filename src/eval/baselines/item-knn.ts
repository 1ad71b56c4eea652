import { type SessionData, sessionCount } from '../../data/sessions.ts';
import type { SessionScorer } from '../scorer.ts';
import { TopK } from '../../model/topk.ts';

export interface ItemKnnOptions {
  /** Neighbours kept per item (n_sims). Should be at least the evaluation cut-off. Default 100. */
  neighbours?: number;
  /** Support regulariser: discounts coincidental co-occurrences of rare items. Default 20. */
  lambda?: number;
  /** 0.5 gives cosine similarity, 1 gives confidence (association-rule style). Default 0.5. */
  alpha?: number;
  name?: string;
}

/**
 * Item-kNN of the GRU4Rec paper (Hidasi's reference baseline, also session-rec's ItemKNN):
 *   sim(i, j) = cooc(i, j) / ((supp_i + lambda)^alpha * (supp_j + lambda)^(1 - alpha))
 * where supp counts training events of an item and cooc(i, j) counts pairs of events of i and j in
 * the same session (so repeated clicks count repeatedly, as in the reference code). A session is
 * scored by the similarity of every item to its last item only. Neighbour lists are stored in CSR
 * form, so memory is nItems * neighbours, not nItems^2.
 */
export class ItemKnnScorer implements SessionScorer {
  readonly name: string;
  readonly neighbours: number;
  readonly lambda: number;
  readonly alpha: number;
  nItems = 0;
  /** CSR neighbour lists: item i's neighbours are cols[rowPtr[i]..rowPtr[i+1]), best first. */
  rowPtr = new Int32Array(1);
  cols = new Int32Array(0);
  sims = new Float32Array(0);

  constructor(opts: ItemKnnOptions = {}) {
    this.neighbours = opts.neighbours ?? 100;
    this.lambda = opts.lambda ?? 20;
    this.alpha = opts.alpha ?? 0.5;
    this.name = opts.name ?? 'item-kNN';
    if (!Number.isInteger(this.neighbours) || this.neighbours < 1) throw new RangeError(`neighbours must be a positive integer, got ${this.neighbours}`);
  }

  fit(train: SessionData, nItems: number): this {
    this.nItems = nItems;
    const { offsets, items } = train;
    const nSessions = sessionCount(train);
    // Sessions of every event, grouped by item (with multiplicity).
    const supp = new Int32Array(nItems);
    for (let e = 0; e < items.length; e++) supp[items[e]]++;
    const itemPtr = new Int32Array(nItems + 1);
    for (let i = 0; i < nItems; i++) itemPtr[i + 1] = itemPtr[i] + supp[i];
    const fillPos = itemPtr.slice(0, nItems);
    const itemSessions = new Int32Array(items.length);
    for (let s = 0; s < nSessions; s++) {
      for (let e = offsets[s]; e < offsets[s + 1]; e++) itemSessions[fillPos[items[e]]++] = s;
    }
    const normI = new Float64Array(nItems);
    const normJ = new Float64Array(nItems);
    for (let i = 0; i < nItems; i++) {
      normI[i] = (supp[i] + this.lambda) ** this.alpha;
      normJ[i] = (supp[i] + this.lambda) ** (1 - this.alpha);
    }

    const cooc = new Float64Array(nItems);
    const touched = new Int32Array(nItems);
    const top = new TopK(this.neighbours);
    const rowPtr = new Int32Array(nItems + 1);
    // Grown on demand: nItems * neighbours up front would be 400 MB at a million items.
    let cols = new Int32Array(Math.max(16, Math.min(nItems * this.neighbours, 4 * items.length)));
    let sims = new Float32Array(cols.length);
    let nnz = 0;
    for (let i = 0; i < nItems; i++) {
      let nTouched = 0;
      for (let p = itemPtr[i]; p < itemPtr[i + 1]; p++) {
        const s = itemSessions[p];
        for (let e = offsets[s]; e < offsets[s + 1]; e++) {
          const j = items[e];
          if (cooc[j] === 0) touched[nTouched++] = j;
          cooc[j] += 1;
        }
      }
      top.clear();
      for (let t = 0; t < nTouched; t++) {
        const j = touched[t];
        if (j !== i) {
          const norm = normI[i] * normJ[j];
          top.offer(norm > 0 ? cooc[j] / norm : cooc[j], j);
        }
        cooc[j] = 0;
      }
      top.sortDescending();
      if (nnz + top.size > cols.length) {
        const size = Math.max(2 * cols.length, nnz + top.size);
        const grownCols = new Int32Array(size);
        grownCols.set(cols.subarray(0, nnz));
        const grownSims = new Float32Array(size);
        grownSims.set(sims.subarray(0, nnz));
        cols = grownCols;
        sims = grownSims;
      }
      for (let t = 0; t < top.size; t++) {
        cols[nnz] = top.indices[t];
        sims[nnz] = top.values[t];
        nnz++;
      }
      rowPtr[i + 1] = nnz;
    }
    this.rowPtr = rowPtr;
    this.cols = cols.slice(0, nnz);
    this.sims = sims.slice(0, nnz);
    return this;
  }

  /** Only the last item matters, so there is no per-slot state. */
  reset(_slots: Int32Array): void {}

  step(n: number, _slots: Int32Array, items: Int32Array, out: Float32Array): void {
    const nItems = this.nItems;
    for (let b = 0; b < n; b++) {
      const base = b * nItems;
      out.fill(0, base, base + nItems);
      const item = items[b];
      if (item < 0 || item >= nItems) continue;
      for (let p = this.rowPtr[item]; p < this.rowPtr[item + 1]; p++) out[base + this.cols[p]] = this.sims[p];
    }
  }
}
