import * as tf from '@tensorflow/tfjs';
import { matMul, matMulBT } from './ops.ts';
import { headOf, type Gru4RecArch } from './weights.ts';

/**
 * The scoring heads: how the last layer's output h [n, D] scores a set of item rows E [R, D]
 * (the sampled output set when training, the whole out.Wy when serving), plus the item bias.
 * One definition for training (differentiated), the tfjs engine and the offline evaluator; the
 * ONNX export builds the same formulas from basic ops (src/engine/onnx/head-graph.ts).
 *
 *   dot                 s_i = h·e_i + b_i
 *   mixture-of-tastes   Kula 2019, "Mixture-of-tastes models for representing users with diverse
 *                       interests" (its spotlight code): [t_1..t_K | a_1..a_K] = h·W + b,
 *                       s_i = Σ_k softmax_k(a_k·e_i) · (t_k·e_i) + b_i     (tasteMixing 'softmax')
 *                       s_i = max_k (t_k·e_i) + b_i                         (tasteMixing 'max': no attention)
 *   mixture-of-cosines  [u_1..u_K] = h·W + b, π = softmax(h·P + pb), s_i = scale · Σ_k π_k cos(u_k, e_i) + b_i
 *                       with scale = 1/τ (head.scale, learnt or fixed).
 *   regression          p = h·W + b, s_i = cos(p, v_i) = p̂·v̂_i with v_i = row i of head.items, the
 *                       fixed item2vec vectors: the item side is that table, not E, and has no bias.
 *                       Trained by cosineRegressionLoss (1 − cos to the target's vector), not by a
 *                       sampled loss over E.
 *
 * Mixture-of-cosines is computed as ONE query per row: cos(u_k, e) = û_k·ê is linear in ê, so
 * Σ_k π_k cos(u_k, e_i) = (Σ_k π_k û_k)·ê_i exactly. Scoring then costs what the dot head's does
 * (against the unit-length item rows), not K times as much. Mixture-of-tastes cannot be folded
 * that way (its weights depend on the item), so it runs 2K products of the dot head's size.
 */

/** The head's own parameters (null for the dot head), looked up by contract name. */
export interface HeadParams {
  /** [D, width]: tastes | attention (mixture-of-tastes), user vectors (mixture-of-cosines). */
  W: tf.Tensor2D;
  b: tf.Tensor1D;
  /** Mixture-of-cosines: mixing logits h·P + pb, and scale = 1/τ. */
  P?: tf.Tensor2D;
  pb?: tf.Tensor1D;
  scale?: tf.Tensor1D;
  /** Regression: the fixed item vectors head.items [nItems, E]. */
  items?: tf.Tensor2D;
  /**
   * Regression: head.items at unit length and transposed [E, nItems], when the caller keeps it
   * between steps (Gru4Rec does; plain products are the fast path on wasm). Built from items when absent.
   */
  unitItemsT?: tf.Tensor2D;
}

/** The item side a head scores against: products with E and with its unit-length rows Ê, and the bias. */
export interface ItemSide {
  /** q [m, D] · Eᵀ → [m, R]. */
  dot(q: tf.Tensor2D): tf.Tensor2D;
  /** q [m, D] · Êᵀ → [m, R], Ê = E with every row scaled to unit length (unitRows). */
  unitDot(q: tf.Tensor2D): tf.Tensor2D;
  /** [R], or null without bias. */
  bias: tf.Tensor1D | null;
}

/** Added under the square root of a squared norm, so a zero vector normalises to zero instead of NaN. */
export const NORM_EPSILON = 1e-8;

/** Rows scaled to unit length: x / sqrt(Σ x² + NORM_EPSILON) along the last axis. */
export function unitRows<T extends tf.Tensor>(x: T): T {
  return tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), -1, true), NORM_EPSILON))) as T;
}

/** The head tensors of `v` (the variables, or the trainer's differentiated copies); null for the dot head. */
export function headParams(arch: Gru4RecArch, v: Readonly<Record<string, tf.Tensor>>): HeadParams | null {
  const head = headOf(arch);
  if (head === 'dot') return null;
  const p: HeadParams = { W: v['head.W'] as tf.Tensor2D, b: v['head.b'] as tf.Tensor1D };
  if (head === 'mixture-of-cosines') {
    p.P = v['head.P'] as tf.Tensor2D;
    p.pb = v['head.pb'] as tf.Tensor1D;
    p.scale = v['head.scale'] as tf.Tensor1D;
  }
  if (head === 'regression') p.items = v['head.items'] as tf.Tensor2D;
  return p;
}

/** The item side of a training step: the gathered output rows [R, D] and their biases (differentiable). */
export function sampledItemSide(outRows: tf.Tensor2D, outBias: tf.Tensor1D | null): ItemSide {
  let unit: tf.Tensor2D | null = null;
  return {
    dot: (q) => matMulBT(q, outRows),
    unitDot: (q) => {
      unit ??= unitRows(outRows);
      return matMulBT(q, unit);
    },
    bias: outBias,
  };
}

/** The arch fields a head reads ({} is the dot head). */
export type HeadArch = Pick<Gru4RecArch, 'head' | 'tastes' | 'tasteMixing'>;

/**
 * Scores [n, R] of the rows h [n, D] against the item side, through the arch's head. Call inside tf.tidy.
 * The regression head scores against its own fixed table (head.items, all nItems rows) and ignores
 * `items`: out.Wy is not its item side.
 */
export function headScores(arch: HeadArch, head: HeadParams | null, h: tf.Tensor2D, items: ItemSide): tf.Tensor2D {
  const kind = headOf(arch);
  if (kind !== 'dot' && !head) throw new Error(`headScores: the ${kind} head needs its parameters (head.W, ...)`);
  if (kind === 'regression') return regressionScores(h, head as HeadParams);
  let s: tf.Tensor2D;
  if (kind === 'dot' || !head) s = items.dot(h);
  else if (kind === 'mixture-of-tastes') s = tasteScores(h, head, arch.tastes as number, arch.tasteMixing ?? 'softmax', items);
  else s = cosineScores(h, head, arch.tastes as number, items);
  return items.bias ? (tf.add(s, items.bias) as tf.Tensor2D) : s;
}

function tasteScores(h: tf.Tensor2D, p: HeadParams, K: number, mixing: 'softmax' | 'max', items: ItemSide): tf.Tensor2D {
  const [n, D] = h.shape;
  const z = tf.add(matMul(h, p.W), p.b) as tf.Tensor2D;
  // Row (i, k) of [n·K, D] is taste k of row i: the [n, K·D] layout read K·D at a time.
  const perTaste = (block: tf.Tensor2D): tf.Tensor3D => {
    const s = items.dot(tf.reshape(block, [n * K, D]) as tf.Tensor2D);
    return tf.reshape(s, [n, K, s.shape[1]]) as tf.Tensor3D;
  };
  if (mixing === 'max') return tf.max(perTaste(z), 1) as tf.Tensor2D;
  const [t, a] = tf.split(z, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
  const weights = softmaxAxis1(perTaste(a));
  return tf.sum(tf.mul(weights, perTaste(t)), 1) as tf.Tensor2D;
}

function cosineScores(h: tf.Tensor2D, p: HeadParams, K: number, items: ItemSide): tf.Tensor2D {
  const [n, D] = h.shape;
  const users = unitRows(tf.reshape(tf.add(matMul(h, p.W), p.b), [n, K, D]) as tf.Tensor3D);
  const mix = tf.softmax(tf.add(matMul(h, p.P as tf.Tensor2D), p.pb as tf.Tensor1D) as tf.Tensor2D);
  // The mixture folded into one query (see the note at the top), scaled by 1/τ before the product.
  const query = tf.mul(tf.sum(tf.mul(tf.expandDims(mix, 2), users), 1), p.scale as tf.Tensor1D) as tf.Tensor2D;
  return items.unitDot(query);
}

/** The regression head's prediction p = h·W + b [n, E]: a point in the fixed item-vector space. */
export function regressionPrediction(h: tf.Tensor2D, p: HeadParams): tf.Tensor2D {
  return tf.add(matMul(h, p.W), p.b) as tf.Tensor2D;
}

function regressionScores(h: tf.Tensor2D, p: HeadParams): tf.Tensor2D {
  if (!p.items) throw new Error('headScores: the regression head needs its item vectors (head.items)');
  const query = unitRows(regressionPrediction(h, p));
  return p.unitItemsT ? matMul(query, p.unitItemsT) : matMulBT(query, unitRows(p.items));
}

/**
 * The regression head's training loss: mean over the n rows of 1 − cos(p_r, v_r), v_r [n, E] the
 * vector of row r's target (rows of head.items, fixed: no gradient flows to them). No negatives and
 * no score matrix: the step costs two [n, E] normalisations beside the prediction. A zero target
 * vector (an item with no vector yet) gives cos 0 and no gradient, so that row adds a constant 1.
 */
export function cosineRegressionLoss(h: tf.Tensor2D, p: HeadParams, targets: tf.Tensor2D): tf.Scalar {
  const cos = tf.sum(tf.mul(unitRows(regressionPrediction(h, p)), unitRows(targets)), 1);
  return tf.mean(tf.sub(1, cos)) as tf.Scalar;
}

/**
 * Softmax over axis 1 of [n, K, R] (tf.softmax takes the last axis only), with the closed-form
 * gradient y ⊙ (dy − Σ_k y·dy): no gradient through the max shift, which changes nothing.
 */
const softmaxAxis1 = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, save] = args as [tf.Tensor3D, tf.GradSaveFunc];
  const e = tf.exp(tf.sub(x, tf.max(x, 1, true)));
  const y = tf.div(e, tf.sum(e, 1, true)) as tf.Tensor3D;
  save([y]);
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, [ys]: tf.Tensor[]) => tf.mul(ys, tf.sub(dy, tf.sum(tf.mul(ys, dy), 1, true))),
  };
}) as (x: tf.Tensor3D) => tf.Tensor3D;
