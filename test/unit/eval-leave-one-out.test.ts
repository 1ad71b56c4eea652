import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionData } from '../../src/data/sessions.ts';
import { sessions as sessionsOf } from '../support/sessions.ts';
import type { SessionScorer } from '../../src/eval/scorer.ts';
import { evaluateLeaveOneOut, lastEventMask, leaveOneOutSplit } from '../../src/eval/leave-one-out.ts';

const sessions = (list: number[][]) => sessionsOf(list, 'u');

function lists(d: SessionData): number[][] {
  const out: number[][] = [];
  for (let s = 0; s + 1 < d.offsets.length; s++) out.push([...d.items.subarray(d.offsets[s], d.offsets[s + 1])]);
  return out;
}

const USERS = [
  [0, 1, 2, 3],
  [4, 5, 6],
  [7, 8],
];

test('leaveOneOutSplit holds out the last two items of users with at least three', () => {
  const split = leaveOneOutSplit(sessions(USERS));
  assert.deepEqual([...split.users], [0, 1]);
  assert.deepEqual(lists(split.train), [[0, 1], [4], [7, 8]], 'short users train whole');
  assert.deepEqual(split.train.sessionIds, ['u0', 'u1', 'u2']);
  assert.deepEqual(lists(split.valid), [
    [0, 1, 2],
    [4, 5],
  ]);
  assert.deepEqual(lists(split.test), [
    [0, 1, 2, 3],
    [4, 5, 6],
  ]);
  assert.deepEqual(split.test.sessionIds, ['u0', 'u1']);
  assert.deepEqual([...lastEventMask(split.test)], [0, 0, 0, 1, 0, 0, 1]);
});

/** Records every (prefix, ranked?) it sees; scores item (last + 1) highest. */
class NextIdScorer implements SessionScorer {
  readonly name = 'next-id';
  readonly fed: number[] = [];
  constructor(readonly nItems: number) {}
  reset(): void {}
  step(n: number, _slots: Int32Array, items: Int32Array, out: Float32Array): void {
    for (let b = 0; b < n; b++) {
      this.fed.push(items[b]);
      out.fill(0, b * this.nItems, (b + 1) * this.nItems);
      out[b * this.nItems + ((items[b] + 1) % this.nItems)] = 1;
    }
  }
}

test('evaluateLeaveOneOut feeds each prefix and ranks only the held-out target', async () => {
  // u0 = 0 1 2 3 is predictable by "next id", u1 = 4 5 9 is not at its end; u2 is too short.
  const data = sessions([
    [0, 1, 2, 3],
    [4, 5, 9],
    [7, 8],
  ]);
  const scorer = new NextIdScorer(10);
  const t = await evaluateLeaveOneOut(scorer, data, { target: 'test', cutoffs: [1] });
  assert.equal(t.events, 2);
  assert.equal(t.recall[1], 1 / 2);
  assert.deepEqual(scorer.fed.sort(), [0, 1, 2, 4, 5].sort(), 'prefixes without their targets');
  const v = await evaluateLeaveOneOut(new NextIdScorer(10), data, { target: 'valid', cutoffs: [1] });
  // Validation targets 2 (after 0 1) and 5 (after 4): both predictable.
  assert.equal(v.events, 2);
  assert.equal(v.recall[1], 1);
});
