import * as tf from '@tensorflow/tfjs';
import type { Gru4Rec } from '../model/gru4rec.ts';
import { targetMask } from '../model/losses.ts';
import { archOf, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { canonicalArch, sameArch } from '../model/weights.ts';
import { ItemTables } from './item-tables.ts';
import { Gru4RecOptimizer, type OptimizerState } from './optimizer.ts';
import { kernelChoiceFromEnv, OrtGruStep, OrtSampledOutput, type OutputKernelChoice } from './ort-sampled-output.ts';
import { carriedHidden, sampledStepLoss } from './sampled-step-loss.ts';
import type { SessionBatch } from './session-parallel.ts';
import { StepInputAssembler, type StepInputs } from './step-inputs.ts';

/** One step's loss, the gradients of [table rows, dense parameters] and the next carried states (kept). */
interface StepGradients {
  loss: tf.Scalar;
  grads: tf.Tensor[];
  hidden: tf.Tensor2D[];
}

/** Where a trainer's wall time went, summed over steps. */
export interface StepTiming {
  steps: number;
  /** JS work: negatives, index dedup, dropout masks. */
  prepareMs: number;
  /** tf work: uploads, forward, backward, optimizer updates. */
  computeMs: number;
  /** Reading the loss back (waits for the backend on asynchronous ones). */
  syncMs: number;
}

/**
 * One GRU4Rec optimisation step per call, over a session-parallel mini-batch. Holds the
 * optimizer state, the step-input assembler (negative sampler, masks) and the per-row hidden
 * states between calls, so a continuous trainer can feed batches built from a live stream.
 * A step is: assemble its inputs (JS), then forward + loss, backward and the optimizer updates
 * in one tf scope, then read the loss back.
 */
export class Gru4RecTrainer {
  readonly model: Gru4Rec;
  readonly config: Gru4RecConfig;
  readonly timing: StepTiming = { steps: 0, prepareMs: 0, computeMs: 0, syncMs: 0 };
  private readonly assembler: StepInputAssembler;
  private readonly tables: ItemTables;
  private readonly optimizer: Gru4RecOptimizer;
  /** Parameters updated densely (the GRU matrices and biases), in the order their gradients come back. */
  private readonly denseNames: string[];
  private readonly targetMasks = new Map<number, tf.Tensor2D>();
  private hidden: tf.Tensor2D[] | null = null;
  private readonly output: OrtSampledOutput | null = null;
  private readonly fusedStep: OrtGruStep | null = null;
  /**
   * What runs the step's products: 'ort-step' (the whole one-layer GRU step on onnxruntime),
   * 'ort-output' (the head and loss on onnxruntime, the encoder on tfjs) or 'tfjs'; onnxruntime's
   * provider (CUDA where its library is installed, else CPU); and why the faster kernels were not used.
   */
  readonly kernel: { engine: 'ort-step' | 'ort-output' | 'tfjs'; provider?: 'cuda' | 'cpu'; reason?: string };

  /**
   * @param support per-item event counts: negatives are drawn ∝ support^sampleAlpha and the
   *   logQ correction uses them (they are clamped to 1 there, so unseen items stay finite).
   * @param opts.optimizerState resume the optimizer from this state (a checkpoint) instead of zeros.
   * @param opts.outputKernel where the step's products run (default 'auto': onnxruntime as far as the
   *   cell, layers, head, loss and the install allow, else tfjs; 'ort' refuses to fall back to tfjs).
   *   Absent: STREAMREC_TRAIN_KERNEL, else 'auto'.
   */
  constructor(model: Gru4Rec, config: Gru4RecConfig, support: ArrayLike<number>, opts: { optimizerState?: OptimizerState; outputKernel?: OutputKernelChoice } = {}) {
    const { arch } = model;
    const expected = archOf(config, arch.nItems);
    if (!sameArch(expected, arch)) throw new Error(`trainer: model architecture ${JSON.stringify(canonicalArch(arch))} does not match the config's ${JSON.stringify(expected)}`);
    if (support.length !== arch.nItems) throw new Error(`trainer: support has ${support.length} entries, expected nItems = ${arch.nItems}`);
    this.model = model;
    this.config = config;
    // The assembler checks the support; it goes first so a bad one leaves no optimizer state behind.
    this.assembler = new StepInputAssembler(model, config, support);
    this.tables = new ItemTables(model, config);
    // Parameters the optimizer never sees: a fixed cosine temperature, and the regression head's item
    // vectors (its targets: trained, they would collapse towards the predictions).
    const frozen = (n: string) => (n === 'head.scale' && !config.learnTemperature) || n === 'head.items';
    this.denseNames = Object.keys(model.vars).filter((n) => !this.tables.names.has(n) && !frozen(n));
    const trainable = Object.fromEntries(Object.entries(model.vars).filter(([n]) => (arch.useBias || n !== 'out.by') && !frozen(n)));
    this.optimizer = new Gru4RecOptimizer(config, trainable, this.tables.names, opts.optimizerState);
    const choice = opts.outputKernel ?? kernelChoiceFromEnv();
    if (choice === 'tfjs') {
      this.kernel = { engine: 'tfjs', reason: 'asked for tfjs' };
      return;
    }
    const step = OrtGruStep.open(arch, config, model.oneHotInput);
    if (typeof step !== 'string') {
      this.fusedStep = step;
      this.kernel = { engine: 'ort-step', provider: step.provider };
      return;
    }
    const output = OrtSampledOutput.open(arch, config);
    if (typeof output !== 'string') {
      this.output = output;
      this.kernel = { engine: 'ort-output', provider: output.provider, reason: step };
      return;
    }
    if (choice === 'ort') {
      this.optimizer.dispose();
      throw new Error(`trainer: outputKernel 'ort' is unavailable: ${output}`);
    }
    this.kernel = { engine: 'tfjs', reason: output };
  }

  /** The optimizer's state as plain arrays (for a checkpoint, or to carry over into a grown model's trainer). */
  optimizerState(): OptimizerState {
    return this.optimizer.state();
  }

  /** Negatives and the logQ correction follow this support from the next step on (see StepInputAssembler.setSupport). */
  setSupport(support: ArrayLike<number>): void {
    this.assembler.setSupport(support);
  }

  /** Forget all hidden states (a new pass over the data starts). */
  resetState(): void {
    if (this.hidden) tf.dispose(this.hidden);
    this.hidden = null;
  }

  /**
   * Train on one mini-batch. Returns the loss (mean over rows, scaled by n/batchSize as the
   * official code), or null when the step has too few candidates to rank (n + nSample < 2).
   * Throws when the loss stops being finite.
   */
  step(batch: SessionBatch): number | null {
    const t0 = performance.now();
    if (!this.rankable(batch)) {
      this.resetState();
      return null;
    }
    const inputs = this.assembler.prepare(batch);
    this.tables.index(inputs);
    const t1 = performance.now();
    const loss = this.optimise(batch, inputs);
    const t2 = performance.now();
    const value = loss.dataSync()[0];
    loss.dispose();
    const t3 = performance.now();
    this.timing.steps++;
    this.timing.prepareMs += t1 - t0;
    this.timing.computeMs += t2 - t1;
    this.timing.syncMs += t3 - t2;
    if (!Number.isFinite(value)) throw new Error(`trainer: the loss became ${value} (diverged); lower learningRate or check the data`);
    return value;
  }

  dispose(): void {
    this.resetState();
    this.optimizer.dispose();
    this.output?.dispose();
    this.fusedStep?.dispose();
    for (const m of this.targetMasks.values()) m.dispose();
    this.targetMasks.clear();
  }

  /** False when the batch has too few candidates to rank; throws when it does not fit the trainer. */
  private rankable(batch: SessionBatch): boolean {
    const n = batch.n;
    if (n > this.config.batchSize) throw new Error(`trainer: batch of ${n} rows exceeds batchSize ${this.config.batchSize}`);
    if (n + this.config.nSample < 2) return false;
    if (this.hidden && !batch.keep && this.hidden[0].shape[0] !== n)
      throw new Error(`trainer: batch has ${n} rows but the carried hidden state has ${this.hidden[0].shape[0]} and no keep map`);
    return true;
  }

  /**
   * Forward + loss, backward and the optimizer updates of one step, in one tf scope; carries the
   * next hidden states over to the following step. Returns the loss, still on the backend.
   */
  private optimise(batch: SessionBatch, inputs: StepInputs): tf.Scalar {
    const prevHidden = this.hidden;
    let newHidden: tf.Tensor2D[] = [];
    const loss = tf.tidy(() => {
      // Carried per layer: h for the GRU, [h | c] for the LSTM cells.
      const hidden = carriedHidden(prevHidden, this.model.stateSizes, batch, inputs);
      const tableRows = this.tables.gather(inputs);
      const r = this.fusedStep ? this.fusedGradients(this.fusedStep, inputs, hidden, tableRows) : this.tapeGradients(inputs, hidden, tableRows);
      newHidden = r.hidden;
      this.update(r.grads, tableRows.length);
      return r.loss;
    });
    this.model.markUpdated();
    if (prevHidden) tf.dispose(prevHidden);
    this.hidden = newHidden;
    return loss;
  }

  /**
   * The step's loss, the gradients of [table rows, dense parameters] and the next (kept) states,
   * through tfjs's tape: the sampled forward pass and loss (head and loss on onnxruntime with the
   * output kernel). Call inside tf.tidy.
   */
  private tapeGradients(inputs: StepInputs, hidden: tf.Tensor2D[], tableRows: tf.Tensor2D[]): StepGradients {
    let next: tf.Tensor2D[] = [];
    const lossOf = sampledStepLoss({
      model: this.model,
      config: this.config,
      denseNames: this.denseNames,
      nGathered: tableRows.length,
      inputs,
      hidden,
      targetMask: this.targetMaskFor(inputs.n, inputs.R),
      output: this.output,
      onHidden: (states) => {
        next = states;
      },
    });
    const { value, grads } = tf.valueAndGrads(lossOf)([...tableRows, ...this.denseNames.map((name) => this.model.vars[name])]);
    return { loss: value, grads, hidden: next };
  }

  /** tapeGradients' result from the whole step on onnxruntime: no tape, the gradients come back with the loss. */
  private fusedGradients(step: OrtGruStep, inputs: StepInputs, hidden: tf.Tensor2D[], tableRows: tf.Tensor2D[]): StepGradients {
    const r = step.run({
      rows: tableRows,
      hidden: hidden[0],
      params: this.model.vars,
      logq: inputs.logq,
      embedMask: inputs.embedMask,
      hiddenMask: inputs.hiddenMasks[0],
      exclude: inputs.exclude,
    });
    const dense = this.denseNames.map((name) => {
      const g = r.denseGrads[name];
      if (!g) throw new Error(`trainer: the onnxruntime step returned no gradient for "${name}"`);
      return g;
    });
    return { loss: r.loss, grads: [...r.tableGrads, ...dense], hidden: [tf.keep(r.hidden)] };
  }

  /** The optimizer step from the gradients of [table rows (nGathered), dense parameters]. */
  private update(grads: tf.Tensor[], nGathered: number): void {
    this.optimizer.beginStep();
    this.denseNames.forEach((name, k) => this.optimizer.dense(name, this.model.vars[name], grads[nGathered + k]));
    this.tables.update(this.optimizer, grads.slice(0, nGathered));
  }

  private targetMaskFor(n: number, R: number): tf.Tensor2D {
    // R − n is always nSample, so n alone keys the cache.
    let m = this.targetMasks.get(n);
    if (!m) {
      m = tf.keep(tf.tidy(() => targetMask(n, R)));
      this.targetMasks.set(n, m);
    }
    return m;
  }
}
