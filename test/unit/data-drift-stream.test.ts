import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/errors/errors.ts';
import { driftClicks, driftNewItemCount, driftStreamOptions, type DriftStreamOptions } from '../../src/data/drift-stream.ts';

const take = (o: Partial<DriftStreamOptions>) => [...driftClicks(o)];
const itemNumber = (id: string) => Number(id.slice(1));

/** The k most clicked items of clicks[from, to). */
function topItems(clicks: ReadonlyArray<{ itemId: string }>, from: number, to: number, k: number): Set<string> {
  const counts = new Map<string, number>();
  for (let e = from; e < to; e++) counts.set(clicks[e].itemId, (counts.get(clicks[e].itemId) ?? 0) + 1);
  return new Set(
    [...counts]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, k)
      .map(([id]) => id),
  );
}

const overlap = (a: Set<string>, b: Set<string>) => [...a].filter((x) => b.has(x)).length;

test('the same seed gives the same stream; another seed another one', () => {
  const a = take({ events: 5_000, seed: 3 });
  const b = take({ events: 5_000, seed: 3 });
  const c = take({ events: 5_000, seed: 4 });
  assert.equal(a.length, 5_000);
  assert.deepEqual(a, b);
  assert.notDeepEqual(
    a.map((x) => x.itemId),
    c.map((x) => x.itemId),
  );
  for (let e = 1; e < a.length; e++) assert.ok(a[e].time > a[e - 1].time, 'clicks come in time order');
});

test('new items appear at the configured rate and never before they are created', () => {
  const o = { events: 50_000, initialItems: 1_000, newItemEveryEvents: 500 };
  const clicks = take(o);
  const created = driftNewItemCount(driftStreamOptions(o));
  assert.equal(created, 99, 'one item per 500 events after event 0');
  const firstSeen = new Map<number, number>();
  clicks.forEach((c, e) => {
    const n = itemNumber(c.itemId);
    if (!firstSeen.has(n)) firstSeen.set(n, e);
  });
  const newItems = [...firstSeen].filter(([n]) => n >= o.initialItems);
  for (const [n, e] of newItems) {
    assert.ok(n < o.initialItems + created, `item ${n} is beyond the ${created} created`);
    assert.ok(e >= (n - o.initialItems + 1) * o.newItemEveryEvents, `item ${n} seen at event ${e}, before its creation`);
  }
  // A new item enters the head, so nearly every one is clicked before the stream ends.
  assert.ok(newItems.length >= 0.9 * created, `${newItems.length} of ${created} new items appeared`);
  const noGrowth = take({ ...o, newItemEveryEvents: 0 });
  assert.ok(
    noGrowth.every((c) => itemNumber(c.itemId) < o.initialItems),
    'newItemEveryEvents 0: only the initial catalogue',
  );
});

test('popularity shifts over time with rotation and new items, and holds still without them', () => {
  const clicks = take({ events: 100_000 });
  const early = topItems(clicks, 0, 10_000, 20);
  const late = topItems(clicks, 90_000, 100_000, 20);
  assert.ok(overlap(early, late) <= 10, `top-20 of the first and last 10k events share ${overlap(early, late)} items`);
  const still = take({ events: 100_000, rotateFraction: 0, newItemEveryEvents: 0 });
  const stillOverlap = overlap(topItems(still, 0, 10_000, 20), topItems(still, 90_000, 100_000, 20));
  assert.ok(stillOverlap >= 15, `without drift the top-20 keeps ${stillOverlap} items`);
});

test('sessions follow their items’ successors: a sequence model has structure to learn', () => {
  const clicks = take({ events: 40_000, sequentialP: 0.5, successors: 3, rotateFraction: 0, newItemEveryEvents: 0 });
  const last = new Map<string, string>();
  const next = new Map<string, Map<string, number>>();
  for (const c of clicks) {
    const prev = last.get(c.sessionId);
    if (prev !== undefined) {
      const m = next.get(prev) ?? new Map<string, number>();
      m.set(c.itemId, (m.get(c.itemId) ?? 0) + 1);
      next.set(prev, m);
    }
    last.set(c.sessionId, c.itemId);
  }
  // For frequent items, the 3 commonest next items cover at least the sequential share.
  let covered = 0;
  let total = 0;
  for (const m of next.values()) {
    const counts = [...m.values()].sort((a, b) => b - a);
    const n = counts.reduce((s, x) => s + x, 0);
    if (n < 100) continue;
    covered += counts.slice(0, 3).reduce((s, x) => s + x, 0);
    total += n;
  }
  assert.ok(total > 5_000, `enough transitions from frequent items (${total})`);
  assert.ok(covered / total >= 0.5, `top-3 successors cover ${(covered / total).toFixed(3)} of transitions`);
});

test('options are checked and a bad one names its field', () => {
  assert.throws(
    () => driftStreamOptions({ rotateFraction: 1.5 }),
    (e: unknown) => e instanceof ConfigError && /drift\.rotateFraction/.test(e.message),
  );
  assert.throws(
    () => driftStreamOptions({ headSize: 10, initialItems: 5 }),
    (e: unknown) => e instanceof ConfigError && /drift\.headSize/.test(e.message),
  );
  assert.throws(
    () => [...driftClicks({ events: -1 })],
    (e: unknown) => e instanceof ConfigError && /drift\.events/.test(e.message),
  );
  assert.equal(driftStreamOptions().events, 200_000);
});
