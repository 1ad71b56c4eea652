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

/** Parameters of one GRU layer; Wx is null for a one-hot layer 0, whose input rows are already Wx0[item]. */
export interface GruLayerParams {
  Wx: tf.Tensor2D | null;
  Wrz: tf.Tensor2D;
  Wh: tf.Tensor2D;
  b: tf.Tensor1D;
}

/**
 * The stacked GRU over one time step. `x` is the layer-0 input: embedding rows [n, D], or
 * Wx0 rows [n, 3H0] when layer 0 has one-hot input. Dropout masks (already scaled by
 * 1/(1−p)) are applied to each layer's output, which is also the state carried forward.
 */
export function gruStack(x: tf.Tensor2D, hidden: tf.Tensor2D[], layers: GruLayerParams[], hiddenMasks?: Array<tf.Tensor2D | null>): tf.Tensor2D[] {
  const out: tf.Tensor2D[] = [];
  let input = x;
  for (let l = 0; l < layers.length; l++) {
    const p = layers[l];
    const vx = p.Wx ? tf.add(matMul(input, p.Wx), p.b) : tf.add(input, p.b);
    let h = gruCell(vx as tf.Tensor2D, hidden[l], p.Wrz, p.Wh);
    const mask = hiddenMasks?.[l];
    if (mask) h = tf.mul(h, mask);
    out.push(h);
    input = h;
  }
  return out;
}
