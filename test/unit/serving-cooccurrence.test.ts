import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CooccurrenceRecommender } from '../../src/serving/cooccurrence-recommender.ts';
import type { RecommendOutcome } from '../../src/serving/recommender.ts';

const ev = (sessionId: string, itemId: string) => ({ sessionId, itemId, partition: 0, timestamp: 0 });

test('learns next-item transitions from the stream and ranks successors first', async () => {
  const m = new CooccurrenceRecommender(3);
  const out: RecommendOutcome[] = [];
  // a→b twice, a→c once; then a new session at a should get b, c first.
  await m.recommendBatch([ev('s1', 'a'), ev('s1', 'b'), ev('s2', 'a'), ev('s2', 'b'), ev('s3', 'a'), ev('s3', 'c'), ev('s4', 'a')], out);
  const last = out[6];
  assert.ok(last.ok);
  if (last.ok) {
    assert.deepEqual(last.itemIds.slice(0, 2), ['b', 'c']);
    assert.deepEqual(last.scores.slice(0, 2), [2, 1]);
    assert.equal(last.itemIds.length, 3, 'backfilled with popular items up to topK');
    assert.ok(last.scores[2] < 1, 'popularity backfill ranks below any observed transition');
  }
});

test('prequential: an event is answered before it is learned', async () => {
  const m = new CooccurrenceRecommender(5);
  const out: RecommendOutcome[] = [];
  await m.recommendBatch([ev('s1', 'x'), ev('s1', 'y')], out);
  assert.ok(out[1].ok && !out[1].itemIds.includes('z'));
  if (out[0].ok) assert.ok(!out[0].itemIds.some((id, i) => i === 0 && id === 'y'), 'y was not known when x was answered');
});

test('the session table is bounded: the least recently touched session is forgotten', async () => {
  const m = new CooccurrenceRecommender(2, 2);
  const out: RecommendOutcome[] = [];
  await m.recommendBatch([ev('s1', 'a'), ev('s2', 'b'), ev('s3', 'c'), ev('s1', 'd')], out);
  // s1 was evicted when s3 arrived, so a→d was not learned: a new session at a gets no transition from it.
  await m.recommendBatch([ev('s9', 'a')], out);
  assert.ok(out[0].ok && out[0].scores[0] < 1);
});

const ids = (o: RecommendOutcome) => (o.ok ? o.itemIds : assert.fail(`not ok: ${o.reason}`));

test('the vocabulary is bounded: the least recently seen item is evicted and starts fresh when it returns', () => {
  const m = new CooccurrenceRecommender(5, 100, { maxItems: 3 });
  m.observe(ev('s1', 'a'));
  m.observe(ev('s1', 'b')); // a→b
  m.observe(ev('s2', 'a')); // a is fresh again; b is now the least recently seen
  m.observe(ev('s3', 'c'));
  m.observe(ev('s3', 'd')); // evicts b (c→d learned)
  assert.equal(m.itemCount, 3);
  // a→b pointed to the evicted b: a new session at a gets no transition, only popularity.
  const atA = m.observe(ev('s4', 'a'));
  assert.ok(atA.ok && !atA.itemIds.includes('b') && atA.scores.every((s) => s < 1), JSON.stringify(atA));
  // b comes back (evicting c) with no history: no transitions out of it, and its popularity starts over.
  const atB = m.observe(ev('s5', 'b'));
  assert.equal(m.successorCount('b'), 0);
  assert.ok(atB.ok && atB.scores.every((s) => s < 1));
  assert.deepEqual(ids(atB), ['a', 'd', 'b'], 'a (3 events) before d and b (1 each since they arrived)');
});

test('a session whose previous item was evicted does not learn a transition from the slot reused by another item', () => {
  const m = new CooccurrenceRecommender(5, 100, { maxItems: 2 });
  m.observe(ev('s1', 'a'));
  m.observe(ev('s2', 'b'));
  m.observe(ev('s2', 'c')); // evicts a; c takes a's slot
  m.observe(ev('s1', 'd')); // s1's previous item a is gone: nothing learned (not c→d)
  assert.equal(m.successorCount('c'), 0);
  const atC = m.observe(ev('s9', 'c'));
  assert.ok(atC.ok && atC.scores.every((x) => x < 1), 'd is only a popularity backfill at c');
});

test('transitions per item are bounded; the frequent ones survive pruning', () => {
  const m = new CooccurrenceRecommender(3, 10_000, { maxSuccessors: 4 });
  let s = 0;
  const follow = (from: string, to: string) => {
    const id = `s${s++}`;
    m.observe(ev(id, from));
    m.observe(ev(id, to));
  };
  for (let r = 0; r < 5; r++) follow('a', 'x');
  for (let r = 0; r < 3; r++) follow('a', 'y');
  for (let i = 0; i < 200; i++) follow('a', `once-${i}`);
  assert.ok(m.successorCount('a') <= 8, `kept ${m.successorCount('a')} transitions`);
  const atA = m.observe(ev('new', 'a'));
  assert.ok(atA.ok);
  if (atA.ok) {
    assert.deepEqual(atA.itemIds.slice(0, 2), ['x', 'y']);
    assert.deepEqual(atA.scores.slice(0, 2), [5, 3]);
  }
});

test('popularity backfill follows the most popular items of a catalogue larger than the candidate set', () => {
  const m = new CooccurrenceRecommender(2, 10_000);
  // 8 candidates (4 per place): 30 items seen once, then p and q overtake them.
  for (let i = 0; i < 30; i++) m.observe(ev(`u${i}`, `i${i}`));
  for (let r = 0; r < 3; r++) m.observe(ev(`p${r}`, 'p'));
  for (let r = 0; r < 2; r++) m.observe(ev(`q${r}`, 'q'));
  const fresh = m.observe(ev('z', 'never-followed'));
  assert.deepEqual(ids(fresh), ['p', 'q']);
});

test('an evicted popular item leaves the backfill', () => {
  const m = new CooccurrenceRecommender(2, 10_000, { maxItems: 3 });
  for (let r = 0; r < 5; r++) m.observe(ev(`p${r}`, 'p'));
  m.observe(ev('a', 'a'));
  m.observe(ev('b', 'b')); // p is now the least recently seen item
  const out = m.observe(ev('c', 'c')); // evicts p
  assert.ok(!ids(out).includes('p'), JSON.stringify(out));
  assert.equal(m.itemCount, 3);
});
