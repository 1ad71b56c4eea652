import * as tf from '@tensorflow/tfjs';
import { eventCount, type SessionData } from '../data/sessions.ts';
import { Gru4Rec } from '../model/gru4rec.ts';
import { sampledLoss, targetMask } from '../model/losses.ts';
import { gatherRows } from '../model/ops.ts';
import { Rng } from '../random/rng.ts';
import { PopularitySampler } from '../model/sampler.ts';
import { archOf, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { Gru4RecOptimizer } from './optimizer.ts';
import { RowSlice } from './row-slice.ts';
import { SessionParallelIterator, type SessionBatch } from './session-parallel.ts';

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

interface TableSlice {
  name: string;
  rows: RowSlice;
  /** Gathered row ids, one per occurrence. */
  ids: Int32Array;
}

/**
 * One GRU4Rec optimisation step per call, over a session-parallel mini-batch. Holds the
 * optimizer state, the negative sampler and the per-row hidden states between calls, so a
 * continuous trainer can feed batches built from a live stream.
 *
 * Item tables (input rows, out.Wy, out.by) are differentiated through their gathered rows and
 * updated row-wise, like the official sparse embeddings: no dense nItems-sized gradients.
 */
export class Gru4RecTrainer {
  readonly model: Gru4Rec;
  readonly config: Gru4RecConfig;
  readonly timing: StepTiming = { steps: 0, prepareMs: 0, computeMs: 0, syncMs: 0 };
  private readonly optimizer: Gru4RecOptimizer;
  private readonly sampler: PopularitySampler;
  private readonly dropoutRng: Rng;
  private readonly logSupport: Float32Array;
  private readonly denseNames: string[];
  private readonly slices: TableSlice[];
  private readonly inputIdsBuf: Int32Array;
  private readonly outIdsBuf: Int32Array;
  private readonly logqBuf: Float32Array;
  private readonly keepBuf: Float32Array;
  private readonly embedMaskBuf: Float32Array | null;
  private readonly hiddenMaskBufs: Array<Float32Array | null>;
  /** [batchSize × R] accidental-hit mask, when config.removeAccidentalHits. */
  private readonly excludeBuf: Float32Array | null;
  private readonly rowsOfTarget = new Map<number, number[]>();
  private readonly targetMasks = new Map<number, tf.Tensor2D>();
  private hidden: tf.Tensor2D[] | null = null;

  /**
   * @param support per-item event counts: negatives are drawn ∝ support^sampleAlpha and the
   *   logQ correction uses them (they are clamped to 1 there, so unseen items stay finite).
   */
  constructor(model: Gru4Rec, config: Gru4RecConfig, support: ArrayLike<number>) {
    const { arch } = model;
    const expected = archOf(config, arch.nItems);
    if (JSON.stringify(expected) !== JSON.stringify(arch))
      throw new Error(`trainer: model architecture ${JSON.stringify(arch)} does not match the config's ${JSON.stringify(expected)}`);
    if (support.length !== arch.nItems) throw new Error(`trainer: support has ${support.length} entries, expected nItems = ${arch.nItems}`);
    this.model = model;
    this.config = config;
    const rng = new Rng(config.seed);
    this.sampler = new PopularitySampler(support, { nSample: config.nSample, alpha: config.sampleAlpha, cacheSize: config.sampleCacheSize, rng: rng.fork() });
    this.dropoutRng = rng.fork();
    this.logSupport = Float32Array.from(support, (s) => Math.log(Math.max(1, s)));

    const B = config.batchSize;
    const R = B + config.nSample;
    const tables = new Set<string>([model.inputTable, 'out.Wy', 'out.by']);
    this.denseNames = Object.keys(model.vars).filter((n) => !tables.has(n));
    const nItems = arch.nItems;
    this.inputIdsBuf = new Int32Array(B + R);
    this.outIdsBuf = new Int32Array(R);
    this.slices = [];
    if (arch.constrainedEmbedding) {
      this.slices.push({ name: 'out.Wy', rows: new RowSlice(nItems, B + R), ids: this.inputIdsBuf });
    } else {
      this.slices.push({ name: model.inputTable, rows: new RowSlice(nItems, B), ids: this.inputIdsBuf });
      this.slices.push({ name: 'out.Wy', rows: new RowSlice(nItems, R), ids: this.outIdsBuf });
    }
    if (arch.useBias) this.slices.push({ name: 'out.by', rows: new RowSlice(nItems, R), ids: this.outIdsBuf });
    const trainable = Object.fromEntries(Object.entries(model.vars).filter(([n]) => arch.useBias || n !== 'out.by'));
    this.optimizer = new Gru4RecOptimizer(config, trainable, tables);

    this.logqBuf = new Float32Array(R);
    this.keepBuf = new Float32Array(B);
    const embedDim = arch.constrainedEmbedding ? arch.hiddenSizes[arch.hiddenSizes.length - 1] : arch.embeddingDim;
    this.embedMaskBuf = config.dropoutPEmbed > 0 && !model.oneHotInput ? new Float32Array(B * embedDim) : null;
    this.hiddenMaskBufs = arch.hiddenSizes.map((h) => (config.dropoutPHidden > 0 ? new Float32Array(B * h) : null));
    this.excludeBuf = config.removeAccidentalHits ? new Float32Array(B * R) : null;
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
    const cfg = this.config;
    const n = batch.n;
    if (n > cfg.batchSize) throw new Error(`trainer: batch of ${n} rows exceeds batchSize ${cfg.batchSize}`);
    if (n + cfg.nSample < 2) {
      this.resetState();
      return null;
    }
    if (this.hidden && !batch.keep && this.hidden[0].shape[0] !== n)
      throw new Error(`trainer: batch has ${n} rows but the carried hidden state has ${this.hidden[0].shape[0]} and no keep map`);

    const samples = this.sampler.next();
    const R = n + samples.length;
    const outIds = this.outIdsBuf.subarray(0, R);
    outIds.set(batch.targets.subarray(0, n));
    outIds.set(samples, n);
    const { arch } = this.model;
    const inputLen = arch.constrainedEmbedding ? n + R : n;
    const inputIds = this.inputIdsBuf.subarray(0, inputLen);
    inputIds.set(batch.inputs.subarray(0, n));
    if (arch.constrainedEmbedding) inputIds.set(outIds, n);
    const sliceIds = this.slices.map((s) => (s.ids === this.inputIdsBuf ? inputIds : outIds));
    this.slices.forEach((s, i) => s.rows.set(sliceIds[i]));

    const useLogq = cfg.loss === 'cross-entropy' && cfg.logq > 0;
    if (useLogq) {
      for (let j = 0; j < R; j++) this.logqBuf[j] = cfg.logq * (j < n ? 1 : cfg.sampleAlpha) * this.logSupport[outIds[j]];
    }
    const embedMask = this.embedMaskBuf ? this.dropoutMask(this.embedMaskBuf, n, cfg.dropoutPEmbed) : null;
    const hiddenMasks = this.hiddenMaskBufs.map((b) => (b ? this.dropoutMask(b, n, cfg.dropoutPHidden) : null));
    if (batch.anyReset) for (let r = 0; r < n; r++) this.keepBuf[r] = batch.reset[r] ? 0 : 1;
    const mask = this.targetMaskFor(n, R);
    const exclude = this.excludeBuf ? accidentalHitMask(outIds, n, this.excludeBuf, this.rowsOfTarget) : null;
    const t1 = performance.now();

    const prevHidden = this.hidden;
    let newHidden: tf.Tensor2D[] = [];
    const loss = tf.tidy(() => {
      let hidden: tf.Tensor2D[];
      if (!prevHidden) {
        hidden = arch.hiddenSizes.map((h) => tf.zeros([n, h]) as tf.Tensor2D);
      } else {
        hidden = prevHidden;
        if (batch.keep) {
          const keepIdx = tf.tensor2d(batch.keep, [n, 1], 'int32');
          hidden = hidden.map((h) => gatherRows(h, keepIdx));
        }
        if (batch.anyReset) {
          const keep = tf.tensor2d(this.keepBuf.subarray(0, n), [n, 1]);
          hidden = hidden.map((h) => tf.mul(h, keep));
        }
      }
      const rowsOf = (name: string, ids: Int32Array) => gatherRows(this.model.vars[name] as tf.Tensor2D, tf.tensor2d(ids, [ids.length, 1], 'int32'));
      // Constrained input and output rows come from the same table; gathered apart (a row split
      // costs more than both gathers on wasm), their gradients are concatenated for one update.
      const tableRows = arch.constrainedEmbedding
        ? [rowsOf('out.Wy', inputIds.subarray(0, n)), rowsOf('out.Wy', outIds), ...(arch.useBias ? [rowsOf('out.by', outIds)] : [])]
        : this.slices.map((s, i) => rowsOf(s.name, sliceIds[i]));
      const dense = this.denseNames.map((name) => this.model.vars[name]);
      const embedT = embedMask ? tf.tensor2d(embedMask, [n, embedMask.length / n]) : null;
      const hiddenT = hiddenMasks.map((m, l) => (m ? tf.tensor2d(m, [n, arch.hiddenSizes[l]]) : null));
      const logqT = useLogq ? tf.tensor1d(this.logqBuf.subarray(0, R)) : null;
      const excludeT = exclude ? tf.tensor2d(exclude, [n, R]) : null;
      const nGathered = tableRows.length;

      const f = (...xs: tf.Tensor[]): tf.Scalar => {
        const rows = xs.slice(0, nGathered) as tf.Tensor2D[];
        const params = Object.fromEntries(this.denseNames.map((name, k) => [name, xs[nGathered + k]]));
        const [inputRows, outRows] = [rows[0], rows[1]];
        let outBias = arch.useBias ? (rows[nGathered - 1] as unknown as tf.Tensor1D) : null;
        // logQ shifts whole columns like the bias does: fold it into the [R] vector, not the [n, R] scores.
        if (logqT) outBias = outBias ? tf.sub(outBias, logqT) : tf.neg(logqT);
        const layers = arch.hiddenSizes.map((_, l) => ({
          Wx: l === 0 && this.model.oneHotInput ? null : (params[`gru${l}.Wx`] as tf.Tensor2D),
          Wrz: params[`gru${l}.Wrz`] as tf.Tensor2D,
          Wh: params[`gru${l}.Wh`] as tf.Tensor2D,
          b: params[`gru${l}.b`] as tf.Tensor1D,
        }));
        const out = Gru4Rec.sampledForward({ inputRows, hidden, layers, outRows, outBias, embedMask: embedT, hiddenMasks: hiddenT });
        // The carried state outlives this scope; it is no gradient path (one-step truncation, as the original).
        newHidden = out.hidden.map((h) => tf.keep(h));
        const l = sampledLoss(cfg.loss, out.scores, { targetMask: mask, bpreg: cfg.bpreg, eluParam: cfg.eluParam, excludeMask: excludeT });
        return tf.mul(l, n / cfg.batchSize);
      };
      const { value, grads } = tf.valueAndGrads(f)([...tableRows, ...dense]);

      this.optimizer.beginStep();
      this.denseNames.forEach((name, k) => this.optimizer.dense(name, this.model.vars[name], grads[nGathered + k]));
      const rowGrads = arch.constrainedEmbedding ? [tf.concat([grads[0], grads[1]], 0), ...grads.slice(2, nGathered)] : grads.slice(0, nGathered);
      this.slices.forEach((s, i) => {
        const r = s.rows;
        const uniqueT = tf.tensor2d(r.unique, [r.unique.length, 1], 'int32');
        const g = r.hasDuplicates ? tf.sparse.sparseSegmentSum(rowGrads[i], tf.tensor1d(r.order, 'int32'), tf.tensor1d(r.segments, 'int32')) : rowGrads[i];
        this.optimizer.rows(s.name, this.model.vars[s.name], uniqueT, g);
      });
      return value;
    });
    this.model.markUpdated();
    if (prevHidden) tf.dispose(prevHidden);
    this.hidden = newHidden;
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
    for (const m of this.targetMasks.values()) m.dispose();
    this.targetMasks.clear();
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

  /** Inverted-dropout mask for n rows: 0 with probability p, else 1/(1−p). */
  private dropoutMask(buf: Float32Array, n: number, p: number): Float32Array {
    const len = (buf.length / this.config.batchSize) * n;
    const keep = 1 / (1 - p);
    const rng = this.dropoutRng;
    for (let i = 0; i < len; i++) buf[i] = rng.next() < p ? 0 : keep;
    return buf.subarray(0, len);
  }
}

/**
 * Accidental hits of a step whose output columns are outIds (the first n are the rows' targets):
 * an [n × R] row-major mask, 1 where column j ≠ i holds row i's target item, else 0. Written into
 * buf (at least n·R long); returns the used view, or null when the step has no accidental hit.
 */
export function accidentalHitMask(outIds: Int32Array, n: number, buf: Float32Array, rowsOf = new Map<number, number[]>()): Float32Array | null {
  const R = outIds.length;
  if (n > R || buf.length < n * R) throw new Error(`accidentalHitMask: need n <= R and a buffer of n·R = ${n * R}, got n = ${n}, R = ${R}, ${buf.length}`);
  rowsOf.clear();
  for (let i = 0; i < n; i++) {
    const rows = rowsOf.get(outIds[i]);
    if (rows) rows.push(i);
    else rowsOf.set(outIds[i], [i]);
  }
  const mask = buf.subarray(0, n * R);
  mask.fill(0);
  let any = false;
  for (let j = 0; j < R; j++) {
    const rows = rowsOf.get(outIds[j]);
    if (!rows) continue;
    for (const i of rows) {
      if (i === j) continue;
      mask[i * R + j] = 1;
      any = true;
    }
  }
  return any ? mask : null;
}

/** Train on a stream of mini-batches (e.g. from a live topic) with an existing trainer. */
export function trainSteps(trainer: Gru4RecTrainer, batches: Iterable<SessionBatch>): { steps: number; events: number; meanLoss: number } {
  let steps = 0;
  let events = 0;
  let lossSum = 0;
  for (const b of batches) {
    const loss = trainer.step(b);
    if (loss === null) continue;
    steps++;
    events += b.n;
    lossSum += loss * b.n;
  }
  return { steps, events, meanLoss: events > 0 ? lossSum / events : NaN };
}

export interface TrainProgress {
  epoch: number;
  nEpochs: number;
  /** Training events (input → target pairs) done in this epoch and in one full epoch. */
  epochEvents: number;
  epochTotal: number;
  /** Events done over all epochs. */
  events: number;
  /** Running mean loss of this epoch (per event, as the official log). */
  loss: number;
  eventsPerSec: number;
  seconds: number;
}

export interface TrainStats {
  epochs: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** Mean loss per epoch (weighted by rows, as the official code reports it). */
  lossHistory: number[];
  timing: StepTiming;
  backend: string;
  aborted: boolean;
}

export interface TrainOptions {
  onProgress?: (p: TrainProgress) => void;
  /** How often onProgress fires, in steps. */
  progressEvery?: number;
  signal?: AbortSignal;
  /** Continue training this model instead of initialising a fresh one. */
  model?: Gru4Rec;
}

/** Per-item event counts of a data set (the sampling support). */
export function itemSupport(data: SessionData, nItems: number): Float64Array {
  const support = new Float64Array(nItems);
  for (let e = 0; e < eventCount(data); e++) support[data.items[e]]++;
  return support;
}

/**
 * Train GRU4Rec for config.nEpochs passes over `train` with session-parallel mini-batches.
 * An aborted signal stops at the next step and returns the model trained so far.
 */
export async function trainGru4Rec(train: SessionData, nItems: number, config: Gru4RecConfig, opts: TrainOptions = {}): Promise<{ model: Gru4Rec; stats: TrainStats }> {
  const model = opts.model ?? Gru4Rec.init(archOf(config, nItems), config.seed);
  const trainer = new Gru4RecTrainer(model, config, itemSupport(train, nItems));
  const iterator = new SessionParallelIterator(train, config.batchSize);
  const epochTotal = SessionParallelIterator.pairCount(train);
  const every = opts.progressEvery ?? 100;
  const lossHistory: number[] = [];
  const start = performance.now();
  let events = 0;
  let aborted = false;
  const progress = (epoch: number, epochEvents: number, loss: number): void => {
    const seconds = (performance.now() - start) / 1000;
    opts.onProgress?.({ epoch, nEpochs: config.nEpochs, epochEvents, epochTotal, events, loss, eventsPerSec: events / Math.max(seconds, 1e-9), seconds });
  };
  try {
    for (let epoch = 1; epoch <= config.nEpochs && !aborted; epoch++) {
      iterator.restart();
      trainer.resetState();
      let lossSum = 0;
      let epochEvents = 0;
      let steps = 0;
      for (let b = iterator.next(); b; b = iterator.next()) {
        if (opts.signal?.aborted) {
          aborted = true;
          break;
        }
        const loss = trainer.step(b);
        if (loss === null) continue;
        lossSum += loss * b.n;
        epochEvents += b.n;
        events += b.n;
        if (++steps % every === 0) {
          progress(epoch, epochEvents, lossSum / epochEvents);
          // Let timers, signals and progress rendering run.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      if (epochEvents > 0) {
        lossHistory.push(lossSum / epochEvents);
        progress(epoch, epochEvents, lossSum / epochEvents);
      }
    }
  } catch (err) {
    trainer.dispose();
    if (!opts.model) model.dispose();
    throw err;
  }
  const seconds = (performance.now() - start) / 1000;
  const timing = { ...trainer.timing };
  trainer.dispose();
  return {
    model,
    stats: { epochs: lossHistory.length, events, seconds, eventsPerSec: events / Math.max(seconds, 1e-9), lossHistory, timing, backend: tf.getBackend(), aborted },
  };
}
