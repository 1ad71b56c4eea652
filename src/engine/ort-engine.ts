/**
 * InferenceEngine on onnxruntime-node, running the graph exported by onnx/graph-builder.ts.
 * CUDA when the machine has ORT's CUDA provider, else the bundled CPU provider.
 */
import { availableParallelism, endianness } from 'node:os';
import * as ort from 'onnxruntime-node';
import { stateSizes, type Gru4RecWeights } from '../model/weights.ts';
import { buildEncoderGraph, exportOnnx, candidateCount, GraphNames } from './onnx/graph-builder.ts';
import type { ScoringMode } from './onnx/scoring-graph.ts';
import { encodeModel } from './onnx/onnx-proto.ts';
import { checkEncodeArgs, checkStepArgs, resolveEngineOptions, type EngineConfig, type EngineOptions, type ExcludeLists, type InferenceEngine, type StepOutput } from './engine.ts';
import { takeUnexcludedRows } from './batch-topk.ts';
import { cudaProviderInstalled } from './onnx/cuda-provider.ts';

export type OrtProvider = 'cuda' | 'cpu';

export interface OrtEngineOptions extends EngineOptions {
  /** Providers to try, in order (default ['cuda', 'cpu']); the first that loads runs the graph. */
  providers?: OrtProvider[];
  /** CPU intra-op threads (default: all cores). */
  intraOpNumThreads?: number;
  /** The graph's top-K selection (default 'blocked'; 'plain' is the one-TopK graph, for comparison). */
  scoring?: ScoringMode;
  /** Where to say which provider runs (default console.info). */
  log?: (message: string) => void;
}

/** Per-batch-size tensor wrappers around the engine's scratch buffers, built on first use. */
interface BatchBindings {
  item: ort.Tensor;
  fetches: Record<string, ort.Tensor | null>;
}

const littleEndian = endianness() === 'LE';

async function openSession(model: Uint8Array, opts: OrtEngineOptions, log: (m: string) => void): Promise<{ session: ort.InferenceSession; provider: OrtProvider }> {
  const providers = opts.providers ?? ['cuda', 'cpu'];
  if (providers.length === 0) throw new Error('ort engine: providers must name at least one provider');
  const threads = opts.intraOpNumThreads ?? availableParallelism();
  const base: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
  };
  const failures: string[] = [];
  for (const provider of providers) {
    if (provider === 'cuda' && !cudaProviderInstalled()) {
      failures.push('cuda: provider library not installed');
      continue;
    }
    try {
      // 'cpu' stays behind 'cuda' so nodes CUDA lacks kernels for still run.
      const eps = provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
      const session = await ort.InferenceSession.create(model, { ...base, executionProviders: eps });
      log(`ort engine: running on ${provider}${provider === 'cpu' ? ` (${threads} intra-op threads)` : ''}${failures.length ? `; skipped ${failures.join('; ')}` : ''}`);
      return { session, provider };
    } catch (err) {
      failures.push(`${provider}: ${(err as Error).message}`);
    }
  }
  throw new Error(`ort engine: no execution provider could load the model (${failures.join('; ')})`);
}

export class OrtEngine implements InferenceEngine {
  readonly name: string;
  readonly nItems: number;
  /** Per-layer state buffer widths (the contract's H_l): the hidden size for a GRU, 2·H ([h | c]) for the LSTM cells. */
  readonly hiddenSizes: readonly number[];
  readonly topK: number;
  readonly maxExclude: number;
  readonly maxBatch: number;
  readonly outputScores: boolean;
  /** TopK candidates per row the graph returns (topK + maxExclude, capped by nItems). */
  readonly candidates: number;

  private readonly itemIds: BigInt64Array;
  /** Low 32-bit words of itemIds: ids are < 2^31 and non-negative, so the high words stay 0. */
  private readonly itemWords: Int32Array;
  private readonly hNext: Float32Array[];
  private readonly candScore: Float32Array;
  private readonly candIdx: BigInt64Array;
  private readonly candIdxWords: Int32Array;
  private readonly bindings = new Map<number, BatchBindings>();
  private readonly encodeBindings = new Map<number, BatchBindings>();
  private readonly feeds: Record<string, ort.Tensor> = {};
  private disposed = false;
  private busy = false;

  private constructor(
    private readonly session: ort.InferenceSession,
    /** The encoder-only graph (no catalogue product), for encode(). */
    private readonly encoder: ort.InferenceSession,
    readonly provider: OrtProvider,
    weights: Gru4RecWeights,
    cfg: EngineConfig,
  ) {
    this.nItems = weights.arch.nItems;
    this.hiddenSizes = stateSizes(weights.arch);
    this.topK = cfg.topK;
    this.maxExclude = cfg.maxExclude;
    this.maxBatch = cfg.maxBatch;
    this.outputScores = cfg.outputScores;
    this.candidates = candidateCount(this.nItems, this.topK, this.maxExclude);
    this.name = `ort-${provider}`;
    const B = cfg.maxBatch;
    this.itemIds = new BigInt64Array(B);
    this.itemWords = new Int32Array(this.itemIds.buffer);
    this.hNext = this.hiddenSizes.map((H) => new Float32Array(B * H));
    this.candScore = new Float32Array(B * this.candidates);
    this.candIdx = new BigInt64Array(B * this.candidates);
    this.candIdxWords = new Int32Array(this.candIdx.buffer);
  }

  static async create(weights: Gru4RecWeights, opts: OrtEngineOptions): Promise<OrtEngine> {
    const cfg = resolveEngineOptions(weights.arch.nItems, opts);
    const model = exportOnnx(weights, { topK: cfg.topK, maxExclude: cfg.maxExclude, outputScores: cfg.outputScores, scoring: opts.scoring });
    const log = opts.log ?? ((m: string) => console.info(m));
    const { session, provider } = await openSession(model, opts, log);
    let encoder: ort.InferenceSession;
    try {
      // Same provider as the step; its log line would only repeat the step's.
      encoder = (await openSession(encodeModel(buildEncoderGraph(weights)), { ...opts, providers: [provider] }, () => undefined)).session;
    } catch (e) {
      await session.release();
      throw e;
    }
    return new OrtEngine(session, encoder, provider, weights, cfg);
  }

  /** Outputs land directly in the engine's scratch (ORT fills pre-allocated output tensors). */
  private bindingsFor(n: number): BatchBindings {
    let b = this.bindings.get(n);
    if (b) return b;
    const K = this.candidates;
    const fetches: Record<string, ort.Tensor | null> = {};
    this.hiddenSizes.forEach((H, l) => {
      fetches[GraphNames.hiddenNext(l)] = new ort.Tensor('float32', this.hNext[l].subarray(0, n * H), [n, H]);
    });
    fetches[GraphNames.topScores] = new ort.Tensor('float32', this.candScore.subarray(0, n * K), [n, K]);
    fetches[GraphNames.topIndices] = new ort.Tensor('int64', this.candIdx.subarray(0, n * K), [n, K]);
    b = { item: new ort.Tensor('int64', this.itemIds.subarray(0, n), [n]), fetches };
    this.bindings.set(n, b);
    return b;
  }

  async encode(n: number, items: Int32Array, hidden: Float32Array[]): Promise<void> {
    if (this.disposed) throw new Error('ort engine: encode() after dispose()');
    if (this.busy) throw new Error('ort engine: encode() called while the previous step is still running; await it first');
    checkEncodeArgs(this, n, items, hidden);
    this.busy = true;
    try {
      let bind = this.encodeBindings.get(n);
      if (!bind) {
        const fetches: Record<string, ort.Tensor | null> = {};
        this.hiddenSizes.forEach((H, l) => {
          fetches[GraphNames.hiddenNext(l)] = new ort.Tensor('float32', this.hNext[l].subarray(0, n * H), [n, H]);
        });
        bind = { item: new ort.Tensor('int64', this.itemIds.subarray(0, n), [n]), fetches };
        this.encodeBindings.set(n, bind);
      }
      await this.encoder.run(this.feedsFor(n, items, hidden, bind), bind.fetches);
      this.hiddenSizes.forEach((H, l) => hidden[l].set(this.hNext[l].subarray(0, n * H)));
    } finally {
      this.busy = false;
    }
  }

  /** The step's inputs: item ids widened to int64 in place, hidden states wrapped without copying. */
  private feedsFor(n: number, items: Int32Array, hidden: Float32Array[], bind: BatchBindings): Record<string, ort.Tensor> {
    if (littleEndian) {
      for (let b = 0; b < n; b++) {
        this.itemWords[2 * b] = items[b];
        this.itemWords[2 * b + 1] = 0;
      }
    } else {
      for (let b = 0; b < n; b++) this.itemIds[b] = BigInt(items[b]);
    }
    const feeds = this.feeds;
    feeds[GraphNames.item] = bind.item;
    this.hiddenSizes.forEach((H, l) => {
      const h = hidden[l];
      feeds[GraphNames.hidden(l)] = new ort.Tensor('float32', h.length === n * H ? h : h.subarray(0, n * H), [n, H]);
    });
    return feeds;
  }

  async step(n: number, items: Int32Array, hidden: Float32Array[], out: StepOutput, exclude?: ExcludeLists): Promise<void> {
    if (this.disposed) throw new Error('ort engine: step() after dispose()');
    // The scratch buffers serve one batch at a time; overlapping steps would overwrite each other.
    if (this.busy) throw new Error('ort engine: step() called while the previous step is still running; await it first');
    checkStepArgs(this, n, items, hidden, out, exclude);
    this.busy = true;
    try {
      await this.runStep(n, items, hidden, out, exclude);
    } finally {
      this.busy = false;
    }
  }

  private async runStep(n: number, items: Int32Array, hidden: Float32Array[], out: StepOutput, exclude?: ExcludeLists): Promise<void> {
    const { hiddenSizes, candidates: K, topK } = this;
    const bind = this.bindingsFor(n);
    const feeds = this.feedsFor(n, items, hidden, bind);
    let fetches = bind.fetches;
    if (this.outputScores && out.scores) {
      // The caller's score buffer changes between calls, so this wrapper can't be cached.
      fetches = { ...fetches, [GraphNames.scores]: new ort.Tensor('float32', out.scores.subarray(0, n * this.nItems), [n, this.nItems]) };
    }
    await this.session.run(feeds, fetches);

    hiddenSizes.forEach((H, l) => hidden[l].set(this.hNext[l].subarray(0, n * H)));
    const words = littleEndian ? this.candIdxWords : Int32Array.from(this.candIdx.subarray(0, n * K), Number);
    const stride = littleEndian ? 2 : 1;
    takeUnexcludedRows(n, words, stride, this.candScore, K, out, topK, exclude);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.bindings.clear();
    this.encodeBindings.clear();
    await Promise.all([this.session.release(), this.encoder.release()]);
  }
}

export function createOrtEngine(weights: Gru4RecWeights, opts: OrtEngineOptions): Promise<OrtEngine> {
  return OrtEngine.create(weights, opts);
}
