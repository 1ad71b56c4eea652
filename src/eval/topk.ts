/**
 * Bounded selection of the k best (value, index) pairs, without allocation after construction.
 * Order: a higher value wins; between equal values the lower index wins, so results do not depend
 * on the order candidates are offered in. The heap root is the worst kept pair, which makes the
 * common case — a candidate that does not beat the current k-th best — a single comparison.
 */
export class TopK {
  readonly values: Float64Array;
  readonly indices: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`TopK needs k >= 1, got ${k}`);
    this.values = new Float64Array(k);
    this.indices = new Int32Array(k);
  }

  clear(): void {
    this.size = 0;
  }

  /**
   * A value must exceed this to enter when scanning indices in increasing order
   * (an equal value with a higher index loses the tie). -Infinity until k pairs are held.
   */
  get threshold(): number {
    return this.size < this.k ? -Infinity : this.values[0];
  }

  /** NaN never enters: it compares false against everything and would poison the heap order. */
  offer(value: number, index: number): void {
    if (Number.isNaN(value)) return;
    if (this.size < this.k) {
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!worse(value, index, this.values[p], this.indices[p])) break;
        this.values[i] = this.values[p];
        this.indices[i] = this.indices[p];
        i = p;
      }
      this.values[i] = value;
      this.indices[i] = index;
      return;
    }
    if (!worse(this.values[0], this.indices[0], value, index)) return;
    this.siftDown(0, value, index, this.size);
  }

  /** Rearranges the kept pairs best-first in values/indices[0..size) (the heap is consumed). */
  sortDescending(): void {
    for (let end = this.size - 1; end > 0; end--) {
      const v = this.values[end];
      const ix = this.indices[end];
      this.values[end] = this.values[0];
      this.indices[end] = this.indices[0];
      this.siftDown(0, v, ix, end);
    }
  }

  private siftDown(start: number, value: number, index: number, n: number): void {
    let i = start;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      let c = l;
      const r = l + 1;
      if (r < n && worse(this.values[r], this.indices[r], this.values[l], this.indices[l])) c = r;
      if (!worse(this.values[c], this.indices[c], value, index)) break;
      this.values[i] = this.values[c];
      this.indices[i] = this.indices[c];
      i = c;
    }
    this.values[i] = value;
    this.indices[i] = index;
  }
}

function worse(va: number, ia: number, vb: number, ib: number): boolean {
  return va < vb || (va === vb && ia > ib);
}
