import * as tf from '@tensorflow/tfjs';
import { gruCell } from './gru-cell.ts';
import { lstmCell, mlstmCell } from './lstm-cell.ts';
import { matMul } from './ops.ts';

/**
 * Parameters of one recurrent layer, tagged by cell. Wx is null for a one-hot layer 0, whose input
 * rows are already Wx0[item] (its whole width: 3H, 4H or 5H by cell).
 */
export type LayerParams =
  | { cell: 'gru'; Wx: tf.Tensor2D | null; Wrz: tf.Tensor2D; Wh: tf.Tensor2D; b: tf.Tensor1D }
  | { cell: 'lstm'; Wx: tf.Tensor2D | null; Wh: tf.Tensor2D; b: tf.Tensor1D }
  | { cell: 'mlstm'; Wx: tf.Tensor2D | null; Wmh: tf.Tensor2D; Wh: tf.Tensor2D; b: tf.Tensor1D };

export interface StackStep {
  /** Per layer, the state carried to the next step: h for the GRU, [h | c] for LSTM and mLSTM. */
  states: tf.Tensor2D[];
  /** Per layer, the output h (what the next layer and the scoring read). */
  outputs: tf.Tensor2D[];
}

/**
 * The stacked encoder over one time step. `x` is the layer-0 input: embedding rows [n, D], or Wx0
 * rows when layer 0 has one-hot input. Dropout masks (already scaled by 1/(1−p)) are applied to
 * each layer's output h, which is also the h carried forward (as GRU4Rec does for its GRU); an
 * LSTM's cell state c is never dropped, so the memory the gates protect stays intact.
 */
export function encoderStack(x: tf.Tensor2D, states: tf.Tensor2D[], layers: LayerParams[], hiddenMasks?: Array<tf.Tensor2D | null>): StackStep {
  const nextStates: tf.Tensor2D[] = [];
  const outputs: tf.Tensor2D[] = [];
  let input = x;
  for (let l = 0; l < layers.length; l++) {
    const p = layers[l];
    const xw = p.Wx ? matMul(input, p.Wx) : input;
    const mask = hiddenMasks?.[l];
    let h: tf.Tensor2D;
    if (p.cell === 'gru') {
      h = gruCell(tf.add(xw, p.b) as tf.Tensor2D, states[l], p.Wrz, p.Wh);
      if (mask) h = tf.mul(h, mask);
      nextStates.push(h);
    } else {
      const r = p.cell === 'lstm' ? lstmCell(tf.add(xw, p.b) as tf.Tensor2D, states[l], p.Wh) : mlstmCell(xw, states[l], p.Wmh, p.Wh, p.b);
      h = mask ? tf.mul(r.h, mask) : r.h;
      nextStates.push(tf.concat([h, r.c], 1));
    }
    outputs.push(h);
    input = h;
  }
  return { states: nextStates, outputs };
}
