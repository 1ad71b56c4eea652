/**
 * InferenceEngine on tfjs ops, on whichever tfjs backend is active (wasm here; native
 * 'tensorflow' where tfjs-node installs). Same cell and scoring as the ONNX graph.
 */
import * as tf from '@tensorflow/tfjs';
import { validateWeights, inputTableName, type Gru4RecWeights } from '../model/weights.ts';
import { checkStepArgs, resolveEngineOptions, type EngineConfig, type EngineOptions, type ExcludeLists, type InferenceEngine, type StepOutput } from './engine.ts';
import { candidateCount } from './onnx/graph-builder.ts';
import { TopKSelector, takeUnexcluded } from './topk.ts';

export interface TfjsEngineOptions extends EngineOptions {
  /**
   * Where top-K runs: 'tf' = tf.topk on the backend (only topK + maxExclude candidates per row come
   * back to JS); 'js' = download the score rows and select with TopKSelector. Default 'tf'.
   */
  topkMode?: 'tf' | 'js';
}

interface LayerWeights {
  Wx: tf.Tensor2D;
  Wrz: tf.Tensor2D;
  Wh: tf.Tensor2D;
  b: tf.Tensor1D;
}

export class TfjsEngine implements InferenceEngine {
  readonly name: string;
  readonly nItems: number;
  readonly hiddenSizes: readonly number[];
  readonly topK: number;
  readonly maxExclude: number;
  readonly maxBatch: number;
  readonly outputScores: boolean;
  readonly topkMode: 'tf' | 'js';
  readonly candidates: number;

  private readonly table: tf.Tensor2D;
  private readonly layers: LayerWeights[];
  /** Wy transposed to [H, nItems]: tfjs-wasm's transposeB path is ~9x slower and its fused bias is wrong there. */
  private readonly WyT: tf.Tensor2D;
  private readonly by: tf.Tensor1D | null;
  private readonly oneHot: boolean;
  private readonly owned: tf.Tensor[] = [];
  private readonly selector: TopKSelector;
  private disposed = false;

  constructor(weights: Gru4RecWeights, opts: TfjsEngineOptions) {
    validateWeights(weights);
    const cfg: EngineConfig = resolveEngineOptions(weights.arch.nItems, opts);
    const { arch, tensors } = weights;
    this.nItems = arch.nItems;
    this.hiddenSizes = [...arch.hiddenSizes];
    this.topK = cfg.topK;
    this.maxExclude = cfg.maxExclude;
    this.maxBatch = cfg.maxBatch;
    this.outputScores = cfg.outputScores;
    this.topkMode = opts.topkMode ?? 'tf';
    this.candidates = candidateCount(this.nItems, this.topK, this.maxExclude);
    this.name = `tfjs-${tf.getBackend()}`;
    this.selector = new TopKSelector(this.topK);
    this.oneHot = arch.embeddingDim === 0 && !arch.constrainedEmbedding;

    const cache = new Map<string, tf.Tensor>();
    const t2 = (name: string): tf.Tensor2D => {
      let t = cache.get(name);
      if (!t) {
        const { shape, data } = tensors[name];
        t = tf.tensor2d(data, [shape[0], shape[1]]);
        cache.set(name, t);
        this.owned.push(t);
      }
      return t as tf.Tensor2D;
    };
    const t1 = (name: string): tf.Tensor1D => {
      const t = tf.tensor1d(tensors[name].data);
      this.owned.push(t);
      return t;
    };
    this.table = t2(inputTableName(arch));
    this.layers = arch.hiddenSizes.map((_, l) => ({ Wx: t2(`gru${l}.Wx`), Wrz: t2(`gru${l}.Wrz`), Wh: t2(`gru${l}.Wh`), b: t1(`gru${l}.b`) }));
    const { shape: wyShape, data: wyData } = tensors['out.Wy'];
    this.WyT = tf.tidy(() => tf.transpose(tf.tensor2d(wyData, [wyShape[0], wyShape[1]])));
    this.owned.push(this.WyT);
    this.by = arch.useBias ? t1('out.by') : null;
  }

  /** The step's tensors: next hidden states, then scores. Caller disposes. */
  private forward(n: number, items: Int32Array, hidden: Float32Array[]): { hNext: tf.Tensor2D[]; scores: tf.Tensor2D } {
    return tf.tidy(() => {
      const ids = tf.tensor1d(items.subarray(0, n), 'int32');
      let x = tf.gather(this.table, ids) as tf.Tensor2D;
      const hNext: tf.Tensor2D[] = [];
      this.hiddenSizes.forEach((H, l) => {
        const { Wx, Wrz, Wh, b } = this.layers[l];
        const h = tf.tensor2d(hidden[l].subarray(0, n * H), [n, H]);
        const vx = l === 0 && this.oneHot ? tf.add(x, b) : tf.fused.matMul({ a: x, b: Wx, bias: b });
        const rz = tf.sigmoid(tf.add(tf.slice(vx, [0, H], [n, 2 * H]), tf.matMul(h, Wrz)));
        const r = tf.slice(rz, [0, 0], [n, H]);
        const z = tf.slice(rz, [0, H], [n, H]);
        const cand = tf.tanh(tf.add(tf.slice(vx, [0, 0], [n, H]), tf.matMul(tf.mul(r, h), Wh)));
        // Same rearrangement of (1 − z)⊙h + z⊙n as the ONNX graph.
        x = tf.add(h, tf.mul(z, tf.sub(cand, h))) as tf.Tensor2D;
        hNext.push(x);
      });
      const scores = tf.fused.matMul({ a: x, b: this.WyT, bias: this.by ?? undefined });
      return { hNext, scores: scores as tf.Tensor2D };
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
          for (let b = 0; b < n; b++) {
            this.selector.select(
              rows,
              b * nItems,
              nItems,
              out.topIdx,
              out.topScore,
              b * topK,
              exclude?.items,
              exclude ? exclude.offsets[b] : 0,
              exclude ? exclude.offsets[b + 1] : 0,
            );
          }
          return;
        }
      }
      const K = this.candidates;
      const { values, indices } = tf.topk(scores, K, true);
      try {
        const candScore = (await values.data()) as Float32Array;
        const candIdx = (await indices.data()) as Int32Array;
        for (let b = 0; b < n; b++) {
          takeUnexcluded(
            candIdx,
            b * K,
            1,
            candScore,
            b * K,
            K,
            topK,
            out.topIdx,
            out.topScore,
            b * topK,
            exclude?.items,
            exclude ? exclude.offsets[b] : 0,
            exclude ? exclude.offsets[b + 1] : 0,
          );
        }
      } finally {
        values.dispose();
        indices.dispose();
      }
    } finally {
      for (const t of hNext) t.dispose();
      scores.dispose();
    }
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.owned) t.dispose();
  }
}

/** The engine runs on the backend active at creation; call initBackend() (src/model/backend.ts) first to pick one. */
export async function createTfjsEngine(weights: Gru4RecWeights, opts: TfjsEngineOptions): Promise<TfjsEngine> {
  await tf.ready();
  return new TfjsEngine(weights, opts);
}
