import * as tf from '@tensorflow/tfjs';
import {
  canonicalArch,
  cellOf,
  expectedShapes,
  headOf,
  inputBlocks,
  inputTableName,
  layerPrefix,
  stateSizes,
  validateWeights,
  type CellKind,
  type Gru4RecArch,
  type Gru4RecWeights,
  type NamedTensor,
} from './weights.ts';
import { encoderStack, type LayerParams } from './encoder-stack.ts';
import { gatherRows } from './ops.ts';
import { headParams, headScores, sampledItemSide, unitRows, type HeadArch, type HeadParams, type ItemSide } from './heads.ts';
import { Rng } from '../random/rng.ts';

/**
 * GRU4Rec written against the @tensorflow/tfjs API; runs on whichever backend is active. The
 * recurrent cell is the arch's (GRU, LSTM or mLSTM); everything else (input tables, scoring,
 * training) is shared. Variables carry the weights contract's names and layouts
 * (src/model/weights.ts), so toWeights()/fromWeights() are plain copies. Per-layer state tensors
 * are [n, stateSizes[l]]: h for the GRU, [h | c] for the LSTM cells.
 */
export class Gru4Rec {
  readonly arch: Gru4RecArch;
  /** Contract name → variable. */
  readonly vars: Readonly<Record<string, tf.Variable>>;
  /** Name of the table whose rows item ids index at the input ("out.Wy", "item_embedding", or layer 0's Wx: "gru0.Wx", "lstm0.Wx", "mlstm0.Wx"). */
  readonly inputTable: string;
  readonly cell: CellKind;
  /** Values carried per session and layer (see stateSizes in weights.ts). */
  readonly stateSizes: readonly number[];
  private updates = 0;
  private wyT: tf.Tensor2D | null = null;
  private wyTAt = -1;
  private unitWyT: tf.Tensor2D | null = null;
  private unitWyTAt = -1;
  private unitItemsT: tf.Tensor2D | null = null;
  private unitItemsTAt = -1;

  private constructor(arch: Gru4RecArch, tensors: Record<string, tf.Tensor>) {
    this.arch = canonicalArch(arch);
    this.cell = cellOf(arch);
    this.stateSizes = stateSizes(arch);
    const vars: Record<string, tf.Variable> = {};
    for (const [name, t] of Object.entries(tensors)) vars[name] = tf.variable(t, true);
    this.vars = vars;
    this.inputTable = inputTableName(arch);
  }

  /**
   * Fresh weights, initialised like the original: uniform ±sqrt(6/(fan_in+fan_out)) per gate block,
   * zero biases. The LSTM cells follow the same rule (their Wx and Wh hold one block per gate, plus
   * mLSTM's m block in Wx), so no cell starts with larger gate inputs than another.
   * @param itemVectors the regression head's fixed item vectors head.items (nItems × regressionDim,
   *   row-major; see regressionItemVectors in item2vec.ts), required for that head and refused for
   *   any other: they come from the data, so no initialisation could stand in for them.
   */
  static init(arch: Gru4RecArch, seed = 42, itemVectors?: Float32Array): Gru4Rec {
    const rng = new Rng(seed);
    const shapes = expectedShapes(arch);
    const regression = headOf(arch) === 'regression';
    if (regression !== (itemVectors !== undefined))
      throw new Error(
        regression
          ? 'Gru4Rec.init: the regression head needs its item vectors (head.items, from item2vec)'
          : `Gru4Rec.init: item vectors are only read by the regression head, not the ${headOf(arch)} head`,
      );
    if (itemVectors && itemVectors.length !== arch.nItems * (arch.regressionDim as number))
      throw new Error(`Gru4Rec.init: head.items needs ${arch.nItems}×${arch.regressionDim} values, got ${itemVectors.length}`);
    const tensors: Record<string, tf.Tensor> = {};
    for (const [name, shape] of Object.entries(shapes)) {
      const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
      if (name === 'head.items') data.set(itemVectors as Float32Array);
      else if (shape.length === 2) {
        // Each gate block of Wx, Wrz and an LSTM's Wh is initialised as its own [in, H] matrix.
        const blocks = gateBlocks(arch, name);
        const [rows, cols] = shape;
        const sigma = Math.sqrt(6 / (rows + cols / blocks));
        for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-sigma, sigma);
      }
      // The cosine head's scale starts at 1/τ (a zero scale would score every item alike).
      if (name === 'head.scale') data.fill(1 / (arch.temperature as number));
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
    return { arch: canonicalArch(this.arch), tensors };
  }

  get nLayers(): number {
    return this.arch.hiddenSizes.length;
  }

  /** Layer-0 input is the rows of layer 0's Wx themselves (one-hot input). */
  get oneHotInput(): boolean {
    return this.inputTable === `${layerPrefix(this.arch, 0)}.Wx`;
  }

  /**
   * Dense parameters of layer l (Wx is null for a one-hot layer 0: its rows are gathered as the
   * input), looked up by contract name in `v`: the variables, or the trainer's differentiated copies.
   */
  layerParams(l: number, v: Readonly<Record<string, tf.Tensor>> = this.vars): LayerParams {
    const p = layerPrefix(this.arch, l);
    const Wx = l === 0 && this.oneHotInput ? null : (v[`${p}.Wx`] as tf.Tensor2D);
    const Wh = v[`${p}.Wh`] as tf.Tensor2D;
    const b = v[`${p}.b`] as tf.Tensor1D;
    if (this.cell === 'gru') return { cell: 'gru', Wx, Wrz: v[`${p}.Wrz`] as tf.Tensor2D, Wh, b };
    if (this.cell === 'lstm') return { cell: 'lstm', Wx, Wh, b };
    return { cell: 'mlstm', Wx, Wmh: v[`${p}.Wmh`] as tf.Tensor2D, Wh, b };
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

  /** Ŵyᵀ [H_last, nItems], out.Wy's rows at unit length (the cosine head's items), cached like outputTableT. */
  unitOutputTableT(): tf.Tensor2D {
    if (!this.unitWyT || this.unitWyTAt !== this.updates) {
      this.unitWyT?.dispose();
      this.unitWyT = tf.keep(tf.tidy(() => tf.transpose(unitRows(this.vars['out.Wy'] as tf.Tensor2D))));
      this.unitWyTAt = this.updates;
    }
    return this.unitWyT;
  }

  /** head.items at unit length, transposed [E, nItems] (the regression head's items), cached like outputTableT. */
  unitHeadItemsT(): tf.Tensor2D {
    if (!this.unitItemsT || this.unitItemsTAt !== this.updates) {
      this.unitItemsT?.dispose();
      this.unitItemsT = tf.keep(tf.tidy(() => tf.transpose(unitRows(this.vars['head.items'] as tf.Tensor2D))));
      this.unitItemsTAt = this.updates;
    }
    return this.unitItemsT;
  }

  /** The head's parameters among the variables (null for the dot head). */
  headParams(v: Readonly<Record<string, tf.Tensor>> = this.vars): HeadParams | null {
    return headParams(this.arch, v);
  }

  /**
   * One inference step over tensors: items [n] int32, state per layer [n, stateSizes[l]] →
   * new state per layer and scores for all items [n, nItems]. Call inside tf.tidy.
   */
  stepTensors(hidden: tf.Tensor2D[], items: tf.Tensor1D): { hidden: tf.Tensor2D[]; scores: tf.Tensor2D } {
    const { states: next, outputs } = this.encodeStep(hidden, items);
    const top = outputs[outputs.length - 1];
    // Plain products with the cached transposed tables: the fast path on wasm (see ops.ts).
    const catalogue: ItemSide = {
      dot: (q) => tf.matMul(q, this.outputTableT()),
      unitDot: (q) => tf.matMul(q, this.unitOutputTableT()),
      bias: this.arch.useBias ? (this.vars['out.by'] as tf.Tensor1D) : null,
    };
    const head = this.headParams();
    if (head?.items) head.unitItemsT = this.unitHeadItemsT();
    return { hidden: next, scores: headScores(this.arch, head, top, catalogue) };
  }

  /** The encoder half of a step: the next states only, no scoring (replaying a session's history). */
  encodeTensors(hidden: tf.Tensor2D[], items: tf.Tensor1D): tf.Tensor2D[] {
    return this.encodeStep(hidden, items).states;
  }

  private encodeStep(hidden: tf.Tensor2D[], items: tf.Tensor1D): { states: tf.Tensor2D[]; outputs: tf.Tensor2D[] } {
    const x = gatherRows(this.vars[this.inputTable] as tf.Tensor2D, tf.reshape(items, [-1, 1]) as tf.Tensor2D);
    const layers = Array.from({ length: this.nLayers }, (_, l) => this.layerParams(l));
    return encoderStack(x, hidden, layers);
  }

  /**
   * Batched inference step on plain arrays: hidden[l] holds n rows of stateSizes[l] (row-major),
   * items n ids. Returns the new state and the scores of all items, n × nItems row-major.
   */
  step(hidden: Float32Array[], items: Int32Array): { hidden: Float32Array[]; scores: Float32Array } {
    const n = items.length;
    const sizes = this.stateSizes;
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
   * Returns scores [n, R] and the new states (per layer [n, stateSizes[l]]).
   */
  static sampledForward(args: {
    /** The arch's head fields decide how h scores the rows (src/model/heads.ts); absent = dot. */
    arch?: HeadArch;
    /** The head's parameters (null/absent for the dot head). */
    head?: HeadParams | null;
    /** Layer-0 input rows: embedding rows [n, D], or Wx0 rows [n, 3H0 | 4H0 | 5H0] for one-hot input. */
    inputRows: tf.Tensor2D;
    hidden: tf.Tensor2D[];
    layers: LayerParams[];
    /** Output table rows of the scored items [R, H_last] and their biases [R] (null without bias). */
    outRows: tf.Tensor2D;
    outBias: tf.Tensor1D | null;
    embedMask?: tf.Tensor2D | null;
    hiddenMasks?: Array<tf.Tensor2D | null>;
  }): { scores: tf.Tensor2D; hidden: tf.Tensor2D[] } {
    const { states, top } = Gru4Rec.sampledEncode(args);
    const items = sampledItemSide(args.outRows, args.outBias);
    return { scores: headScores(args.arch ?? {}, args.head ?? null, top, items), hidden: states };
  }

  /**
   * The encoder half of sampledForward, for losses that score its last output themselves (the
   * regression head's cosine loss, the onnxruntime output kernel): the next states and the last
   * layer's output h [n, H_last].
   */
  static sampledEncode(args: { inputRows: tf.Tensor2D; hidden: tf.Tensor2D[]; layers: LayerParams[]; embedMask?: tf.Tensor2D | null; hiddenMasks?: Array<tf.Tensor2D | null> }): {
    states: tf.Tensor2D[];
    top: tf.Tensor2D;
  } {
    const x: tf.Tensor2D = args.embedMask ? tf.mul(args.inputRows, args.embedMask) : args.inputRows;
    const { states, outputs } = encoderStack(x, args.hidden, args.layers, args.hiddenMasks);
    return { states, top: outputs[outputs.length - 1] };
  }

  dispose(): void {
    this.wyT?.dispose();
    this.wyT = null;
    this.unitWyT?.dispose();
    this.unitWyT = null;
    this.unitItemsT?.dispose();
    this.unitItemsT = null;
    for (const v of Object.values(this.vars)) v.dispose();
  }
}

/**
 * Gate blocks a 2-D tensor holds side by side (see weights.ts), each initialised as its own matrix;
 * a mixture head's W holds one [D, D] block per taste (and per attention vector), the regression
 * head's W one [D, E] block.
 */
function gateBlocks(arch: Gru4RecArch, name: string): number {
  if (name === 'head.W' && headOf(arch) === 'regression') return 1;
  if (name === 'head.W') return (headOf(arch) === 'mixture-of-tastes' && arch.tasteMixing !== 'max' ? 2 : 1) * (arch.tastes as number);
  const cell = cellOf(arch);
  if (name.endsWith('.Wx')) return inputBlocks(cell);
  if (name.endsWith('.Wrz')) return 2;
  if (name.endsWith('.Wh') && cell !== 'gru') return 4;
  return 1;
}
