/**
 * item2vec (Barkan & Koenigstein 2016): word2vec's skip-gram with negative sampling (Mikolov et
 * al. 2013) over the items of each session, so that items clicked in the same sessions get close
 * vectors. It gives the project its own item vectors: a cosine-kNN baseline over them
 * (src/eval/baselines/item2vec-knn.ts), and the fixed targets a regression head can predict.
 *
 * Plain typed-array SGD, as in the reference C code: the work is a few dot products of length
 * `dim` per (centre, context) pair, which a tensor library would only wrap in per-op overhead.
 * Every hyperparameter is explicit; defaults follow word2vec's skip-gram defaults except the
 * window, which covers a typical session.
 */
import type { SessionData } from '../data/sessions.ts';
import { Rng } from '../random/rng.ts';

export interface Item2VecOptions {
  /** Vector size. */
  dim: number;
  /** Context: items up to this many positions before and after the centre, within its session. */
  window: number;
  /** Negative samples per (centre, context) pair, drawn from the unigram distribution ^ unigramPower. */
  negatives: number;
  unigramPower: number;
  /** Passes over the sessions. */
  epochs: number;
  /** Start learning rate, decayed linearly to learningRate · minLearningRateRatio at the end (word2vec). */
  learningRate: number;
  minLearningRateRatio: number;
  /** Frequent-item subsampling threshold t (an event is kept with probability min(1, sqrt(t/f) + t/f)); 0 keeps all. */
  subsample: number;
  seed: number;
}

export const DEFAULT_ITEM2VEC: Item2VecOptions = {
  dim: 64,
  window: 5,
  negatives: 5,
  unigramPower: 0.75,
  epochs: 10,
  learningRate: 0.025,
  minLearningRateRatio: 1e-4,
  subsample: 1e-3,
  seed: 42,
};

export interface ItemVectors {
  dim: number;
  nItems: number;
  /** Row i = item i's input (centre) vector, the one used as its embedding. */
  vectors: Float32Array;
}

/** Entries of the negative-sampling table (word2vec uses 1e8; this catalogue-sized table keeps it cache-resident). */
const TABLE_PER_ITEM = 64;

function unigramTable(counts: Float64Array, power: number): Int32Array {
  let total = 0;
  for (const c of counts) total += c ** power;
  const n = counts.length;
  const table = new Int32Array(Math.max(1, n * TABLE_PER_ITEM));
  let item = 0;
  let cum = n > 0 ? counts[0] ** power / total : 1;
  for (let k = 0; k < table.length; k++) {
    table[k] = item;
    if ((k + 1) / table.length > cum && item < n - 1) cum += counts[++item] ** power / total;
  }
  return table;
}

/** Trains item vectors on the sessions of `data` (item indices < nItems). Deterministic for a seed. */
export function trainItem2Vec(data: SessionData, nItems: number, options: Partial<Item2VecOptions> = {}): ItemVectors {
  const o = { ...DEFAULT_ITEM2VEC, ...options };
  for (const k of ['dim', 'window', 'negatives', 'epochs'] as const)
    if (!Number.isInteger(o[k]) || o[k] < 1) throw new RangeError(`item2vec ${k} must be a positive integer, got ${o[k]}`);
  const { dim, window, negatives } = o;
  const { offsets, items } = data;
  const counts = new Float64Array(nItems);
  for (let e = 0; e < items.length; e++) counts[items[e]]++;
  const table = unigramTable(counts, o.unigramPower);
  const keep = new Float64Array(nItems).fill(1);
  if (o.subsample > 0 && items.length > 0) {
    for (let i = 0; i < nItems; i++) {
      const f = counts[i] / items.length;
      if (f > 0) keep[i] = Math.min(1, Math.sqrt(o.subsample / f) + o.subsample / f);
    }
  }
  const rng = new Rng(o.seed);
  // word2vec's initialisation: input vectors uniform in ±0.5/dim, output vectors zero.
  const input = new Float32Array(nItems * dim);
  for (let k = 0; k < input.length; k++) input[k] = (rng.next() - 0.5) / dim;
  const output = new Float32Array(nItems * dim);
  const grad = new Float32Array(dim);
  const kept = new Int32Array(Math.max(1, maxSessionLength(offsets)));
  const totalWork = o.epochs * items.length;
  let done = 0;
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let s = 0; s + 1 < offsets.length; s++) {
      let len = 0;
      for (let e = offsets[s]; e < offsets[s + 1]; e++) if (keep[items[e]] >= 1 || rng.next() < keep[items[e]]) kept[len++] = items[e];
      const lr = o.learningRate * Math.max(o.minLearningRateRatio, 1 - done / totalWork);
      done += offsets[s + 1] - offsets[s];
      for (let c = 0; c < len; c++) {
        const centre = kept[c] * dim;
        // word2vec shrinks the window at random per centre, weighting near contexts more.
        const reach = 1 + (rng.nextUint32() % window);
        for (let x = Math.max(0, c - reach); x <= Math.min(len - 1, c + reach); x++) {
          if (x === c) continue;
          grad.fill(0);
          for (let d = 0; d <= negatives; d++) {
            const target = d === 0 ? kept[x] : table[rng.nextUint32() % table.length];
            if (d > 0 && target === kept[x]) continue;
            const t = target * dim;
            let dot = 0;
            for (let k = 0; k < dim; k++) dot += input[centre + k] * output[t + k];
            // Gradient of log σ(±dot): (label − σ(dot)) · lr.
            const g = ((d === 0 ? 1 : 0) - sigmoid(dot)) * lr;
            for (let k = 0; k < dim; k++) {
              grad[k] += g * output[t + k];
              output[t + k] += g * input[centre + k];
            }
          }
          for (let k = 0; k < dim; k++) input[centre + k] += grad[k];
        }
      }
    }
  }
  return { dim, nItems, vectors: input };
}

function sigmoid(x: number): number {
  // word2vec clips at ±6: beyond it the gradient is negligible and exp would only cost time.
  if (x > 6) return 1;
  if (x < -6) return 0;
  return 1 / (1 + Math.exp(-x));
}

function maxSessionLength(offsets: Int32Array): number {
  let m = 0;
  for (let s = 0; s + 1 < offsets.length; s++) m = Math.max(m, offsets[s + 1] - offsets[s]);
  return m;
}

/** Rows scaled to unit length (zero rows stay zero), for cosine similarity by dot product. */
export function normalizedRows(v: ItemVectors): Float32Array {
  const out = new Float32Array(v.vectors.length);
  for (let i = 0; i < v.nItems; i++) {
    let n = 0;
    for (let k = 0; k < v.dim; k++) n += v.vectors[i * v.dim + k] ** 2;
    const inv = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let k = 0; k < v.dim; k++) out[i * v.dim + k] = v.vectors[i * v.dim + k] * inv;
  }
  return out;
}

/**
 * The regression head's fixed targets (head.items): item2vec over `data`, rows at unit length, and a
 * zero row for every item with no event in `data`. Such an item's vector would be its random start
 * (word2vec never moves it), so it gets none: it scores cosine 0 against every prediction, below
 * every item the prediction points towards, until item2vec is run again on data that holds it.
 */
export function regressionItemVectors(data: SessionData, nItems: number, options: Partial<Item2VecOptions> = {}): Float32Array {
  const v = trainItem2Vec(data, nItems, options);
  const unit = normalizedRows(v);
  const seen = new Uint8Array(nItems);
  for (let e = 0; e < data.items.length; e++) seen[data.items[e]] = 1;
  for (let i = 0; i < nItems; i++) if (!seen[i]) unit.fill(0, i * v.dim, (i + 1) * v.dim);
  return unit;
}
