/**
 * Exact top-K selection, the one implementation behind the engines' top-K (serving) and the
 * evaluator's lists and kNN neighbours (offline). It lives in model/ because both engine/ and
 * eval/ may import model/ but not each other.
 *
 * Order everywhere: a higher value wins; between equal values the lower index wins (the order ONNX
 * TopK documents, so both engines emit identical lists), so results do not depend on the order
 * candidates are offered in. NaN is never selected: it compares false against everything and would
 * poison the heap order.
 */

/**
 * Bounded selection of the k best (value, index) pairs with a min-heap: O(n log k), never sorts
 * the candidates, no allocation after construction. The heap root is the worst kept pair, which
 * makes the common case — a candidate that does not beat the current k-th best — one comparison.
 * Values are float64 so similarities of the kNN baselines keep their precision; float32 scores
 * widen and narrow back exactly.
 */
export class TopK {
  readonly values: Float64Array;
  readonly indices: Int32Array;
  size = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-k: k must be a positive integer, got ${k}`);
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
    this.siftDown(value, index, this.size);
  }

  /** Rearranges the kept pairs best-first in values/indices[0..size) (the heap is consumed). */
  sortDescending(): void {
    for (let end = this.size - 1; end > 0; end--) {
      const v = this.values[end];
      const ix = this.indices[end];
      this.values[end] = this.values[0];
      this.indices[end] = this.indices[0];
      this.siftDown(v, ix, end);
    }
  }

  /**
   * The best min(k, eligible) items of one score row, row[rowStart .. rowStart+length) (item index
   * = position − rowStart), written best first into outIdx/outScore at outOffset. Slots left over
   * (fewer eligible items than k) get index −1 and score −Infinity. Returns the number written.
   * `exclude[excludeStart .. excludeEnd)` lists item indices to skip. Replaces what the heap held.
   */
  selectRow(
    row: Float32Array,
    rowStart: number,
    length: number,
    outIdx: Int32Array,
    outScore: Float32Array,
    outOffset: number,
    exclude?: Int32Array,
    excludeStart = 0,
    excludeEnd = 0,
  ): number {
    const { k, values, indices } = this;
    this.size = 0;
    // Items arrive in index order, so once the heap is full an equal score never beats its worst
    // entry (thr); before that every score but NaN enters, −Infinity included (as ONNX TopK).
    let thr = -Infinity;
    let full = false;
    for (let item = 0; item < length; item++) {
      const s = row[rowStart + item];
      if (!(s > thr) && (full || s !== -Infinity)) continue;
      if (exclude && isListed(exclude, excludeStart, excludeEnd, item)) continue;
      this.offer(s, item);
      if (full || this.size === k) {
        full = true;
        thr = values[0];
      }
    }
    this.sortDescending();
    const found = this.size;
    for (let pos = 0; pos < found; pos++) {
      outIdx[outOffset + pos] = indices[pos];
      outScore[outOffset + pos] = values[pos];
    }
    padUnfilled(outIdx, outScore, outOffset, found, k);
    return found;
  }

  /** Moves (value, index) down from the root of the heap in [0, n) to where it belongs. */
  private siftDown(value: number, index: number, n: number): void {
    let i = 0;
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

/**
 * Keeps the first k candidates of an already ranked list that are not excluded (how the engines
 * turn topK + maxExclude candidates into the final top-K). Candidate c has index
 * candIdx[idxStart + c·idxStride] (stride 2 reads the low words of little-endian int64 indices)
 * and score candScore[scoreStart + c]. Returns the number written; the rest of the k slots get
 * −1 / −Infinity.
 */
export function takeUnexcluded(
  candIdx: Int32Array,
  idxStart: number,
  idxStride: number,
  candScore: Float32Array,
  scoreStart: number,
  candCount: number,
  k: number,
  outIdx: Int32Array,
  outScore: Float32Array,
  outOffset: number,
  exclude?: Int32Array,
  excludeStart = 0,
  excludeEnd = 0,
): number {
  let written = 0;
  for (let c = 0; c < candCount && written < k; c++) {
    const item = candIdx[idxStart + c * idxStride];
    if (exclude && isListed(exclude, excludeStart, excludeEnd, item)) continue;
    outIdx[outOffset + written] = item;
    outScore[outOffset + written] = candScore[scoreStart + c];
    written++;
  }
  padUnfilled(outIdx, outScore, outOffset, written, k);
  return written;
}

/** a ranks below b: lower value, or equal value and higher index. */
function worse(va: number, ia: number, vb: number, ib: number): boolean {
  return va < vb || (va === vb && ia > ib);
}

/** Exclusion lists hold a session's last few items: a linear scan beats any lookup structure. */
function isListed(list: Int32Array, start: number, end: number, item: number): boolean {
  for (let j = start; j < end; j++) if (list[j] === item) return true;
  return false;
}

/** Marks output slots [offset+from, offset+k) as empty: −1 / −Infinity. */
function padUnfilled(outIdx: Int32Array, outScore: Float32Array, offset: number, from: number, k: number): void {
  for (let pos = from; pos < k; pos++) {
    outIdx[offset + pos] = -1;
    outScore[offset + pos] = -Infinity;
  }
}
