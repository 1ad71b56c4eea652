import * as tf from '@tensorflow/tfjs';
import { matMul } from './ops.ts';

/**
 * One GRU step in the weights contract's formulation (src/model/weights.ts), given the
 * input projection vx = x·Wx + b with column blocks [n | r | z]:
 *   [r, z] = sigmoid(vx[:, H:3H] + h·Wrz);  n = tanh(vx[:, 0:H] + (r⊙h)·Wh);  h' = (1−z)⊙h + z⊙n
 */
export function gruCell(vx: tf.Tensor2D, h: tf.Tensor2D, Wrz: tf.Tensor2D, Wh: tf.Tensor2D): tf.Tensor2D {
  const H = h.shape[1];
  const [vn, vrz] = tf.split(vx, [H, 2 * H], 1) as [tf.Tensor2D, tf.Tensor2D];
  const rz = tf.sigmoid(tf.add(vrz, matMul(h, Wrz)));
  const [r, z] = tf.split(rz, 2, 1) as [tf.Tensor2D, tf.Tensor2D];
  const n = tf.tanh(tf.add(vn, matMul(tf.mul(r, h), Wh)));
  // (1−z)⊙h + z⊙n written with one fewer op.
  return tf.add(h, tf.mul(z, tf.sub(n, h)));
}
