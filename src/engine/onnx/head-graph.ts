/**
 * The scoring head of the ONNX serving graph: "scores of a batch = head(h_last, item tables)",
 * the formulas of src/model/heads.ts (the training-side definition) from basic ONNX ops, so the
 * exported graph scores exactly what the trained model does.
 *
 *   dot                 Gemm(h, Wy, by, transB)
 *   mixture-of-tastes   z = h·W + b → [tastes | attention] → each Reshape [B·K, D] → Gemm against Wy
 *                       → Reshape [B, K, N]; Softmax over K of the attention scores, times the taste
 *                       scores, ReduceSum over K (tasteMixing 'max': ReduceMax of the taste scores), + by
 *   mixture-of-cosines  û = unit(Reshape(h·W + b, [B, K, D])), π = Softmax(h·P + pb),
 *                       q = scale · Σ_k π_k û_k, Gemm(q, unit(Wy), by, transB)
 *   regression          q = unit(h·W + b), Gemm(q, unit(head.items), transB): no out.Wy, no bias
 * unit(x) = x / sqrt(Σ x² + NORM_EPSILON) as in heads.ts. unit(Wy) and unit(head.items) depend on
 * initializers only, so onnxruntime folds them into constants when it loads the graph.
 */
import { NORM_EPSILON } from '../../model/heads.ts';
import { headOf, type Gru4RecArch } from '../../model/weights.ts';
import type { GraphBuilder } from './graph-ops.ts';

const TRANS_B = { transB: { kind: 'int' as const, value: 1 } };
const axis = (value: number) => ({ axis: { kind: 'int' as const, value } });

/**
 * Adds the nodes that score the rows `h` ([B, D], the last layer's output) against the whole
 * catalogue and returns the name of the [B, nItems] scores (named `output` when given).
 * `w` adds a weight tensor as an initializer once and returns its name.
 */
export function headScoresGraph(g: GraphBuilder, w: (name: string) => string, arch: Gru4RecArch, h: string, output?: string): string {
  const head = headOf(arch);
  const out = output ?? g.tmp('scores');
  // One epsilon initializer however many tensors are normalised (a name may be initialised once).
  let eps: string | null = null;
  const unit = (x: string, ax: number): string => unitRows(g, x, ax, (eps ??= g.floatInit('head.norm_epsilon', [], Float32Array.of(NORM_EPSILON))));
  if (head === 'regression') return g.op('Gemm', [unit(g.apply('Gemm', [h, w('head.W'), w('head.b')]), 1), unit(w('head.items'), 1)], out, TRANS_B)[0];
  const bias = arch.useBias ? [w('out.by')] : [];
  if (head === 'dot') return g.op('Gemm', [h, w('out.Wy'), ...bias], out, TRANS_B)[0];
  const K = arch.tastes as number;
  const D = arch.hiddenSizes[arch.hiddenSizes.length - 1];
  const N = arch.nItems;
  const withBias = (s: string): string => (arch.useBias ? g.op('Add', [s, w('out.by')], out)[0] : g.op('Identity', [s], out)[0]);

  if (head === 'mixture-of-tastes') {
    const z = g.apply('Gemm', [h, w('head.W'), w('head.b')]);
    const rowsShape = g.int64Init('head.shape_rows', [-1, D]);
    const tastesShape = g.int64Init('head.shape_tastes', [-1, K, N]);
    // [B, K·D] → [B·K, D] → scores [B·K, N] → [B, K, N]: taste k of row i against every item.
    const perTaste = (block: string): string => g.apply('Reshape', [g.apply('Gemm', [g.apply('Reshape', [block, rowsShape]), w('out.Wy')], TRANS_B), tastesShape]);
    if (arch.tasteMixing === 'max') return withBias(g.apply('ReduceMax', [perTaste(z)], { axes: { kind: 'ints', value: [1] }, keepdims: { kind: 'int', value: 0 } }));
    const tasteAxis = g.int64Init('head.axis_tastes', [1]);
    // No split sizes: Split cuts z into two equal halves (tastes first, then attention).
    const [t, a] = g.op('Split', [z], [g.tmp('tastes'), g.tmp('attention')], axis(1));
    const weights = g.apply('Softmax', [perTaste(a)], axis(1));
    return withBias(g.apply('ReduceSum', [g.apply('Mul', [weights, perTaste(t)]), tasteAxis], { keepdims: { kind: 'int', value: 0 } }));
  }

  const users = unit(g.apply('Reshape', [g.apply('Gemm', [h, w('head.W'), w('head.b')]), g.int64Init('head.shape_users', [-1, K, D])]), 2);
  const mix = g.apply('Softmax', [g.apply('Gemm', [h, w('head.P'), w('head.pb')])], axis(1));
  const mix3 = g.apply('Unsqueeze', [mix, g.int64Init('head.axis_mix', [2])]);
  // The mixture folded into one query per row (see src/model/heads.ts), scaled by 1/τ.
  const query = g.apply('Mul', [
    g.apply('ReduceSum', [g.apply('Mul', [mix3, users]), g.int64Init('head.axis_users', [1])], { keepdims: { kind: 'int', value: 0 } }),
    w('head.scale'),
  ]);
  return g.op('Gemm', [query, unit(w('out.Wy'), 1), ...bias], out, TRANS_B)[0];
}

/** x scaled to unit length along axis `ax`: x / sqrt(Σ x² + NORM_EPSILON), as heads.ts's unitRows. */
function unitRows(g: GraphBuilder, x: string, ax: number, eps: string): string {
  return g.apply('Div', [
    x,
    g.apply('Sqrt', [g.apply('Add', [g.apply('ReduceSumSquare', [x], { axes: { kind: 'ints', value: [ax] }, keepdims: { kind: 'int', value: 1 } }), eps])]),
  ]);
}
