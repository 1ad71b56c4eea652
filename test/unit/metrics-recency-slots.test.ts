import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecencySlots } from '../../src/metrics/recency-slots.ts';

test('touch keeps a key on its slot and evicts the least recently touched key when full', () => {
  const evicted: Array<[number, string]> = [];
  const t = new RecencySlots(3, (slot, key) => evicted.push([slot, key]));
  assert.equal(t.touch('a'), 0);
  assert.equal(t.touch('b'), 1);
  assert.equal(t.touch('c'), 2);
  assert.equal(t.touch('a'), 0, 'a known key keeps its slot');
  // b is now the least recently touched: d takes its slot.
  assert.equal(t.touch('d'), 1);
  assert.deepEqual(evicted, [[1, 'b']]);
  assert.equal(t.slotOf('b'), -1);
  assert.equal(t.keyOf(1), 'd');
  assert.equal(t.size, 3);
  // slotOf does not refresh: c is next out, then a.
  t.slotOf('c');
  t.touch('e');
  t.touch('f');
  assert.deepEqual(
    evicted.map(([, k]) => k),
    ['b', 'c', 'a'],
  );
});

test('delete frees the slot for the next new key without calling onEvict', () => {
  let evictions = 0;
  const t = new RecencySlots(2, () => evictions++);
  t.touch('a');
  t.touch('b');
  assert.equal(t.delete('a'), 0);
  assert.equal(t.delete('a'), -1);
  assert.equal(t.size, 1);
  assert.equal(t.touch('c'), 0, 'the freed slot is reused');
  assert.equal(evictions, 0);
  assert.equal(t.highWater, 2);
  // Deleting the most recent and the least recent keys leaves a consistent list.
  t.delete('c');
  t.delete('b');
  assert.equal(t.size, 0);
  t.touch('x');
  t.touch('y');
  t.touch('z');
  assert.equal(evictions, 1);
  assert.equal(t.slotOf('x'), -1);
});

test('slots stay dense while the table grows past its initial allocation, and the bound holds', () => {
  const cap = 5000;
  const t = new RecencySlots(cap);
  for (let i = 0; i < cap; i++) assert.equal(t.touch(`k${i}`), i);
  assert.equal(t.highWater, cap);
  // Touch the first half again: the second half becomes the oldest and goes first.
  for (let i = 0; i < cap / 2; i++) t.touch(`k${i}`);
  for (let i = 0; i < cap / 2; i++) t.touch(`n${i}`);
  assert.equal(t.size, cap);
  assert.equal(t.highWater, cap, 'eviction reuses slots, never adds any');
  for (let i = 0; i < cap / 2; i++) assert.ok(t.slotOf(`k${i}`) >= 0, `k${i} was refreshed and survives`);
  for (let i = cap / 2; i < cap; i++) assert.equal(t.slotOf(`k${i}`), -1, `k${i} was the oldest`);
});

test('rejects a capacity that is not a positive integer', () => {
  assert.throws(() => new RecencySlots(0), RangeError);
  assert.throws(() => new RecencySlots(1.5), RangeError);
});
