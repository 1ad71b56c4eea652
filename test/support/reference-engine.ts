/**
 * Plain-JS float64 evaluation of one serving step, written straight from the formulas in
 * src/model/weights.ts with no shared code with the engines, so it can judge them. Slow on
 * purpose (no blocking, no float32 shortcuts): tests and benchmark sanity checks only.
 */
import { cellOf, validateWeights, inputTableName, stateSizes, type Gru4RecWeights } from '../../src/model/weights.ts';

export interface ReferenceStepResult {
  /** Next state per layer, n × stateSizes[l] (GRU: h; LSTM, mLSTM: [h | c]), float64. */
  hidden: Float64Array[];
  /** Scores of all items, n × nItems, float64. */
  scores: Float64Array;
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** One step for n sessions: items[b] is the event of row b, hidden[l] holds the rows' states (n × stateSizes[l]). */
export function referenceStep(weights: Gru4RecWeights, n: number, items: ArrayLike<number>, hidden: ArrayLike<number>[]): ReferenceStepResult {
  validateWeights(weights);
  const { arch, tensors } = weights;
  const { nItems, hiddenSizes } = arch;
  const T = (name: string): Float32Array => tensors[name].data;
  const table = T(inputTableName(arch));
  const tableWidth = tensors[inputTableName(arch)].shape[1];
  const oneHot = arch.embeddingDim === 0 && !arch.constrainedEmbedding;

  const cell = cellOf(arch);
  const S = stateSizes(arch);
  const nextHidden = S.map((size) => new Float64Array(n * size));
  const hLast = hiddenSizes[hiddenSizes.length - 1];
  const scores = new Float64Array(n * nItems);

  for (let b = 0; b < n; b++) {
    const item = items[b];
    if (!Number.isInteger(item) || item < 0 || item >= nItems) throw new RangeError(`item ${item} outside [0, ${nItems})`);
    let x: Float64Array = Float64Array.from(table.subarray(item * tableWidth, (item + 1) * tableWidth));
    hiddenSizes.forEach((H, l) => {
      if (cell !== 'gru') {
        const state = Float64Array.from({ length: 2 * H }, (_, j) => hidden[l][b * 2 * H + j]);
        const next = referenceLstmLayer(T, `${cell}${l}`, cell === 'mlstm', H, x, l === 0 && oneHot, state);
        nextHidden[l].set(next, b * 2 * H);
        x = next.slice(0, H);
        return;
      }
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
 * One LSTM / mLSTM layer for one row, from weights.ts: gate blocks [i | f | g | o]; for the mLSTM,
 * Wx's first H columns are Wmx and m = (x·Wmx) ⊙ (h·Wmh) replaces h in the gates. `x` is the
 * input vector, or (oneHot) the gathered row of Wx0 itself. Returns the next [h | c].
 */
function referenceLstmLayer(T: (name: string) => Float32Array, p: string, multiplicative: boolean, H: number, x: Float64Array, oneHot: boolean, state: Float64Array): Float64Array {
  const Wx = T(`${p}.Wx`),
    Wh = T(`${p}.Wh`),
    bias = T(`${p}.b`);
  const width = (multiplicative ? 5 : 4) * H;
  const xw = new Float64Array(width);
  for (let j = 0; j < width; j++) {
    let s = 0;
    if (oneHot) s = x[j];
    else for (let i = 0; i < x.length; i++) s += x[i] * Wx[i * width + j];
    xw[j] = s;
  }
  const h = state.subarray(0, H);
  const c = state.subarray(H, 2 * H);
  // What the gates read: h for the LSTM, m for the mLSTM.
  let r: Float64Array = h;
  const gates0 = multiplicative ? H : 0;
  if (multiplicative) {
    const Wmh = T(`${p}.Wmh`);
    r = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let s = 0;
      for (let i = 0; i < H; i++) s += h[i] * Wmh[i * H + j];
      r[j] = xw[j] * s;
    }
  }
  const v = new Float64Array(4 * H);
  for (let j = 0; j < 4 * H; j++) {
    let s = xw[gates0 + j] + bias[j];
    for (let i = 0; i < H; i++) s += r[i] * Wh[i * 4 * H + j];
    v[j] = s;
  }
  const next = new Float64Array(2 * H);
  for (let j = 0; j < H; j++) {
    const ig = sigmoid(v[j]),
      fg = sigmoid(v[H + j]),
      gg = Math.tanh(v[2 * H + j]),
      og = sigmoid(v[3 * H + j]);
    const cj = fg * c[j] + ig * gg;
    next[H + j] = cj;
    next[j] = og * Math.tanh(cj);
  }
  return next;
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
