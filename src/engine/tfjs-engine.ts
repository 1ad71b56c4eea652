/**
 * InferenceEngine on tfjs, on whichever tfjs backend is active (wasm here; native 'tensorflow'
 * where tfjs-node installs). The step is the model's own inference step (Gru4Rec.stepTensors:
 * the GRU cell of src/model/gru-cell.ts and the full-catalogue scoring), so serving on tfjs,
 * training and the offline evaluator run one definition of GRU4Rec; only top-K is the engine's.
 */
import * as tf from '@tensorflow/tfjs';
import { Gru4Rec } from '../model/gru4rec.ts';
import { TopK } from '../model/topk.ts';
import { stateSizes, type Gru4RecWeights } from '../model/weights.ts';
import { checkEncodeArgs, checkStepArgs, resolveEngineOptions, type EngineConfig, type EngineOptions, type ExcludeLists, type InferenceEngine, type StepOutput } from './engine.ts';
import { candidateCount } from './onnx/graph-builder.ts';
import { selectRows, takeUnexcludedRows } from './batch-topk.ts';

export interface TfjsEngineOptions extends EngineOptions {
  /**
   * Where top-K runs: 'tf' = tf.topk on the backend (only topK + maxExclude candidates per row come
   * back to JS); 'js' = download the score rows and select with TopK.selectRow. Default 'tf'.
   */
  topkMode?: 'tf' | 'js';
}

export class TfjsEngine implements InferenceEngine {
  readonly name: string;
  readonly nItems: number;
  /** Per-layer state buffer widths (the contract's H_l): the hidden size for a GRU, 2·H ([h | c]) for the LSTM cells. */
  readonly hiddenSizes: readonly number[];
  readonly topK: number;
  readonly maxExclude: number;
  readonly maxBatch: number;
  readonly outputScores: boolean;
  readonly topkMode: 'tf' | 'js';
  readonly candidates: number;

  private readonly model: Gru4Rec;
  private readonly selector: TopK;
  private disposed = false;

  constructor(weights: Gru4RecWeights, opts: TfjsEngineOptions) {
    // Options first: a bad option then throws before any weight is uploaded to the backend.
    const cfg: EngineConfig = resolveEngineOptions(weights.arch.nItems, opts);
    this.model = Gru4Rec.fromWeights(weights);
    const { arch } = this.model;
    this.nItems = arch.nItems;
    this.hiddenSizes = stateSizes(arch);
    this.topK = cfg.topK;
    this.maxExclude = cfg.maxExclude;
    this.maxBatch = cfg.maxBatch;
    this.outputScores = cfg.outputScores;
    this.topkMode = opts.topkMode ?? 'tf';
    this.candidates = candidateCount(this.nItems, this.topK, this.maxExclude);
    this.name = `tfjs-${tf.getBackend()}`;
    this.selector = new TopK(this.topK);
  }

  /** The step's tensors: next hidden states, then scores. Caller disposes. */
  private forward(n: number, items: Int32Array, hidden: Float32Array[]): { hNext: tf.Tensor2D[]; scores: tf.Tensor2D } {
    return tf.tidy(() => {
      const ids = tf.tensor1d(items.subarray(0, n), 'int32');
      const h = this.hiddenSizes.map((H, l) => tf.tensor2d(hidden[l].subarray(0, n * H), [n, H]));
      const next = this.model.stepTensors(h, ids);
      return { hNext: next.hidden, scores: next.scores };
    });
  }

  async step(n: number, items: Int32Array, hidden: Float32Array[], out: StepOutput, exclude?: ExcludeLists): Promise<void> {
    if (this.disposed) throw new Error('tfjs engine: step() after dispose()');
    checkStepArgs(this, n, items, hidden, out, exclude);
    const { hNext, scores } = this.forward(n, items, hidden);
    const { topK, nItems } = this;
    try {
      for (let l = 0; l < hNext.length; l++) hidden[l].set((await hNext[l].data()) as Float32Array);
      const wantScores = this.outputScores && out.scores !== undefined;
      if (this.topkMode === 'js' || wantScores) {
        const rows = (await scores.data()) as Float32Array;
        if (wantScores) out.scores!.set(rows);
        if (this.topkMode === 'js') {
          selectRows(this.selector, n, rows, nItems, out, exclude);
          return;
        }
      }
      const K = this.candidates;
      const { values, indices } = tf.topk(scores, K, true);
      try {
        const candScore = (await values.data()) as Float32Array;
        const candIdx = (await indices.data()) as Int32Array;
        takeUnexcludedRows(n, candIdx, 1, candScore, K, out, topK, exclude);
      } finally {
        values.dispose();
        indices.dispose();
      }
    } finally {
      for (const t of hNext) t.dispose();
      scores.dispose();
    }
  }

  async encode(n: number, items: Int32Array, hidden: Float32Array[]): Promise<void> {
    if (this.disposed) throw new Error('tfjs engine: encode() after dispose()');
    checkEncodeArgs(this, n, items, hidden);
    const hNext = tf.tidy(() => {
      const ids = tf.tensor1d(items.subarray(0, n), 'int32');
      return this.model.encodeTensors(
        this.hiddenSizes.map((H, l) => tf.tensor2d(hidden[l].subarray(0, n * H), [n, H])),
        ids,
      );
    });
    try {
      for (let l = 0; l < hNext.length; l++) hidden[l].set((await hNext[l].data()) as Float32Array);
    } finally {
      for (const t of hNext) t.dispose();
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.model.dispose();
  }
}

/** The engine runs on the backend active at creation; call initBackend() (src/model/backend.ts) first to pick one. */
export async function createTfjsEngine(weights: Gru4RecWeights, opts: TfjsEngineOptions): Promise<TfjsEngine> {
  await tf.ready();
  return new TfjsEngine(weights, opts);
}
