/**
 * Plain-JS float64 evaluation of one serving step, written straight from the formulas in
 * src/model/weights.ts with no shared code with the engines, so it can judge them. Slow on
 * purpose (no blocking, no float32 shortcuts): tests and benchmark sanity checks only.
 */
import { validateWeights, inputTableName, type Gru4RecWeights } from '../../src/model/weights.ts';

export interface ReferenceStepResult {
  /** Next hidden state per layer, n × H_l, float64. */
  hidden: Float64Array[];
  /** Scores of all items, n × nItems, float64. */
  scores: Float64Array;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** One step for n sessions: items[b] is the event of row b, hidden[l] holds the rows' states (n × H_l). */
export function referenceStep(weights: Gru4RecWeights, n: number, items: ArrayLike<number>, hidden: ArrayLike<number>[]): ReferenceStepResult {
  validateWeights(weights);
  const { arch, tensors } = weights;
  const { nItems, hiddenSizes } = arch;
  const T = (name: string): Float32Array => tensors[name].data;
  const table = T(inputTableName(arch));
  const tableWidth = tensors[inputTableName(arch)].shape[1];
  const oneHot = arch.embeddingDim === 0 && !arch.constrainedEmbedding;

  const nextHidden = hiddenSizes.map((H) => new Float64Array(n * H));
  const hLast = hiddenSizes[hiddenSizes.length - 1];
  const scores = new Float64Array(n * nItems);

  for (let b = 0; b < n; b++) {
    const item = items[b];
    if (!Number.isInteger(item) || item < 0 || item >= nItems) throw new RangeError(`item ${item} outside [0, ${nItems})`);
    let x: Float64Array = Float64Array.from(table.subarray(item * tableWidth, (item + 1) * tableWidth));
    hiddenSizes.forEach((H, l) => {
      const Wx = T(`gru${l}.Wx`),
        Wrz = T(`gru${l}.Wrz`),
        Wh = T(`gru${l}.Wh`),
        bias = T(`gru${l}.b`);
      const h = Float64Array.from({ length: H }, (_, j) => hidden[l][b * H + j]);
      const vx = new Float64Array(3 * H);
      for (let j = 0; j < 3 * H; j++) {
        let s = bias[j];
        if (l === 0 && oneHot) s += x[j];
        else for (let i = 0; i < x.length; i++) s += x[i] * Wx[i * 3 * H + j];
        vx[j] = s;
      }
      const r = new Float64Array(H),
        z = new Float64Array(H);
      for (let j = 0; j < 2 * H; j++) {
        let s = vx[H + j];
        for (let i = 0; i < H; i++) s += h[i] * Wrz[i * 2 * H + j];
        if (j < H) r[j] = sigmoid(s);
        else z[j - H] = sigmoid(s);
      }
      const out = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        let s = vx[j];
        for (let i = 0; i < H; i++) s += r[i] * h[i] * Wh[i * H + j];
        const cand = Math.tanh(s);
        out[j] = (1 - z[j]) * h[j] + z[j] * cand;
      }
      nextHidden[l].set(out, b * H);
      x = out;
    });
    const Wy = T('out.Wy'),
      by = T('out.by');
    for (let it = 0; it < nItems; it++) {
      let s = arch.useBias ? by[it] : 0;
      for (let i = 0; i < hLast; i++) s += x[i] * Wy[it * hLast + i];
      scores[b * nItems + it] = s;
    }
  }
  return { hidden: nextHidden, scores };
}

/**
 * Top-k of one score row by a full sort (the reference the partial selections are judged
 * against): score descending, ties by lower index, excluded items skipped.
 */
export function referenceTopK(row: ArrayLike<number>, k: number, exclude: Iterable<number> = []): number[] {
  const skip = new Set(exclude);
  const idx: number[] = [];
  for (let i = 0; i < row.length; i++) if (!skip.has(i)) idx.push(i);
  idx.sort((a, b) => row[b] - row[a] || a - b);
  return idx.slice(0, k);
}
