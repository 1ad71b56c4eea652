/**
 * The scoring and top-K part of the ONNX serving graph, after the recurrent layers: the dot head's
 * scores of a batch ([B,H] · Wyᵀ + by) and the exact top-K of any [B, W] score matrix. What shaped
 * it, measured with bench/engine-profile.ts (process CPU time, 1 intra-op thread, H=100, top-20;
 * the bound is the bias-free product + a row ReduceMax, test/support/gemm-bound.ts):
 *
 * - The bias. Gemm(h, Wy, by) first broadcasts by into the whole [B, N] output and then lets the
 *   product accumulate onto it: one more pass over B·N floats, ~20% of the product's time at 30k
 *   items. Folded into the product, [h | 1] · [Wy | by]ᵀ, it is one more multiply-add per score
 *   inside the GEMM (inner dimension H+1) and costs nothing measurable. The folded table is built
 *   once at export; onnxruntime pre-packs it and drops the unpacked copy, so it costs no memory
 *   beyond the plain Gemm's pre-packed Wy.
 * - TopK over all N scores of a row: onnxruntime's heap scan costs ~0.45 ns a score, about 15% of
 *   the product at 30k items. Blocked selection (below) cuts the TopK to √(N·k)-ish candidates,
 *   but its block maxima are a ReduceMax over B·N/c short rows whose per-row overhead only pays
 *   off for long blocks: at 300k items (blocks of 120) it beats the whole-row TopK by ~7%, at 30k
 *   (blocks of 40) it loses by ~6%. Hence MIN_BLOCK. Strided blocks (item j + t·N/c, an
 *   elementwise max over contiguous rows) measured slower still, and break the tie order.
 * - Scoring chunk by chunk with a running top-K (never materializing [B, N]) measured slower in
 *   ORT: ~3 nodes per chunk, each a thread-pool dispatch, and per-chunk GEMMs too small to keep
 *   both cores busy.
 *
 * Blocked selection: the row's scores in blocks of c consecutive items, each block's maximum,
 * the k best blocks, then TopK over those k·c items. The k best items always lie in the k best
 * blocks (a block left out has k chosen blocks whose maxima beat its best item, ties going to the
 * lower block id and so to lower items), so the result is exact. The chosen blocks are sorted by
 * id before their items are gathered, so the candidates stay in item order and the last TopK
 * breaks ties by the lower item index, as a TopK over the whole row does.
 */
import type { NamedTensor } from '../../model/weights.ts';
import type { GraphBuilder } from './graph-ops.ts';

/**
 * 'blocked' (the default): folded bias, and the blocked top-K where planBlocks finds long enough
 * blocks (else one TopK); 'plain': Gemm with bias and one TopK over every score, the graph before.
 */
export type ScoringMode = 'blocked' | 'plain';

/**
 * The blocks one score row is cut into: `blocks` blocks of `block` items, `width` = blocks·block
 * columns (≥ nItems; columns past nItems are padding that scores −Infinity).
 */
export interface BlockPlan {
  block: number;
  blocks: number;
  width: number;
}

/** Shortest block worth blocking the top-K for (see the header: shorter ones lose to one TopK). */
export const MIN_BLOCK = 64;

/**
 * Block size for n items and k candidates: the TopK work per row is n/c block maxima + k·c
 * gathered items, least near c = √(n/k). Prefers a block size within [c/2, 2c] that divides n
 * (no padding); otherwise pads to a multiple of c when `allowPad` (the caller's scores must then
 * be `width` wide). Null when blocking does not pay (c < minBlock, or fewer than 2k blocks) or n
 * has no such divisor and padding is not allowed: the graph then runs one TopK over the row.
 */
export function planBlocks(nItems: number, k: number, allowPad: boolean, minBlock = MIN_BLOCK): BlockPlan | null {
  const ideal = Math.max(2, Math.round(Math.sqrt(nItems / k)));
  if (ideal < minBlock) return null;
  let best = 0;
  for (let c = Math.max(2, Math.ceil(ideal / 2)); c <= 2 * ideal; c++) {
    if (nItems % c === 0 && (best === 0 || Math.abs(c - ideal) < Math.abs(best - ideal))) best = c;
  }
  const block = best > 0 ? best : allowPad ? ideal : 0;
  if (block === 0) return null;
  const blocks = Math.ceil(nItems / block);
  if (blocks < 2 * k) return null;
  return { block, blocks, width: blocks * block };
}

const TRANS_B = { transB: { kind: 'int' as const, value: 1 } };
const int = (value: number) => ({ kind: 'int' as const, value });

/**
 * [Wy | by] as one [width, H+1] table (bias column 0 without a bias); rows past nItems are zero
 * with bias −Infinity, so padded columns score −Infinity and are never chosen while k ≤ nItems
 * (they lose every tie on index too).
 */
export function foldedTable(Wy: NamedTensor, by: NamedTensor | undefined, width: number): Float32Array {
  const [nItems, H] = Wy.shape;
  const table = new Float32Array(width * (H + 1));
  for (let i = 0; i < nItems; i++) {
    table.set(Wy.data.subarray(i * H, (i + 1) * H), i * (H + 1));
    table[i * (H + 1) + H] = by ? by.data[i] : 0;
  }
  for (let i = nItems; i < width; i++) table[i * (H + 1) + H] = -Infinity;
  return table;
}

/**
 * The dot head's scores of a batch: the rows `h` [B, H] against every item. With a plan (or a
 * bias) it is the folded product [h | 1] · tableᵀ, `width` columns; else Gemm(h, Wy) as stored.
 * `w` adds a contract tensor as an initializer once and returns its name. Returns the name of the
 * [B, width] scores (named `output` when given; then the caller wants exactly nItems columns and
 * must pass a plan without padding or none).
 */
export function dotScoresGraph(
  g: GraphBuilder,
  w: (name: string) => string,
  tensors: Record<string, NamedTensor>,
  useBias: boolean,
  h: string,
  mode: ScoringMode,
  plan: BlockPlan | null,
  output?: string,
): string {
  const out = (op: string, inputs: string[]): string => (output ? g.op(op, inputs, output, TRANS_B)[0] : g.apply(op, inputs, TRANS_B));
  const Wy = tensors['out.Wy'];
  const nItems = Wy.shape[0];
  const width = plan?.width ?? nItems;
  if (mode === 'plain' || (!useBias && width === nItems)) return out('Gemm', [h, w('out.Wy'), ...(useBias ? [w('out.by')] : [])]);
  const table = g.floatInit('out.Wy_by_folded', [width, Wy.shape[1] + 1], foldedTable(Wy, useBias ? tensors['out.by'] : undefined, width));
  // A [B, 1] column of ones: the batch dimension of h, then Expand of a constant 1.
  const batchDim = g.apply('Slice', [g.apply('Shape', [h]), g.int64Init('fold.dim0_start', [0]), g.int64Init('fold.dim0_end', [1])]);
  const onesShape = g.apply('Concat', [batchDim, g.int64Init('fold.one_column', [1])], { axis: int(0) });
  const ones = g.apply('Expand', [g.floatInit('fold.one', [1, 1], Float32Array.of(1)), onesShape]);
  return out('Gemm', [g.apply('Concat', [h, ones], { axis: int(1) }), table]);
}

/**
 * Exact top-k of each row of `scores` [B, width] into `values` [B, k] (best first) and `indices`
 * [B, k] (int64 column indices), ties to the lower index: blocked when `plan` is given (its width
 * must equal the scores' width), else one TopK over the whole row.
 */
export function topKGraph(g: GraphBuilder, scores: string, k: number, plan: BlockPlan | null, values: string, indices: string): void {
  const TOP = { axis: int(-1), largest: int(1), sorted: int(1) };
  const kName = g.int64Init('topk_k', [k]);
  if (!plan) {
    g.op('TopK', [scores, kName], [values, indices], TOP);
    return;
  }
  const { block, blocks } = plan;
  const maxima = g.apply('ReduceMax', [g.apply('Reshape', [scores, g.int64Init('topk.blocks_shape', [0, blocks, block])])], {
    axes: { kind: 'ints', value: [2] },
    keepdims: int(0),
  });
  const [, bestBlocks] = g.op('TopK', [maxima, kName], ['topk_block_maxima', 'topk_blocks'], TOP);
  // Block ids ascending, so the gathered candidates are in item order (TopK breaks ties by position).
  const [ordered] = g.op('TopK', [bestBlocks, kName], ['topk_blocks_ordered', 'topk_blocks_order'], { axis: int(-1), largest: int(0), sorted: int(1) });
  const firstItems = g.apply('Mul', [g.apply('Reshape', [ordered, g.int64Init('topk.column_shape', [0, k, 1])]), g.int64Init('topk.block', [block])]);
  const offsets = g.int64Init(
    'topk.block_offsets',
    Array.from({ length: block }, (_, t) => t),
  );
  const candidates = g.apply('Reshape', [g.apply('Add', [firstItems, offsets]), g.int64Init('topk.candidates_shape', [0, k * block])]);
  const [, positions] = g.op('TopK', [g.apply('GatherElements', [scores, candidates], { axis: int(1) }), kName], [values, 'topk_positions'], TOP);
  g.op('GatherElements', [candidates, positions], indices, { axis: int(1) });
}
