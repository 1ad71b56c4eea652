import assert from 'node:assert/strict';
import test from 'node:test';
import { nextDeltaStep, RollbackGuard } from '../../src/serving/delta-follower.ts';
import { servedVersionName, splitServedVersion } from '../../src/serving/served-version.ts';

test('the next delta is seq + 1 of the base; a newer one without it is a gap; nothing newer is a wait', () => {
  assert.deepEqual(nextDeltaStep({ base: 3, seq: 0 }, []), { kind: 'wait' });
  assert.deepEqual(nextDeltaStep({ base: 3, seq: 0 }, [1, 2]), { kind: 'apply', seq: 1 });
  assert.deepEqual(nextDeltaStep({ base: 3, seq: 2 }, [1, 2, 3, 4]), { kind: 'apply', seq: 3 });
  assert.deepEqual(nextDeltaStep({ base: 3, seq: 4 }, [1, 2, 3, 4]), { kind: 'wait' }, 'already applied deltas are not applied again');
  assert.deepEqual(nextDeltaStep({ base: 3, seq: 2 }, [1, 2, 4, 5]), { kind: 'gap', missing: 3, found: 4 }, 'never skips to 4');
  assert.deepEqual(nextDeltaStep({ base: 3, seq: 2 }, [5, 1, 4, 2]), { kind: 'gap', missing: 3, found: 4 }, 'listing order does not matter');
});

test('served version names carry the delta and split back', () => {
  assert.equal(servedVersionName('v3', 0), 'v3');
  assert.equal(servedVersionName('v3', 12), 'v3+d12');
  assert.deepEqual(splitServedVersion('v3+d12'), { version: 'v3', delta: 12 });
  assert.deepEqual(splitServedVersion('v3'), { version: 'v3', delta: 0 });
  assert.deepEqual(splitServedVersion('gru4rec-2026+x'), { version: 'gru4rec-2026+x', delta: 0 });
});

/** `n` sessions of two clicks each; the first click's list is `list`, the second click is `target`. */
function serve(guard: RollbackGuard, version: string, n: number, hit: (i: number) => boolean, tag: string) {
  const first = Array.from({ length: n }, (_, i) => ({ sessionId: `${tag}-${i}`, itemId: 'x' }));
  guard.observe(
    first,
    first.map(() => ({ ok: true as const, itemIds: ['a', 'b'], scores: [2, 1] })),
    version,
  );
  const second = Array.from({ length: n }, (_, i) => ({ sessionId: `${tag}-${i}`, itemId: hit(i) ? 'a' : 'z' }));
  guard.observe(
    second,
    second.map(() => ({ ok: true as const, itemIds: ['a'], scores: [1] })),
    version,
  );
}

test('the rollback guard compares the deltas’ window with the snapshot’s, and only once both are full', () => {
  const guard = new RollbackGuard(100, 0.05, 10_000);
  serve(guard, 'v3+d1', 200, () => false, 'early');
  assert.equal(guard.verdict(), null, 'no snapshot-alone window yet: not armed');
  assert.equal(guard.armed, false);
  serve(guard, 'v3', 100, (i) => i % 2 === 0, 'snap'); // Recall@20 0.5
  assert.equal(guard.armed, true);
  guard.resetTrial();
  serve(guard, 'v3+d2', 60, () => false, 'few');
  assert.equal(guard.verdict(), null, 'the deltas’ window is not full');
  guard.resetTrial();
  serve(guard, 'v3+d3', 100, (i) => i % 20 < 9, 'ok'); // 0.45 ≥ 0.5 − 0.05
  assert.equal(guard.verdict(), null, 'within the margin');
  serve(guard, 'v3+d4', 100, (i) => i % 10 === 0, 'bad'); // 0.1
  const v = guard.verdict();
  assert.ok(v, 'a drop beyond the margin');
  assert.equal(v.snapshotRecall, 0.5);
  assert.equal(v.deltaRecall, 0.1, 'the sliding window holds the last 100 targets: the wrecked deltas only');
  guard.resetTrial();
  assert.equal(guard.verdict(), null, 'after a rollback the deltas start a new window');
});
