/**
 * The trainer's sampled output layer as one ONNX graph, forward and backward: the dot head's
 * scores S = h·Oᵀ + b over a step's output set, the loss, and its gradients with respect to h, O
 * and b. On wasm these [n, R] products and elementwise passes are about half of a training step
 * (bench/train.ts --profile); onnxruntime's CPU kernels run them several times faster.
 *
 * The formulas are src/model/losses.ts's, with the closed-form gradients written there (the same
 * ones its customGrads return), so a step through this graph equals a step through tfjs up to
 * float32 rounding (test/unit/train-ort-output.test.ts). Only the dot head and the two losses of
 * GRU4Rec's published settings are here; every other head and loss stays on tfjs.
 *
 * Inputs: h [n, H], O [R, H], b [R] (the items' biases with any logQ correction already folded
 * in; zeros without bias), T [n, R] (1 at each row's target column), X [n, R] (1 at excluded
 * accidental-hit columns, else 0), c [1] (the loss scale: 1/batchSize, the official n/batchSize
 * times the mean over n rows). Outputs: loss [] and dh, dO, db, each already multiplied by c.
 */
import { IR_VERSION, OPSET_VERSION } from './graph-builder.ts';
import { GraphBuilder } from './graph-ops.ts';
import { DataType, encodeModel, type OnnxValueInfo } from './onnx-proto.ts';

export type SampledLossKind = 'cross-entropy' | 'bpr-max';

export interface SampledLossGraphOptions {
  loss: SampledLossKind;
  /** BPR-max score regularisation λ. */
  bpreg: number;
  /** BPR-max ELU parameter applied to the scores first; 0 = linear. */
  eluParam: number;
}

const ints = (value: number[]) => ({ kind: 'ints' as const, value });
const int = (value: number) => ({ kind: 'int' as const, value });

/**
 * Adds the head, the loss and the gradients to `g`, reading the step's last hidden output from the
 * value named `h` and the inputs O, b, T, X, c by those names. Writes the outputs loss, dO and db;
 * returns the name of ∂loss/∂h (already times c), for a graph that goes on into the encoder.
 */
export function addSampledLoss(g: GraphBuilder, h: string, opts: SampledLossGraphOptions): string {
  const one = g.floatInit('one', [], new Float32Array([1]));
  const rowAxis = g.int64Init('axis_row', [1]);
  const colAxis = g.int64Init('axis_col', [0]);
  const rowSum = (x: string) => g.apply('ReduceSum', [x, rowAxis], { keepdims: int(1) });
  const rowMax = (x: string) => g.apply('ReduceMax', [x], { axes: ints([1]), keepdims: int(1) });
  const keep = g.apply('Sub', [one, 'X']);

  const S = g.apply('Add', [g.apply('Gemm', [h, 'O'], { transB: int(1) }), 'b']);
  const { perRow, dS } = opts.loss === 'cross-entropy' ? crossEntropy(g, S, keep, rowSum, rowMax) : bprMax(g, S, keep, one, opts, rowSum, rowMax);
  g.op('Mul', [g.apply('ReduceSum', [perRow], { keepdims: int(0) }), 'c'], 'loss');
  const dSc = g.apply('Mul', [dS, 'c']);
  g.op('Gemm', [dSc, h], 'dO', { transA: int(1) });
  g.op('ReduceSum', [dSc, colAxis], 'db', { keepdims: int(0) });
  return g.apply('MatMul', [dSc, 'O']);
}

const F = DataType.FLOAT;

/** The output layer's own inputs, in feed order (see the top of this file). */
export const SAMPLED_LOSS_INPUTS: OnnxValueInfo[] = [
  { name: 'O', elemType: F, shape: ['R', 'H'] },
  { name: 'b', elemType: F, shape: ['R'] },
  { name: 'T', elemType: F, shape: ['n', 'R'] },
  { name: 'X', elemType: F, shape: ['n', 'R'] },
  { name: 'c', elemType: F, shape: [1] },
];

/** The output layer's own outputs: the loss and the item-side gradients. */
export const SAMPLED_LOSS_OUTPUTS: OnnxValueInfo[] = [
  { name: 'loss', elemType: F, shape: [1] },
  { name: 'dO', elemType: F, shape: ['R', 'H'] },
  { name: 'db', elemType: F, shape: ['R'] },
];

/** A graph's bytes (an in-memory .onnx file). */
export function trainingGraphBytes(name: string, g: GraphBuilder, inputs: OnnxValueInfo[], outputs: OnnxValueInfo[]): Uint8Array {
  return encodeModel({
    irVersion: IR_VERSION,
    opsetVersion: OPSET_VERSION,
    producerName: 'streamrec',
    producerVersion: '1',
    graph: { name, nodes: g.nodes, initializers: g.initializers, inputs, outputs },
  });
}

/** The output layer alone: inputs h and the above; outputs the above and dh. */
export function sampledLossGraph(opts: SampledLossGraphOptions): Uint8Array {
  const g = new GraphBuilder();
  g.op('Identity', [addSampledLoss(g, 'h', opts)], 'dh');
  return trainingGraphBytes(
    `sampled_${opts.loss}`,
    g,
    [{ name: 'h', elemType: F, shape: ['n', 'H'] }, ...SAMPLED_LOSS_INPUTS],
    [...SAMPLED_LOSS_OUTPUTS, { name: 'dh', elemType: F, shape: ['n', 'H'] }],
  );
}

type Reduce = (x: string) => string;

/**
 * −log softmax at the target over the kept columns; ∂/∂S = softmax − T (losses.ts softmaxCrossEntropy).
 */
function crossEntropy(g: GraphBuilder, S: string, keep: string, rowSum: Reduce, rowMax: Reduce): { perRow: string; dS: string } {
  const z = g.apply('Sub', [S, rowMax(S)]);
  const e = g.apply('Mul', [g.apply('Exp', [z]), keep]);
  const total = rowSum(e);
  const perRow = g.apply('Sub', [g.apply('Log', [total]), rowSum(g.apply('Mul', [z, 'T']))]);
  const dS = g.apply('Sub', [g.apply('Div', [e, total]), 'T']);
  return { perRow, dS };
}

/**
 * BPR-max with its score regularisation, optionally on ELU(S) (losses.ts bprMaxCore, whose comment
 * derives the gradient); the ELU's derivative is 1 above 0 and ELU(S) + α below.
 */
function bprMax(g: GraphBuilder, S: string, keep: string, one: string, opts: SampledLossGraphOptions, rowSum: Reduce, rowMax: Reduce): { perRow: string; dS: string } {
  const s = opts.eluParam > 0 ? g.apply('Elu', [S], { alpha: { kind: 'float', value: opts.eluParam } }) : S;
  // The softmax over the negatives only: the target and the excluded columns get weight 0.
  const neg = g.apply('Mul', [g.apply('Sub', [one, 'T']), keep]);
  const x = g.apply('Mul', [s, neg]);
  const e = g.apply('Mul', [g.apply('Exp', [g.apply('Sub', [x, rowMax(x)])]), neg]);
  const hasNeg = g.apply('Min', [rowSum(neg), one]);
  // A row without negatives has e = 0: dividing by 1 there keeps its weights (and gradient) 0.
  const w = g.apply('Div', [e, g.apply('Add', [rowSum(e), g.apply('Sub', [one, hasNeg])])]);
  const t = rowSum(g.apply('Mul', [s, 'T']));
  const sig = g.apply('Sigmoid', [g.apply('Sub', [t, s])]);
  const A = g.apply('Add', [rowSum(g.apply('Mul', [sig, w])), g.floatInit('tiny', [], new Float32Array([1e-24]))]);
  const s2 = g.apply('Mul', [s, s]);
  const G = rowSum(g.apply('Mul', [s2, w]));
  const lambda = g.floatInit('bpreg', [], new Float32Array([opts.bpreg]));
  let perRow = g.apply('Neg', [g.apply('Log', [A])]);
  if (opts.bpreg > 0) perRow = g.apply('Add', [perRow, g.apply('Mul', [G, lambda])]);
  perRow = g.apply('Mul', [perRow, hasNeg]);

  const invA = g.apply('Div', [g.floatInit('minus_one', [], new Float32Array([-1])), A]);
  const q = g.apply('Mul', [sig, g.apply('Sub', [one, sig])]);
  let perNeg = g.apply('Mul', [g.apply('Sub', [g.apply('Sub', [sig, A]), q]), invA]);
  if (opts.bpreg > 0) {
    const two = g.floatInit('two', [], new Float32Array([2]));
    perNeg = g.apply('Add', [perNeg, g.apply('Mul', [g.apply('Sub', [g.apply('Add', [g.apply('Mul', [s, two]), s2]), G]), lambda])]);
  }
  const dTarget = g.apply('Mul', [rowSum(g.apply('Mul', [w, q])), invA]);
  let dS = g.apply('Add', [g.apply('Mul', [w, perNeg]), g.apply('Mul', ['T', dTarget])]);
  if (opts.eluParam > 0) {
    const zero = g.floatInit('zero', [], new Float32Array([0]));
    const alpha = g.floatInit('alpha', [], new Float32Array([opts.eluParam]));
    const slope = g.apply('Where', [g.apply('Greater', [S, zero]), one, g.apply('Add', [s, alpha])]);
    dS = g.apply('Mul', [dS, slope]);
  }
  return { perRow, dS };
}
