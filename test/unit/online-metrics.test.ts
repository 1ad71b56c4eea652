import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram, PrequentialMetrics } from '../../src/metrics/online-metrics.ts';

test('prequential recall and MRR count only next events of sessions with an emitted list', () => {
  const m = new PrequentialMetrics(3);
  m.observe('s', 'a'); // first event: no list yet, not a target
  m.emitted('s', ['b', 'c', 'd', 'e']);
  m.observe('s', 'c'); // rank 2 → hit, rr 0.5
  m.emitted('s', ['x', 'y', 'z', 'w']);
  m.observe('s', 'w'); // rank 4 > cutoff 3 → miss
  assert.equal(m.targets, 2);
  assert.equal(m.recall, 0.5);
  assert.equal(m.mrr, 0.25);
  const w = m.takeWindow();
  assert.deepEqual(w, { recall: 0.5, mrr: 0.25, targets: 2 });
  assert.equal(m.takeWindow().targets, 0);
});

test('latency histogram quantiles within one bucket', () => {
  const h = new LatencyHistogram();
  for (let i = 1; i <= 1000; i++) h.record(i);
  const p50 = h.quantile(0.5);
  const p99 = h.quantile(0.99);
  assert.ok(p50 >= 500 && p50 <= 500 * 1.13, `p50 ${p50}`);
  assert.ok(p99 >= 990 && p99 <= 1000, `p99 ${p99}`);
  assert.equal(h.count, 1000);
});
