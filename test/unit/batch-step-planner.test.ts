import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StepPlanner } from '../../src/batch/step-planner.ts';

function steps(planner: StepPlanner, slots: number[]): number[][] {
  const perm = new Int32Array(slots.length);
  const start = new Int32Array(slots.length + 1);
  const n = planner.plan(Int32Array.from(slots), slots.length, perm, start);
  return Array.from({ length: n }, (_, s) => [...perm.subarray(start[s], start[s + 1])]);
}

test('a batch of distinct sessions is a single step in batch order', () => {
  assert.deepEqual(steps(new StepPlanner(10), [4, 1, 7]), [[0, 1, 2]]);
});

test('repeated sessions are spread over steps, each keeping its events in order', () => {
  const planner = new StepPlanner(10);
  // Session 3 has three events, session 5 two.
  assert.deepEqual(steps(planner, [3, 5, 3, 1, 5, 3]), [[0, 1, 3], [2, 4], [5]]);
  // The planner leaves no residue between batches.
  assert.deepEqual(steps(planner, [3, 5]), [[0, 1]]);
  assert.deepEqual(steps(planner, []), []);
});

test('randomised: every step holds distinct sessions and per-session order is kept', () => {
  const planner = new StepPlanner(50);
  let state = 7;
  const rand = (n: number) => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) % n;
  for (let round = 0; round < 200; round++) {
    const slots = Array.from({ length: 1 + rand(400) }, () => rand(50));
    const plan = steps(planner, slots);
    assert.deepEqual(
      plan.flat().sort((a, b) => a - b),
      slots.map((_, i) => i),
    );
    const lastStep = new Map<number, number>();
    const lastPos = new Map<number, number>();
    plan.forEach((step, s) => {
      assert.equal(new Set(step.map((i) => slots[i])).size, step.length, 'one event per session per step');
      for (const i of step) {
        const slot = slots[i];
        if (lastStep.has(slot)) {
          assert.equal(lastStep.get(slot), s - 1);
          assert.ok(lastPos.get(slot)! < i);
        }
        lastStep.set(slot, s);
        lastPos.set(slot, i);
      }
    });
  }
});

test('undersized output buffers are refused', () => {
  assert.throws(() => new StepPlanner(4).plan(Int32Array.of(1, 2), 2, new Int32Array(2), new Int32Array(2)), RangeError);
});
