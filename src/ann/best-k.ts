/**
 * Bounded best-k selection for the ANN layer (which may not import src/model, where the engines'
 * TopK lives): the same order as that one — a higher score wins, between equal scores the lower
 * id — so exact results here and in the engines list ties identically. A min-heap on (score, id)
 * with the worst kept pair at the root; NaN never enters.
 */
export class BestK {
  private readonly scores: Float64Array;
  private readonly ids: Int32Array;
  private size = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`best-k: k must be a positive integer, got ${k}`);
    this.scores = new Float64Array(k);
    this.ids = new Int32Array(k);
  }

  clear(): void {
    this.size = 0;
  }

  /** A score must beat this to enter (ties with the root resolve by id in offer). */
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.scores[0];
  }

  offer(score: number, id: number): void {
    if (Number.isNaN(score)) return;
    const { scores, ids } = this;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(score, id, scores[p], ids[p])) break;
        scores[i] = scores[p];
        ids[i] = ids[p];
        i = p;
      }
      scores[i] = score;
      ids[i] = id;
      return;
    }
    if (!worse(scores[0], ids[0], score, id)) return;
    this.siftDown(score, id, this.size);
  }

  /**
   * Writes the kept pairs best first into outIds/outScores at offset, pads the rest of the k
   * slots with −1 / −Infinity, and empties the heap. Returns how many were kept.
   */
  drainInto(outIds: Int32Array, outScores: Float32Array, offset: number): number {
    const found = this.size;
    for (let end = found - 1; end > 0; end--) {
      const s = this.scores[end];
      const id = this.ids[end];
      this.scores[end] = this.scores[0];
      this.ids[end] = this.ids[0];
      this.siftDown(s, id, end);
    }
    for (let pos = 0; pos < found; pos++) {
      outIds[offset + pos] = this.ids[pos];
      outScores[offset + pos] = this.scores[pos];
    }
    for (let pos = found; pos < this.k; pos++) {
      outIds[offset + pos] = -1;
      outScores[offset + pos] = -Infinity;
    }
    this.size = 0;
    return found;
  }

  private siftDown(score: number, id: number, n: number): void {
    const { scores, ids } = this;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && worse(scores[r], ids[r], scores[l], ids[l]) ? r : l;
      if (!worse(scores[c], ids[c], score, id)) break;
      scores[i] = scores[c];
      ids[i] = ids[c];
      i = c;
    }
    scores[i] = score;
    ids[i] = id;
  }
}

/** Whether (sa, ia) ranks below (sb, ib). */
function worse(sa: number, ia: number, sb: number, ib: number): boolean {
  return sa < sb || (sa === sb && ia > ib);
}
