import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { stateSizes, type Gru4RecArch, type Gru4RecWeights } from '../../src/model/weights.ts';
import type { ExcludeLists, InferenceEngine, StepOutput } from '../../src/engine/engine.ts';
import { createOrtEngine } from '../../src/engine/ort-engine.ts';
import { createTfjsEngine } from '../../src/engine/tfjs-engine.ts';
import { initBackend } from '../../src/model/backend.ts';
import { createEngine, DEFAULT_ENGINE } from '../../src/engine/create-engine.ts';
import { referenceStep, referenceTopK } from '../support/reference-engine.ts';
import { syntheticWeights, seededRandom } from '../support/synthetic-weights.ts';

const quiet = (): void => {};
const TOPK = 10;

before(async () => {
  await initBackend('wasm', () => undefined);
});

const VARIANTS: Array<{ label: string; arch: Gru4RecArch }> = [];
for (const hiddenSizes of [[24], [24, 16]]) {
  const last = hiddenSizes[hiddenSizes.length - 1];
  VARIANTS.push({ label: `one-hot ${hiddenSizes.length}L`, arch: { nItems: 400, embeddingDim: 0, hiddenSizes, constrainedEmbedding: false, useBias: true } });
  VARIANTS.push({ label: `embedding ${hiddenSizes.length}L`, arch: { nItems: 400, embeddingDim: 12, hiddenSizes, constrainedEmbedding: false, useBias: true } });
  VARIANTS.push({ label: `constrained ${hiddenSizes.length}L`, arch: { nItems: 400, embeddingDim: last, hiddenSizes, constrainedEmbedding: true, useBias: false } });
}

// The LSTM cells through every engine: one-hot input (Wx0 rows of 4H / 5H), embedding, constrained; 1 and 2 layers.
for (const cell of ['lstm', 'mlstm'] as const) {
  VARIANTS.push({ label: `${cell} one-hot 1L`, arch: { cell, nItems: 400, embeddingDim: 0, hiddenSizes: [24], constrainedEmbedding: false, useBias: true } });
  VARIANTS.push({ label: `${cell} embedding 2L`, arch: { cell, nItems: 400, embeddingDim: 12, hiddenSizes: [24, 16], constrainedEmbedding: false, useBias: true } });
  VARIANTS.push({ label: `${cell} constrained 2L`, arch: { cell, nItems: 400, embeddingDim: 16, hiddenSizes: [24, 16], constrainedEmbedding: true, useBias: false } });
}

function randomHidden(rand: () => number, n: number, sizes: readonly number[]): Float32Array[] {
  return sizes.map((H) => new Float32Array(n * H).map(() => (2 * rand() - 1) * 0.8));
}

function randomItems(rand: () => number, n: number, nItems: number): Int32Array {
  return new Int32Array(n).map(() => Math.floor(rand() * nItems));
}

const newOut = (n: number, k = TOPK): StepOutput => ({ topIdx: new Int32Array(n * k), topScore: new Float32Array(n * k) });

/**
 * Engine top-K against the float64 reference: each index must carry its reference score (1e-4),
 * and the list must equal the reference ranking, except that a swap of two items whose reference
 * scores differ by < 1e-5 (closer than float32 can resolve) is tolerated.
 */
function assertTopKMatches(label: string, out: StepOutput, refScores: Float64Array, nItems: number, n: number, k: number, exclude?: ExcludeLists): void {
  for (let b = 0; b < n; b++) {
    const row = refScores.subarray(b * nItems, (b + 1) * nItems);
    const ex = exclude ? Array.from(exclude.items.subarray(exclude.offsets[b], exclude.offsets[b + 1])) : [];
    const expected = referenceTopK(row, k, ex);
    for (let j = 0; j < k; j++) {
      const got = out.topIdx[b * k + j];
      assert.ok(Math.abs(out.topScore[b * k + j] - row[got]) < 1e-4, `${label} row ${b} pos ${j}: score ${out.topScore[b * k + j]} vs reference ${row[got]}`);
      if (got !== expected[j]) {
        assert.ok(Math.abs(row[got] - row[expected[j]]) < 1e-5, `${label} row ${b} pos ${j}: item ${got}, reference ranks ${expected[j]} there`);
      }
      assert.ok(!ex.includes(got), `${label} row ${b}: excluded item ${got} returned`);
    }
  }
}

function assertHiddenMatches(label: string, got: Float32Array[], ref: Float64Array[]): void {
  ref.forEach((r, l) => {
    let worst = 0;
    for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(got[l][i] - r[i]));
    assert.ok(worst < 1e-5, `${label}: layer ${l} hidden differs from reference by ${worst}`);
  });
}

async function engines(w: Gru4RecWeights, opts: { maxExclude?: number; maxBatch?: number; outputScores?: boolean } = {}): Promise<InferenceEngine[]> {
  const common = { topK: TOPK, maxBatch: 32, ...opts };
  return [
    await createOrtEngine(w, { ...common, providers: ['cpu'], intraOpNumThreads: 1, log: quiet }),
    await createTfjsEngine(w, { ...common, topkMode: 'tf' }),
    await createTfjsEngine(w, { ...common, topkMode: 'js' }),
  ];
}

for (const { label, arch } of VARIANTS) {
  test(`engines equal the float64 reference: ${label}, three steps with carried state`, async () => {
    const w = syntheticWeights(arch, 17);
    const rand = seededRandom(99);
    const n = 6;
    const engs = await engines(w);
    try {
      const start = randomHidden(rand, n, stateSizes(arch));
      const states = engs.map(() => start.map((h) => h.slice()));
      for (let s = 0; s < 3; s++) {
        const items = randomItems(rand, n, arch.nItems);
        // The reference continues from each engine's own state, so float32 drift never accumulates.
        for (let e = 0; e < engs.length; e++) {
          const ref = referenceStep(w, n, items, states[e]);
          const out = newOut(n);
          await engs[e].step(n, items, states[e], out);
          assertHiddenMatches(`${engs[e].name}/${label} step ${s}`, states[e], ref.hidden);
          assertTopKMatches(`${engs[e].name}/${label} step ${s}`, out, ref.scores, arch.nItems, n, TOPK);
        }
      }
      // Same inputs, same engines: the two engines agree with each other directly too.
      for (let l = 0; l < arch.hiddenSizes.length; l++) {
        for (let i = 0; i < states[0][l].length; i++) assert.ok(Math.abs(states[0][l][i] - states[1][l][i]) < 2e-5, `ort vs tfjs layer ${l} [${i}]`);
      }
    } finally {
      for (const e of engs) await e.dispose();
    }
  });
}

test('batch size varies from call to call (1, 32, 7, 1) on the same engines and buffers', async () => {
  const arch = VARIANTS[1].arch;
  const w = syntheticWeights(arch, 4);
  const rand = seededRandom(5);
  const engs = await engines(w);
  const maxN = 32;
  const hidden = arch.hiddenSizes.map((H) => new Float32Array(maxN * H));
  const items = new Int32Array(maxN);
  const out = newOut(maxN);
  try {
    for (const n of [1, 32, 7, 1]) {
      for (const e of engs) {
        items.set(randomItems(rand, n, arch.nItems));
        const before = randomHidden(rand, n, arch.hiddenSizes);
        before.forEach((h, l) => hidden[l].set(h));
        // Rows past n must be left alone: mark them and check afterwards.
        hidden.forEach((h) => h.fill(7, n * arch.hiddenSizes[0]));
        const ref = referenceStep(w, n, items, before);
        await e.step(n, items, hidden, out);
        assertHiddenMatches(
          `${e.name} n=${n}`,
          hidden.map((h, l) => h.subarray(0, n * arch.hiddenSizes[l])),
          ref.hidden,
        );
        assertTopKMatches(`${e.name} n=${n}`, out, ref.scores, arch.nItems, n, TOPK);
        assert.ok(
          hidden[0].subarray(n * arch.hiddenSizes[0]).every((v) => v === 7),
          `${e.name} n=${n} wrote past row n`,
        );
      }
    }
  } finally {
    for (const e of engs) await e.dispose();
  }
});

test('exclusion: excluded items (recent history) never appear and the next best move up', async () => {
  const arch = VARIANTS[0].arch;
  const w = syntheticWeights(arch, 8);
  const rand = seededRandom(21);
  const n = 5,
    maxExclude = 6;
  const engs = await engines(w, { maxExclude });
  try {
    const items = randomItems(rand, n, arch.nItems);
    const start = randomHidden(rand, n, arch.hiddenSizes);
    const ref = referenceStep(w, n, items, start);
    // Row 0 excludes its own top 6, row 1 nothing, row 2 its #1 and #3 plus items outside its top,
    // row 3 its current item, row 4 a duplicate entry.
    const lists: number[][] = [];
    for (let b = 0; b < n; b++) {
      const top = referenceTopK(ref.scores.subarray(b * arch.nItems, (b + 1) * arch.nItems), 12);
      lists.push([top.slice(0, 6), [], [top[0], top[2], 399, 0], [items[3]], [top[1], top[1]]][b]);
    }
    const offsets = new Int32Array(n + 1);
    lists.forEach((l, b) => (offsets[b + 1] = offsets[b] + l.length));
    const exclude: ExcludeLists = { offsets, items: Int32Array.from(lists.flat()) };
    for (const e of engs) {
      const hidden = start.map((h) => h.slice());
      const out = newOut(n);
      await e.step(n, items, hidden, out, exclude);
      assertTopKMatches(`${e.name} exclusion`, out, ref.scores, arch.nItems, n, TOPK, exclude);
    }
    const tooMany: ExcludeLists = { offsets: Int32Array.from([0, 7, 7, 7, 7, 7]), items: new Int32Array(7) };
    await assert.rejects(
      engs[0].step(
        n,
        items,
        start.map((h) => h.slice()),
        newOut(n),
        tooMany,
      ),
      /excludes 7 items, maxExclude is 6/,
    );
  } finally {
    for (const e of engs) await e.dispose();
  }
});

test('a tiny catalogue with heavy exclusion pads the top-K with -1', async () => {
  const arch: Gru4RecArch = { nItems: 12, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true };
  const w = syntheticWeights(arch, 2);
  const engs = await engines(w, { maxExclude: 5 });
  try {
    for (const e of engs) {
      const out = newOut(1);
      await e.step(1, Int32Array.from([3]), [new Float32Array(8)], out, { offsets: Int32Array.from([0, 5]), items: Int32Array.from([0, 1, 2, 3, 4]) });
      const idx = Array.from(out.topIdx);
      assert.deepEqual(idx.slice(7), [-1, -1, -1], `${e.name}: ${idx}`);
      assert.deepEqual(
        [...idx.slice(0, 7)].sort((a, b) => a - b),
        [5, 6, 7, 8, 9, 10, 11],
        `${e.name}: ${idx}`,
      );
    }
  } finally {
    for (const e of engs) await e.dispose();
  }
});

test('outputScores fills the full score matrix on both engines', async () => {
  const arch = VARIANTS[5].arch;
  const w = syntheticWeights(arch, 12);
  const rand = seededRandom(1);
  const n = 4;
  const engs = await engines(w, { outputScores: true });
  try {
    const items = randomItems(rand, n, arch.nItems);
    const start = randomHidden(rand, n, arch.hiddenSizes);
    const ref = referenceStep(w, n, items, start);
    for (const e of engs) {
      const out: StepOutput = { ...newOut(n), scores: new Float32Array(n * arch.nItems).fill(NaN) };
      await e.step(
        n,
        items,
        start.map((h) => h.slice()),
        out,
      );
      let worst = 0;
      for (let i = 0; i < ref.scores.length; i++) worst = Math.max(worst, Math.abs(out.scores![i] - ref.scores[i]));
      assert.ok(worst < 1e-4, `${e.name}: scores differ from reference by ${worst}`);
    }
  } finally {
    for (const e of engs) await e.dispose();
  }
});

test('engines refuse bad weights and bad step arguments with clear messages', async () => {
  const arch = VARIANTS[0].arch;
  const w = syntheticWeights(arch, 3);
  const bad = { ...w, tensors: { ...w.tensors, 'gru0.Wrz': { shape: [24, 24], data: new Float32Array(24 * 24) } } };
  await assert.rejects(createOrtEngine(bad, { topK: TOPK, log: quiet }), /"gru0\.Wrz" has shape \[24,24\], expected \[24,48\]/);
  await assert.rejects(createTfjsEngine(bad, { topK: TOPK }), /"gru0\.Wrz" has shape/);
  await assert.rejects(createOrtEngine(w, { topK: TOPK, providers: [], log: quiet }), /at least one provider/);

  const engs = await engines(w, { maxBatch: 4 });
  try {
    for (const e of engs) {
      const h = [new Float32Array(4 * 24)];
      await assert.rejects(e.step(5, new Int32Array(5), [new Float32Array(5 * 24)], newOut(5)), /batch size 5 outside \[1, maxBatch=4\]/);
      await assert.rejects(e.step(2, Int32Array.from([1, 400]), h, newOut(2)), /items\[1\] = 400 outside the catalogue/);
      await assert.rejects(e.step(2, Int32Array.from([1, -3]), h, newOut(2)), /items\[1\] = -3/);
      await assert.rejects(e.step(2, Int32Array.from([1, 2]), [new Float32Array(24)], newOut(2)), /hidden\[0\] holds 24 values/);
      await assert.rejects(e.step(2, Int32Array.from([1, 2]), h, newOut(1)), /out\.topIdx/);
    }
    await engs[0].dispose();
    await assert.rejects(engs[0].step(1, Int32Array.from([1]), [new Float32Array(24)], newOut(1)), /after dispose/);
  } finally {
    for (const e of engs) await e.dispose();
  }
});

test('the ORT engine falls back to CPU when CUDA is not there, and says so', async () => {
  const w = syntheticWeights(VARIANTS[0].arch, 3);
  const messages: string[] = [];
  const e = await createOrtEngine(w, { topK: TOPK, providers: ['cuda', 'cpu'], intraOpNumThreads: 1, log: (m) => messages.push(m) });
  try {
    assert.equal(messages.length, 1);
    assert.match(messages[0], new RegExp(`running on ${e.provider}`));
    assert.equal(e.name, `ort-${e.provider}`);
    if (e.provider === 'cpu') assert.match(messages[0], /skipped cuda/);
  } finally {
    await e.dispose();
  }
});

test('items with identical scores come out in ascending index order on every engine', async () => {
  const arch: Gru4RecArch = { nItems: 300, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true };
  const w = syntheticWeights(arch, 31);
  const Wy = w.tensors['out.Wy'].data,
    by = w.tensors['out.by'].data;
  // Four copies of one output row with a bias that puts them above every other item.
  const twins = [7, 8, 150, 299];
  by[twins[0]] = 10;
  for (const t of twins.slice(1)) {
    Wy.copyWithin(t * 16, twins[0] * 16, (twins[0] + 1) * 16);
    by[t] = by[twins[0]];
  }
  const rand = seededRandom(77);
  const n = 3;
  const engs = await engines(w);
  try {
    const items = randomItems(rand, n, arch.nItems);
    const start = randomHidden(rand, n, arch.hiddenSizes);
    for (const e of engs) {
      const out = newOut(n);
      await e.step(
        n,
        items,
        start.map((h) => h.slice()),
        out,
      );
      for (let b = 0; b < n; b++) {
        assert.deepEqual(Array.from(out.topIdx.subarray(b * TOPK, b * TOPK + 4)), twins, `${e.name} row ${b}`);
        const s = out.topScore.subarray(b * TOPK, b * TOPK + 4);
        assert.ok(
          s.every((v) => v === s[0]),
          `${e.name} row ${b}: twin scores ${Array.from(s)} not identical`,
        );
      }
    }
  } finally {
    for (const e of engs) await e.dispose();
  }
});

test('the ORT engine refuses overlapping steps instead of corrupting its scratch buffers', async () => {
  const arch = VARIANTS[0].arch;
  const w = syntheticWeights(arch, 3);
  const e = await createOrtEngine(w, { topK: TOPK, maxBatch: 2, providers: ['cpu'], intraOpNumThreads: 1, log: quiet });
  try {
    const first = e.step(1, Int32Array.from([1]), [new Float32Array(24)], newOut(1));
    await assert.rejects(e.step(1, Int32Array.from([2]), [new Float32Array(24)], newOut(1)), /previous step is still running/);
    await first;
    // Once the first step is done, the engine takes the next one.
    const out = newOut(1);
    await e.step(1, Int32Array.from([2]), [new Float32Array(24)], out);
    assert.ok(out.topIdx.every((i) => i >= 0 && i < arch.nItems));
  } finally {
    await e.dispose();
  }
});

test('createEngine builds the default (ORT) engine and tfjs on request', async () => {
  const w = syntheticWeights(VARIANTS[2].arch, 6);
  const def = await createEngine(w, { topK: TOPK, intraOpNumThreads: 1, log: quiet });
  const tfe = await createEngine(w, { kind: 'tfjs', topK: TOPK, log: quiet });
  try {
    assert.equal(DEFAULT_ENGINE, 'ort');
    assert.match(def.name, /^ort-/);
    assert.match(tfe.name, /^tfjs-/);
    const a = newOut(2),
      b = newOut(2);
    const items = Int32Array.from([3, 250]);
    await def.step(2, items, [new Float32Array(2 * 24)], a);
    await tfe.step(2, items, [new Float32Array(2 * 24)], b);
    assert.deepEqual(Array.from(a.topIdx), Array.from(b.topIdx));
    await assert.rejects(createEngine(w, { topK: 0, log: quiet }), /topK must be an integer/);
  } finally {
    await def.dispose();
    await tfe.dispose();
  }
});

test('encode() advances hidden states exactly as step() does, without scoring, on both engines and every architecture', async () => {
  for (const { label, arch } of VARIANTS) {
    const weights = syntheticWeights(arch, 7);
    const rand = seededRandom(11);
    const n = 9;
    const items = randomItems(rand, n, arch.nItems);
    const h0 = randomHidden(rand, n, stateSizes(arch));
    const ref = referenceStep(weights, n, items, h0);
    for (const engine of [
      await createOrtEngine(weights, { topK: TOPK, maxBatch: 16, providers: ['cpu'], log: quiet }),
      await createTfjsEngine(weights, { topK: TOPK, maxBatch: 16 }),
    ]) {
      try {
        const viaEncode = h0.map((h) => Float32Array.from(h));
        await engine.encode(n, items, viaEncode);
        assertHiddenMatches(`${engine.name} ${label} encode`, viaEncode, ref.hidden);
        const viaStep = h0.map((h) => Float32Array.from(h));
        await engine.step(n, items, viaStep, newOut(n));
        viaEncode.forEach((h, l) => assert.deepEqual(h, viaStep[l], `${engine.name} ${label}: layer ${l} of encode equals step's`));
        await assert.rejects(engine.encode(1, Int32Array.of(arch.nItems), viaEncode), /outside the catalogue/);
      } finally {
        await engine.dispose();
      }
    }
  }
});
