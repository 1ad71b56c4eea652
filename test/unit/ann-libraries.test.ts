import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnnIndex, ItemMatrix } from '../../src/ann/ann-index.ts';
import { type AnnLibrary, DEFAULT_ANN_SETTINGS, resolveAnnSettings } from '../../src/ann/ann-settings.ts';
import { ExactIndex } from '../../src/ann/exact-index.ts';
import { hnswlibAvailability } from '../../src/ann/hnswlib-index.ts';
import { AnnIndexBuilder } from '../../src/ann/index-builder.ts';
import { syntheticItems, syntheticQueries } from '../../src/ann/synthetic-items.ts';
import { sharedIds } from '../../src/ann/list-recall.ts';

const out = (n: number, k: number) => ({ ids: new Int32Array(n * k), scores: new Float32Array(n * k) });

function recallAgainstExact(ann: AnnIndex, exact: AnnIndex, queries: Float32Array, n: number, k: number): number {
  const a = out(n, k);
  const e = out(n, k);
  ann.search(queries, n, k, a);
  exact.search(queries, n, k, e);
  return sharedIds(e.ids, a.ids, k) / (n * k);
}

/**
 * Items where the bias decides: per query, item A points along the query and item B is A shrunk
 * by 5 % with a bias 0.6 higher, so B wins only through its bias. A clustered background around
 * them; returns each query's B (the true top-1) and A (the top-1 without the bias).
 */
function biasDecidesCase(nQueries: number): { items: ItemMatrix; queries: Float32Array; winners: number[]; dotWinners: number[] } {
  const dim = 32;
  const background = syntheticItems({ count: 3000, dim, seed: 11 });
  const queries = syntheticQueries(background, nQueries, 12);
  const count = background.count + 2 * nQueries;
  const vectors = new Float32Array(count * dim);
  vectors.set(background.vectors);
  const bias = new Float32Array(count);
  bias.set(background.bias);
  const winners: number[] = [];
  const dotWinners: number[] = [];
  for (let r = 0; r < nQueries; r++) {
    const a = background.count + 2 * r;
    const b = a + 1;
    const q = queries.subarray(r * dim, (r + 1) * dim);
    const qNorm = Math.sqrt(q.reduce((s, x) => s + x * x, 0));
    for (let j = 0; j < dim; j++) {
      vectors[a * dim + j] = (2 * q[j]) / qNorm;
      vectors[b * dim + j] = (0.95 * 2 * q[j]) / qNorm;
    }
    bias[a] = 0;
    bias[b] = 0.6;
    winners.push(b);
    dotWinners.push(a);
  }
  return { items: { vectors, bias, count, dim }, queries, winners, dotWinners };
}

async function withBuilder<T>(settings: ConstructorParameters<typeof AnnIndexBuilder>[0], fn: (b: AnnIndexBuilder) => Promise<T>): Promise<T> {
  const builder = new AnnIndexBuilder(settings);
  try {
    return await fn(builder);
  } finally {
    await builder.close();
  }
}

async function checkLibrary(t: { diagnostic(m: string): void }, library: AnnLibrary): Promise<void> {
  const dim = 100;
  const items = syntheticItems({ count: 20_000, dim, seed: 3 });
  const n = 200;
  const k = 20;
  const queries = syntheticQueries(items, n, 4);
  const exact = new ExactIndex(items, 'ip');

  await withBuilder({ library }, async (builder) => {
    const built = await builder.build(items);
    assert.equal(built.mode, 'full');
    assert.equal(built.index.library, library);
    assert.equal(built.index.count, items.count);
    const recall = recallAgainstExact(built.index, exact, queries, n, k);
    const s = builder.settings;
    t.diagnostic(`${library} recall@20 on 20k clustered items (M=${s.connectivity}, efAdd=${s.expansionAdd}, ef=${s.expansionSearch}, ${s.quantization}): ${recall.toFixed(4)}`);
    assert.ok(recall >= 0.95, `recall@20 ${recall} < 0.95`);
    // Reported scores are the model's exact scores of the reported items, best first.
    const a = out(n, k);
    built.index.search(queries, n, k, a);
    for (let r = 0; r < 5; r++) {
      for (let j = 0; j < k; j++) {
        const id = a.ids[r * k + j];
        let score = items.bias[id];
        for (let d = 0; d < dim; d++) score += queries[r * dim + d] * items.vectors[id * dim + d];
        assert.ok(Math.abs(a.scores[r * k + j] - score) < 1e-4, `query ${r} item ${id}: ${a.scores[r * k + j]} vs ${score}`);
        if (j > 0) assert.ok(a.scores[r * k + j] <= a.scores[r * k + j - 1], 'best first');
      }
    }
  });

  const c = biasDecidesCase(40);
  await withBuilder({ library }, async (builder) => {
    const { index } = await builder.build(c.items);
    const exactTop = out(40, 1);
    new ExactIndex(c.items, 'ip').search(c.queries, 40, 1, exactTop);
    const withoutBias = out(40, 1);
    new ExactIndex({ vectors: c.items.vectors, count: c.items.count, dim: c.items.dim }, 'ip').search(c.queries, 40, 1, withoutBias);
    assert.deepEqual(Array.from(exactTop.ids), c.winners);
    assert.deepEqual(Array.from(withoutBias.ids), c.dotWinners, 'without the bias the other item of each pair wins');
    const annTop = out(40, 1);
    index.search(c.queries, 40, 1, annTop);
    assert.deepEqual(Array.from(annTop.ids), c.winners);
  });

  const plain = { vectors: items.vectors, count: items.count, dim };
  await withBuilder({ library, metric: 'cosine' }, async (builder) => {
    const { index } = await builder.build(plain);
    assert.equal(index.metric, 'cosine');
    const recall = recallAgainstExact(index, new ExactIndex(plain, 'cosine'), queries, n, k);
    t.diagnostic(`${library} cosine recall@20: ${recall.toFixed(4)}`);
    assert.ok(recall >= 0.95, `cosine recall@20 ${recall} < 0.95`);
    const a = out(1, k);
    index.search(queries, 1, k, a);
    assert.ok(a.scores[0] > 0 && a.scores[0] <= 1 + 1e-6, `a cosine, got ${a.scores[0]}`);
  });
}

test('usearch (default): recall@20 ≥ 0.95 against exact at the default setting, exact scores, the bias decides the top-1, cosine', async (t) => {
  assert.equal(resolveAnnSettings().library, 'usearch');
  assert.equal(DEFAULT_ANN_SETTINGS.library, 'usearch');
  await checkLibrary(t, 'usearch');
});

const hnswlib = hnswlibAvailability();
test('hnswlib-node (optional): the same checks', { skip: hnswlib.available ? false : `hnswlib-node is absent: ${hnswlib.available ? '' : hnswlib.reason}` }, async (t) => {
  await checkLibrary(t, 'hnswlib');
});
