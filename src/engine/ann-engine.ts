/**
 * InferenceEngine whose scoring is an approximate nearest-neighbour search (src/ann) instead of
 * the exact product with the whole catalogue: the wrapped engine advances the states with
 * encode() (the GRU update only), the index picks the top items for the last layer's output.
 * For catalogues of 10^5–10^6 items, where the exact product is nearly all of a step's cost.
 * Scores of returned items are the model's own (the index rescores its candidates exactly);
 * what an approximate index may do is miss an item of the exact top-K (recall, bench:ann).
 */
import type { AnnIndex, AnnSearchOutput } from '../ann/ann-index.ts';
import { takeUnexcludedRows } from './batch-topk.ts';
import { checkStepArgs, type ExcludeLists, type InferenceEngine, type StepOutput } from './engine.ts';

export class AnnEngine implements InferenceEngine {
  readonly name: string;
  readonly nItems: number;
  readonly hiddenSizes: readonly number[];
  readonly topK: number;
  readonly maxExclude: number;
  readonly maxBatch: number;
  /** Candidates asked of the index per row: topK plus what exclusion may remove. */
  private readonly candidates: number;
  private readonly found: AnnSearchOutput;
  /** The last layer's output rows, packed to the index's dimension when the state row is wider. */
  private readonly queries: Float32Array;

  constructor(
    private readonly inner: InferenceEngine,
    private readonly index: AnnIndex,
  ) {
    if (index.count !== inner.nItems) throw new RangeError(`ann engine: the index holds ${index.count} items, the model ${inner.nItems}`);
    this.name = `${inner.name}+${index.library}`;
    this.nItems = inner.nItems;
    this.hiddenSizes = inner.hiddenSizes;
    this.topK = inner.topK;
    this.maxExclude = inner.maxExclude;
    this.maxBatch = inner.maxBatch;
    this.candidates = Math.min(this.nItems, this.topK + this.maxExclude);
    this.found = { ids: new Int32Array(this.maxBatch * this.candidates), scores: new Float32Array(this.maxBatch * this.candidates) };
    this.queries = new Float32Array(this.maxBatch * index.dim);
  }

  async step(n: number, items: Int32Array, hidden: Float32Array[], out: StepOutput, exclude?: ExcludeLists): Promise<void> {
    checkStepArgs(this, n, items, hidden, out, exclude);
    await this.inner.encode(n, items, hidden);
    const last = hidden[hidden.length - 1];
    const stride = this.hiddenSizes[this.hiddenSizes.length - 1];
    const dim = this.index.dim;
    let q = last;
    if (stride !== dim) {
      // A state row wider than the output (e.g. [h | c]): the output is its first `dim` values.
      for (let b = 0; b < n; b++) this.queries.set(last.subarray(b * stride, b * stride + dim), b * dim);
      q = this.queries;
    }
    this.index.search(q, n, this.candidates, this.found);
    takeUnexcludedRows(n, this.found.ids, 1, this.found.scores, this.candidates, out, this.topK, exclude);
  }

  encode(n: number, items: Int32Array, hidden: Float32Array[]): Promise<void> {
    return this.inner.encode(n, items, hidden);
  }

  async dispose(): Promise<void> {
    this.index.dispose();
    await this.inner.dispose();
  }
}
