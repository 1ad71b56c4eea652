/**
 * The one in-memory contract between training (tfjs), the model file format,
 * and serving (onnxruntime-node / tfjs inference). Everything that moves
 * weights around speaks this shape, so the engines never depend on each other.
 *
 * Three recurrent cells share the contract (`arch.cell`, absent = 'gru'). A layer's per-session
 * STATE is what a step carries: h for the GRU (H_l values), h and c concatenated for LSTM and
 * mLSTM ([h | c], 2·H_l values; see stateSizes). Scoring and the next layer read the h half.
 *
 * GRU cell (the formulation of GRU4Rec's official PyTorch code):
 *   vx      = x · Wx + b                     (3H; column blocks [n | r | z])
 *   [r, z]  = sigmoid(vx[:, H:3H] + h · Wrz) (Wrz: H × 2H; column blocks [r | z])
 *   n       = tanh(vx[:, 0:H] + (r ⊙ h) · Wh)
 *   h'      = (1 − z) ⊙ h + z ⊙ n
 *
 * LSTM cell (gate column blocks [i | f | g | o], as PyTorch's nn.LSTM):
 *   v   = x · Wx + b + h · Wh                (Wx: in × 4H, Wh: H × 4H, b: 4H)
 *   i, f, o = sigmoid(v_i, v_f, v_o);  g = tanh(v_g)
 *   c'  = f ⊙ c + i ⊙ g;   h' = o ⊙ tanh(c')
 *
 * Multiplicative LSTM (Krause et al. 2016): m = (x · Wmx) ⊙ (h · Wmh) replaces h in the gates.
 * Wmx is stored as the first H columns of Wx (Wx: in × 5H, column blocks [m | i | f | g | o]) so
 * that one-hot input still gathers ONE row per item (x·Wx0 = Wx0[item]) and the trainer keeps one
 * sparse input table:
 *   [mx, vx] = x · Wx;  m = mx ⊙ (h · Wmh)  (Wmh: H × H)
 *   v   = vx + b + m · Wh                    (Wh: H × 4H, b: 4H; m has no bias, as in the paper)
 *   then the LSTM's gates and updates.
 *
 * Input of layer 0: with embeddingDim > 0, x = E[item] (E: nItems × D) and Wx0 is D × 3H;
 * with embeddingDim = 0 (one-hot input), x·Wx0 = Wx0[item] (Wx0: nItems × 3H, 4H or 5H by cell);
 * with constrainedEmbedding, E is the output matrix Wy (requires D = H_last) and no
 * separate "item_embedding" tensor is stored.
 * Scores: s = h_last · Wyᵀ + by   (Wy: nItems × H_last, by: nItems, by zero when !useBias) for the
 * dot head (`arch.head` absent); the mixture heads score head(h_last, Wy) + by instead (src/model/heads.ts).
 * The regression head predicts a point p = h_last·W + b in a fixed item-vector space (item2vec) and
 * scores cos(p, v_i) against its own table head.items; out.Wy and out.by stay in the contract (the
 * input table with constrainedEmbedding, the cold-start ranking by bias) but do not score.
 */
export const CELLS = ['gru', 'lstm', 'mlstm'] as const;
export type CellKind = (typeof CELLS)[number];

/**
 * How a state is scored against the items (src/model/heads.ts): dot product, mixture of tastes, mixture
 * of cosines (all against out.Wy), or regression onto fixed item vectors ranked by cosine.
 */
export const HEADS = ['dot', 'mixture-of-tastes', 'mixture-of-cosines', 'regression'] as const;
export type HeadKind = (typeof HEADS)[number];
/** How mixture-of-tastes combines its K taste scores: attention softmax (Kula 2019) or the best taste. */
export const TASTE_MIXINGS = ['softmax', 'max'] as const;
export type TasteMixing = (typeof TASTE_MIXINGS)[number];

export interface Gru4RecArch {
  /** The recurrent cell of every layer; absent means 'gru' (model files written before the other cells). */
  cell?: CellKind;
  nItems: number;
  /** 0 = one-hot input (GRU4Rec default for XE/BPR-max is an embedding-free input). */
  embeddingDim: number;
  hiddenSizes: number[];
  constrainedEmbedding: boolean;
  useBias: boolean;
  /** The scoring head; absent means 'dot' (model files written before the mixture heads). */
  head?: HeadKind;
  /** K, the mixture components of a mixture head (present exactly for the mixture heads). */
  tastes?: number;
  /** Mixture-of-tastes only; absent means 'softmax'. */
  tasteMixing?: TasteMixing;
  /** Mixture-of-cosines only: the initial (or, when not learnt, fixed) temperature τ; head.scale starts at 1/τ. */
  temperature?: number;
  /** Regression head only: E, the size of the item vectors it predicts (head.items' width). */
  regressionDim?: number;
}

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * Tensor names (all row-major float32):
 *   "item_embedding"   [nItems, D]          only when embeddingDim > 0 && !constrainedEmbedding
 *   "gru{l}.Wx"        [in_l, 3H_l]         in_0 = D, or nItems for one-hot; in_l = H_{l-1}
 *   "gru{l}.Wrz"       [H_l, 2H_l]
 *   "gru{l}.Wh"        [H_l, H_l]
 *   "gru{l}.b"         [3H_l]
 *   LSTM instead:   "lstm{l}.Wx" [in_l, 4H_l], "lstm{l}.Wh" [H_l, 4H_l], "lstm{l}.b" [4H_l]
 *   mLSTM instead:  "mlstm{l}.Wx" [in_l, 5H_l], "mlstm{l}.Wmh" [H_l, H_l], "mlstm{l}.Wh" [H_l, 4H_l], "mlstm{l}.b" [4H_l]
 *   "out.Wy"           [nItems, H_last]
 *   "out.by"           [nItems]
 *   Mixture heads (K = tastes, D = H_last):
 *     mixture-of-tastes:  "head.W" [H_last, 2·K·D] (column blocks [tastes | attention]), "head.b" [2·K·D];
 *                         with tasteMixing 'max' there is no attention: [H_last, K·D] and [K·D]
 *     mixture-of-cosines: "head.W" [H_last, K·D] (user vectors), "head.b" [K·D],
 *                         "head.P" [H_last, K], "head.pb" [K] (mixing logits), "head.scale" [1] (1/τ)
 *   Regression head (E = regressionDim):
 *     "head.W" [H_last, E], "head.b" [E] (the prediction p = h·W + b),
 *     "head.items" [nItems, E] (the fixed item vectors, unit rows; never trained, a zero row never scores)
 */
export interface Gru4RecWeights {
  arch: Gru4RecArch;
  tensors: Record<string, NamedTensor>;
}

/** The arch's cell; model files from before the LSTM cells have none and are GRUs. */
export function cellOf(arch: Pick<Gru4RecArch, 'cell'>): CellKind {
  return arch.cell ?? 'gru';
}

/** The arch's head; model files from before the mixture heads have none and score by dot product. */
export function headOf(arch: Pick<Gru4RecArch, 'head'>): HeadKind {
  return arch.head ?? 'dot';
}

/** Values of one session's carried state per layer: H_l for the GRU, 2·H_l ([h | c]) for LSTM and mLSTM. */
export function stateSizes(arch: Pick<Gru4RecArch, 'cell' | 'hiddenSizes'>): number[] {
  const perUnit = cellOf(arch) === 'gru' ? 1 : 2;
  return arch.hiddenSizes.map((h) => perUnit * h);
}

/** Prefix of layer l's tensor names ("gru0", "lstm1", "mlstm0"). */
export function layerPrefix(arch: Pick<Gru4RecArch, 'cell'>, l: number): string {
  return `${cellOf(arch)}${l}`;
}

/** Column blocks of layer l's input transform Wx: one per gate input (and mLSTM's m). */
export function inputBlocks(cell: CellKind): number {
  return cell === 'gru' ? 3 : cell === 'lstm' ? 4 : 5;
}

/**
 * The canonical form of an arch: `cell` present only when it is not the GRU, so a GRU arch reads
 * the same as before the other cells existed (files, hashes and comparisons stay unchanged).
 */
export function canonicalArch(arch: Gru4RecArch): Gru4RecArch {
  const cell = cellOf(arch);
  return {
    ...(cell === 'gru' ? {} : { cell }),
    nItems: arch.nItems,
    embeddingDim: arch.embeddingDim,
    hiddenSizes: [...arch.hiddenSizes],
    constrainedEmbedding: arch.constrainedEmbedding,
    useBias: arch.useBias,
    ...canonicalHead(arch),
  };
}

/** The head fields of the canonical arch: none for the dot head, so a dot model reads as before the mixture heads. */
function canonicalHead(arch: Gru4RecArch): Partial<Gru4RecArch> {
  const head = headOf(arch);
  if (head === 'dot') return {};
  if (head === 'mixture-of-tastes') return { head, tastes: arch.tastes, ...(arch.tasteMixing === 'max' ? { tasteMixing: 'max' as const } : {}) };
  if (head === 'regression') return { head, regressionDim: arch.regressionDim };
  return { head, tastes: arch.tastes, temperature: arch.temperature };
}

/** Whether two archs describe the same weights layout (an absent cell equals 'gru', an absent head 'dot'). */
export function sameArch(a: Gru4RecArch, b: Gru4RecArch): boolean {
  return JSON.stringify(canonicalArch(a)) === JSON.stringify(canonicalArch(b));
}

export function expectedShapes(arch: Gru4RecArch): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  const { nItems, embeddingDim, hiddenSizes, constrainedEmbedding } = arch;
  const cell = cellOf(arch);
  const hLast = hiddenSizes[hiddenSizes.length - 1];
  if (embeddingDim > 0 && !constrainedEmbedding) shapes['item_embedding'] = [nItems, embeddingDim];
  let inDim = constrainedEmbedding ? hLast : embeddingDim > 0 ? embeddingDim : nItems;
  hiddenSizes.forEach((h, l) => {
    const p = layerPrefix(arch, l);
    shapes[`${p}.Wx`] = [inDim, inputBlocks(cell) * h];
    if (cell === 'gru') {
      shapes[`${p}.Wrz`] = [h, 2 * h];
      shapes[`${p}.Wh`] = [h, h];
      shapes[`${p}.b`] = [3 * h];
    } else {
      if (cell === 'mlstm') shapes[`${p}.Wmh`] = [h, h];
      shapes[`${p}.Wh`] = [h, 4 * h];
      shapes[`${p}.b`] = [4 * h];
    }
    inDim = h;
  });
  shapes['out.Wy'] = [nItems, hLast];
  shapes['out.by'] = [nItems];
  Object.assign(shapes, headShapes(arch));
  return shapes;
}

/** Shapes of the head's own tensors (none for the dot head); see the tensor table above. */
export function headShapes(arch: Gru4RecArch): Record<string, number[]> {
  const head = headOf(arch);
  if (head === 'dot') return {};
  const K = arch.tastes ?? 0;
  const D = arch.hiddenSizes[arch.hiddenSizes.length - 1];
  if (head === 'regression') {
    const E = arch.regressionDim ?? 0;
    return { 'head.W': [D, E], 'head.b': [E], 'head.items': [arch.nItems, E] };
  }
  if (head === 'mixture-of-tastes') {
    const width = (arch.tasteMixing === 'max' ? 1 : 2) * K * D;
    return { 'head.W': [D, width], 'head.b': [width] };
  }
  return { 'head.W': [D, K * D], 'head.b': [K * D], 'head.P': [D, K], 'head.pb': [K], 'head.scale': [1] };
}

/** Throws a message naming the first tensor that is missing or misshapen. */
export function validateWeights(w: Gru4RecWeights): void {
  const { arch } = w;
  if (arch.cell !== undefined && !(CELLS as readonly string[]).includes(arch.cell))
    throw new Error(`arch.cell must be one of ${CELLS.join(', ')}, got ${JSON.stringify(arch.cell)}`);
  if (!Number.isInteger(arch.nItems) || arch.nItems < 1) throw new Error(`arch.nItems must be a positive integer, got ${arch.nItems}`);
  validateHeadArch(arch);
  if (!Array.isArray(arch.hiddenSizes) || arch.hiddenSizes.length === 0 || arch.hiddenSizes.some((h) => !Number.isInteger(h) || h < 1))
    throw new Error(`arch.hiddenSizes must be a non-empty list of positive integers, got ${JSON.stringify(arch.hiddenSizes)}`);
  if (arch.constrainedEmbedding && arch.embeddingDim !== 0 && arch.embeddingDim !== arch.hiddenSizes[arch.hiddenSizes.length - 1])
    throw new Error('arch.constrainedEmbedding requires embeddingDim = 0 or the last hidden size');
  const shapes = expectedShapes(arch);
  for (const [name, shape] of Object.entries(shapes)) {
    const t = w.tensors[name];
    if (!t) throw new Error(`weights: tensor "${name}" is missing`);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) throw new Error(`weights: tensor "${name}" has shape [${t.shape}], expected [${shape}]`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new Error(`weights: tensor "${name}" holds ${t.data.length} values, expected ${n}`);
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i])) throw new Error(`weights: tensor "${name}" holds a non-finite value at ${i}`);
    }
  }
}

/** The head fields: known values, and present exactly for the heads that read them. */
function validateHeadArch(arch: Gru4RecArch): void {
  if (arch.head !== undefined && !(HEADS as readonly string[]).includes(arch.head))
    throw new Error(`arch.head must be one of ${HEADS.join(', ')}, got ${JSON.stringify(arch.head)}`);
  const head = headOf(arch);
  const isRegression = head === 'regression';
  if (isRegression !== (arch.regressionDim !== undefined)) throw new Error(`arch.regressionDim is ${isRegression ? 'required' : 'only read'} by the regression head`);
  if (isRegression && (!Number.isInteger(arch.regressionDim) || (arch.regressionDim as number) < 1))
    throw new Error(`arch.regressionDim must be a positive integer, got ${JSON.stringify(arch.regressionDim)}`);
  if (head === 'dot' || isRegression) {
    if (arch.tastes !== undefined || arch.tasteMixing !== undefined || arch.temperature !== undefined)
      throw new Error(`arch.tastes, arch.tasteMixing and arch.temperature belong to the mixture heads, not the ${head} head`);
    return;
  }
  if (!Number.isInteger(arch.tastes) || (arch.tastes as number) < 1)
    throw new Error(`arch.tastes must be a positive integer for the ${head} head, got ${JSON.stringify(arch.tastes)}`);
  if (arch.tasteMixing !== undefined && (head !== 'mixture-of-tastes' || !(TASTE_MIXINGS as readonly string[]).includes(arch.tasteMixing)))
    throw new Error(`arch.tasteMixing must be one of ${TASTE_MIXINGS.join(', ')} and only with the mixture-of-tastes head, got ${JSON.stringify(arch.tasteMixing)}`);
  const needsTemperature = head === 'mixture-of-cosines';
  if (needsTemperature !== (arch.temperature !== undefined)) throw new Error(`arch.temperature is ${needsTemperature ? 'required' : 'only read'} by the mixture-of-cosines head`);
  if (needsTemperature && !((arch.temperature as number) > 0)) throw new Error(`arch.temperature must be a positive number, got ${JSON.stringify(arch.temperature)}`);
}

/** Rows of the layer-0 input transform an item id indexes (embedding table, or Wx0 for one-hot). */
export function inputTableName(arch: Gru4RecArch): string {
  if (arch.constrainedEmbedding) return 'out.Wy';
  return arch.embeddingDim > 0 ? 'item_embedding' : `${layerPrefix(arch, 0)}.Wx`;
}
