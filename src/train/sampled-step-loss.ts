import * as tf from '@tensorflow/tfjs';
import { Gru4Rec } from '../model/gru4rec.ts';
import { REGRESSION_LOSS, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { cosineRegressionLoss, type HeadParams } from '../model/heads.ts';
import { sampledLoss } from '../model/losses.ts';
import { gatherRows } from '../model/ops.ts';
import type { OrtSampledOutput } from './ort-sampled-output.ts';
import type { SessionBatch } from './session-parallel.ts';
import type { StepInputs } from './step-inputs.ts';

/**
 * The hidden state a step starts from, per layer [n, H_l]: zeros on the first step of a pass; else
 * the carried state, its rows regathered when rows left the batch (keep) and zeroed where a new
 * session starts. Call inside tf.tidy.
 */
export function carriedHidden(prev: tf.Tensor2D[] | null, hiddenSizes: readonly number[], batch: SessionBatch, inputs: StepInputs): tf.Tensor2D[] {
  const { n } = inputs;
  if (!prev) return hiddenSizes.map((h) => tf.zeros([n, h]) as tf.Tensor2D);
  let hidden = prev;
  if (batch.keep) {
    const keepIdx = tf.tensor2d(batch.keep, [n, 1], 'int32');
    hidden = hidden.map((h) => gatherRows(h, keepIdx));
  }
  if (inputs.resetKeep) {
    const keep = tf.tensor2d(inputs.resetKeep, [n, 1]);
    hidden = hidden.map((h) => tf.mul(h, keep));
  }
  return hidden;
}

/**
 * The step's loss as a function of its differentiated leaves, for tf.valueAndGrads: first the
 * nGathered item-table rows of ItemTables.gather ([input rows, output rows, output biases]), then
 * the dense parameters in denseNames order. Forward pass of the sampled output set, then the
 * configured loss, scaled by n / batchSize as the official code. The regression head's cosine loss
 * reads no sampled scores: the encoder's last output goes straight to cosineRegressionLoss against
 * the targets' fixed vectors. Uploads the step's masks once, outside the returned function.
 * `onHidden` receives the next hidden states (no gradient path: one-step truncation, as the
 * original). Call inside tf.tidy.
 */
export function sampledStepLoss(args: {
  model: Gru4Rec;
  config: Gru4RecConfig;
  denseNames: readonly string[];
  nGathered: number;
  inputs: StepInputs;
  hidden: tf.Tensor2D[];
  /** [n, R] 1 at each row's target column. */
  targetMask: tf.Tensor2D;
  onHidden: (next: tf.Tensor2D[]) => void;
  /** The dot head + loss on onnxruntime (forward and backward), or null/absent: all on tfjs. */
  output?: OrtSampledOutput | null;
}): (...leaves: tf.Tensor[]) => tf.Scalar {
  const { model, config: cfg, denseNames, nGathered, inputs, hidden, targetMask, onHidden, output } = args;
  const { arch } = model;
  const { n, R, embedMask, hiddenMasks, logq, exclude, hingeTries } = inputs;
  const embedT = embedMask ? tf.tensor2d(embedMask, [n, embedMask.length / n]) : null;
  const hiddenT = hiddenMasks.map((m, l) => (m ? tf.tensor2d(m, [n, arch.hiddenSizes[l]]) : null));
  const logqT = logq ? tf.tensor1d(logq) : null;
  const excludeT = exclude && !output ? tf.tensor2d(exclude, [n, R]) : null;
  const triesT = hingeTries ? tf.tensor2d(hingeTries, [n, hingeTries.length / n], 'int32') : null;
  // The regression head's targets: head.items rows of the n targets (the first n output columns); fixed, not a leaf.
  const regressionTargets = cfg.loss === REGRESSION_LOSS ? gatherRows(model.vars['head.items'] as tf.Tensor2D, tf.tensor2d(inputs.outIds.subarray(0, n), [n, 1], 'int32')) : null;
  return (...xs: tf.Tensor[]): tf.Scalar => {
    const rows = xs.slice(0, nGathered) as tf.Tensor2D[];
    // Parameters left out of denseNames (a fixed cosine temperature) are read from the variables.
    const params = { ...model.vars, ...Object.fromEntries(denseNames.map((name, k) => [name, xs[nGathered + k]])) };
    const inputRows = rows[0];
    const layers = arch.hiddenSizes.map((_, l) => model.layerParams(l, params));
    // The encoder alone, for the paths that score its last output themselves.
    const encode = () => {
      const { states, top } = Gru4Rec.sampledEncode({ inputRows, hidden, layers, embedMask: embedT, hiddenMasks: hiddenT });
      onHidden(states.map((h) => tf.keep(h)));
      return top;
    };
    if (cfg.loss === REGRESSION_LOSS) {
      // ItemTables gathers only the input rows for this head: the loss reads no output rows.
      const l = cosineRegressionLoss(encode(), model.headParams(params) as HeadParams, regressionTargets as tf.Tensor2D);
      return tf.mul(l, n / cfg.batchSize);
    }
    const outRows = rows[1];
    let outBias = arch.useBias ? (rows[nGathered - 1] as unknown as tf.Tensor1D) : null;
    // logQ shifts whole columns like the bias does: fold it into the [R] vector, not the [n, R] scores.
    if (logqT) outBias = outBias ? tf.sub(outBias, logqT) : tf.neg(logqT);
    // The encoder on tfjs; its last output goes to the onnxruntime op, which returns the scaled loss.
    if (output) return output.lossOf(encode(), outRows, outBias, exclude);
    const out = Gru4Rec.sampledForward({ arch, head: model.headParams(params), inputRows, hidden, layers, outRows, outBias, embedMask: embedT, hiddenMasks: hiddenT });
    // The carried state outlives the caller's tidy scope.
    onHidden(out.hidden.map((h) => tf.keep(h)));
    const l = sampledLoss(cfg.loss, out.scores, {
      targetMask,
      bpreg: cfg.bpreg,
      eluParam: cfg.eluParam,
      excludeMask: excludeT,
      hingeTries: triesT,
      hingeMargin: cfg.adaptiveHingeMargin,
    });
    return tf.mul(l, n / cfg.batchSize);
  };
}
