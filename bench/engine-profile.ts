/**
 * Where one engine step's time goes at a given catalogue size: each part of the step as its own
 * ORT graph, timed round-robin beside the whole step (medians of wall and process CPU time per
 * batch; on a loaded machine CPU time with --threads 1 is the steadier figure):
 *   encode       the recurrent step alone (the encoder graph InferenceEngine.encode runs);
 *   --variants   scoring graphs, see scoringGraph() below (max-nobias is the GEMM bound's graph);
 *   step         OrtEngine.step end to end, blocked top-K (the default);
 *   step-plain   OrtEngine.step on the previous graph (Gemm with bias, one TopK over all N).
 *
 *   node --import tsx bench/engine-profile.ts [--catalogues 30000,300000] [--batches 256,512]
 *        [--variants max-nobias,max,max-fold,topk,blocked-fold:40,chunked:4096] [--hidden 100]
 *        [--topk 20] [--threads 2] [--min-time 1]
 */
import { availableParallelism, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { createOrtEngine } from '../src/engine/ort-engine.ts';
import type { StepOutput } from '../src/engine/engine.ts';
import { buildEncoderGraph } from '../src/engine/onnx/graph-builder.ts';
import { DataType, encodeModel, type OnnxValueInfo } from '../src/engine/onnx/onnx-proto.ts';
import { dotScoresGraph, topKGraph } from '../src/engine/onnx/scoring-graph.ts';
import type { Gru4RecArch, NamedTensor } from '../src/model/weights.ts';
import { seededRandom, syntheticWeights } from '../test/support/synthetic-weights.ts';
import { GraphBuilder } from '../src/engine/onnx/graph-ops.ts';

const { values: args } = parseArgs({
  options: {
    catalogues: { type: 'string', default: '30000,300000' },
    batches: { type: 'string', default: '256,512' },
    variants: { type: 'string', default: 'max-nobias,max,max-fold,topk,blocked-fold:40' },
    hidden: { type: 'string', default: '100' },
    topk: { type: 'string', default: '20' },
    threads: { type: 'string', default: String(availableParallelism()) },
    'min-time': { type: 'string', default: '1' },
  },
});
const nums = (s: string): number[] => s.split(',').map(Number);
const H = Number(args.hidden);
const K = Number(args.topk);
const threads = Number(args.threads);
const minTimeMs = Number(args['min-time']) * 1000;
const batches = nums(args.batches!);
const maxBatch = Math.max(...batches);

const int = (value: number) => ({ kind: 'int' as const, value });

/**
 * A scoring-only graph over Wy [N,H] (+ by): h [B,H] in. Variants:
 *   max / max-nobias / max-fold   Gemm (with bias / without / bias folded into [h|1]) + row ReduceMax → y [B,1]
 *   topk / topk-fold              Gemm (with bias / folded) + TopK over all N
 *   chunked:C                     per C-item chunk Gemm + TopK, merge TopK (never materializes [B,N])
 *   blocked:C / blocked-fold:C    Gemm (bias / folded) + the blocked top-K of src/engine/onnx/scoring-graph.ts
 */
function scoringGraph(Wy: NamedTensor, by: NamedTensor, nItems: number, variant: string): Uint8Array {
  const [kind, arg] = variant.split(':');
  const g = new GraphBuilder();
  const k = g.int64Init('k', [K]);
  let outputs: OnnxValueInfo[] = [
    { name: 'v', elemType: DataType.FLOAT, shape: ['batch', K] },
    { name: 'i', elemType: DataType.INT64, shape: ['batch', K] },
  ];
  const w = (name: string): string => {
    const t = name === 'out.Wy' ? Wy : by;
    return g.floatInit(name, t.shape, t.data);
  };
  const fold = kind.endsWith('fold');
  const product = (): string => {
    if (kind === 'max-nobias') return g.apply('Gemm', ['h', w('out.Wy')], { transB: int(1) });
    // dotScoresGraph with a plan of the right width folds the bias; 'plain' is Gemm(h, Wy, by).
    return dotScoresGraph(g, w, { 'out.Wy': Wy, 'out.by': by }, true, 'h', fold ? 'blocked' : 'plain', null);
  };
  if (kind.startsWith('max')) {
    g.op('ReduceMax', [product()], 'y', { axes: { kind: 'ints', value: [1] }, keepdims: int(1) });
    outputs = [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 1] }];
  } else if (kind === 'topk' || kind === 'topk-fold') {
    g.op('TopK', [product(), k], ['v', 'i'], { axis: int(-1), largest: int(1), sorted: int(1) });
  } else if (kind.startsWith('blocked')) {
    const block = Number(arg);
    if (nItems % block !== 0) throw new Error(`block ${block} does not divide ${nItems}`);
    topKGraph(g, product(), K, { block, blocks: nItems / block, width: nItems }, 'v', 'i');
  } else if (kind === 'chunked') {
    const C = Number(arg);
    const vs: string[] = [];
    const is: string[] = [];
    for (let start = 0, j = 0; start < nItems; start += C, j++) {
      const len = Math.min(C, nItems - start);
      const wj = g.floatInit(`Wy${j}`, [len, H], Wy.data.subarray(start * H, (start + len) * H));
      const bj = g.floatInit(`by${j}`, [len], by.data.subarray(start, start + len));
      const [v, li] = g.op('TopK', [g.apply('Gemm', ['h', wj, bj], { transB: int(1) }), g.int64Init(`k${j}`, [Math.min(K, len)])], [`v${j}`, `li${j}`], {
        axis: int(-1),
        largest: int(1),
        sorted: int(1),
      });
      vs.push(v);
      is.push(g.apply('Add', [li, g.int64Init(`off${j}`, [start])]));
    }
    const [, pos] = g.op('TopK', [g.apply('Concat', vs, { axis: int(1) }), k], ['v', 'pos'], { axis: int(-1), largest: int(1), sorted: int(1) });
    g.op('GatherElements', [g.apply('Concat', is, { axis: int(1) }), pos], 'i', { axis: int(1) });
  } else throw new Error(`unknown variant ${variant}`);
  return encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: 'streamrec-profile',
    producerVersion: '1',
    graph: { name: 'scoring', nodes: g.nodes, initializers: g.initializers, inputs: [{ name: 'h', elemType: DataType.FLOAT, shape: ['batch', H] }], outputs },
  });
}

interface Part {
  label: string;
  run: (B: number) => Promise<unknown>;
  dispose: () => Promise<void>;
}

const sessionOpts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'] };

async function partsFor(nItems: number): Promise<Part[]> {
  const arch: Gru4RecArch = { nItems, embeddingDim: H, hiddenSizes: [H], constrainedEmbedding: true, useBias: true };
  const w = syntheticWeights(arch, 7);
  const rand = seededRandom(3);
  const items = new Int32Array(maxBatch).map(() => Math.floor(rand() * nItems));
  const h = new Float32Array(maxBatch * H).map(() => (rand() - 0.5) * 0.5);
  const itemIds = BigInt64Array.from(items, (i) => BigInt(i));
  const parts: Part[] = [];

  const enc = await ort.InferenceSession.create(encodeModel(buildEncoderGraph(w)), sessionOpts);
  parts.push({
    label: 'encode',
    run: (B) => enc.run({ item: new ort.Tensor('int64', itemIds.subarray(0, B), [B]), h0: new ort.Tensor('float32', h.subarray(0, B * H), [B, H]) }),
    dispose: () => enc.release(),
  });
  for (const variant of args.variants!.split(',')) {
    const s = await ort.InferenceSession.create(scoringGraph(w.tensors['out.Wy'], w.tensors['out.by'], nItems, variant), sessionOpts);
    parts.push({ label: variant, run: (B) => s.run({ h: new ort.Tensor('float32', h.subarray(0, B * H), [B, H]) }), dispose: () => s.release() });
  }
  const engine = await createOrtEngine(w, { topK: K, maxBatch, providers: ['cpu'], intraOpNumThreads: threads, log: () => undefined });
  const hidden = [h.slice()];
  const out: StepOutput = { topIdx: new Int32Array(maxBatch * K), topScore: new Float32Array(maxBatch * K) };
  parts.push({ label: 'step', run: (B) => engine.step(B, items, hidden, out), dispose: () => engine.dispose() });
  const plain = await createOrtEngine(w, { topK: K, maxBatch, providers: ['cpu'], intraOpNumThreads: threads, scoring: 'plain', log: () => undefined });
  parts.push({ label: 'step-plain', run: (B) => plain.step(B, items, hidden, out), dispose: () => plain.dispose() });
  return parts;
}

/** Round-robin bursts (first call of each burst dropped), medians: load drift hits every part alike. */
async function time(parts: Part[], B: number): Promise<Map<string, { wall: number; cpu: number }>> {
  const samples = new Map<string, number[]>(parts.map((p) => [p.label, []]));
  const cpu = new Map<string, number[]>(parts.map((p) => [p.label, []]));
  for (const p of parts) await p.run(B);
  const t0 = performance.now();
  for (let round = 0; round < 200 && (round < 5 || performance.now() - t0 < minTimeMs * parts.length); round++) {
    for (const p of parts) {
      for (let i = 0; i < 4; i++) {
        const t = performance.now();
        const u = process.cpuUsage();
        await p.run(B);
        const du = process.cpuUsage(u);
        if (i > 0) {
          samples.get(p.label)!.push(performance.now() - t);
          cpu.get(p.label)!.push((du.user + du.system) / 1000);
        }
      }
    }
  }
  const med = (v: number[]) => v.sort((a, b) => a - b)[v.length >> 1];
  return new Map([...samples].map(([k, v]) => [k, { wall: med(v), cpu: med(cpu.get(k)!) }]));
}

console.log(
  `engine profile: H=${H}, top-${K}, ${threads} intra-op threads, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
for (const nItems of nums(args.catalogues!)) {
  const parts = await partsFor(nItems);
  try {
    for (const B of batches) {
      const t = await time(parts, B);
      const bound = t.get('max-nobias') ?? t.get('max') ?? [...t.values()][1];
      console.log(`N=${nItems} B=${B}:               wall ms      ev/s  share    cpu ms  share (of max-nobias)`);
      for (const [label, { wall, cpu }] of t)
        console.log(
          `  ${label.padEnd(18)} ${wall.toFixed(2).padStart(9)} ${Math.round((B * 1000) / wall)
            .toString()
            .padStart(9)} ${((100 * bound.wall) / wall).toFixed(0).padStart(5)}% ${cpu.toFixed(2).padStart(9)} ${((100 * bound.cpu) / cpu).toFixed(0).padStart(5)}%`,
        );
    }
  } finally {
    for (const p of parts) await p.dispose();
  }
}
console.log(
  `load at end ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
);
