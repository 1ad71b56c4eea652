import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { loadSessionTsv, sharedDataDir, type SessionData } from '../../src/data/sessions.ts';
import { SessionParallelIterator } from '../../src/train/session-parallel.ts';

/** Sessions of the given lengths; item id = global event index, so every pair names its events. */
function sessionsOf(lengths: number[]): SessionData {
  const offsets = [0];
  for (const len of lengths) offsets.push(offsets[offsets.length - 1] + len);
  const total = offsets[offsets.length - 1];
  return {
    sessionIds: lengths.map((_, s) => `s${s}`),
    offsets: Int32Array.from(offsets),
    items: Int32Array.from({ length: total }, (_, e) => e),
    times: Float64Array.from({ length: total }, (_, e) => e),
  };
}

/**
 * Walk a whole pass and check, row by row, that each row continues the session it walked on the
 * previous step unless it is flagged reset, that a reset row starts a session at its first event
 * exactly when the previous one in that row was finished, and that no pair repeats.
 */
function checkPass(data: SessionData, batchSize: number): { steps: number; pairs: number; resets: number; compactions: number } {
  const sessionOfEvent = new Int32Array(data.items.length);
  for (let s = 0; s + 1 < data.offsets.length; s++) for (let e = data.offsets[s]; e < data.offsets[s + 1]; e++) sessionOfEvent[e] = s;
  const it = new SessionParallelIterator(data, batchSize);
  const seen = new Uint8Array(data.items.length);
  let prevTargets: number[] = [];
  let steps = 0;
  let pairs = 0;
  let resets = 0;
  let compactions = 0;
  for (let b = it.next(); b; b = it.next()) {
    assert.ok(b.n >= 1 && b.n <= batchSize, `row count ${b.n} outside [1, ${batchSize}]`);
    if (b.keep) {
      compactions++;
      assert.equal(b.keep.length, b.n);
      for (let r = 1; r < b.n; r++) assert.ok(b.keep[r] > b.keep[r - 1], 'kept rows keep their order');
    } else if (steps > 0) {
      assert.equal(b.n, prevTargets.length, 'the row count only changes with a keep map');
    }
    let anyReset = false;
    for (let r = 0; r < b.n; r++) {
      const input: number = b.inputs[r];
      const target: number = b.targets[r];
      assert.equal(target, input + 1, 'target is the next event');
      assert.equal(sessionOfEvent[target], sessionOfEvent[input], 'input and target come from one session');
      assert.equal(seen[input], 0, `pair starting at event ${input} yielded twice`);
      seen[input] = 1;
      pairs++;
      const prevRow: number = b.keep ? b.keep[r] : r;
      const s: number = sessionOfEvent[input];
      if (b.reset[r]) {
        resets++;
        anyReset = true;
        assert.equal(input, data.offsets[s], 'a reset row starts at the first event of its session');
        if (steps > 0) {
          const prevSession: number = sessionOfEvent[prevTargets[prevRow]];
          assert.equal(prevTargets[prevRow], data.offsets[prevSession + 1] - 1, 'a row is reset only after its session ended');
        }
      } else {
        assert.ok(steps > 0, 'every row of the first step is a new session');
        assert.equal(input, prevTargets[prevRow], 'a row that is not reset continues its session');
      }
    }
    assert.equal(b.anyReset, anyReset);
    prevTargets = Array.from(b.targets.subarray(0, b.n));
    steps++;
  }
  // Every event that has a successor in its session started exactly one pair.
  for (let s = 0; s + 1 < data.offsets.length; s++)
    for (let e = data.offsets[s]; e < data.offsets[s + 1] - 1; e++) assert.equal(seen[e], 1, `pair at event ${e} (session ${s}) was never yielded`);
  assert.equal(pairs, SessionParallelIterator.pairCount(data));
  return { steps, pairs, resets, compactions };
}

test('every (input, target) pair of every session comes exactly once; resets exactly at session starts', () => {
  const lengths = [3, 1, 5, 2, 2, 7, 1, 1, 4, 2, 9, 3, 2, 6, 2];
  const data = sessionsOf(lengths);
  const usable = lengths.filter((l) => l >= 2).length;
  for (const batchSize of [1, 2, 3, 5, 16]) {
    const r = checkPass(data, batchSize);
    assert.equal(r.resets, usable, `batch ${batchSize}: one reset per session with a pair`);
    assert.equal(
      r.pairs,
      lengths.reduce((a, l) => a + Math.max(0, l - 1), 0),
    );
  }
});

test('rows leave the batch only when no session is left, and the keep map follows them', () => {
  // 4 slots, long and short sessions mixed so the tail compacts several times.
  const r = checkPass(sessionsOf([10, 2, 2, 2, 6, 3, 2, 8]), 4);
  assert.ok(r.compactions >= 2, `expected the tail to shrink the batch, saw ${r.compactions} compactions`);
});

test('restart replays the same pass; the batch object is reused between steps', () => {
  const data = sessionsOf([4, 3, 5, 2]);
  const it = new SessionParallelIterator(data, 2);
  const first: string[] = [];
  let obj: unknown = null;
  for (let b = it.next(); b; b = it.next()) {
    if (obj) assert.equal(b, obj, 'next() must reuse its batch object');
    obj = b;
    first.push(`${Array.from(b.inputs.subarray(0, b.n))}|${Array.from(b.reset.subarray(0, b.n))}`);
  }
  it.restart();
  const second: string[] = [];
  for (let b = it.next(); b; b = it.next()) second.push(`${Array.from(b.inputs.subarray(0, b.n))}|${Array.from(b.reset.subarray(0, b.n))}`);
  assert.deepEqual(second, first);
  assert.equal(it.next(), null, 'a finished pass stays finished');
});

test('a data set with no pair yields nothing', () => {
  const it = new SessionParallelIterator(sessionsOf([1, 1, 1]), 4);
  assert.equal(it.next(), null);
  assert.throws(() => new SessionParallelIterator(sessionsOf([2]), 0), /batchSize must be a positive integer/);
});

test('rsc15-100k train_full: one pass covers all 52,484 training pairs', (t) => {
  const path = `${sharedDataDir()}rsc15-100k/train_full.tsv`;
  if (!existsSync(path)) {
    t.skip(`shared data not found at ${path}`);
    return;
  }
  const { data } = loadSessionTsv(path);
  // Real session lengths, items relabelled as event indices so the checker can trace every pair.
  const r = checkPass({ ...data, items: Int32Array.from(data.items, (_, e) => e) }, 32);
  // 70,278 events in 17,794 sessions, all of length >= 2.
  assert.equal(r.pairs, 70278 - 17794);
  assert.equal(r.resets, 17794);
});
