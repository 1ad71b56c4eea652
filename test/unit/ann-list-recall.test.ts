import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sharedIds } from '../../src/ann/list-recall.ts';

test('sharedIds counts, row by row, the ids a list shares with the truth whatever their order; rows never mix', () => {
  // Row 0 shares 2 and 1 (order ignored); row 1 shares only 7: its 3 is row 0's, not its own.
  assert.equal(sharedIds(Int32Array.of(1, 2, 3, 7, 8, 9), Int32Array.of(2, 1, 4, 3, 7, 5), 3), 3);
  assert.equal(sharedIds([5, 6], [5, 6], 2), 2);
  assert.throws(() => sharedIds([1, 2, 3], [1, 2], 1), /lists of 3 and 2 ids are not rows of 1/);
  assert.throws(() => sharedIds([1, 2, 3], [1, 2, 3], 2), /not rows of 2/);
});
