import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clicksInTimeOrder } from '../../src/ingest/replay.ts';
import { sessionsFromClicks } from '../../src/data/sessions.ts';
import { syntheticClicks } from '../../src/data/synthetic.ts';

test('a dataset replays in event-time order with sessions interleaved and each session in order', () => {
  const { data, index } = sessionsFromClicks([
    { session: 'a', item: 'x', time: 1 },
    { session: 'a', item: 'y', time: 5 },
    { session: 'b', item: 'z', time: 2 },
    { session: 'b', item: 'x', time: 3 },
    { session: 'a', item: 'z', time: 9 },
  ]);
  const out = [...clicksInTimeOrder(data, index)];
  assert.deepEqual(
    out.map((c) => `${c.sessionId}:${c.itemId}`),
    ['a:x', 'b:z', 'b:x', 'a:y', 'a:z'],
  );
  assert.deepEqual(
    out.map((c) => c.timestamp),
    [1000, 2000, 3000, 5000, 9000],
    'seconds become epoch ms',
  );
  assert.ok(out.every((c) => c.eventType === 'CLICK' && c.userId === null));
});

test('synthetic clicks: deterministic per seed, sessions of at least 2 events, power-law popularity', () => {
  const opts = { nItems: 1000, nSessions: 2000, seed: 5 };
  const a = [...syntheticClicks(opts)];
  const b = [...syntheticClicks(opts)];
  assert.deepEqual(a, b);
  const perSession = new Map<string, number>();
  for (const c of a) perSession.set(c.sessionId, (perSession.get(c.sessionId) ?? 0) + 1);
  assert.equal(perSession.size, 2000);
  assert.ok([...perSession.values()].every((n) => n >= 2));
  const counts = new Map<string, number>();
  for (const c of a) counts.set(c.itemId, (counts.get(c.itemId) ?? 0) + 1);
  const sorted = [...counts.values()].sort((x, y) => y - x);
  const top1pct = sorted.slice(0, 10).reduce((s, n) => s + n, 0) / a.length;
  assert.ok(top1pct > 0.1, `the top 1% of items take ${top1pct.toFixed(3)} of the clicks`);
  for (let i = 1; i < a.length; i++) assert.ok(a[i].time > a[i - 1].time, 'time increases');
});
