import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config/config.ts';
import { prepareModel } from '../../src/serving/create-recommender.ts';
import { annModel, annRecall, buildAnnScoring, clusteredWeights, disposeAnnScoring, parseScorings } from '../../bench/serve-ann.ts';
import { modeId } from '../../bench/serve-runs.ts';
import { markdownReport, modeLabel, type ServeReport, spread } from '../../bench/serve-report.ts';

test('parseScorings: known names in order, repeats dropped, unknown refused', () => {
  assert.deepEqual(parseScorings('exact,ann,exact'), ['exact', 'ann']);
  assert.throws(() => parseScorings('exact,faiss'), /--scoring: unknown scoring faiss/);
});

test('ANN modes: their own id and label, beside the exact mode', () => {
  const m = { client: 'kafkajs' as const, delivery: 'exactly-once' as const, commitIntervalMs: 100 };
  assert.equal(modeId(m), 'kafkajs-eos-commit100ms');
  assert.equal(modeId({ ...m, scoring: 'ann' }), 'kafkajs-eos-commit100ms-ann');
  assert.equal(modeLabel({ ...m, scoring: 'ann' }), 'kafkajs exactly-once, commit every 100 ms, ANN scoring');
});

test('clusteredWeights: a state after one click points at the clicked item (cosine), the output layer is the clustered catalogue', () => {
  const w = clusteredWeights(2000, 32, 3);
  assert.deepEqual(w.tensors['out.Wy'].shape, [2000, 32]);
  // One GRU step from a zero state: h = z ⊙ tanh(x·Wx_n + b_n), x = Wy[item] (constrained embedding).
  const wx = w.tensors['gru0.Wx'].data;
  const b = w.tensors['gru0.b'].data;
  const wy = w.tensors['out.Wy'].data;
  let cosSum = 0;
  for (let item = 0; item < 50; item++) {
    const x = wy.subarray(item * 32, (item + 1) * 32);
    let dot = 0;
    let hh = 0;
    let xx = 0;
    for (let j = 0; j < 32; j++) {
      let n = b[j];
      let z = b[64 + j];
      for (let i = 0; i < 32; i++) {
        n += x[i] * wx[i * 96 + j];
        z += x[i] * wx[i * 96 + 64 + j];
      }
      const h = Math.tanh(n) / (1 + Math.exp(-z));
      dot += h * x[j];
      hh += h * h;
      xx += x[j] * x[j];
    }
    cosSum += dot / Math.sqrt(hh * xx);
  }
  assert.ok(cosSum / 50 > 0.7, `mean cosine(state, clicked item) ${(cosSum / 50).toFixed(3)}`);
});

test('annRecall: 1 for the exact engine against itself; the ANN engine over a prebuilt index recalls most of exact', async () => {
  const n = 3000;
  const w = clusteredWeights(n, 32, 5);
  const ids = Array.from({ length: n }, (_, i) => `i${i}`);
  const cfg = loadConfig(undefined, {});
  cfg.serving.batch.maxSize = 64;
  const ann = await buildAnnScoring(w, { expansionSearch: 64 }, 2);
  const exact = (await prepareModel(cfg, w, ids, 'x', () => undefined)).engine;
  const annEngine = (await annModel(cfg, w, ids, ann)).engine;
  try {
    assert.match(annEngine.name, /\+usearch$/);
    assert.equal((await annRecall(exact, exact, n, 100)).recall, 1);
    const r = await annRecall(exact, annEngine, n, 100);
    assert.equal(r.lists, 400);
    assert.ok(r.recall >= 0.9, `recall@20 ${r.recall.toFixed(3)}`);
  } finally {
    await annEngine.dispose();
    await exact.dispose();
    disposeAnnScoring(ann);
  }
});

test('markdownReport: the ANN engine rows (× exact, recall, build) and the ANN serving row against exact scoring', () => {
  const eos = { client: 'kafkajs' as const, delivery: 'exactly-once' as const, commitIntervalMs: 100 };
  const latency = {
    rate: 500,
    events: 3000,
    meanBatch: 60,
    produced: { count: 1, p50: 1, p95: 2, p99: 3, p999: 4, max: 5 },
    visible: { count: 1, p50: 10, p95: 20, p99: 30, p999: 40, max: 50 },
  };
  const row = (scoring: 'exact' | 'ann', eps: number, vsExactScoring: number | null) => ({
    id: modeId({ ...eos, scoring }),
    mode: { ...eos, scoring },
    events: 10_000,
    throughput: spread([eps]),
    runs: [],
    meanBatch: 250,
    latency,
    passthroughRow: null,
    vsPassthrough: null,
    vsKafkaStreams: null,
    vsGemmBound: 0.5,
    vsExactScoring,
  });
  const report: ServeReport = {
    bench: 'serve',
    date: '2026-12-02T01:00:00.000Z',
    minutes: 3,
    quick: false,
    cpu: { model: 'Test CPU', cores: 2 },
    loadAvgBefore: [1, 1, 1],
    loadAvgAfter: [2, 2, 2],
    node: 'v20.0.0',
    broker: 'Apache Kafka 4.1.1',
    clients: {},
    config: { hidden: 100, topK: 20, partitions: 3, batch: { maxSize: 256, maxWaitMs: 10 }, commitIntervalMs: 100, repeats: 1, baseEvents: 100_000, latencySeconds: 6 },
    skipped: [],
    passthrough: [],
    catalogues: [
      {
        nItems: 300_000,
        weights: 'clustered',
        events: 10_000,
        batch: 256,
        gemmBound: spread([2500]),
        engineOnly: spread([2400]),
        engineVsGemmBound: 0.96,
        ann: {
          settings: { library: 'usearch', quantization: 'f16', connectivity: 32, expansionAdd: 256, expansionSearch: 32, buildThreads: 2, searchThreads: 2 },
          buildSeconds: 120.4,
          indexMB: 140,
          engineOnly: spread([12_000]),
          exactEngineOnly: spread([2400]),
          vsExact: 5,
          k: 20,
          recallAtK: 0.95,
          recallLists: 4096,
        },
        serving: [row('exact', 1200, null), row('ann', 3000, 2.5)],
      },
    ],
  };
  const md = markdownReport(report);
  assert.match(md, /\| 300,000 \| engine step alone, exact scoring \(alternated with ANN\) \| 2,400 \|/);
  assert.match(
    md,
    /\| 300,000 \| engine step alone, ANN scoring \(usearch f16, M=32, efAdd=256, ef=32\) \| 12,000 \| 12,000–12,000 \| × exact 5\.00×, recall@20 0\.9500 \(4,096 lists\), index built in 120 s on 2 threads, 140 MB \| \|/,
  );
  assert.match(
    md,
    /\| serving, kafkajs exactly-once, commit every 100 ms, ANN scoring \| 3,000 \| 3,000–3,000 \| ÷ passthrough –, end-to-end\/GEMM 50%, × exact scoring 2\.50× \|/,
  );
  assert.match(md, /clustered, popularity-biased catalogue/);
  assert.doesNotMatch(md, /passthrough \(once per run/);
});
