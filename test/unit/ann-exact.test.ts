import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BestK } from '../../src/ann/best-k.ts';
import { ExactIndex } from '../../src/ann/exact-index.ts';
import { indexedQueries, searchSpaceFor, writeItemRows } from '../../src/ann/search-space.ts';
import { syntheticItems, syntheticQueries } from '../../src/ann/synthetic-items.ts';

const out = (n: number, k: number) => ({ ids: new Int32Array(n * k), scores: new Float32Array(n * k) });

test('BestK keeps the k highest scores best first, breaks ties by the lower id, never takes NaN, pads with −1/−Infinity', () => {
  const best = new BestK(3);
  for (const [s, id] of [
    [1, 5],
    [3, 9],
    [NaN, 0],
    [3, 2],
    [0.5, 1],
    [2, 7],
  ])
    best.offer(s, id);
  const o = out(1, 3);
  assert.equal(best.drainInto(o.ids, o.scores, 0), 3);
  assert.deepEqual(Array.from(o.ids), [2, 9, 7]);
  assert.deepEqual(Array.from(o.scores), [3, 3, 2]);
  best.offer(1, 4);
  assert.equal(best.drainInto(o.ids, o.scores, 0), 1);
  assert.deepEqual(Array.from(o.ids), [4, -1, -1]);
  assert.deepEqual(Array.from(o.scores), [1, -Infinity, -Infinity]);
});

test('the exact index ranks by q·v + b for ip and by cosine for cosine, matching a direct computation', () => {
  const items = syntheticItems({ count: 500, dim: 12, seed: 5 });
  const n = 7;
  const k = 10;
  const queries = syntheticQueries(items, n, 6);
  const ip = out(n, k);
  new ExactIndex(items, 'ip').search(queries, n, k, ip);
  const cos = out(n, k);
  new ExactIndex({ vectors: items.vectors, count: items.count, dim: items.dim }, 'cosine').search(queries, n, k, cos);
  for (let r = 0; r < n; r++) {
    const q = queries.subarray(r * 12, (r + 1) * 12);
    const dot = (i: number) => q.reduce((s, x, j) => s + x * items.vectors[i * 12 + j], 0);
    const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
    const all = Array.from({ length: items.count }, (_, i) => i);
    const ipOrder = [...all].sort((a, b) => dot(b) + items.bias[b] - (dot(a) + items.bias[a]) || a - b).slice(0, k);
    const cosOf = (i: number) => dot(i) / (norm(q) * norm(items.vectors.subarray(i * 12, (i + 1) * 12)));
    const cosOrder = [...all].sort((a, b) => cosOf(b) - cosOf(a) || a - b).slice(0, k);
    assert.deepEqual(Array.from(ip.ids.subarray(r * k, (r + 1) * k)), ipOrder);
    assert.deepEqual(Array.from(cos.ids.subarray(r * k, (r + 1) * k)), cosOrder);
    assert.ok(Math.abs(ip.scores[r * k] - (dot(ipOrder[0]) + items.bias[ipOrder[0]])) < 1e-5);
    assert.ok(Math.abs(cos.scores[r * k] - cosOf(cosOrder[0])) < 1e-6);
  }
  // The two metrics disagree on this data (norms and biases differ across items), so each was really checked.
  assert.notDeepEqual(Array.from(ip.ids), Array.from(cos.ids));
});

test('the bias fold makes the library inner product equal the model score minus one constant', () => {
  const items = syntheticItems({ count: 300, dim: 6, seed: 8 });
  const space = searchSpaceFor(items, 'ip', 2);
  assert.equal(space.dim, 7);
  assert.ok(space.folded);
  const rows = new Float32Array(items.count * space.dim);
  writeItemRows(space, items, 0, items.count, rows);
  const queries = syntheticQueries(items, 4, 9);
  const q = indexedQueries(space, queries, 4, new Float32Array(4 * space.dim));
  for (let r = 0; r < 4; r++) {
    for (let i = 0; i < items.count; i += 37) {
      let lib = 0;
      let model = items.bias[i];
      for (let j = 0; j < space.dim; j++) lib += q[r * space.dim + j] * rows[i * space.dim + j];
      for (let j = 0; j < 6; j++) model += queries[r * 6 + j] * items.vectors[i * 6 + j];
      assert.ok(Math.abs(lib - (model - space.biasShift)) < 1e-5, `query ${r} item ${i}: ${lib} vs ${model} − ${space.biasShift}`);
    }
  }
  // Cosine has nothing to fold and passes the caller's vectors through.
  const plain = { vectors: items.vectors, count: items.count, dim: items.dim };
  const cos = searchSpaceFor(plain, 'cosine');
  assert.equal(cos.dim, 6);
  assert.equal(indexedQueries(cos, queries, 4, new Float32Array(0)), queries);
  assert.throws(() => new ExactIndex(items, 'cosine'), /cosine alone/);
});
