/**
 * The rows of one item table a training step touches. Gradients come back per gathered row
 * (one per occurrence); repeated rows must be summed before the indexed optimizer update,
 * which sparseSegmentSum does given the occurrences ordered by unique row (`order`) and
 * each one's unique position (`segments`, non-decreasing). Buffers are reused between steps.
 */
export class RowSlice {
  /** Unique rows in order of first occurrence; view valid until the next set(). */
  unique: Int32Array;
  /** Occurrence indices grouped by unique row. */
  order: Int32Array;
  /** Unique position of each entry of `order`. */
  segments: Int32Array;
  hasDuplicates = false;
  private readonly uniqueBuf: Int32Array;
  private readonly orderBuf: Int32Array;
  private readonly segmentBuf: Int32Array;
  private readonly posOf: Int32Array;
  private readonly markOf: Int32Array;
  private readonly counts: Int32Array;
  private mark = 0;

  constructor(tableRows: number, capacity: number) {
    this.uniqueBuf = new Int32Array(capacity);
    this.orderBuf = new Int32Array(capacity);
    this.segmentBuf = new Int32Array(capacity);
    this.counts = new Int32Array(capacity + 1);
    this.posOf = new Int32Array(tableRows);
    this.markOf = new Int32Array(tableRows);
    this.unique = this.uniqueBuf.subarray(0, 0);
    this.order = this.orderBuf.subarray(0, 0);
    this.segments = this.segmentBuf.subarray(0, 0);
  }

  set(rows: Int32Array): void {
    const m = rows.length;
    if (m > this.uniqueBuf.length) throw new Error(`RowSlice: ${m} rows exceed the capacity ${this.uniqueBuf.length}`);
    // A fresh mark per call replaces clearing posOf.
    if (++this.mark === 0x7fffffff) {
      this.markOf.fill(0);
      this.mark = 1;
    }
    const { posOf, markOf, uniqueBuf, counts, mark } = this;
    let u = 0;
    counts.fill(0, 0, m + 1);
    for (let k = 0; k < m; k++) {
      const r = rows[k];
      if (markOf[r] !== mark) {
        markOf[r] = mark;
        posOf[r] = u;
        uniqueBuf[u++] = r;
      }
      counts[posOf[r] + 1]++;
    }
    this.unique = uniqueBuf.subarray(0, u);
    this.hasDuplicates = u < m;
    if (!this.hasDuplicates) {
      this.order = this.orderBuf.subarray(0, 0);
      this.segments = this.segmentBuf.subarray(0, 0);
      return;
    }
    // Counting sort of occurrences by unique position.
    for (let p = 1; p <= u; p++) counts[p] += counts[p - 1];
    for (let k = 0; k < m; k++) {
      const p = posOf[rows[k]];
      const at = counts[p]++;
      this.orderBuf[at] = k;
      this.segmentBuf[at] = p;
    }
    this.order = this.orderBuf.subarray(0, m);
    this.segments = this.segmentBuf.subarray(0, m);
  }
}
