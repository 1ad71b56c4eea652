/**
 * Builds the ONNX inference graph of one GRU4Rec serving step from a Gru4RecWeights:
 * item ids + per-layer states in, next states + top-K of the scores over the whole catalogue
 * out. The cells (GRU, LSTM, mLSTM) follow src/model/weights.ts exactly, built from basic ops.
 *
 * Why not ONNX's own GRU/LSTM ops: they take sequences [seq, batch, in] with the state split into
 * initial_h / initial_c [dirs, batch, H] and fixed gate orders and weight layouts (W [dirs, 4H, in],
 * separate input and recurrent biases), so every step would need reshapes and a copy of the
 * weights into their layout; our per-layer state buffer [h | c] would need a split and a concat
 * anyway; and there is no mLSTM op. The basic-op graph keeps the weights contract's tensors as
 * initializers unchanged, one definition for every cell.
 */
import { cellOf, headOf, layerPrefix, stateSizes, validateWeights, inputTableName, type Gru4RecWeights } from '../../model/weights.ts';
import { headScoresGraph } from './head-graph.ts';
import { dotScoresGraph, planBlocks, topKGraph, type ScoringMode } from './scoring-graph.ts';
import { encodeModel, DataType, type OnnxModel, type OnnxValueInfo } from './onnx-proto.ts';
import { GraphBuilder } from './graph-ops.ts';

export interface ExportOptions {
  /** Items the serving loop emits per event. */
  topK: number;
  /**
   * Most items a caller may exclude per row (e.g. the session's recent history). TopK returns
   * topK + maxExclude candidates so that exclusion can be done afterwards without rescoring.
   */
  maxExclude?: number;
  /** Also output the full score matrix `scores` [B, nItems] (evaluation, tests). */
  outputScores?: boolean;
  /**
   * Scoring and top-K (onnx/scoring-graph.ts): 'blocked' (default: bias folded into the product,
   * block-maxima top-K where the blocks are long enough) or 'plain', the previous Gemm + one TopK, kept for comparison.
   */
  scoring?: ScoringMode;
}

/** The encoder-only graph: item + hidden states in, next hidden states out, no scoring (InferenceEngine.encode). */
export function buildEncoderGraph(weights: Gru4RecWeights): OnnxModel {
  return buildGraph(weights, { topK: 1 }, false);
}

/** ONNX opset the graph is written against (Split takes its sizes as an input since 13). */
export const OPSET_VERSION = 17;
/** IR version 8 is what opset 17 shipped with (onnx 1.12). */
export const IR_VERSION = 8;

/** Output/input names, shared with the engine that feeds the graph. */
export const GraphNames = {
  item: 'item',
  hidden: (l: number) => `h${l}`,
  hiddenNext: (l: number) => `h${l}_next`,
  topScores: 'topk_scores',
  topIndices: 'topk_indices',
  scores: 'scores',
} as const;

/** Candidates TopK returns per row: topK + maxExclude, capped by the catalogue size. */
export function candidateCount(nItems: number, topK: number, maxExclude: number): number {
  return Math.min(nItems, topK + maxExclude);
}

/** What a layer's nodes are built from: its input x (or gathered Wx0 rows), its state input and output names. */
interface LayerNodes {
  g: GraphBuilder;
  /** Adds a weight tensor as an initializer (once) and returns its name. */
  w: (name: string) => string;
  prefix: string;
  H: number;
  x: string;
  /** x holds the gathered rows of Wx0 itself (one-hot input): x·Wx0 is x. */
  oneHot: boolean;
  state: string;
  stateNext: string;
}

const AXIS1 = { axis: { kind: 'int' as const, value: 1 } };

/** A GRU layer; its state is h. Returns the name of h' (= the state output). */
function gruLayer({ g, w, prefix: p, H, x, oneHot, state: h, stateNext }: LayerNodes): string {
  const bias = w(`${p}.b`);
  const vx = oneHot ? g.apply('Add', [x, bias]) : g.apply('Gemm', [x, w(`${p}.Wx`), bias]);
  const [vxN, vxRz] = g.op('Split', [vx, g.int64Init(`${p}.split_n_rz`, [H, 2 * H])], [g.tmp('vx_n'), g.tmp('vx_rz')], AXIS1);
  const rz = g.apply('Sigmoid', [g.apply('Add', [vxRz, g.apply('MatMul', [h, w(`${p}.Wrz`)])])]);
  // No split sizes: Split cuts rz into two equal [B, H] halves (r first, then z).
  const [r, z] = g.op('Split', [rz], [g.tmp('r'), g.tmp('z')], AXIS1);
  const n = g.apply('Tanh', [g.apply('Add', [vxN, g.apply('MatMul', [g.apply('Mul', [r, h]), w(`${p}.Wh`)])])]);
  // (1 − z)⊙h + z⊙n written as h + z⊙(n − h): one op fewer, same value up to rounding.
  g.op('Add', [h, g.apply('Mul', [z, g.apply('Sub', [n, h])])], stateNext);
  return stateNext;
}

/** An LSTM or mLSTM layer; its state is [h | c]. Returns the name of h' (the layer's output). */
function lstmLayer({ g, w, prefix: p, H, x, oneHot, state, stateNext }: LayerNodes, multiplicative: boolean): string {
  const [h, c] = g.op('Split', [state], [g.tmp('h'), g.tmp('c')], AXIS1);
  const bias = w(`${p}.b`);
  let v: string;
  if (multiplicative) {
    // x·Wx holds [m | gates]; the gates' bias is added after the split (m has none).
    const xw = oneHot ? x : g.apply('MatMul', [x, w(`${p}.Wx`)]);
    const [mx, vx] = g.op('Split', [xw, g.int64Init(`${p}.split_m_gates`, [H, 4 * H])], [g.tmp('mx'), g.tmp('vx')], AXIS1);
    const m = g.apply('Mul', [mx, g.apply('MatMul', [h, w(`${p}.Wmh`)])]);
    v = g.apply('Add', [g.apply('Add', [vx, bias]), g.apply('MatMul', [m, w(`${p}.Wh`)])]);
  } else {
    const vx = oneHot ? g.apply('Add', [x, bias]) : g.apply('Gemm', [x, w(`${p}.Wx`), bias]);
    v = g.apply('Add', [vx, g.apply('MatMul', [h, w(`${p}.Wh`)])]);
  }
  const [vif, vg, vo] = g.op('Split', [v, g.int64Init(`${p}.split_if_g_o`, [2 * H, H, H])], [g.tmp('v_if'), g.tmp('v_g'), g.tmp('v_o')], AXIS1);
  const [i, f] = g.op('Split', [g.apply('Sigmoid', [vif])], [g.tmp('i'), g.tmp('f')], AXIS1);
  const cNext = g.apply('Add', [g.apply('Mul', [f, c]), g.apply('Mul', [i, g.apply('Tanh', [vg])])]);
  const hNext = g.apply('Mul', [g.apply('Sigmoid', [vo]), g.apply('Tanh', [cNext])]);
  g.op('Concat', [hNext, cNext], stateNext, AXIS1);
  return hNext;
}

export function buildGraph(weights: Gru4RecWeights, opts: ExportOptions, scoring = true): OnnxModel {
  validateWeights(weights);
  const { arch, tensors } = weights;
  const { nItems, hiddenSizes } = arch;
  const cell = cellOf(arch);
  const states = stateSizes(arch);
  const maxExclude = opts.maxExclude ?? 0;
  if (!Number.isInteger(opts.topK) || opts.topK < 1 || opts.topK > nItems) throw new RangeError(`topK must be an integer in [1, nItems=${nItems}], got ${opts.topK}`);
  if (!Number.isInteger(maxExclude) || maxExclude < 0) throw new RangeError(`maxExclude must be a non-negative integer, got ${maxExclude}`);
  const k = candidateCount(nItems, opts.topK, maxExclude);

  const g = new GraphBuilder();
  // Weight tensors become initializers under their contract names, by reference (no copy here);
  // once each, since the constrained variant reads out.Wy both as input table and output layer.
  const added = new Set<string>();
  const w = (name: string): string => {
    if (!added.has(name)) g.floatInit(name, tensors[name].shape, tensors[name].data);
    added.add(name);
    return name;
  };

  const inputs: OnnxValueInfo[] = [{ name: GraphNames.item, elemType: DataType.INT64, shape: ['batch'] }];
  const outputs: OnnxValueInfo[] = [];

  // Layer-0 input transform vx0 = x·Wx0 + b0 (3H wide).
  const table = w(inputTableName(arch));
  const rows = g.apply('Gather', [table, GraphNames.item], { axis: { kind: 'int', value: 0 } });
  let x = rows;
  let oneHot = arch.embeddingDim === 0 && !arch.constrainedEmbedding;

  let hPrev = '';
  hiddenSizes.forEach((H, l) => {
    const state = GraphNames.hidden(l);
    inputs.push({ name: state, elemType: DataType.FLOAT, shape: ['batch', states[l]] });
    const layer: LayerNodes = { g, w, prefix: layerPrefix(arch, l), H, x, oneHot, state, stateNext: GraphNames.hiddenNext(l) };
    const h = cell === 'gru' ? gruLayer(layer) : lstmLayer(layer, cell === 'mlstm');
    oneHot = false;
    outputs.push({ name: layer.stateNext, elemType: DataType.FLOAT, shape: ['batch', states[l]] });
    x = h;
    hPrev = h;
  });

  if (!scoring) {
    return {
      irVersion: IR_VERSION,
      opsetVersion: OPSET_VERSION,
      producerName: 'streamrec',
      producerVersion: '1',
      docString: `GRU4Rec encoder step: cell=${cell}, nItems=${nItems}, hidden=[${hiddenSizes}], input=${inputTableName(arch)}`,
      graph: { name: 'gru4rec_encode', nodes: g.nodes, initializers: g.initializers, inputs, outputs },
    };
  }

  // The scores of a batch [B, width] (the seam every head plugs into), then their exact top-k
  // (onnx/scoring-graph.ts). The dot head's product may pad the catalogue to a multiple of the
  // top-K's block size (padded columns score −Infinity); a mixture head or the `scores` output
  // is exactly nItems wide, so its blocks must divide nItems or the top-K runs unblocked.
  const hLast = hiddenSizes[hiddenSizes.length - 1];
  const mode: ScoringMode = opts.scoring ?? 'blocked';
  const dotHead = headOf(arch) === 'dot';
  const plan = mode === 'blocked' ? planBlocks(nItems, k, dotHead && !opts.outputScores) : null;
  // A mixture head scores through its own nodes (onnx/head-graph.ts).
  const scores = dotHead
    ? dotScoresGraph(g, w, tensors, arch.useBias, hPrev, mode, plan, opts.outputScores ? GraphNames.scores : undefined)
    : headScoresGraph(g, w, arch, hPrev, opts.outputScores ? GraphNames.scores : undefined);
  topKGraph(g, scores, k, plan, GraphNames.topScores, GraphNames.topIndices);
  outputs.push({ name: GraphNames.topScores, elemType: DataType.FLOAT, shape: ['batch', k] });
  outputs.push({ name: GraphNames.topIndices, elemType: DataType.INT64, shape: ['batch', k] });
  if (opts.outputScores) outputs.push({ name: GraphNames.scores, elemType: DataType.FLOAT, shape: ['batch', nItems] });

  return {
    irVersion: IR_VERSION,
    opsetVersion: OPSET_VERSION,
    producerName: 'streamrec',
    producerVersion: '1',
    docString: `GRU4Rec serving step: cell=${cell}, nItems=${nItems}, hidden=[${hiddenSizes}], input=${inputTableName(arch)}, topK=${opts.topK}+${maxExclude}, H_last=${hLast}`,
    graph: { name: 'gru4rec_step', nodes: g.nodes, initializers: g.initializers, inputs, outputs },
  };
}

/** The bytes of a `.onnx` file for this model (write them with fs.writeFileSync to inspect in Netron). */
export function exportOnnx(weights: Gru4RecWeights, opts: ExportOptions): Uint8Array {
  return encodeModel(buildGraph(weights, opts));
}
