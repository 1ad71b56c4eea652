/**
 * The inference-engine contract of the serving loop: one batched GRU4Rec step (encoder update +
 * scoring over the whole catalogue + exact top-K) for up to maxBatch sessions at a time.
 *
 * Ownership: the caller owns every buffer that carries per-session data (item ids, hidden states,
 * outputs, exclusion lists) and reuses them batch after batch; an engine allocates its own scratch
 * once, at creation, for maxBatch rows. Batch size n may change on every call (1..maxBatch).
 */

/**
 * Per-row item lists to leave out of the top-K (e.g. the session's recent history), in CSR form so
 * the caller can refill one pair of typed arrays per batch: row b excludes
 * items[offsets[b] .. offsets[b+1]). At most maxExclude entries per row.
 */
export interface ExcludeLists {
  offsets: Int32Array;
  items: Int32Array;
}

export interface StepOutput {
  /** n × topK item indices, best first; −1 where fewer than topK items were eligible. */
  topIdx: Int32Array;
  /** n × topK scores matching topIdx; −Infinity in unused slots. */
  topScore: Float32Array;
  /** n × nItems scores of every item; filled only by engines created with outputScores. */
  scores?: Float32Array;
}

export interface EngineOptions {
  /** Items returned per row. */
  topK: number;
  /** Most items excluded per row (default 0). */
  maxExclude?: number;
  /** Largest n a step accepts (default 512); sizes the engine's scratch buffers. */
  maxBatch?: number;
  /** Also produce the full score matrix into StepOutput.scores (evaluation, tests). */
  outputScores?: boolean;
}

export interface InferenceEngine {
  readonly name: string;
  readonly nItems: number;
  readonly hiddenSizes: readonly number[];
  readonly topK: number;
  readonly maxExclude: number;
  readonly maxBatch: number;
  /**
   * Advances n sessions by one event each. items[b] is row b's item (0 ≤ item < nItems);
   * hidden[l] holds the rows' layer-l states (row-major n × H_l, zeros for a new session) and is
   * overwritten with the next states; out receives the top-K per row.
   */
  step(n: number, items: Int32Array, hidden: Float32Array[], out: StepOutput, exclude?: ExcludeLists): Promise<void>;
  /**
   * step() without the scoring: advances the rows' hidden states only. Replaying a session's
   * history (re-encoding after a swap, restoring from history) needs the states, not a ranking at
   * every position, and the catalogue product is nearly all of a step's cost at large catalogues.
   */
  encode(n: number, items: Int32Array, hidden: Float32Array[]): Promise<void>;
  /** Frees native/backend memory; the engine is unusable afterwards. */
  dispose(): Promise<void>;
}

export const DEFAULT_MAX_BATCH = 512;

/** Resolved, validated engine options. */
export interface EngineConfig {
  topK: number;
  maxExclude: number;
  maxBatch: number;
  outputScores: boolean;
}

export function resolveEngineOptions(nItems: number, opts: EngineOptions): EngineConfig {
  const maxExclude = opts.maxExclude ?? 0;
  const maxBatch = opts.maxBatch ?? DEFAULT_MAX_BATCH;
  if (!Number.isInteger(opts.topK) || opts.topK < 1 || opts.topK > nItems) throw new RangeError(`engine: topK must be an integer in [1, nItems=${nItems}], got ${opts.topK}`);
  if (!Number.isInteger(maxExclude) || maxExclude < 0) throw new RangeError(`engine: maxExclude must be a non-negative integer, got ${maxExclude}`);
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`engine: maxBatch must be a positive integer, got ${maxBatch}`);
  return { topK: opts.topK, maxExclude, maxBatch, outputScores: opts.outputScores ?? false };
}

/**
 * Checks one step's arguments and throws a message naming the offending argument. O(n + excluded
 * entries), no allocation: cheap next to the step itself, and a bad item id would otherwise read
 * out of bounds in a native kernel or silently score garbage.
 */
/** The arguments encode() shares with step(): batch size, item ids, hidden buffers. */
export function checkEncodeArgs(e: Pick<InferenceEngine, 'nItems' | 'hiddenSizes' | 'maxBatch'>, n: number, items: Int32Array, hidden: Float32Array[]): void {
  if (!Number.isInteger(n) || n < 1 || n > e.maxBatch) throw new RangeError(`step: batch size ${n} outside [1, maxBatch=${e.maxBatch}]`);
  if (items.length < n) throw new RangeError(`step: items holds ${items.length} ids for a batch of ${n}`);
  for (let b = 0; b < n; b++) {
    const it = items[b];
    if (it < 0 || it >= e.nItems) throw new RangeError(`step: items[${b}] = ${it} outside the catalogue [0, ${e.nItems})`);
  }
  if (hidden.length !== e.hiddenSizes.length) throw new RangeError(`step: ${hidden.length} hidden buffers for ${e.hiddenSizes.length} layers`);
  e.hiddenSizes.forEach((H, l) => {
    if (hidden[l].length < n * H) throw new RangeError(`step: hidden[${l}] holds ${hidden[l].length} values, needs n×H = ${n * H}`);
  });
}

export function checkStepArgs(
  e: Pick<InferenceEngine, 'nItems' | 'hiddenSizes' | 'topK' | 'maxExclude' | 'maxBatch'> & { outputScores?: boolean },
  n: number,
  items: Int32Array,
  hidden: Float32Array[],
  out: StepOutput,
  exclude?: ExcludeLists,
): void {
  checkEncodeArgs(e, n, items, hidden);
  if (out.topIdx.length < n * e.topK || out.topScore.length < n * e.topK) throw new RangeError(`step: out.topIdx/topScore must hold n×topK = ${n * e.topK} values`);
  if (e.outputScores && out.scores && out.scores.length < n * e.nItems) throw new RangeError(`step: out.scores must hold n×nItems = ${n * e.nItems} values`);
  if (exclude) {
    if (exclude.offsets.length < n + 1) throw new RangeError(`step: exclude.offsets needs n+1 = ${n + 1} entries`);
    for (let b = 0; b < n; b++) {
      const start = exclude.offsets[b],
        end = exclude.offsets[b + 1];
      if (start < 0 || end < start || end > exclude.items.length) throw new RangeError(`step: exclude.offsets[${b}..${b + 1}] = ${start}..${end} is not a valid range`);
      if (end - start > e.maxExclude) throw new RangeError(`step: row ${b} excludes ${end - start} items, maxExclude is ${e.maxExclude}`);
    }
  }
}
