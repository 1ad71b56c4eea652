import type { SessionData } from '../../data/sessions.ts';
import { DEFAULT_ITEM2VEC, type Item2VecOptions, normalizedRows, trainItem2Vec } from '../../model/item2vec.ts';
import type { SessionScorer } from '../scorer.ts';

export interface Item2VecKnnOptions {
  item2vec?: Partial<Item2VecOptions>;
  /**
   * Weight of the session's earlier items: the session vector is Σ decay^age · v̂(item), age 0 for
   * the last click. 0 scores by the last item alone (item-kNN's rule); 1 weighs the whole session alike.
   */
  decay?: number;
  name?: string;
}

/**
 * Cosine kNN over item2vec vectors: every item is scored by the cosine between its vector and the
 * session's (decayed) vector. The neural counterpart of item-kNN, using the project's own item2vec.
 */
export class Item2VecKnnScorer implements SessionScorer {
  readonly name: string;
  readonly decay: number;
  readonly options: Item2VecOptions;
  nItems = 0;
  private dim = 0;
  private unit: Float32Array = new Float32Array(0);
  /** Per slot, the running session vector (dim values). */
  private slotVectors = new Float32Array(0);
  private query = new Float32Array(0);

  constructor(opts: Item2VecKnnOptions = {}) {
    this.decay = opts.decay ?? 0.5;
    if (!(this.decay >= 0 && this.decay <= 1)) throw new RangeError(`decay must be in [0, 1], got ${this.decay}`);
    this.options = { ...DEFAULT_ITEM2VEC, ...opts.item2vec };
    this.name = opts.name ?? 'item2vec-kNN';
  }

  fit(train: SessionData, nItems: number): this {
    const v = trainItem2Vec(train, nItems, this.options);
    this.nItems = nItems;
    this.dim = v.dim;
    this.unit = normalizedRows(v);
    this.query = new Float32Array(v.dim);
    return this;
  }

  reset(slots: Int32Array): void {
    for (const s of slots) if ((s + 1) * this.dim <= this.slotVectors.length) this.slotVectors.fill(0, s * this.dim, (s + 1) * this.dim);
  }

  step(n: number, slots: Int32Array, items: Int32Array, out: Float32Array): void {
    const { dim, nItems, unit, query } = this;
    let maxSlot = 0;
    for (let b = 0; b < n; b++) maxSlot = Math.max(maxSlot, slots[b]);
    if ((maxSlot + 1) * dim > this.slotVectors.length) {
      const grown = new Float32Array((maxSlot + 1) * dim * 2);
      grown.set(this.slotVectors);
      this.slotVectors = grown;
    }
    for (let b = 0; b < n; b++) {
      const sv = slots[b] * dim;
      const iv = items[b] * dim;
      for (let k = 0; k < dim; k++) this.slotVectors[sv + k] = this.decay * this.slotVectors[sv + k] + unit[iv + k];
      query.set(this.slotVectors.subarray(sv, sv + dim));
      // Item rows are unit length, so ranking by this dot product is ranking by cosine (the query's norm scales a whole row alike).
      const row = b * nItems;
      for (let j = 0; j < nItems; j++) {
        let dot = 0;
        const jv = j * dim;
        for (let k = 0; k < dim; k++) dot += query[k] * unit[jv + k];
        out[row + j] = dot;
      }
    }
  }
}
