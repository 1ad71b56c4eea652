import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { DataType, encodeModel } from '../../src/engine/onnx/onnx-proto.ts';
import { foldedTable, MIN_BLOCK, planBlocks, topKGraph, type BlockPlan } from '../../src/engine/onnx/scoring-graph.ts';
import { createOrtEngine } from '../../src/engine/ort-engine.ts';
import type { ExcludeLists, StepOutput } from '../../src/engine/engine.ts';
import type { Gru4RecArch } from '../../src/model/weights.ts';
import { referenceStep, referenceTopK } from '../support/reference-engine.ts';
import { seededRandom, syntheticWeights } from '../support/synthetic-weights.ts';
import { GraphBuilder } from '../../src/engine/onnx/graph-ops.ts';

/** Runs topKGraph alone on a given [B, width] score matrix. */
async function topKOf(scores: Float32Array, rows: number, width: number, k: number, plan: BlockPlan | null): Promise<{ idx: number[]; val: number[] }> {
  const g = new GraphBuilder();
  topKGraph(g, 'scores', k, plan, 'v', 'i');
  const bytes = encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: 'test',
    producerVersion: '1',
    graph: {
      name: 'topk',
      nodes: g.nodes,
      initializers: g.initializers,
      inputs: [{ name: 'scores', elemType: DataType.FLOAT, shape: ['batch', width] }],
      outputs: [
        { name: 'v', elemType: DataType.FLOAT, shape: ['batch', k] },
        { name: 'i', elemType: DataType.INT64, shape: ['batch', k] },
      ],
    },
  });
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1 });
  try {
    const r = await session.run({ scores: new ort.Tensor('float32', scores, [rows, width]) });
    return { idx: Array.from(r.i.data as BigInt64Array, Number), val: Array.from(r.v.data as Float32Array) };
  } finally {
    await session.release();
  }
}

test('planBlocks: block near √(n/k), a divisor of n when one is near, padding only when allowed, none when blocks are short or few', () => {
  assert.deepEqual(planBlocks(300_000, 20, false), { block: 120, blocks: 2_500, width: 300_000 });
  // At 30k items the ideal block (39) is shorter than MIN_BLOCK: one TopK over the row is faster.
  assert.ok(Math.round(Math.sqrt(30_000 / 20)) < MIN_BLOCK);
  assert.equal(planBlocks(30_000, 20, true), null);
  assert.deepEqual(planBlocks(30_000, 20, true, 2), { block: 40, blocks: 750, width: 30_000 });
  // 30,011 is prime: no divisor near √(30011/20) ≈ 39, so pad to a multiple of 39 (or give up).
  assert.deepEqual(planBlocks(30_011, 20, true, 2), { block: 39, blocks: 770, width: 30_030 });
  assert.equal(planBlocks(30_011, 20, false, 2), null);
  // 60 items, k = 20: fewer than 2k blocks, blocking saves nothing.
  assert.equal(planBlocks(60, 20, true, 2), null);
  for (const [n, k] of [
    [3_000, 20],
    [400, 10],
    [1_000_003, 50],
  ]) {
    const p = planBlocks(n, k, true, 2)!;
    assert.ok(p.width >= n && p.width - n < p.block && p.blocks * p.block === p.width && p.blocks >= 2 * k, `${n}/${k}: ${JSON.stringify(p)}`);
  }
});

test('foldedTable: rows [Wy_i | by_i], zero bias column without a bias, padded rows 0 … 0 | −Infinity', () => {
  const Wy = { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) };
  const by = { shape: [2], data: Float32Array.of(0.5, -0.5) };
  assert.deepEqual(Array.from(foldedTable(Wy, by, 3)), [1, 2, 3, 0.5, 4, 5, 6, -0.5, 0, 0, 0, -Infinity]);
  assert.deepEqual(Array.from(foldedTable(Wy, undefined, 2)), [1, 2, 3, 0, 4, 5, 6, 0]);
});

test('blocked top-K equals one TopK over the row, ties to the lower index, on rows full of ties', async () => {
  const rand = seededRandom(21);
  for (const { width, k, coarse } of [
    { width: 600, k: 10, coarse: 0 },
    { width: 600, k: 10, coarse: 4 },
    { width: 2_000, k: 25, coarse: 1 },
    { width: 360, k: 7, coarse: 0 },
  ]) {
    const plan = planBlocks(width, k, false, 2)!;
    assert.ok(plan, `a plan for ${width}/${k}`);
    const rows = 9;
    // coarse > 0: scores drawn from few values, so ties cross block boundaries and the k-th place.
    const scores = new Float32Array(rows * width).map(() => (coarse ? Math.floor(rand() * coarse * 3) / coarse : rand() * 2 - 1));
    // One row where every score is equal: the answer is items 0 … k−1.
    scores.fill(0.25, 0, width);
    const blocked = await topKOf(scores, rows, width, k, plan);
    const plain = await topKOf(scores, rows, width, k, null);
    assert.deepEqual(blocked.idx, plain.idx, `${width}/${k}/${coarse}: blocked vs plain indices`);
    assert.deepEqual(blocked.val, plain.val);
    for (let b = 0; b < rows; b++) assert.deepEqual(blocked.idx.slice(b * k, (b + 1) * k), referenceTopK(scores.subarray(b * width, (b + 1) * width), k), `row ${b}`);
    assert.deepEqual(
      blocked.idx.slice(0, k),
      Array.from({ length: k }, (_, i) => i),
    );
  }
});

test('blocked top-K never returns padding columns (−Infinity), even when real items score −Infinity too', async () => {
  // 41 real items padded to 48 (blocks of 6): the top-3 of a row whose real scores are mostly
  // −Infinity; the padding (41..47) is gathered with block 6 but loses every tie on index.
  const width = 48;
  const k = 3;
  const plan: BlockPlan = { block: 6, blocks: 8, width };
  const scores = new Float32Array(width).fill(-Infinity);
  scores[3] = 1;
  scores[40] = 2;
  const { idx } = await topKOf(scores, 1, width, k, plan);
  assert.deepEqual(idx, [40, 3, 0]);
});

const arch = (nItems: number, useBias: boolean): Gru4RecArch => ({ nItems, embeddingDim: 16, hiddenSizes: [16], constrainedEmbedding: true, useBias });

test('blocked and plain ORT engines give the reference top-K with exclusions, on a padded (prime) and an exact catalogue, with and without bias', async () => {
  const quiet = (): void => undefined;
  // 62,003 is prime: the dot head pads its scores to a multiple of the block size; 61,440 = 64²·15 blocks exactly.
  for (const [nItems, useBias] of [
    [62_003, true],
    [62_003, false],
    [61_440, true],
  ] as const) {
    const plan = planBlocks(nItems, 15, true);
    assert.ok(plan && (nItems === 61_440 ? plan.width === nItems : plan.width > nItems), `plan for ${nItems}: ${JSON.stringify(plan)}`);
    const w = syntheticWeights(arch(nItems, useBias), 8);
    const rand = seededRandom(4);
    const n = 12;
    const items = new Int32Array(n).map(() => Math.floor(rand() * nItems));
    const h0 = new Float32Array(n * 16).map(() => rand() - 0.5);
    const ref = referenceStep(w, n, items, [h0]);
    const exclude: ExcludeLists = { offsets: new Int32Array(n + 1).map((_, b) => b * 5), items: new Int32Array(n * 5) };
    for (let b = 0; b < n; b++) {
      // Exclude each row's own best items 1, 3, 5 and two random ones.
      const top = referenceTopK(ref.scores.subarray(b * nItems, (b + 1) * nItems), 6);
      exclude.items.set([top[1], top[3], top[5], Math.floor(rand() * nItems), Math.floor(rand() * nItems)], b * 5);
    }
    const outs: StepOutput[] = [];
    for (const scoring of ['blocked', 'plain'] as const) {
      const e = await createOrtEngine(w, { topK: 10, maxExclude: 5, maxBatch: n, providers: ['cpu'], intraOpNumThreads: 1, scoring, log: quiet });
      const out: StepOutput = { topIdx: new Int32Array(n * 10), topScore: new Float32Array(n * 10) };
      await e.step(n, items, [h0.slice()], out, exclude);
      await e.dispose();
      for (let b = 0; b < n; b++) {
        const row = ref.scores.subarray(b * nItems, (b + 1) * nItems);
        const expected = referenceTopK(row, 10, exclude.items.subarray(b * 5, (b + 1) * 5));
        assert.deepEqual(Array.from(out.topIdx.subarray(b * 10, (b + 1) * 10)), expected, `${scoring} ${nItems} bias=${useBias} row ${b}`);
        for (let j = 0; j < 10; j++) assert.ok(Math.abs(out.topScore[b * 10 + j] - row[expected[j]]) < 1e-5);
      }
      outs.push(out);
    }
    assert.deepEqual(outs[0].topIdx, outs[1].topIdx);
  }
});
