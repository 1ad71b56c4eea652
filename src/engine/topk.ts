/**
 * Exact partial top-K over a score row with a bounded min-heap: O(n log k), never sorts the
 * catalogue. Order: score descending, ties by lower item index (the order ONNX TopK documents,
 * so both engines emit identical lists). NaN scores are never selected.
 */

export class TopKSelector {
  private readonly heapIdx: Int32Array;
  private readonly heapScore: Float32Array;
  private size = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`top-k: k must be a positive integer, got ${k}`);
    this.heapIdx = new Int32Array(k);
    this.heapScore = new Float32Array(k);
  }

  /** a ranks below b: lower score, or equal score and higher index. */
  private static worse(sa: number, ia: number, sb: number, ib: number): boolean {
    return sa < sb || (sa === sb && ia > ib);
  }

  private siftDown(pos: number): void {
    const { heapIdx, heapScore, size } = this;
    const s = heapScore[pos],
      i = heapIdx[pos];
    for (;;) {
      let child = 2 * pos + 1;
      if (child >= size) break;
      const right = child + 1;
      if (right < size && TopKSelector.worse(heapScore[right], heapIdx[right], heapScore[child], heapIdx[child])) child = right;
      if (!TopKSelector.worse(heapScore[child], heapIdx[child], s, i)) break;
      heapScore[pos] = heapScore[child];
      heapIdx[pos] = heapIdx[child];
      pos = child;
    }
    heapScore[pos] = s;
    heapIdx[pos] = i;
  }

  private siftUp(pos: number): void {
    const { heapIdx, heapScore } = this;
    const s = heapScore[pos],
      i = heapIdx[pos];
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      if (!TopKSelector.worse(s, i, heapScore[parent], heapIdx[parent])) break;
      heapScore[pos] = heapScore[parent];
      heapIdx[pos] = heapIdx[parent];
      pos = parent;
    }
    heapScore[pos] = s;
    heapIdx[pos] = i;
  }

  /**
   * Writes the best min(k, eligible) items of row[rowStart .. rowStart+length) (item index =
   * position − rowStart) into outIdx/outScore at outOffset, best first. Slots left over (fewer
   * eligible items than k) get index −1 and score −Infinity. Returns the number written.
   * `exclude[excludeStart .. excludeEnd)` lists item indices to skip.
   */
  select(
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
    const { k, heapIdx, heapScore } = this;
    this.size = 0;
    for (let item = 0; item < length; item++) {
      const s = row[rowStart + item];
      if (Number.isNaN(s)) continue;
      if (this.size === k) {
        // Items arrive in index order, so an equal score never beats the heap's worst entry.
        if (s <= heapScore[0]) continue;
        if (exclude && isListed(exclude, excludeStart, excludeEnd, item)) continue;
        heapScore[0] = s;
        heapIdx[0] = item;
        this.siftDown(0);
      } else {
        if (exclude && isListed(exclude, excludeStart, excludeEnd, item)) continue;
        heapScore[this.size] = s;
        heapIdx[this.size] = item;
        this.siftUp(this.size++);
      }
    }
    // Pop the worst into the last free slot repeatedly: the output ends up best-first.
    const found = this.size;
    for (let pos = found - 1; pos >= 0; pos--) {
      outScore[outOffset + pos] = heapScore[0];
      outIdx[outOffset + pos] = heapIdx[0];
      this.size--;
      if (this.size > 0) {
        heapScore[0] = heapScore[this.size];
        heapIdx[0] = heapIdx[this.size];
        this.siftDown(0);
      }
    }
    for (let pos = found; pos < k; pos++) {
      outIdx[outOffset + pos] = -1;
      outScore[outOffset + pos] = -Infinity;
    }
    return found;
  }
}

function isListed(list: Int32Array, start: number, end: number, item: number): boolean {
  for (let j = start; j < end; j++) if (list[j] === item) return true;
  return false;
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
  for (let pos = written; pos < k; pos++) {
    outIdx[outOffset + pos] = -1;
    outScore[outOffset + pos] = -Infinity;
  }
  return written;
}
