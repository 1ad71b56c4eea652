import type { Gru4Rec } from '../model/gru4rec.ts';
import type { Gru4RecConfig } from '../model/gru4rec-config.ts';
import { PopularitySampler } from '../model/sampler.ts';
import { Rng } from '../random/rng.ts';
import type { SessionBatch } from './session-parallel.ts';

/**
 * What JS prepares for one training step before any tensor exists. Every array is a view into the
 * assembler's buffers (one object, refilled by each prepare()), valid until the next call.
 */
export interface StepInputs {
  /** Rows of the step. */
  n: number;
  /** Output columns: the n rows' targets, then the shared negative samples. */
  R: number;
  /** [R] item of each output column. */
  outIds: Int32Array;
  /** Rows gathered from the input table: the n input items (constrained embedding: followed by outIds). */
  inputIds: Int32Array;
  /** [R] logQ correction of each column, or null when the loss does not use one. */
  logq: Float32Array | null;
  /** [n × D] inverted-dropout mask of the input rows, or null without embedding dropout. */
  embedMask: Float32Array | null;
  /** Per layer: [n × H_l] inverted-dropout mask of its output, or null. */
  hiddenMasks: Array<Float32Array | null>;
  /** [n] 0 at rows that start a new session, 1 elsewhere; null when no row starts one. */
  resetKeep: Float32Array | null;
  /** [n × R] accidental-hit mask (see accidentalHitMask), or null when there is none to remove. */
  exclude: Float32Array | null;
  /** adaptive-hinge only: [n × adaptiveHingeTries] the columns each row tries, in order (see hingeTries); else null. */
  hingeTries: Int32Array | null;
}

/**
 * Assembles each step's sampled output set (targets + popularity negatives), its input ids, the
 * logQ correction, the dropout masks, the reset mask and the accidental-hit mask, into buffers
 * sized once for batchSize rows. Owns the negative sampler and the dropout generator, so a seed
 * replays the same samples and masks.
 */
export class StepInputAssembler {
  private readonly config: Gru4RecConfig;
  private readonly constrained: boolean;
  private sampler: PopularitySampler;
  private readonly samplerRng: Rng;
  private readonly dropoutRng: Rng;
  private logSupport: Float32Array;
  private readonly inputIdsBuf: Int32Array;
  private readonly outIdsBuf: Int32Array;
  private readonly logqBuf: Float32Array;
  private readonly resetKeepBuf: Float32Array;
  private readonly embedMaskBuf: Float32Array | null;
  private readonly hiddenMaskBufs: Array<Float32Array | null>;
  private readonly excludeBuf: Float32Array | null;
  private readonly hingeTriesBuf: Int32Array | null;
  private readonly rowsOfTarget = new Map<number, number[]>();
  private readonly inputs: StepInputs;

  /**
   * @param support per-item event counts: negatives are drawn ∝ support^sampleAlpha and the
   *   logQ correction uses them (they are clamped to 1 there, so unseen items stay finite).
   */
  constructor(model: Gru4Rec, config: Gru4RecConfig, support: ArrayLike<number>) {
    const { arch } = model;
    this.config = config;
    this.constrained = arch.constrainedEmbedding;
    // The sampler's stream is forked first, the dropout stream second: the order fixes what a seed replays.
    const rng = new Rng(config.seed);
    this.samplerRng = rng.fork();
    this.dropoutRng = rng.fork();
    this.sampler = this.samplerOf(support);
    this.logSupport = Float32Array.from(support, (s) => Math.log(Math.max(1, s)));

    const B = config.batchSize;
    const R = B + config.nSample;
    this.inputIdsBuf = new Int32Array(B + R);
    this.outIdsBuf = new Int32Array(R);
    this.logqBuf = new Float32Array(R);
    this.resetKeepBuf = new Float32Array(B);
    const embedDim = arch.constrainedEmbedding ? arch.hiddenSizes[arch.hiddenSizes.length - 1] : arch.embeddingDim;
    this.embedMaskBuf = config.dropoutPEmbed > 0 && !model.oneHotInput ? new Float32Array(B * embedDim) : null;
    this.hiddenMaskBufs = arch.hiddenSizes.map((h) => (config.dropoutPHidden > 0 ? new Float32Array(B * h) : null));
    this.excludeBuf = config.removeAccidentalHits ? new Float32Array(B * R) : null;
    this.hingeTriesBuf = config.loss === 'adaptive-hinge' ? new Int32Array(B * config.adaptiveHingeTries) : null;
    this.inputs = {
      n: 0,
      R: 0,
      outIds: this.outIdsBuf,
      inputIds: this.inputIdsBuf,
      logq: null,
      embedMask: null,
      hiddenMasks: this.hiddenMaskBufs.map(() => null),
      resetKeep: null,
      exclude: null,
      hingeTries: null,
    };
  }

  /**
   * Replace the sampling support (a continuous trainer's decayed counts): the next step draws from
   * it. The random streams go on, so a seed still replays the same run. Same length as before.
   */
  setSupport(support: ArrayLike<number>): void {
    if (support.length !== this.logSupport.length) throw new Error(`trainer: support has ${support.length} entries, expected ${this.logSupport.length}`);
    this.sampler = this.samplerOf(support);
    for (let i = 0; i < support.length; i++) this.logSupport[i] = Math.log(Math.max(1, support[i]));
  }

  private samplerOf(support: ArrayLike<number>): PopularitySampler {
    const cfg = this.config;
    return new PopularitySampler(support, { nSample: cfg.nSample, alpha: cfg.sampleAlpha, cacheSize: cfg.sampleCacheSize, rng: this.samplerRng });
  }

  /** Draws the step's negatives and masks for the first batch.n rows of `batch` (n ≤ batchSize). */
  prepare(batch: SessionBatch): StepInputs {
    const cfg = this.config;
    const n = batch.n;
    const out = this.inputs;
    const samples = this.sampler.next();
    const R = n + samples.length;
    const outIds = this.outIdsBuf.subarray(0, R);
    outIds.set(batch.targets.subarray(0, n));
    outIds.set(samples, n);
    const inputIds = this.inputIdsBuf.subarray(0, this.constrained ? n + R : n);
    inputIds.set(batch.inputs.subarray(0, n));
    if (this.constrained) inputIds.set(outIds, n);
    out.n = n;
    out.R = R;
    out.outIds = outIds;
    out.inputIds = inputIds;
    out.logq = cfg.loss === 'cross-entropy' && cfg.logq > 0 ? this.logqCorrection(outIds, n) : null;
    out.embedMask = this.embedMaskBuf ? this.dropoutMask(this.embedMaskBuf, n, cfg.dropoutPEmbed) : null;
    for (let l = 0; l < this.hiddenMaskBufs.length; l++) {
      const buf = this.hiddenMaskBufs[l];
      out.hiddenMasks[l] = buf ? this.dropoutMask(buf, n, cfg.dropoutPHidden) : null;
    }
    out.resetKeep = batch.anyReset ? this.resetKeepOf(batch) : null;
    out.exclude = this.excludeBuf ? accidentalHitMask(outIds, n, this.excludeBuf, this.rowsOfTarget) : null;
    out.hingeTries = this.hingeTriesBuf ? hingeTries(outIds, n, cfg.adaptiveHingeTries, this.hingeTriesBuf) : null;
    return out;
  }

  /** logq · log(support) per column, the log of its sampling weight: targets at exponent 1, samples at sampleAlpha. */
  private logqCorrection(outIds: Int32Array, n: number): Float32Array {
    const { logq, sampleAlpha } = this.config;
    const R = outIds.length;
    for (let j = 0; j < R; j++) this.logqBuf[j] = logq * (j < n ? 1 : sampleAlpha) * this.logSupport[outIds[j]];
    return this.logqBuf.subarray(0, R);
  }

  private resetKeepOf(batch: SessionBatch): Float32Array {
    for (let r = 0; r < batch.n; r++) this.resetKeepBuf[r] = batch.reset[r] ? 0 : 1;
    return this.resetKeepBuf.subarray(0, batch.n);
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
 * The negatives each row of a step tries, in order, for the adaptive hinge: an [n × k] row-major
 * list of columns of the [n, R] score matrix, −1 after the last when a row has fewer than k. Row i
 * tries the popularity samples (columns n..R−1) first, starting at sample (i·k) mod nSample so that
 * rows draw different samples while n·k ≤ nSample, then the other rows' targets. The samples are
 * fresh draws every step, so a fixed order is still a random draw. A column holding row i's own
 * target item is never a try (it is no negative, and its hinge would have zero gradient).
 */
export function hingeTries(outIds: Int32Array, n: number, k: number, buf: Int32Array): Int32Array {
  const R = outIds.length;
  const nSample = R - n;
  if (buf.length < n * k) throw new Error(`hingeTries: need a buffer of n·k = ${n * k}, got ${buf.length}`);
  const tries = buf.subarray(0, n * k);
  for (let i = 0; i < n; i++) {
    const target = outIds[i];
    let t = 0;
    const take = (j: number): void => {
      if (t < k && outIds[j] !== target) tries[i * k + t++] = j;
    };
    const start = nSample > 0 ? (i * k) % nSample : 0;
    for (let s = 0; s < nSample && t < k; s++) take(n + ((start + s) % nSample));
    for (let d = 1; d < n && t < k; d++) take((i + d) % n);
    tries.fill(-1, i * k + t, (i + 1) * k);
  }
  return tries;
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
