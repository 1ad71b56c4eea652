/**
 * Approximate nearest neighbours against the exact scorer, at 100k and 1M synthetic items.
 *
 * Items and queries come from src/ann/synthetic-items.ts (clustered embeddings, Zipf popularity
 * with larger norms and biases for popular items, session-state-like queries), dimension 100 like
 * GRU4Rec's hidden size. The exact scorer is the serving engine's own scoring path: one ORT graph,
 * Gemm(states, Wy, by, transB) then TopK, on all cores, in batches of the topology's micro-batch
 * size; its top-20 lists are also the ground truth for recall@20. Each ANN setting is built through
 * AnnIndexBuilder (worker thread, the library's native threads), opened as serving opens it, and
 * searched with the same query batches; scores are rescored exactly (src/ann/rescorer.ts). The
 * exact baseline is timed before and after the ANN runs of each size, and every timing is the
 * median of --repeats passes over all queries, with min and max as the spread.
 *
 *   node --import tsx bench/ann.ts [--sizes 100000,1000000] [--queries 2000] [--batch 256] [--repeats 3]
 *        [--libraries usearch,hnswlib] [--graphs 16:128,32:256] [--graphs-large 16:128,32:256]
 *        [--efs 24,32,64,128] [--quantizations f32,f16] [--quantizations-large f16] [--hnswlib-max 100000]
 *        [--out results/ann.json]
 *
 * --graphs are connectivity:expansionAdd pairs for sizes up to 100k, --graphs-large for bigger
 * ones (likewise --quantizations, usearch's vector storage); hnswlib-node builds on one thread (its binding adds one point per call), so it runs only
 * up to --hnswlib-max items.
 */
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { AnnIndex } from '../src/ann/ann-index.ts';
import { type AnnLibrary, type AnnQuantization, type AnnSettings, resolveAnnSettings } from '../src/ann/ann-settings.ts';
import { HnswlibIndex, hnswlibAvailability } from '../src/ann/hnswlib-index.ts';
import { AnnIndexBuilder } from '../src/ann/index-builder.ts';
import type { SearchSpace } from '../src/ann/search-space.ts';
import { type SyntheticItems, syntheticItems, syntheticQueries } from '../src/ann/synthetic-items.ts';
import { UsearchIndex } from '../src/ann/usearch-index.ts';
import { DataType, encodeModel } from '../src/engine/onnx/onnx-proto.ts';
import { sharedIds } from '../src/ann/list-recall.ts';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '100000,1000000' },
    queries: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '256' },
    repeats: { type: 'string', default: '3' },
    libraries: { type: 'string', default: 'usearch,hnswlib' },
    graphs: { type: 'string', default: '16:128,32:256' },
    'graphs-large': { type: 'string', default: '16:128,32:256' },
    efs: { type: 'string', default: '24,32,64,128' },
    quantizations: { type: 'string', default: 'f32,f16' },
    'quantizations-large': { type: 'string', default: 'f16' },
    'hnswlib-max': { type: 'string', default: '100000' },
    out: { type: 'string', default: 'results/ann.json' },
  },
});

const numbers = (s: string): number[] => s.split(',').map((v) => Number(v.trim()));
const sizes = numbers(args.sizes!);
const nQueries = Number(args.queries);
const batch = Number(args.batch);
const repeats = Number(args.repeats);
const libraries = args.libraries!.split(',') as AnnLibrary[];
const graphsFor = (n: number) => (n <= 100_000 ? args.graphs! : args['graphs-large']!).split(',').map((g) => g.split(':').map(Number) as [number, number]);
const efs = numbers(args.efs!);
const quantizationsFor = (n: number) => (n <= 100_000 ? args.quantizations! : args['quantizations-large']!).split(',') as AnnQuantization[];
const hnswlibMax = Number(args['hnswlib-max']);
const K = 20;
const DIM = 100;
const threads = availableParallelism();

interface Timing {
  median: number;
  min: number;
  max: number;
}

interface Row {
  items: number;
  library: string;
  quantization: string | null;
  connectivity: number | null;
  expansionAdd: number | null;
  expansionSearch: number | null;
  buildS: number | null;
  indexMB: number | null;
  recallAt20: number;
  queriesPerSec: Timing;
  speedupVsExact: number | null;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const timing = (qps: number[]): Timing => ({ median: median(qps), min: Math.min(...qps), max: Math.max(...qps) });
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The engine's scoring step alone: scores = x·Wyᵀ + by (Gemm, transB), then TopK(K), as src/engine/onnx/graph-builder.ts emits it. */
async function exactSession(items: SyntheticItems): Promise<ort.InferenceSession> {
  const bytes = encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: 'streamrec-bench',
    producerVersion: '1',
    graph: {
      name: 'exact_scoring',
      nodes: [
        { opType: 'Gemm', inputs: ['x', 'Wy', 'by'], outputs: ['s'], attributes: { transB: { kind: 'int', value: 1 } } },
        {
          opType: 'TopK',
          inputs: ['s', 'k'],
          outputs: ['topk_scores', 'topk_indices'],
          attributes: { axis: { kind: 'int', value: -1 }, largest: { kind: 'int', value: 1 }, sorted: { kind: 'int', value: 1 } },
        },
      ],
      initializers: [
        { name: 'Wy', dims: [items.count, DIM], dataType: DataType.FLOAT, data: items.vectors },
        { name: 'by', dims: [items.count], dataType: DataType.FLOAT, data: items.bias },
        { name: 'k', dims: [1], dataType: DataType.INT64, data: BigInt64Array.from([BigInt(K)]) },
      ],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', DIM] }],
      outputs: [
        { name: 'topk_scores', elemType: DataType.FLOAT, shape: ['batch', K] },
        { name: 'topk_indices', elemType: DataType.INT64, shape: ['batch', K] },
      ],
    },
  });
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
}

/** One timed pass of the exact scorer over all queries; fills truth (nQueries × K ids). */
async function exactPass(session: ort.InferenceSession, queries: Float32Array, truth: Int32Array, total = nQueries): Promise<number> {
  const t0 = performance.now();
  for (let start = 0; start < total; start += batch) {
    const n = Math.min(batch, total - start);
    const x = new ort.Tensor('float32', queries.subarray(start * DIM, (start + n) * DIM), [n, DIM]);
    const out = await session.run({ x });
    const idx = out.topk_indices.data as BigInt64Array;
    for (let i = 0; i < n * K; i++) truth[start * K + i] = Number(idx[i]);
  }
  return (total * 1000) / (performance.now() - t0);
}

function annPass(index: AnnIndex, queries: Float32Array, ids: Int32Array, scores: Float32Array, total = nQueries): number {
  const t0 = performance.now();
  for (let start = 0; start < total; start += batch) {
    const n = Math.min(batch, total - start);
    const out = { ids: ids.subarray(start * K, (start + n) * K), scores: scores.subarray(start * K, (start + n) * K) };
    index.search(queries.subarray(start * DIM, (start + n) * DIM), n, K, out);
  }
  return (total * 1000) / (performance.now() - t0);
}

function recall(truth: Int32Array, found: Int32Array): number {
  return sharedIds(truth, found, K) / (nQueries * K);
}

async function openSnapshot(library: AnnLibrary, path: string, space: SearchSpace, items: SyntheticItems, s: AnnSettings): Promise<AnnIndex> {
  return library === 'usearch' ? UsearchIndex.open(path, space, items, s, 'view') : HnswlibIndex.open(path, space, items, s);
}

const rows: Row[] = [];
const started = new Date().toISOString();
const loadBefore = load();
console.log(
  `ann bench: ${cpus().length} cores (${cpus()[0]?.model}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadBefore}; dim ${DIM}, k ${K}, ${nQueries} queries in batches of ${batch}, ${repeats} repeats`,
);
const hnsw = hnswlibAvailability();
if (libraries.includes('hnswlib') && !hnsw.available) console.log(`ann bench: skipping hnswlib: ${hnsw.reason}`);

for (const n of sizes) {
  const tg = performance.now();
  const items = syntheticItems({ count: n, dim: DIM, seed: 1 });
  const queries = syntheticQueries(items, nQueries, 2);
  console.log(`\n${n.toLocaleString('en-US')} items: generated in ${((performance.now() - tg) / 1000).toFixed(1)} s; load ${load()}`);
  const truth = new Int32Array(nQueries * K);
  const session = await exactSession(items);
  await exactPass(session, queries, truth, Math.min(batch, nQueries)); // warm-up (pre-packing, allocations)
  const exactQps: number[] = [];
  for (let r = 0; r < repeats; r++) exactQps.push(await exactPass(session, queries, truth));
  console.log(`  exact (ORT Gemm + TopK, ${threads} threads): ${median(exactQps).toFixed(0)} queries/s`);

  const ids = new Int32Array(nQueries * K);
  const scores = new Float32Array(nQueries * K);
  const annRows: Row[] = [];
  for (const library of libraries) {
    if (library === 'hnswlib' && (!hnsw.available || n > hnswlibMax)) continue;
    for (const [connectivity, expansionAdd] of graphsFor(n))
      for (const quantization of library === 'usearch' ? quantizationsFor(n) : (['f32'] as AnnQuantization[])) {
        const base = resolveAnnSettings({ library, metric: 'ip', connectivity, expansionAdd, quantization, buildThreads: threads, searchThreads: threads });
        const builder = new AnnIndexBuilder(base);
        const built = await builder.build(items, { keepSnapshot: true });
        built.index.dispose();
        const path = built.snapshot!.path;
        console.log(
          `  ${library} M=${connectivity} efAdd=${expansionAdd} ${quantization}: built in ${(built.buildMs / 1000).toFixed(1)} s, ${(built.bytes / 2 ** 20).toFixed(0)} MB; load ${load()}`,
        );
        for (const ef of efs) {
          const s = { ...base, expansionSearch: ef };
          const index = await openSnapshot(library, path, built.snapshot!.space, items, s);
          annPass(index, queries, ids, scores, Math.min(batch, nQueries));
          const qps: number[] = [];
          for (let r = 0; r < repeats; r++) qps.push(annPass(index, queries, ids, scores));
          const row: Row = {
            items: n,
            library,
            quantization,
            connectivity,
            expansionAdd,
            expansionSearch: ef,
            buildS: built.buildMs / 1000,
            indexMB: built.bytes / 2 ** 20,
            recallAt20: recall(truth, ids),
            queriesPerSec: timing(qps),
            speedupVsExact: null,
          };
          annRows.push(row);
          index.dispose();
          console.log(`    ef=${ef}: recall@20 ${row.recallAt20.toFixed(4)}, ${row.queriesPerSec.median.toFixed(0)} queries/s`);
        }
        unlinkSync(path);
        await builder.close();
      }
  }
  // The exact scorer again after the ANN runs, so that load changes during the size show up in its spread.
  for (let r = 0; r < repeats; r++) exactQps.push(await exactPass(session, queries, truth));
  await session.release();
  const exact: Row = {
    items: n,
    library: 'exact (ORT)',
    quantization: null,
    connectivity: null,
    expansionAdd: null,
    expansionSearch: null,
    buildS: null,
    indexMB: null,
    recallAt20: 1,
    queriesPerSec: timing(exactQps),
    speedupVsExact: 1,
  };
  for (const r of annRows) r.speedupVsExact = r.queriesPerSec.median / exact.queriesPerSec.median;
  rows.push(exact, ...annRows);
}

const fmt = (v: number) => Math.round(v).toLocaleString('en-US');
console.log(`\n| items | index | stored | M | efAdd | ef | build s | index MB | recall@20 | queries/s (min–max) | × exact |`);
console.log(`|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|`);
for (const r of rows) {
  console.log(
    `| ${fmt(r.items)} | ${r.library} | ${r.quantization ?? ''} | ${r.connectivity ?? ''} | ${r.expansionAdd ?? ''} | ${r.expansionSearch ?? ''} | ${r.buildS === null ? '' : r.buildS.toFixed(1)} | ${r.indexMB === null ? '' : fmt(r.indexMB)} | ${r.recallAt20.toFixed(4)} | ${fmt(r.queriesPerSec.median)} (${fmt(r.queriesPerSec.min)}–${fmt(r.queriesPerSec.max)}) | ${r.speedupVsExact!.toFixed(1)} |`,
  );
}
// The cheapest setting per size that meets the targets (recall@20 ≥ 0.95, ≥ 5× exact).
for (const n of sizes) {
  const ok = rows
    .filter((r) => r.items === n && r.library !== 'exact (ORT)' && r.recallAt20 >= 0.95 && r.speedupVsExact! >= 5)
    .sort((a, b) => b.queriesPerSec.median - a.queriesPerSec.median);
  const best = ok[0];
  console.log(
    best
      ? `${fmt(n)} items: fastest setting meeting recall@20 ≥ 0.95 and ≥ 5× exact: ${best.library} ${best.quantization} M=${best.connectivity} efAdd=${best.expansionAdd} ef=${best.expansionSearch} (recall ${best.recallAt20.toFixed(4)}, ${best.speedupVsExact!.toFixed(1)}×)`
      : `${fmt(n)} items: no setting met recall@20 ≥ 0.95 with ≥ 5× exact`,
  );
}
const loadAfter = load();
console.log(`load average before ${loadBefore}, after ${loadAfter}`);
mkdirSync(dirname(args.out!), { recursive: true });
writeFileSync(
  args.out!,
  JSON.stringify(
    {
      started,
      machine: { cores: cpus().length, cpu: cpus()[0]?.model, memGiB: totalmem() / 2 ** 30, loadBefore, loadAfter },
      dim: DIM,
      k: K,
      queries: nQueries,
      batch,
      repeats,
      threads,
      rows,
    },
    null,
    2,
  ) + '\n',
);
console.log(`wrote ${args.out}`);
