import * as tf from '@tensorflow/tfjs';
import { matMul } from './ops.ts';

/**
 * LSTM and multiplicative-LSTM steps in the weights contract's formulation (src/model/weights.ts).
 * A layer's carried state is [h | c] in one [n, 2H] tensor, so the engines, the session store and
 * the trainer move one buffer per layer whatever the cell.
 */

export interface LstmStepResult {
  h: tf.Tensor2D;
  c: tf.Tensor2D;
}

/** Splits a layer state [n, 2H] into its h and c halves. */
export function splitState(state: tf.Tensor2D): [tf.Tensor2D, tf.Tensor2D] {
  return tf.split(state, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
}

/**
 * The gates and updates shared by both cells, from the full pre-activation v [n, 4H] (blocks
 * [i | f | g | o]) and the previous cell state: c' = f⊙c + i⊙g, h' = o⊙tanh(c').
 */
function lstmUpdate(v: tf.Tensor2D, c: tf.Tensor2D): LstmStepResult {
  const H = c.shape[1];
  // i and f share one sigmoid; o gets its own, so tanh runs over g alone.
  const [vif, vg, vo] = tf.split(v, [2 * H, H, H], 1) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const [i, f] = tf.split(tf.sigmoid(vif), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
  const cNext = tf.add(tf.mul(f, c), tf.mul(i, tf.tanh(vg))) as tf.Tensor2D;
  return { h: tf.mul(tf.sigmoid(vo), tf.tanh(cNext)) as tf.Tensor2D, c: cNext };
}

/** One LSTM step, given the input projection vx = x·Wx + b [n, 4H]: v = vx + h·Wh. */
export function lstmCell(vx: tf.Tensor2D, state: tf.Tensor2D, Wh: tf.Tensor2D): LstmStepResult {
  const [h, c] = splitState(state);
  return lstmUpdate(tf.add(vx, matMul(h, Wh)) as tf.Tensor2D, c);
}

/**
 * One mLSTM step, given x·Wx [n, 5H] (blocks [m | i | f | g | o], no bias):
 * m = (x·Wmx) ⊙ (h·Wmh), v = x·Wx_gates + b + m·Wh.
 */
export function mlstmCell(xw: tf.Tensor2D, state: tf.Tensor2D, Wmh: tf.Tensor2D, Wh: tf.Tensor2D, b: tf.Tensor1D): LstmStepResult {
  const [h, c] = splitState(state);
  const H = h.shape[1];
  const [mx, vx] = tf.split(xw, [H, 4 * H], 1) as [tf.Tensor2D, tf.Tensor2D];
  const m = tf.mul(mx, matMul(h, Wmh)) as tf.Tensor2D;
  return lstmUpdate(tf.add(tf.add(vx, b), matMul(m, Wh)) as tf.Tensor2D, c);
}
