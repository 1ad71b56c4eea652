import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { gruStepGraph } from '../engine/onnx/gru-step-graph.ts';
import { type SampledLossKind, sampledLossGraph } from '../engine/onnx/sampled-loss-graph.ts';
import { openSyncSession, type SyncOrtSession, type SyncProvider } from '../engine/onnx/sync-session.ts';
import type { Gru4RecConfig } from '../model/gru4rec-config.ts';
import { cellOf, headOf, type Gru4RecArch } from '../model/weights.ts';

/** Which engine runs the training step's products: 'auto' = onnxruntime where it can, else tfjs. */
export type OutputKernelChoice = 'auto' | 'ort' | 'tfjs';

const KERNEL_CHOICES: readonly OutputKernelChoice[] = ['auto', 'ort', 'tfjs'];

/**
 * The kernel choice from STREAMREC_TRAIN_KERNEL (auto | ort | tfjs; unset = auto), so a deployment
 * can pin every trainer of a process (offline, continuous, tuner) without a code change.
 */
export function kernelChoiceFromEnv(env: NodeJS.ProcessEnv = process.env): OutputKernelChoice {
  const v = env.STREAMREC_TRAIN_KERNEL;
  if (v === undefined || v === '') return 'auto';
  if (!(KERNEL_CHOICES as readonly string[]).includes(v)) throw new Error(`STREAMREC_TRAIN_KERNEL: expected one of ${KERNEL_CHOICES.join(', ')}, got "${v}"`);
  return v as OutputKernelChoice;
}

type KernelConfig = Pick<Gru4RecConfig, 'loss' | 'bpreg' | 'eluParam' | 'batchSize'>;

const ORT_LOSSES: ReadonlySet<string> = new Set<SampledLossKind>(['cross-entropy', 'bpr-max']);

/** Why this model/config cannot use the onnxruntime output layer, or null when it can. */
export function ortOutputIneligible(arch: Gru4RecArch, config: Pick<Gru4RecConfig, 'loss'>): string | null {
  if (headOf(arch) !== 'dot') return `the ${headOf(arch)} head runs on tfjs`;
  if (!ORT_LOSSES.has(config.loss)) return `the ${config.loss} loss runs on tfjs`;
  return null;
}

/** Why the whole step cannot run on onnxruntime (only its output layer, or nothing), or null when it can. */
export function ortGruStepIneligible(arch: Gru4RecArch, config: Pick<Gru4RecConfig, 'loss'>): string | null {
  const why = ortOutputIneligible(arch, config);
  if (why) return why;
  if (cellOf(arch) !== 'gru') return `the ${cellOf(arch)} cell runs on tfjs`;
  if (arch.hiddenSizes.length !== 1) return `${arch.hiddenSizes.length} layers run on tfjs`;
  return null;
}

/**
 * The per-row-count constant feeds of a step: the [n, R] target mask, an all-zero exclusion mask
 * for steps without accidental hits, and all-one dropout masks for steps without dropout. Built
 * once per n (R − n is always nSample).
 */
class StepFeeds {
  readonly scale: ort.Tensor;
  private readonly byRows = new Map<number, { T: ort.Tensor; noExclude: ort.Tensor }>();
  private readonly ones = new Map<string, ort.Tensor>();

  constructor(batchSize: number) {
    // The official n/batchSize times the mean over the n rows.
    this.scale = new ort.Tensor('float32', new Float32Array([1 / batchSize]), [1]);
  }

  masks(n: number, R: number): { T: ort.Tensor; noExclude: ort.Tensor } {
    let m = this.byRows.get(n);
    if (!m) {
      const t = new Float32Array(n * R);
      for (let i = 0; i < n; i++) t[i * R + i] = 1;
      m = { T: new ort.Tensor('float32', t, [n, R]), noExclude: new ort.Tensor('float32', new Float32Array(n * R), [n, R]) };
      this.byRows.set(n, m);
    }
    return m;
  }

  exclude(exclude: Float32Array | null, n: number, R: number): ort.Tensor {
    return exclude ? new ort.Tensor('float32', exclude, [n, R]) : this.masks(n, R).noExclude;
  }

  /** An [n, width] dropout mask, or all ones without dropout. */
  mask(values: Float32Array | null, n: number, width: number): ort.Tensor {
    if (values) return new ort.Tensor('float32', values, [n, width]);
    const key = `${n}x${width}`;
    let t = this.ones.get(key);
    if (!t) {
      t = new ort.Tensor('float32', new Float32Array(n * width).fill(1), [n, width]);
      this.ones.set(key, t);
    }
    return t;
  }
}

const f32 = (t: tf.Tensor) => t.dataSync() as Float32Array;
const tensorOf = (data: Float32Array, shape: number[]) => new ort.Tensor('float32', data, shape);

/** onnxruntime intra-op threads for the kernels: STREAMREC_TRAIN_THREADS, else 1 (a trainer often shares its cores with serving). */
export function kernelThreadsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.STREAMREC_TRAIN_THREADS;
  if (v === undefined || v === '') return 1;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`STREAMREC_TRAIN_THREADS: expected a positive integer, got "${v}"`);
  return n;
}

function openKernelSession(graph: Uint8Array): SyncOrtSession | string {
  return openSyncSession(graph, { intraOpNumThreads: kernelThreadsFromEnv() });
}

/**
 * The dot head + sampled loss of a training step, forward and backward, on onnxruntime
 * (src/engine/onnx/sampled-loss-graph.ts) instead of tfjs, for encoders that stay on tfjs (LSTM
 * cells, several layers). It is one differentiable tfjs op (tf.customGrad): the forward pass reads
 * h, the output rows and their biases back (wasm reads are synchronous copies), runs the graph,
 * which returns the loss and all three gradients at once, and the gradient function hands those to
 * tfjs's tape, which carries dh on into the encoder.
 */
export class OrtSampledOutput {
  readonly provider: SyncProvider;
  private readonly session: SyncOrtSession;
  private readonly feeds: StepFeeds;

  private constructor(session: SyncOrtSession, batchSize: number) {
    this.session = session;
    this.provider = session.provider;
    this.feeds = new StepFeeds(batchSize);
  }

  /** The kernel, or a string saying why there is none (head, loss, or no synchronous onnxruntime session). */
  static open(arch: Gru4RecArch, config: KernelConfig): OrtSampledOutput | string {
    const why = ortOutputIneligible(arch, config);
    if (why) return why;
    const session = openKernelSession(sampledLossGraph({ loss: config.loss as SampledLossKind, bpreg: config.bpreg, eluParam: config.eluParam }));
    return typeof session === 'string' ? session : new OrtSampledOutput(session, config.batchSize);
  }

  /**
   * The step's scaled loss as a differentiable op of h [n, H], the output rows [R, H] and their
   * biases [R] (null: no bias term, and no gradient for it). `exclude` is the step's [n × R]
   * accidental-hit mask or null. Call inside the function tf.valueAndGrads differentiates.
   */
  lossOf(h: tf.Tensor2D, outRows: tf.Tensor2D, outBias: tf.Tensor1D | null, exclude: Float32Array | null): tf.Scalar {
    const [n, H] = h.shape;
    const R = outRows.shape[0];
    // Without a bias term there is no bias leaf: the graph gets zeros and db is not handed back.
    const f = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
      const out = this.session.run({
        h: tensorOf(f32(args[0] as tf.Tensor), [n, H]),
        O: tensorOf(f32(args[1] as tf.Tensor), [R, H]),
        b: tensorOf(outBias ? f32(args[2] as tf.Tensor) : new Float32Array(R), [R]),
        T: this.feeds.masks(n, R).T,
        X: this.feeds.exclude(exclude, n, R),
        c: this.feeds.scale,
      });
      const gradFunc = (dy: tf.Tensor) => {
        const grads = [gradOf(out.dh, [n, H], dy), gradOf(out.dO, [R, H], dy)];
        return outBias ? [...grads, gradOf(out.db, [R], dy)] : grads;
      };
      return { value: lossScalar(out), gradFunc };
    });
    return (outBias ? f(h, outRows, outBias) : f(h, outRows)) as tf.Scalar;
  }

  dispose(): void {
    this.session.dispose();
  }
}

/** What one fused step returns: the loss, the carried state and every leaf's gradient (tensors, inside the caller's tidy). */
export interface GruStepResult {
  loss: tf.Scalar;
  /** The next carried state [n, H]. */
  hidden: tf.Tensor2D;
  /** Gradients of [input rows, output rows, output biases (with useBias)], in ItemTables.gather order. */
  tableGrads: tf.Tensor[];
  /** Gradients of the dense parameters by contract name. */
  denseGrads: Record<string, tf.Tensor>;
}

/**
 * A whole training step of a one-layer GRU with the dot head on onnxruntime
 * (src/engine/onnx/gru-step-graph.ts): forward, loss and the closed-form backward of the truncated
 * step in one call, so no tfjs tape is built at all. tfjs keeps the variables, the row gathers
 * and the optimizer updates.
 */
export class OrtGruStep {
  readonly provider: SyncProvider;
  private readonly session: SyncOrtSession;
  private readonly feeds: StepFeeds;
  private readonly arch: Gru4RecArch;
  private readonly oneHot: boolean;

  private constructor(session: SyncOrtSession, arch: Gru4RecArch, oneHot: boolean, batchSize: number) {
    this.session = session;
    this.provider = session.provider;
    this.arch = arch;
    this.oneHot = oneHot;
    this.feeds = new StepFeeds(batchSize);
  }

  /** The kernel, or a string saying why there is none. `oneHot`: layer 0 reads Wx rows (Gru4Rec.oneHotInput). */
  static open(arch: Gru4RecArch, config: KernelConfig, oneHot: boolean): OrtGruStep | string {
    const why = ortGruStepIneligible(arch, config);
    if (why) return why;
    const session = openKernelSession(gruStepGraph({ loss: config.loss as SampledLossKind, bpreg: config.bpreg, eluParam: config.eluParam, oneHot }));
    return typeof session === 'string' ? session : new OrtGruStep(session, arch, oneHot, config.batchSize);
  }

  /**
   * One step. `rows` are ItemTables.gather's leaves; `params` the variables by contract name;
   * `logq` the step's [R] logQ correction or null; masks as the step inputs hold them. Call inside tf.tidy.
   */
  run(args: {
    rows: tf.Tensor2D[];
    hidden: tf.Tensor2D;
    params: Readonly<Record<string, tf.Tensor>>;
    logq: Float32Array | null;
    embedMask: Float32Array | null;
    hiddenMask: Float32Array | null;
    exclude: Float32Array | null;
  }): GruStepResult {
    const { rows, hidden, params } = args;
    const [n, H] = hidden.shape;
    const [x, outRows] = rows;
    const D = x.shape[1];
    const R = outRows.shape[0];
    const bias = this.arch.useBias ? Float32Array.from(f32(rows[2])) : new Float32Array(R);
    if (args.logq) for (let j = 0; j < R; j++) bias[j] -= args.logq[j];
    const p = (name: string) => params[`gru0.${name}`];
    const feeds: Record<string, ort.Tensor> = {
      x: tensorOf(f32(x), [n, D]),
      h0: tensorOf(f32(hidden), [n, H]),
      bx: tensorOf(f32(p('b')), [3 * H]),
      Wrz: tensorOf(f32(p('Wrz')), [H, 2 * H]),
      Wh: tensorOf(f32(p('Wh')), [H, H]),
      Mh: this.feeds.mask(args.hiddenMask, n, H),
      O: tensorOf(f32(outRows), [R, H]),
      b: tensorOf(bias, [R]),
      T: this.feeds.masks(n, R).T,
      X: this.feeds.exclude(args.exclude, n, R),
      c: this.feeds.scale,
    };
    if (!this.oneHot) {
      feeds.Me = this.feeds.mask(args.embedMask, n, D);
      feeds.Wx = tensorOf(f32(p('Wx')), [D, 3 * H]);
    }
    const out = this.session.run(feeds);
    const t = (name: string, shape: number[]) => tf.tensor(out[name].data as Float32Array, shape);
    const tableGrads = [t('dx', [n, D]), t('dO', [R, H])];
    if (this.arch.useBias) tableGrads.push(t('db', [R]));
    const denseGrads: Record<string, tf.Tensor> = { 'gru0.b': t('dbx', [3 * H]), 'gru0.Wrz': t('dWrz', [H, 2 * H]), 'gru0.Wh': t('dWh', [H, H]) };
    if (!this.oneHot) denseGrads['gru0.Wx'] = t('dWx', [D, 3 * H]);
    return { loss: lossScalar(out), hidden: t('h1', [n, H]) as tf.Tensor2D, tableGrads, denseGrads };
  }

  dispose(): void {
    this.session.dispose();
  }
}

function lossScalar(out: Record<string, ort.Tensor>): tf.Scalar {
  return tf.scalar((out.loss.data as Float32Array)[0]);
}

/** An output gradient as a tensor, times the upstream gradient dy (1 when the loss is the result). */
function gradOf(t: ort.Tensor, shape: number[], dy: tf.Tensor): tf.Tensor {
  return tf.mul(tf.tensor(t.data as Float32Array, shape), dy);
}
