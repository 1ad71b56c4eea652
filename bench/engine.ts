/**
 * Inference-engine benchmark: events/s and ms/batch of one serving step (GRU update + scoring of
 * the whole catalogue + top-K) for onnxruntime-node (1 and 2 intra-op threads) and tfjs (active
 * backend), beside the GEMM-bound limit measured in the same run: the bare scoring product as an
 * ORT graph (MatMul [B,H]×[H,N], and Gemm with Wy [N,H] transposed as the engine holds it) whose
 * [B,N] result is consumed inside ORT by a row-wise ReduceMax, the cheapest stand-in for TopK.
 * (Making the product itself the graph output measures the output copy instead: about half the
 * speed at B·N = 128·300k.) All contestants of one shape are timed round-robin, so load from
 * other processes on a shared machine hits them alike; medians are reported.
 *
 *   node --import tsx bench/engine.ts [--out results/engine.json] [--catalogues 3000,30000,300000]
 *        [--batches 1,8,32,128,512] [--hidden 100] [--topk 20] [--exclude 0] [--min-time 1]
 *        [--input constrained|embedding|onehot] [--engines ort1,ort2,ort1-plain,ort2-plain,tfjs,tfjs-js,gemm1,gemm2]
 *
 * ortT is the ORT engine with T intra-op threads and its default blocked top-K (folded bias, block
 * maxima: src/engine/onnx/scoring-graph.ts); ortT-plain the same engine on the previous graph (Gemm
 * with bias, one TopK over every score), so before and after are timed in the same run.
 *
 * tfjs-js is the tfjs engine with topkMode 'js': the score rows come back to JS and the top-K
 * heap (src/model/topk.ts) selects over the whole catalogue, the one place serving runs it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import type { Gru4RecArch } from '../src/model/weights.ts';
import type { InferenceEngine, StepOutput } from '../src/engine/engine.ts';
import { createOrtEngine } from '../src/engine/ort-engine.ts';
import { createTfjsEngine } from '../src/engine/tfjs-engine.ts';
import { initBackend } from '../src/model/backend.ts';
import { createGemmBoundSession, type GemmLayout } from '../test/support/gemm-bound.ts';
import { syntheticWeights, seededRandom } from '../test/support/synthetic-weights.ts';

const { values: args } = parseArgs({
  options: {
    out: { type: 'string' },
    catalogues: { type: 'string', default: '3000,30000,300000' },
    batches: { type: 'string', default: '1,8,32,128,512' },
    hidden: { type: 'string', default: '100' },
    topk: { type: 'string', default: '20' },
    exclude: { type: 'string', default: '0' },
    'min-time': { type: 'string', default: '1' },
    input: { type: 'string', default: 'constrained' },
    engines: { type: 'string', default: 'ort1,ort1-plain,ort2,ort2-plain,tfjs,gemm1,gemm2' },
  },
});

const numbers = (s: string): number[] => s.split(',').map((v) => Number(v.trim()));
const catalogues = numbers(args.catalogues!);
const batches = numbers(args.batches!);
const H = Number(args.hidden);
const topK = Number(args.topk);
const maxExclude = Number(args.exclude);
const minTimeMs = Number(args['min-time']) * 1000;
const engineKinds = args.engines!.split(',');
const maxBatch = Math.max(...batches);

interface Row {
  engine: string;
  nItems: number;
  batch: number;
  msPerBatch: number;
  eventsPerSec: number;
  /** Useful FLOP/s of the scoring product alone (2·B·H·N per batch). */
  scoringGflops: number;
  /**
   * Median process CPU time per batch (ms): on a loaded machine less noisy than wall time for one
   * intra-op thread; with more threads it includes ORT's spin-waiting workers.
   */
  cpuMsPerBatch: number;
  iterations: number;
  error?: string;
}

/** One thing being timed: an engine step, or a bare scoring product. */
interface Contestant {
  label: string;
  run: (batch: number) => Promise<void>;
  dispose: () => Promise<void>;
}

/**
 * Times all contestants on one batch size in turns: each turn runs one contestant in a burst of
 * back-to-back calls and keeps all but the first, so caches are warm as in steady serving and the
 * previous contestant's spinning ORT threads have gone quiet; turning round-robin means load from
 * other processes on a shared machine hits every contestant alike. Reports medians.
 */
type Timing = { ms: number; cpuMs: number; iterations: number };

async function timeRoundRobin(contestants: Contestant[], batch: number): Promise<Map<string, Timing | Error>> {
  const samples = new Map<string, number[]>();
  const cpuSamples = new Map<string, number[]>();
  const bursts = new Map<string, number>();
  const out = new Map<string, Timing | Error>();
  for (const c of contestants) {
    try {
      await c.run(batch);
      const t = performance.now();
      await c.run(batch);
      // ~30 ms per burst: long enough to warm up, short enough for many turns.
      bursts.set(c.label, Math.min(50, Math.max(2, Math.ceil(30 / (performance.now() - t)))));
      samples.set(c.label, []);
      cpuSamples.set(c.label, []);
    } catch (err) {
      out.set(c.label, err as Error);
    }
  }
  const live = contestants.filter((c) => samples.has(c.label));
  const t0 = performance.now();
  for (let round = 0; round < 100 && (round < 3 || performance.now() - t0 < minTimeMs * live.length); round++) {
    for (const c of live) {
      const times = samples.get(c.label)!;
      const cpu = cpuSamples.get(c.label)!;
      const burst = bursts.get(c.label)!;
      for (let i = 0; i < burst; i++) {
        const t = performance.now();
        const u = process.cpuUsage();
        await c.run(batch);
        const du = process.cpuUsage(u);
        if (i > 0) {
          times.push(performance.now() - t);
          cpu.push((du.user + du.system) / 1000);
        }
      }
    }
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1];
  for (const [label, times] of samples) out.set(label, { ms: median(times), cpuMs: median(cpuSamples.get(label)!), iterations: times.length });
  return out;
}

function arch(nItems: number): Gru4RecArch {
  switch (args.input) {
    case 'onehot':
      return { nItems, embeddingDim: 0, hiddenSizes: [H], constrainedEmbedding: false, useBias: true };
    case 'embedding':
      return { nItems, embeddingDim: H, hiddenSizes: [H], constrainedEmbedding: false, useBias: true };
    case 'constrained':
      return { nItems, embeddingDim: H, hiddenSizes: [H], constrainedEmbedding: true, useBias: true };
    default:
      throw new Error(`--input must be constrained, embedding or onehot, got ${args.input}`);
  }
}

/** The bare scoring product on ORT (test/support/gemm-bound.ts), in both operand layouts. */
async function boundContestant(layout: GemmLayout, nItems: number, threads: number): Promise<Contestant> {
  const rand = seededRandom(nItems);
  const session = await createGemmBoundSession(nItems, H, threads, layout);
  const y = new Float32Array(maxBatch);
  const xs = new Float32Array(maxBatch * H).map(() => rand() - 0.5);
  return {
    label: `bound-${layout}-t${threads}`,
    run: async (B) => {
      await session.run({ x: new ort.Tensor('float32', xs.subarray(0, B * H), [B, H]) }, { y: new ort.Tensor('float32', y.subarray(0, B), [B, 1]) });
    },
    dispose: () => session.release(),
  };
}

function engineContestant(engine: InferenceEngine, label: string, nItems: number): Contestant {
  const rand = seededRandom(42);
  const items = new Int32Array(maxBatch).map(() => Math.floor(rand() * nItems));
  const hidden = [new Float32Array(maxBatch * H).map(() => (rand() - 0.5) * 0.5)];
  const out: StepOutput = { topIdx: new Int32Array(maxBatch * topK), topScore: new Float32Array(maxBatch * topK) };
  // Every row excludes maxExclude items, as the serving loop would with the session's history.
  const exclude =
    maxExclude > 0
      ? { offsets: new Int32Array(maxBatch + 1).map((_, b) => b * maxExclude), items: new Int32Array(maxBatch * maxExclude).map(() => Math.floor(rand() * nItems)) }
      : undefined;
  return { label, run: (B) => engine.step(B, items, hidden, out, exclude), dispose: () => engine.dispose() };
}

function row(engine: string, nItems: number, batch: number, t: Timing | Error): Row {
  if (t instanceof Error)
    return { engine, nItems, batch, msPerBatch: NaN, eventsPerSec: NaN, scoringGflops: NaN, cpuMsPerBatch: NaN, iterations: 0, error: t.message.split('\n')[0] };
  return {
    engine,
    nItems,
    batch,
    msPerBatch: t.ms,
    eventsPerSec: (batch * 1000) / t.ms,
    scoringGflops: (2 * batch * H * nItems) / (t.ms * 1e6),
    cpuMsPerBatch: t.cpuMs,
    iterations: t.iterations,
  };
}

function printRow(r: Row): void {
  const cells = r.error
    ? [r.engine.padEnd(18), String(r.nItems).padStart(7), String(r.batch).padStart(5), `failed: ${r.error}`]
    : [
        r.engine.padEnd(18),
        String(r.nItems).padStart(7),
        String(r.batch).padStart(5),
        r.msPerBatch.toFixed(3).padStart(10),
        Math.round(r.eventsPerSec).toString().padStart(10),
        r.scoringGflops.toFixed(1).padStart(8),
        r.cpuMsPerBatch.toFixed(3).padStart(10),
        String(r.iterations).padStart(5),
      ];
  console.log(cells.join('  '));
}

async function contestantsFor(nItems: number): Promise<Contestant[]> {
  const weights = syntheticWeights(arch(nItems), 7);
  const list: Contestant[] = [];
  for (const kind of engineKinds) {
    const ort = /^ort(\d+)(-plain)?$/.exec(kind);
    if (ort) {
      const threads = Number(ort[1]);
      const scoring = ort[2] ? 'plain' : 'blocked';
      const e = await createOrtEngine(weights, { topK, maxExclude, maxBatch, providers: ['cpu'], intraOpNumThreads: threads, scoring, log: () => {} });
      list.push(engineContestant(e, `ort-cpu-t${threads}${ort[2] ?? ''}`, nItems));
    } else if (kind === 'tfjs' || kind === 'tfjs-js') {
      const topkMode = kind === 'tfjs' ? 'tf' : 'js';
      const e = await createTfjsEngine(weights, { topK, maxExclude, maxBatch, topkMode });
      list.push(engineContestant(e, kind === 'tfjs' ? e.name : `${e.name}-jstopk`, nItems));
    } else if (kind === 'gemm1' || kind === 'gemm2') {
      const threads = kind === 'gemm1' ? 1 : 2;
      list.push(await boundContestant('matmul', nItems, threads), await boundContestant('gemmT', nItems, threads));
    } else {
      throw new Error(`unknown engine kind ${kind} (ort1, ort2, ort1-plain, ort2-plain, tfjs, tfjs-js, gemm1, gemm2)`);
    }
  }
  return list;
}

async function main(): Promise<void> {
  const tfBackend = engineKinds.some((k) => k.startsWith('tfjs')) ? await initBackend() : 'none';
  const machine = {
    loadAvgAtStart: loadavg(),
    cpus: availableParallelism(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    tfjsBackend: tfBackend,
  };
  console.log(`engine bench: H=${H}, input=${args.input}, topK=${topK}, maxExclude=${maxExclude}, ${machine.cpus} cpus (${machine.cpuModel}), tfjs backend ${tfBackend}`);
  console.log(
    [
      'engine'.padEnd(18),
      'nItems'.padStart(7),
      'batch'.padStart(5),
      'ms/batch'.padStart(10),
      'events/s'.padStart(10),
      'GFLOP/s'.padStart(8),
      'cpu ms'.padStart(10),
      'runs'.padStart(5),
    ].join('  '),
  );
  const results: Row[] = [];
  for (const nItems of catalogues) {
    const contestants = await contestantsFor(nItems);
    try {
      for (const B of batches) {
        const timed = await timeRoundRobin(contestants, B);
        for (const c of contestants) {
          const r = row(c.label, nItems, B, timed.get(c.label)!);
          results.push(r);
          printRow(r);
        }
      }
    } finally {
      for (const c of contestants) await c.dispose();
    }
  }

  // Summary: for each (catalogue, batch), which engine is fastest, and how close to the GEMM floor.
  console.log('\nfastest engine per shape (share of the best bare-GEMM events/s):');
  for (const nItems of catalogues) {
    for (const B of batches) {
      const shape = results.filter((r) => r.nItems === nItems && r.batch === B && !r.error);
      const engines = shape.filter((r) => !r.engine.startsWith('bound'));
      const floor = Math.max(...shape.filter((r) => r.engine.startsWith('bound')).map((r) => r.eventsPerSec));
      if (engines.length === 0) continue;
      const best = engines.reduce((a, b) => (b.eventsPerSec > a.eventsPerSec ? b : a));
      const share = Number.isFinite(floor) ? `, ${Math.round((100 * best.eventsPerSec) / floor)}% of bare GEMM` : '';
      const tfjs = engines.find((r) => r.engine.startsWith('tfjs'));
      const vsTfjs = tfjs && best !== tfjs ? `, ${(best.eventsPerSec / tfjs.eventsPerSec).toFixed(1)}x ${tfjs.engine}` : '';
      console.log(`  N=${nItems} B=${B}: ${best.engine} ${Math.round(best.eventsPerSec)} events/s${share}${vsTfjs}`);
    }
  }

  // Before → after: the previous graph (ort-cpu-tT-plain) against the blocked one at the same thread count.
  const plainRows = results.filter((r) => r.engine.endsWith('-plain') && !r.error);
  if (plainRows.length > 0) {
    console.log('\nblocked top-K vs the plain graph (share of the best bare-GEMM events/s):');
    for (const before of plainRows) {
      const after = results.find((r) => r.engine === before.engine.replace(/-plain$/, '') && r.nItems === before.nItems && r.batch === before.batch && !r.error);
      const floor = Math.max(
        ...results.filter((r) => r.engine.startsWith('bound') && r.nItems === before.nItems && r.batch === before.batch && !r.error).map((r) => r.eventsPerSec),
      );
      if (!after || !Number.isFinite(floor)) continue;
      const pct = (x: number) => `${Math.round((100 * x) / floor)}%`;
      // CPU time against the bound at the same thread count: the steadier figure on a loaded machine.
      const threads = /-t(\d+)/.exec(after.engine)![1];
      const cpuFloor = Math.min(
        ...results
          .filter((r) => r.engine.startsWith('bound') && r.engine.endsWith(`-t${threads}`) && r.nItems === before.nItems && r.batch === before.batch && !r.error)
          .map((r) => r.cpuMsPerBatch),
      );
      const cpuPct = (ms: number) => `${Math.round((100 * cpuFloor) / ms)}%`;
      console.log(
        `  N=${before.nItems} B=${before.batch} ${after.engine}: ${Math.round(before.eventsPerSec)} → ${Math.round(after.eventsPerSec)} events/s (${pct(before.eventsPerSec)} → ${pct(after.eventsPerSec)} of ${Math.round(floor)}; ` +
          `CPU time ${cpuPct(before.cpuMsPerBatch)} → ${cpuPct(after.cpuMsPerBatch)} of the ${threads}-thread bound's)`,
      );
    }
  }

  if (args.out) {
    mkdirSync(dirname(args.out), { recursive: true });
    writeFileSync(
      args.out,
      JSON.stringify(
        {
          bench: 'engine',
          date: new Date().toISOString(),
          machine,
          loadAvgAtEnd: loadavg(),
          config: { H, input: args.input, topK, maxExclude, catalogues, batches, minTimeMs },
          results,
        },
        null,
        2,
      ),
    );
    console.log(`wrote ${args.out}`);
  }
}

await main();
