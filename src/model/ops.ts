import * as tf from '@tensorflow/tfjs';

/*
 * Products arranged for the wasm backend (XNNPACK), measured on 2 cores:
 *  - a transposed matmul (transposeA/transposeB flags) takes a slow path, 5-13x slower than an
 *    explicit transpose plus a plain product, and tf's own MatMul gradient uses those flags;
 *  - the right operand is repacked whenever it is a new tensor (every step for trained weights),
 *    so the batch-sized operand should sit on the right: h·Oᵀ as (O·hᵀ)ᵀ is 2x faster for
 *    [32,100]·[100,2080], and dy·Wᵀ as (W·dyᵀ)ᵀ 1.7-2x faster for 480-512 hidden units.
 */

/** a · b, for a batch of rows a [n, k] and a weight matrix b [k, m]. */
export const matMul = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.matMul(a, b),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [
      tf.transpose(tf.matMul(sb as tf.Tensor2D, tf.transpose(dy as tf.Tensor2D))),
      tf.matMul(tf.transpose(sa as tf.Tensor2D), dy as tf.Tensor2D),
    ],
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** a · bᵀ, for a batch of rows a [n, k] scored against item rows b [R, k]. */
export const matMulBT = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [a, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.GradSaveFunc];
  save([a, b]);
  return {
    value: tf.transpose(tf.matMul(b, tf.transpose(a))),
    gradFunc: (dy: tf.Tensor, [sa, sb]: tf.Tensor[]) => [tf.matMul(dy as tf.Tensor2D, sb as tf.Tensor2D), tf.matMul(tf.transpose(dy as tf.Tensor2D), sa as tf.Tensor2D)],
  };
}) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/** Rows of a table by index ([m, 1] int32). gatherND copies whole rows; wasm's GatherV2 is ~100x slower for this. */
export function gatherRows<T extends tf.Tensor>(table: T, rowIndex: tf.Tensor2D): T {
  return tf.gatherND(table, rowIndex) as T;
}
