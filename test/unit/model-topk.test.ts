import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TopK, takeUnexcluded } from '../../src/model/topk.ts';
import { referenceTopK } from '../support/reference-engine.ts';
import { seededRandom } from '../support/synthetic-weights.ts';

/** Scores drawn from few distinct values, so ties are everywhere (including at the k-th place). */
function tiedRow(rand: () => number, n: number, levels: number): Float32Array {
  const row = new Float32Array(n);
  for (let i = 0; i < n; i++) row[i] = Math.floor(rand() * levels) / levels - 0.5;
  return row;
}

test('TopK.selectRow matches a full sort (score desc, ties by lower index) on random rows with ties', () => {
  const rand = seededRandom(7);
  for (const [n, k, levels] of [
    [1000, 20, 13],
    [50, 50, 3],
    [5000, 1, 2],
    [300, 7, 1000],
    [64, 10, 1],
  ]) {
    const sel = new TopK(k);
    const row = tiedRow(rand, n, levels);
    const idx = new Int32Array(k),
      score = new Float32Array(k);
    const found = sel.selectRow(row, 0, n, idx, score, 0);
    const expected = referenceTopK(row, k);
    assert.equal(found, expected.length);
    assert.deepEqual(Array.from(idx), expected, `n=${n} k=${k} levels=${levels}`);
    assert.deepEqual(
      Array.from(score),
      expected.map((i) => row[i]),
    );
  }
});

test('TopK.selectRow reads a row out of a batch matrix and writes at an output offset', () => {
  const rand = seededRandom(11);
  const rows = 4,
    n = 200,
    k = 5;
  const mat = tiedRow(rand, rows * n, 50);
  const sel = new TopK(k);
  const idx = new Int32Array(rows * k),
    score = new Float32Array(rows * k);
  for (let b = 0; b < rows; b++) sel.selectRow(mat, b * n, n, idx, score, b * k);
  for (let b = 0; b < rows; b++) {
    const expected = referenceTopK(mat.subarray(b * n, (b + 1) * n), k);
    assert.deepEqual(Array.from(idx.subarray(b * k, (b + 1) * k)), expected);
  }
});

test('TopK.selectRow skips excluded items, including ones that would rank first', () => {
  const rand = seededRandom(3);
  const n = 500,
    k = 10;
  const row = tiedRow(rand, n, 40);
  const top = referenceTopK(row, 3);
  const exclude = Int32Array.from([top[0], top[2], 499, 17, top[0]]);
  const idx = new Int32Array(k),
    score = new Float32Array(k);
  new TopK(k).selectRow(row, 0, n, idx, score, 0, exclude, 0, exclude.length);
  assert.deepEqual(Array.from(idx), referenceTopK(row, k, exclude));
  for (const e of exclude) assert.ok(!idx.includes(e), `excluded item ${e} returned`);
});

test('TopK.selectRow pads with -1/-Infinity when fewer items are eligible than k, and ignores NaN', () => {
  const row = Float32Array.from([0.5, NaN, 2, -1, NaN]);
  const idx = new Int32Array(6).fill(99),
    score = new Float32Array(6);
  const found = new TopK(6).selectRow(row, 0, row.length, idx, score, 0, Int32Array.from([3]), 0, 1);
  assert.equal(found, 2);
  assert.deepEqual(Array.from(idx), [2, 0, -1, -1, -1, -1]);
  assert.deepEqual(Array.from(score), [2, 0.5, -Infinity, -Infinity, -Infinity, -Infinity]);
});

test('TopK refuses a non-positive k', () => {
  assert.throws(() => new TopK(0), /positive integer/);
});

test('TopK.selectRow keeps -Infinity scores while the list is not full (as ONNX TopK), after every finite one', () => {
  const row = Float32Array.from([-Infinity, 1, -Infinity, 0]);
  const idx = new Int32Array(3),
    score = new Float32Array(3);
  assert.equal(new TopK(3).selectRow(row, 0, row.length, idx, score, 0), 3);
  assert.deepEqual(Array.from(idx), [1, 3, 0]);
  assert.deepEqual(Array.from(score), [1, 0, -Infinity]);
});

test('TopK.selectRow forgets what an earlier row or offer() left in the heap', () => {
  const sel = new TopK(2);
  sel.offer(100, 7);
  const idx = new Int32Array(2),
    score = new Float32Array(2);
  sel.selectRow(Float32Array.from([5, 9, 9, 1]), 0, 4, idx, score, 0);
  assert.deepEqual(Array.from(idx), [1, 2]);
  sel.selectRow(Float32Array.from([0, 0, 3]), 0, 3, idx, score, 0);
  assert.deepEqual(Array.from(idx), [2, 0]);
});

test('TopK.offer in any order keeps the k best (ties by lower index), sortDescending lists them best first', () => {
  const rand = seededRandom(5);
  for (const [n, k, levels] of [
    [400, 15, 9],
    [30, 30, 2],
    [100, 1, 1],
  ]) {
    const row = tiedRow(rand, n, levels);
    // A random offer order: the result must not depend on it (the kNN baselines offer unordered candidates).
    const order = Array.from({ length: n }, (_, i) => i).sort(() => rand() - 0.5);
    const top = new TopK(k);
    for (const i of order) top.offer(row[i], i);
    assert.equal(top.size, Math.min(k, n));
    top.sortDescending();
    const expected = referenceTopK(row, k);
    assert.deepEqual(Array.from(top.indices.subarray(0, top.size)), expected, `n=${n} k=${k} levels=${levels}`);
    assert.deepEqual(
      Array.from(top.values.subarray(0, top.size)),
      expected.map((i) => row[i]),
    );
  }
});

test('TopK keeps float64 values exactly, ignores NaN offers, and reports the entry threshold', () => {
  const top = new TopK(2);
  assert.equal(top.threshold, -Infinity);
  top.offer(0.1 + 0.2, 4);
  top.offer(NaN, 1);
  assert.equal(top.size, 1);
  assert.equal(top.threshold, -Infinity);
  top.offer(1 / 3, 2);
  assert.equal(top.threshold, 0.1 + 0.2);
  top.offer(0.1, 0);
  top.sortDescending();
  assert.deepEqual(Array.from(top.values), [1 / 3, 0.1 + 0.2]);
  assert.deepEqual(Array.from(top.indices), [2, 4]);
  top.clear();
  assert.equal(top.size, 0);
  assert.equal(top.threshold, -Infinity);
});

test('takeUnexcluded keeps the ranked candidates that are not excluded, reading strided int64 low words', () => {
  const cand = BigInt64Array.from([9n, 4n, 7n, 1n, 3n]);
  const words = new Int32Array(cand.buffer);
  const scores = Float32Array.from([5, 4, 3, 2, 1]);
  const outIdx = new Int32Array(3),
    outScore = new Float32Array(3);
  const exclude = Int32Array.from([100, 4, 1]);
  const written = takeUnexcluded(words, 0, 2, scores, 0, 5, 3, outIdx, outScore, 0, exclude, 1, 3);
  assert.equal(written, 3);
  assert.deepEqual(Array.from(outIdx), [9, 7, 3]);
  assert.deepEqual(Array.from(outScore), [5, 3, 1]);
  const few = takeUnexcluded(words, 0, 2, scores, 0, 2, 3, outIdx, outScore, 0, exclude, 0, 3);
  assert.equal(few, 1);
  assert.deepEqual(Array.from(outIdx), [9, -1, -1]);
});
