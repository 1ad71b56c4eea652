/**
 * A whole GRU4Rec training step for one GRU layer and the dot head as one ONNX graph: the layer's
 * forward pass (src/model/gru-cell.ts's formulation), the sampled output layer and loss
 * (sampled-loss-graph.ts), and the backward pass through both. GRU4Rec truncates backpropagation
 * at one step (the carried state is an input, not a differentiated leaf), so the backward pass is
 * the cell's own local derivative and nothing runs through time.
 *
 *   xe = x ⊙ Me;  v = xe·Wx + bx = [vn | vrz];  rz = σ(vrz + h0·Wrz) = [r | z]
 *   n = tanh(vn + (r⊙h0)·Wh);  h1 = (h0 + z⊙(n − h0)) ⊙ Mh
 * and back, from dh1 = ∂loss/∂h1 (the loss graph's dh):
 *   dh = dh1 ⊙ Mh;  dn = dh ⊙ z ⊙ (1 − n²);  dz = dh ⊙ (n − h0);  dr = (dn·Whᵀ) ⊙ h0
 *   drz = [dr | dz] ⊙ rz ⊙ (1 − rz);  dv = [dn | drz];  dWh = (r⊙h0)ᵀ·dn;  dWrz = h0ᵀ·drz
 *   dbx = Σ_rows dv;  dWx = xeᵀ·dv;  dx = (dv·Wxᵀ) ⊙ Me
 * With one-hot input, layer 0 has no Wx: x already is the Wx rows [n, 3H], v = x + bx, dx = dv
 * (and no embedding mask, as in the tfjs model).
 *
 * Inputs: x, Me (embedding input only), h0, Wx (embedding input only), bx, Wrz, Wh, Mh, then
 * the output layer's O, b, T, X, c. Outputs: the output layer's loss, dO, db, then h1 (the
 * carried state) and dx, dWx (embedding input only), dbx, dWrz, dWh.
 */
import { GraphBuilder } from './graph-ops.ts';
import { DataType, type OnnxValueInfo } from './onnx-proto.ts';
import { addSampledLoss, SAMPLED_LOSS_INPUTS, SAMPLED_LOSS_OUTPUTS, type SampledLossGraphOptions, trainingGraphBytes } from './sampled-loss-graph.ts';

export interface GruStepGraphOptions extends SampledLossGraphOptions {
  /** Layer 0 reads Wx rows directly (embedding: 0 without a constrained embedding). */
  oneHot: boolean;
}

const F = DataType.FLOAT;
const int = (value: number) => ({ kind: 'int' as const, value });

export function gruStepGraph(opts: GruStepGraphOptions): Uint8Array {
  const g = new GraphBuilder();
  const one = g.floatInit('gru_one', [], new Float32Array([1]));
  const rowAxis = g.int64Init('gru_axis_col', [0]);
  const H = 'h0';
  const xe = opts.oneHot ? 'x' : g.apply('Mul', ['x', 'Me']);
  const v = opts.oneHot ? g.apply('Add', ['x', 'bx']) : g.apply('Add', [g.apply('MatMul', [xe, 'Wx']), 'bx']);
  // Split sizes are computed from h0's width so the graph serves any hidden size.
  const hShape = g.apply('Shape', [H]);
  const width = g.apply('Slice', [hShape, g.int64Init('gru_s1', [1]), g.int64Init('gru_s2', [2])]);
  const sizes = g.apply('Concat', [width, g.apply('Mul', [width, g.int64Init('gru_two', [2])])], { axis: int(0) });
  const [vn, vrz] = g.op('Split', [v, sizes], [g.tmp('vn'), g.tmp('vrz')], { axis: int(1) });
  const rz = g.apply('Sigmoid', [g.apply('Add', [vrz, g.apply('MatMul', [H, 'Wrz'])])]);
  const [r, z] = g.op('Split', [rz], [g.tmp('r'), g.tmp('z')], { axis: int(1) });
  const rh = g.apply('Mul', [r, H]);
  const n = g.apply('Tanh', [g.apply('Add', [vn, g.apply('MatMul', [rh, 'Wh'])])]);
  const nMinusH = g.apply('Sub', [n, H]);
  const h1 = g.op('Mul', [g.apply('Add', [H, g.apply('Mul', [z, nMinusH])]), 'Mh'], 'h1')[0];

  const dh1 = addSampledLoss(g, h1, opts);
  const dh = g.apply('Mul', [dh1, 'Mh']);
  const dn = g.apply('Mul', [g.apply('Mul', [dh, z]), g.apply('Sub', [one, g.apply('Mul', [n, n])])]);
  const dz = g.apply('Mul', [dh, nMinusH]);
  const dr = g.apply('Mul', [g.apply('Gemm', [dn, 'Wh'], { transB: int(1) }), H]);
  const drz = g.apply('Mul', [g.apply('Concat', [dr, dz], { axis: int(1) }), g.apply('Mul', [rz, g.apply('Sub', [one, rz])])]);
  const dv = g.apply('Concat', [dn, drz], { axis: int(1) });
  g.op('Gemm', [rh, dn], 'dWh', { transA: int(1) });
  g.op('Gemm', [H, drz], 'dWrz', { transA: int(1) });
  g.op('ReduceSum', [dv, rowAxis], 'dbx', { keepdims: int(0) });
  if (opts.oneHot) g.op('Identity', [dv], 'dx');
  else {
    g.op('Gemm', [xe, dv], 'dWx', { transA: int(1) });
    g.op('Mul', [g.apply('Gemm', [dv, 'Wx'], { transB: int(1) }), 'Me'], 'dx');
  }

  const inputs: OnnxValueInfo[] = [
    { name: 'x', elemType: F, shape: ['n', 'D'] },
    ...(opts.oneHot ? [] : [{ name: 'Me', elemType: F, shape: ['n', 'D'] }]),
    { name: 'h0', elemType: F, shape: ['n', 'H'] },
    ...(opts.oneHot ? [] : [{ name: 'Wx', elemType: F, shape: ['D', 'G'] }]),
    { name: 'bx', elemType: F, shape: ['G'] },
    { name: 'Wrz', elemType: F, shape: ['H', 'H2'] },
    { name: 'Wh', elemType: F, shape: ['H', 'H'] },
    { name: 'Mh', elemType: F, shape: ['n', 'H'] },
    ...SAMPLED_LOSS_INPUTS,
  ];
  const outputs: OnnxValueInfo[] = [
    ...SAMPLED_LOSS_OUTPUTS,
    { name: 'h1', elemType: F, shape: ['n', 'H'] },
    { name: 'dx', elemType: F, shape: ['n', 'D'] },
    ...(opts.oneHot ? [] : [{ name: 'dWx', elemType: F, shape: ['D', 'G'] }]),
    { name: 'dbx', elemType: F, shape: ['G'] },
    { name: 'dWrz', elemType: F, shape: ['H', 'H2'] },
    { name: 'dWh', elemType: F, shape: ['H', 'H'] },
  ];
  return trainingGraphBytes(`gru_step_${opts.loss}`, g, inputs, outputs);
}
