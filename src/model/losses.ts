import * as tf from '@tensorflow/tfjs';

/**
 * GRU4Rec's sampled losses. Each is a pure function of the score matrix S [B, R], R = B + nSample:
 * column j < B is row j's target (so targets sit on the diagonal of the first B columns), the
 * other in-batch targets and the nSample shared popularity samples are the negatives.
 * Each returns the mean over the B rows; the trainer scales by B / batchSize as the official code.
 *
 * Formulas follow the original (Theano) GRU4Rec, and its PyTorch port for cross-entropy and BPR-max:
 *   cross-entropy  −log softmax(S − logq·log p)[i,i]
 *   bpr            mean_j −log σ(s_ii − s_ij)          (mean over all R columns; the j = i term is the constant log 2)
 *   top1           mean_j [σ(s_ij − s_ii) + σ(s_ij²)] − σ(s_ii²)/R   (the target's own regulariser removed)
 *   bpr-max        −log Σ_j w_ij σ(s_ii − s_ij) + bpreg·Σ_j w_ij s_ij²,  w = softmax over the negatives only
 *   top1-max       Σ_j w_ij [σ(s_ij − s_ii) + σ(s_ij²)]
 * For bpr-max the scores first go through ELU(eluParam) when eluParam > 0 (the PyTorch code's final activation).
 *
 * Beside them, not a GRU4Rec loss: the adaptive-sampling hinge (WARP-like, Weston et al. 2011,
 * "WSABIE"): row i tries its negatives in draw order, at most k of them (opts.hingeTries), until one
 * violates the margin (s_ij > s_ii − margin), and pays the hinge on that first violator only:
 *   adaptive-hinge  max(0, margin − s_ii + s_ij*),  j* the first violating try; 0 when none of the k violates.
 * WARP's rank weight L(⌊(N−1)/tries⌋) is not applied: every violator counts the same.
 *
 * Accidental hits (opt-in, not in the official code): a column holding the same item as row i's
 * target (a sampled negative that drew the target, or another row with the same target) is a false
 * negative. With `excludeMask` those columns leave row i's loss entirely: the result equals the
 * formula on the row with those columns deleted (bpr and top1 then average over the remaining columns).
 */
export type LossName = 'cross-entropy' | 'bpr' | 'top1' | 'bpr-max' | 'top1-max' | 'adaptive-hinge';

export interface LossOptions {
  /** [B, R], 1 at (i, i): where the targets sit. Built from the score shape when absent. */
  targetMask?: tf.Tensor2D;
  /** [R], subtracted from every row before the softmax: logq · log(sampling probability of column j). Cross-entropy only. */
  logqCorrection?: tf.Tensor1D | null;
  /** BPR-max score regularisation. */
  bpreg?: number;
  /** BPR-max ELU parameter; 0 = linear. */
  eluParam?: number;
  /**
   * [B, R], 1 at the columns row i must ignore (accidental hits: the row's target item in another
   * column). Never 1 at a target position. Null/absent = every non-target column is a negative.
   */
  excludeMask?: tf.Tensor2D | null;
  /**
   * adaptive-hinge: [B, k] int32, the column of row i's t-th try in draw order, −1 where the row has
   * no further try. Never row i's own target column nor a column holding the same item (the step
   * inputs skip those, so no exclusion mask is needed).
   */
  hingeTries?: tf.Tensor2D | null;
  /** adaptive-hinge margin. */
  hingeMargin?: number;
}

/** 1 at (i, i) of a [B, R] matrix. */
export function targetMask(B: number, R: number): tf.Tensor2D {
  if (R < B) throw new Error(`score matrix must have at least as many columns as rows, got [${B}, ${R}]`);
  return tf.eye(B, R) as tf.Tensor2D;
}

export function sampledLoss(name: LossName, scores: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  switch (name) {
    case 'cross-entropy':
      return crossEntropyLoss(scores, opts);
    case 'bpr':
      return bprLoss(scores, opts);
    case 'top1':
      return top1Loss(scores, opts);
    case 'bpr-max':
      return bprMaxLoss(scores, opts);
    case 'top1-max':
      return top1MaxLoss(scores, opts);
    case 'adaptive-hinge':
      return adaptiveHingeLoss(scores, opts);
    default:
      throw new Error(`unknown loss "${name as string}"`);
  }
}

function maskOf(scores: tf.Tensor2D, opts: LossOptions): tf.Tensor2D {
  return opts.targetMask ?? targetMask(scores.shape[0], scores.shape[1]);
}

/** s_ii as a [B, 1] column. */
function targetScores(scores: tf.Tensor2D, mask: tf.Tensor2D): tf.Tensor2D {
  return tf.sum(tf.mul(scores, mask), 1, true) as tf.Tensor2D;
}

export function crossEntropyLoss(scores: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  const mask = maskOf(scores, opts);
  const logits: tf.Tensor2D = opts.logqCorrection ? tf.sub(scores, opts.logqCorrection) : scores;
  return softmaxCrossEntropy(logits, mask, keepOf(opts));
}

/** 1 − excludeMask, or null when nothing is excluded. */
function keepOf(opts: LossOptions): tf.Tensor2D | null {
  return opts.excludeMask ? tf.sub(1, opts.excludeMask) : null;
}

/**
 * mean_i −log softmax(x)[i, target_i], with the closed-form gradient (softmax − onehot)/B.
 * Autodiff through log-sum-exp would differentiate its max shift too, which costs a broadcast
 * Equal over the whole score matrix (a third of a training step on wasm) to add exactly zero.
 */
function softmaxCrossEntropy(logits: tf.Tensor2D, mask: tf.Tensor2D, keep: tf.Tensor2D | null): tf.Scalar {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const shifted = tf.sub(x, tf.max(x, 1, true));
    // Excluded columns drop out of the normaliser, so their softmax weight (and gradient) is 0.
    const e = keep ? tf.mul(tf.exp(shifted), keep) : tf.exp(shifted);
    const total = tf.sum(e, 1, true);
    save([e, total]);
    // −log softmax at the target = log Σ exp − shifted target logit
    const value = tf.mean(tf.sub(tf.log(total), tf.sum(tf.mul(shifted, mask), 1, true))) as tf.Scalar;
    return {
      value,
      gradFunc: (dy: tf.Tensor, [es, ts]: tf.Tensor[]) => tf.mul(tf.sub(tf.div(es, ts), mask), tf.div(dy, x.shape[0])) as tf.Tensor2D,
    };
  });
  return f(logits);
}

export function bprLoss(scores: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  const t = targetScores(scores, maskOf(scores, opts));
  // −log σ(t − s) = softplus(s − t)
  const terms = tf.softplus(tf.sub(scores, t));
  const keep = keepOf(opts);
  if (!keep) return tf.mean(terms);
  return tf.mean(tf.div(tf.sum(tf.mul(terms, keep), 1), tf.sum(keep, 1)));
}

export function top1Loss(scores: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  const t = targetScores(scores, maskOf(scores, opts));
  const terms = tf.add(tf.sigmoid(tf.sub(scores, t)), tf.sigmoid(tf.square(scores)));
  const keep = keepOf(opts);
  if (!keep) {
    const perRow = tf.mean(terms, 1, true);
    return tf.mean(tf.sub(perRow, tf.div(tf.sigmoid(tf.square(t)), scores.shape[1])));
  }
  const count = tf.sum(keep, 1, true);
  const perRow = tf.div(tf.sub(tf.sum(tf.mul(terms, keep), 1, true), tf.sigmoid(tf.square(t))), count);
  return tf.mean(perRow);
}

export function bprMaxLoss(scores: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  const mask = maskOf(scores, opts);
  const s: tf.Tensor2D = opts.eluParam ? elu(scores, opts.eluParam) : scores;
  return bprMaxCore(s, mask, opts.bpreg ?? 1.0, keepOf(opts));
}

/**
 * BPR-max on already transformed scores, with its closed-form gradient (autodiff of this
 * formula runs ~140 more kernels per step on wasm). Per row, with w the softmax over negatives,
 * σ_j = σ(t − s_j), q_j = σ_j(1 − σ_j), A = Σ w σ, G = Σ w s², L = −log(A + 1e-24) + λG:
 *   ∂L/∂s_j = w_j [ −(σ_j − A − q_j)/(A + 1e-24) + λ(2s_j + s_j² − G) ]   (negatives)
 *   ∂L/∂t   = −Σ_j w_j q_j / (A + 1e-24)                                  (target column)
 */
function bprMaxCore(scores: tf.Tensor2D, mask: tf.Tensor2D, bpreg: number, keep: tf.Tensor2D | null): tf.Scalar {
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [s, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    // Excluded columns get w = 0: the formula (and its gradient) over the remaining negatives.
    const w = softmaxNegatives(s, mask, keep);
    const t = tf.sum(tf.mul(s, mask), 1, true);
    const sig = tf.sigmoid(tf.sub(t, s));
    const A = tf.sum(tf.mul(sig, w), 1, true);
    const s2 = tf.square(s);
    const G = tf.sum(tf.mul(s2, w), 1, true);
    let perRow = bpreg > 0 ? tf.add(tf.neg(tf.log(tf.add(A, 1e-24))), tf.mul(bpreg, G)) : tf.neg(tf.log(tf.add(A, 1e-24)));
    // A row whose every other column was excluded has no negative to rank against: it adds 0 (w = 0, so its gradient is 0 too).
    if (keep) perRow = tf.mul(perRow, hasNegatives(mask, keep));
    save([s, w, sig, A, s2, G]);
    return {
      value: tf.mean(perRow) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [ss, ws, sg, a, sq, g]: tf.Tensor[]) => {
        const invA = tf.div(-1, tf.add(a, 1e-24));
        const q = tf.mul(sg, tf.sub(1, sg));
        let perNeg = tf.mul(tf.sub(tf.sub(sg, a), q), invA);
        if (bpreg > 0) perNeg = tf.add(perNeg, tf.mul(bpreg, tf.sub(tf.add(tf.mul(2, ss), sq), g)));
        const dTarget = tf.mul(tf.sum(tf.mul(ws, q), 1, true), invA);
        const grad = tf.add(tf.mul(ws, perNeg), tf.mul(mask, dTarget));
        return tf.mul(grad, tf.div(dy, ss.shape[0])) as tf.Tensor2D;
      },
    };
  });
  return f(scores);
}

export function top1MaxLoss(scores: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  const mask = maskOf(scores, opts);
  const w = softmaxNegatives(scores, mask, keepOf(opts));
  const t = targetScores(scores, mask);
  return tf.mean(tf.sum(tf.mul(w, tf.add(tf.sigmoid(tf.sub(scores, t)), tf.sigmoid(tf.square(scores)))), 1));
}

/**
 * The adaptive-sampling hinge (see the top of this file), with its closed-form gradient: the first
 * violator of each row is a step function of the scores (constant almost everywhere), so with W the
 * [B, R] one-hot of each row's violator (an all-zero row when none violated),
 *   L = mean_i Σ_j W_ij (margin − s_ii + s_ij),   ∂L/∂s = (W − mask · Σ_j W_ij) / B.
 */
export function adaptiveHingeLoss(scores: tf.Tensor2D, opts: LossOptions = {}): tf.Scalar {
  const mask = maskOf(scores, opts);
  const tries = opts.hingeTries;
  if (!tries) throw new Error('adaptive-hinge: the step has no hingeTries (the negatives each row tries, in order)');
  const margin = opts.hingeMargin ?? 1.0;
  const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [s, save] = args as [tf.Tensor2D, tf.GradSaveFunc];
    const [B, R] = s.shape;
    const k = tries.shape[1];
    const t = tf.sum(tf.mul(s, mask), 1, true);
    // int32 zero: a plain 0 would make the result float32, which gather refuses as indices.
    const zero = tf.scalar(0, 'int32');
    const valid = tf.greaterEqual(tries, zero);
    const cols = tf.maximum(tries, zero);
    // Row i's tries as flat indices i·R + column into the score matrix: one 1-D gather.
    const flat = tf.add(cols, tf.reshape(tf.range(0, B * R, R, 'int32'), [B, 1]));
    const tried = tf.reshape(tf.gather(tf.reshape(s, [-1]), tf.reshape(flat, [-1])), [B, k]);
    const violates = tf.cast(tf.logicalAnd(tf.greater(tried, tf.sub(t, margin)), valid), 'float32');
    // The first violator: a violation with no violation before it in draw order.
    const first = tf.mul(violates, tf.cast(tf.equal(tf.cumsum(violates, 1, true), 0), 'float32'));
    const any = tf.sum(first, 1, true);
    const column = tf.cast(tf.sum(tf.mul(first, tf.cast(cols, 'float32')), 1), 'int32');
    const W = tf.mul(tf.oneHot(column, R), any) as tf.Tensor2D;
    save([W, any]);
    const perRow = tf.add(tf.sum(tf.mul(W, s), 1, true), tf.mul(tf.sub(margin, t), any));
    return {
      value: tf.mean(perRow) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, [w, a]: tf.Tensor[]) => tf.mul(tf.sub(w, tf.mul(mask, a)), tf.div(dy, B)) as tf.Tensor2D,
    };
  });
  return f(scores);
}

/**
 * Row softmax over the negatives only: the target column gets weight 0 (the original's softmax_neg),
 * and so do the columns `keep` zeroes. A row left without negatives gets all-zero weights.
 */
export function softmaxNegatives(scores: tf.Tensor2D, mask: tf.Tensor2D, keep: tf.Tensor2D | null = null): tf.Tensor2D {
  const neg = keep ? tf.mul(tf.sub(1, mask), keep) : tf.sub(1, mask);
  const x: tf.Tensor2D = tf.mul(scores, neg);
  const e = tf.mul(tf.exp(tf.sub(x, rowMaxConstant(x))), neg);
  const total = tf.sum(e, 1, true);
  // An empty row has e = 0: dividing by 1 there keeps weights and gradients 0 (no 0/0).
  return tf.div(e, keep ? tf.add(total, tf.sub(1, hasNegatives(mask, keep))) : total);
}

/** [B, 1]: 1 where the row keeps at least one negative column, else 0. */
function hasNegatives(mask: tf.Tensor2D, keep: tf.Tensor2D): tf.Tensor2D {
  return tf.minimum(tf.sum(tf.mul(tf.sub(1, mask), keep), 1, true), 1);
}

/**
 * Row max treated as a constant by autodiff. The softmax is invariant to the shift, so its
 * gradient through the max is zero anyway; tf's Max gradient would still compute a broadcast Equal.
 */
const rowMaxConstant = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor2D;
  return { value: tf.max(x, 1, true), gradFunc: () => tf.zerosLike(x) };
}) as (x: tf.Tensor2D) => tf.Tensor2D;

/** ELU with parameter alpha: x for x > 0, alpha·(eˣ − 1) otherwise. */
export function elu(x: tf.Tensor2D, alpha: number): tf.Tensor2D {
  if (alpha === 1) return tf.elu(x);
  return tf.add(tf.relu(x), tf.mul(alpha, tf.elu(tf.minimum(x, 0))));
}
