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
 * Scores: s = h_last · Wyᵀ + by   (Wy: nItems × H_last, by: nItems, by zero when !useBias).
 */
export const CELLS = ['gru', 'lstm', 'mlstm'] as const;
export type CellKind = (typeof CELLS)[number];

export interface Gru4RecArch {
  /** The recurrent cell of every layer; absent means 'gru' (model files written before the other cells). */
  cell?: CellKind;
  nItems: number;
  /** 0 = one-hot input (GRU4Rec default for XE/BPR-max is an embedding-free input). */
  embeddingDim: number;
  hiddenSizes: number[];
  constrainedEmbedding: boolean;
  useBias: boolean;
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
 */
export interface Gru4RecWeights {
  arch: Gru4RecArch;
  tensors: Record<string, NamedTensor>;
}

/** The arch's cell; model files from before the LSTM cells have none and are GRUs. */
export function cellOf(arch: Pick<Gru4RecArch, 'cell'>): CellKind {
  return arch.cell ?? 'gru';
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
  };
}

/** Whether two archs describe the same weights layout (an absent cell equals 'gru'). */
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
  return shapes;
}

/** Throws a message naming the first tensor that is missing or misshapen. */
export function validateWeights(w: Gru4RecWeights): void {
  const { arch } = w;
  if (arch.cell !== undefined && !(CELLS as readonly string[]).includes(arch.cell))
    throw new Error(`arch.cell must be one of ${CELLS.join(', ')}, got ${JSON.stringify(arch.cell)}`);
  if (!Number.isInteger(arch.nItems) || arch.nItems < 1) throw new Error(`arch.nItems must be a positive integer, got ${arch.nItems}`);
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

/** Rows of the layer-0 input transform an item id indexes (embedding table, or Wx0 for one-hot). */
export function inputTableName(arch: Gru4RecArch): string {
  if (arch.constrainedEmbedding) return 'out.Wy';
  return arch.embeddingDim > 0 ? 'item_embedding' : `${layerPrefix(arch, 0)}.Wx`;
}
