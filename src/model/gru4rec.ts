import * as tf from '@tensorflow/tfjs';
import { expectedShapes, inputTableName, validateWeights, type Gru4RecArch, type Gru4RecWeights, type NamedTensor } from './weights.ts';
import { gruStack, type GruLayerParams } from './gru-cell.ts';
import { gatherRows, matMulBT } from './ops.ts';
import { Rng } from '../random/rng.ts';

/**
 * GRU4Rec written against the @tensorflow/tfjs API; runs on whichever backend is active.
 * Variables carry the weights contract's names and layouts (src/model/weights.ts), so
 * toWeights()/fromWeights() are plain copies.
 */
export class Gru4Rec {
  readonly arch: Gru4RecArch;
  /** Contract name → variable. */
  readonly vars: Readonly<Record<string, tf.Variable>>;
  /** Name of the table whose rows item ids index at the input ("out.Wy", "item_embedding" or "gru0.Wx"). */
  readonly inputTable: string;
  private updates = 0;
  private wyT: tf.Tensor2D | null = null;
  private wyTAt = -1;

  private constructor(arch: Gru4RecArch, tensors: Record<string, tf.Tensor>) {
    this.arch = { ...arch, hiddenSizes: [...arch.hiddenSizes] };
    const vars: Record<string, tf.Variable> = {};
    for (const [name, t] of Object.entries(tensors)) vars[name] = tf.variable(t, true);
    this.vars = vars;
    this.inputTable = inputTableName(arch);
  }

  /** Fresh weights, initialised like the original: uniform ±sqrt(6/(fan_in+fan_out)) per gate block, zero biases. */
  static init(arch: Gru4RecArch, seed = 42): Gru4Rec {
    const rng = new Rng(seed);
    const shapes = expectedShapes(arch);
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, shape] of Object.entries(shapes)) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (shape.length === 2) {
        // Wx holds 3 gate blocks and Wrz 2, each initialised as its own [in, H] matrix.
        const blocks = name.endsWith('.Wx') ? 3 : name.endsWith('.Wrz') ? 2 : 1;
        const [rows, cols] = shape;
        const sigma = Math.sqrt(6 / (rows + cols / blocks));
        for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-sigma, sigma);
      }
      tensors[name] = tf.tensor(data, shape);
    }
    const model = new Gru4Rec(arch, tensors);
    for (const t of Object.values(tensors)) t.dispose();
    return model;
  }

  static fromWeights(w: Gru4RecWeights): Gru4Rec {
    validateWeights(w);
    const tensors: Record<string, tf.Tensor> = {};
    for (const name of Object.keys(expectedShapes(w.arch))) {
      const t = w.tensors[name];
      tensors[name] = tf.tensor(t.data, t.shape);
    }
    const model = new Gru4Rec(w.arch, tensors);
    for (const t of Object.values(tensors)) t.dispose();
    return model;
  }

  toWeights(): Gru4RecWeights {
    const tensors: Record<string, NamedTensor> = {};
    for (const [name, v] of Object.entries(this.vars)) {
      tensors[name] = { shape: [...v.shape], data: Float32Array.from(v.dataSync() as Float32Array) };
    }
    return { arch: { ...this.arch, hiddenSizes: [...this.arch.hiddenSizes] }, tensors };
  }

  get nLayers(): number {
    return this.arch.hiddenSizes.length;
  }

  /** Layer-0 input is the rows of gru0.Wx themselves (one-hot input). */
  get oneHotInput(): boolean {
    return this.inputTable === 'gru0.Wx';
  }

  /**
   * Dense parameters of layer l (Wx is null for a one-hot layer 0: its rows are gathered as the
   * input), looked up by contract name in `v`: the variables, or the trainer's differentiated copies.
   */
  layerParams(l: number, v: Readonly<Record<string, tf.Tensor>> = this.vars): GruLayerParams {
    return {
      Wx: l === 0 && this.oneHotInput ? null : (v[`gru${l}.Wx`] as tf.Tensor2D),
      Wrz: v[`gru${l}.Wrz`] as tf.Tensor2D,
      Wh: v[`gru${l}.Wh`] as tf.Tensor2D,
      b: v[`gru${l}.b`] as tf.Tensor1D,
    };
  }

  /** Call after changing variables, so cached derived tensors are rebuilt. */
  markUpdated(): void {
    this.updates++;
  }

  /** Wyᵀ [H_last, nItems], cached between weight updates: plain products are the fast path on wasm. */
  outputTableT(): tf.Tensor2D {
    if (!this.wyT || this.wyTAt !== this.updates) {
      this.wyT?.dispose();
      this.wyT = tf.keep(tf.tidy(() => tf.transpose(this.vars['out.Wy'] as tf.Tensor2D)));
      this.wyTAt = this.updates;
    }
    return this.wyT;
  }

  /**
   * One inference step over tensors: items [n] int32, hidden per layer [n, H_l] →
   * new hidden per layer and scores for all items [n, nItems]. Call inside tf.tidy.
   */
  stepTensors(hidden: tf.Tensor2D[], items: tf.Tensor1D): { hidden: tf.Tensor2D[]; scores: tf.Tensor2D } {
    const next = this.encodeTensors(hidden, items);
    const top = next[next.length - 1];
    const scores = this.arch.useBias ? tf.add(tf.matMul(top, this.outputTableT()), this.vars['out.by']) : tf.matMul(top, this.outputTableT());
    return { hidden: next, scores: scores as tf.Tensor2D };
  }

  /** The encoder half of a step: the next hidden states only, no scoring (replaying a session's history). */
  encodeTensors(hidden: tf.Tensor2D[], items: tf.Tensor1D): tf.Tensor2D[] {
    const x = gatherRows(this.vars[this.inputTable] as tf.Tensor2D, tf.reshape(items, [-1, 1]) as tf.Tensor2D);
    const layers = Array.from({ length: this.nLayers }, (_, l) => this.layerParams(l));
    return gruStack(x, hidden, layers);
  }

  /**
   * Batched inference step on plain arrays: hidden[l] holds n rows of H_l (row-major), items n ids.
   * Returns the new hidden state and the scores of all items, n × nItems row-major.
   */
  step(hidden: Float32Array[], items: Int32Array): { hidden: Float32Array[]; scores: Float32Array } {
    const n = items.length;
    const sizes = this.arch.hiddenSizes;
    if (hidden.length !== sizes.length) throw new Error(`step: expected ${sizes.length} hidden layers, got ${hidden.length}`);
    sizes.forEach((h, l) => {
      if (hidden[l].length !== n * h) throw new Error(`step: hidden[${l}] holds ${hidden[l].length} values, expected ${n}×${h}`);
    });
    const out = tf.tidy(() => {
      const h = hidden.map((a, l) => tf.tensor2d(a, [n, sizes[l]]));
      const r = this.stepTensors(h, tf.tensor1d(items, 'int32'));
      return [r.scores, ...r.hidden];
    });
    try {
      return {
        scores: out[0].dataSync() as Float32Array,
        hidden: out.slice(1).map((t) => t.dataSync() as Float32Array),
      };
    } finally {
      tf.dispose(out);
    }
  }

  /**
   * Training forward pass over a sampled output set. All inputs are tensors so the trainer can
   * differentiate with respect to gathered table rows (wasm has no gather gradient).
   * Returns scores [n, R] and the new hidden states.
   */
  static sampledForward(args: {
    /** Layer-0 input rows: embedding rows [n, D], or Wx0 rows [n, 3H0] for one-hot input. */
    inputRows: tf.Tensor2D;
    hidden: tf.Tensor2D[];
    layers: GruLayerParams[];
    /** Output table rows of the scored items [R, H_last] and their biases [R] (null without bias). */
    outRows: tf.Tensor2D;
    outBias: tf.Tensor1D | null;
    embedMask?: tf.Tensor2D | null;
    hiddenMasks?: Array<tf.Tensor2D | null>;
  }): { scores: tf.Tensor2D; hidden: tf.Tensor2D[] } {
    const x: tf.Tensor2D = args.embedMask ? tf.mul(args.inputRows, args.embedMask) : args.inputRows;
    const hidden = gruStack(x, args.hidden, args.layers, args.hiddenMasks);
    const top = hidden[hidden.length - 1];
    const s = matMulBT(top, args.outRows);
    return { scores: args.outBias ? (tf.add(s, args.outBias) as tf.Tensor2D) : s, hidden };
  }

  dispose(): void {
    this.wyT?.dispose();
    this.wyT = null;
    for (const v of Object.values(this.vars)) v.dispose();
  }
}
