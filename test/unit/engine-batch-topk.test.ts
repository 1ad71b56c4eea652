import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectRows, takeUnexcludedRows } from '../../src/engine/batch-topk.ts';
import type { ExcludeLists, StepOutput } from '../../src/engine/engine.ts';
import { TopK } from '../../src/model/topk.ts';

const out = (n: number, k: number): StepOutput => ({ topIdx: new Int32Array(n * k).fill(99), topScore: new Float32Array(n * k) });

test('selectRows gives every row of a score matrix its own top-k and its own exclusion list', () => {
  // Three rows of 5 items; row 0 excludes its best item, row 1 nothing, row 2 two items.
  const scores = Float32Array.from([5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 9, 9, 1, 9, 0]);
  const exclude: ExcludeLists = { offsets: Int32Array.from([0, 1, 1, 3]), items: Int32Array.from([0, 1, 3]) };
  const o = out(3, 2);
  selectRows(new TopK(2), 3, scores, 5, o, exclude);
  assert.deepEqual(Array.from(o.topIdx), [1, 2, 4, 3, 0, 2]);
  assert.deepEqual(Array.from(o.topScore), [4, 3, 4, 3, 9, 1]);
});

test('takeUnexcludedRows reads K ranked candidates per row (strided int64 low words) and skips each row’s exclusions', () => {
  // Two rows, K = 3 candidates each, as little-endian int64 ids.
  const ids = BigInt64Array.from([7n, 2n, 5n, 1n, 8n, 3n]);
  const scores = Float32Array.from([0.9, 0.8, 0.7, 0.6, 0.5, 0.4]);
  const exclude: ExcludeLists = { offsets: Int32Array.from([0, 1, 2]), items: Int32Array.from([2, 1]) };
  const o = out(2, 2);
  takeUnexcludedRows(2, new Int32Array(ids.buffer), 2, scores, 3, o, 2, exclude);
  assert.deepEqual(Array.from(o.topIdx), [7, 5, 8, 3]);
  assert.deepEqual(Array.from(o.topScore), Array.from(Float32Array.from([0.9, 0.7, 0.5, 0.4])));
  const plain = out(2, 3);
  takeUnexcludedRows(2, new Int32Array(ids.buffer), 2, scores, 3, plain, 3);
  assert.deepEqual(Array.from(plain.topIdx), [7, 2, 5, 1, 8, 3]);
});
