/**
 * The one in-memory contract between training (tfjs), the model file format,
 * and serving (onnxruntime-node / tfjs inference). Everything that moves
 * weights around speaks this shape, so the engines never depend on each other.
 *
 * GRU cell (the formulation of GRU4Rec's official PyTorch code):
 *   vx      = x · Wx + b                     (3H; column blocks [n | r | z])
 *   [r, z]  = sigmoid(vx[:, H:3H] + h · Wrz) (Wrz: H × 2H; column blocks [r | z])
 *   n       = tanh(vx[:, 0:H] + (r ⊙ h) · Wh)
 *   h'      = (1 − z) ⊙ h + z ⊙ n
 *
 * Input of layer 0: with embeddingDim > 0, x = E[item] (E: nItems × D) and Wx0 is D × 3H;
 * with embeddingDim = 0 (one-hot input), x·Wx0 = Wx0[item] (Wx0: nItems × 3H);
 * with constrainedEmbedding, E is the output matrix Wy (requires D = H_last) and no
 * separate "item_embedding" tensor is stored.
 * Scores: s = h_last · Wyᵀ + by   (Wy: nItems × H_last, by: nItems, by zero when !useBias).
 */
export interface Gru4RecArch {
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
 *   "out.Wy"           [nItems, H_last]
 *   "out.by"           [nItems]
 */
export interface Gru4RecWeights {
  arch: Gru4RecArch;
  tensors: Record<string, NamedTensor>;
}

export function expectedShapes(arch: Gru4RecArch): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  const { nItems, embeddingDim, hiddenSizes, constrainedEmbedding } = arch;
  const hLast = hiddenSizes[hiddenSizes.length - 1];
  if (embeddingDim > 0 && !constrainedEmbedding) shapes['item_embedding'] = [nItems, embeddingDim];
  let inDim = constrainedEmbedding ? hLast : embeddingDim > 0 ? embeddingDim : nItems;
  hiddenSizes.forEach((h, l) => {
    shapes[`gru${l}.Wx`] = [inDim, 3 * h];
    shapes[`gru${l}.Wrz`] = [h, 2 * h];
    shapes[`gru${l}.Wh`] = [h, h];
    shapes[`gru${l}.b`] = [3 * h];
    inDim = h;
  });
  shapes['out.Wy'] = [nItems, hLast];
  shapes['out.by'] = [nItems];
  return shapes;
}

/** Throws a message naming the first tensor that is missing or misshapen. */
export function validateWeights(w: Gru4RecWeights): void {
  const { arch } = w;
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
  return arch.embeddingDim > 0 ? 'item_embedding' : 'gru0.Wx';
}
