import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LatencyHistogram, PrequentialMetrics } from '../../src/metrics/online-metrics.ts';
import { seededRandom } from '../../src/random/rng.ts';

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

test('the session table is bounded: an evicted or forgotten session is not a target, a refreshed one survives', () => {
  const m = new PrequentialMetrics(20, 2);
  m.emitted('a', ['x']);
  m.emitted('b', ['x']);
  m.emitted('a', ['y']); // a is now the most recent; b goes when c arrives
  m.emitted('c', ['z']);
  assert.equal(m.size, 2);
  m.observe('b', 'x');
  assert.equal(m.targets, 0, 'b was evicted');
  m.observe('a', 'y');
  assert.equal(m.hits, 1, 'a kept its latest list');
  m.forget('c');
  m.observe('c', 'z');
  assert.equal(m.targets, 1, 'c was forgotten');
  assert.equal(m.size, 1);
});

/** The definition before eviction became O(1): a Map in emit order whose first key is evicted. */
class MapReference {
  readonly last = new Map<string, readonly string[]>();
  targets = 0;
  hits = 0;
  rr = 0;
  constructor(
    private readonly cutoff: number,
    private readonly max: number,
  ) {}
  observe(s: string, item: string) {
    const list = this.last.get(s);
    if (list === undefined) return;
    this.targets++;
    const r = list.slice(0, this.cutoff).indexOf(item);
    if (r >= 0) {
      this.hits++;
      this.rr += 1 / (r + 1);
    }
  }
  emitted(s: string, list: readonly string[]) {
    this.last.delete(s);
    if (this.last.size >= this.max) this.last.delete(this.last.keys().next().value as string);
    this.last.set(s, list);
  }
}

test('same targets, hits and reciprocal ranks as the Map-in-emit-order definition on a churning stream', () => {
  const rand = seededRandom(7);
  const m = new PrequentialMetrics(5, 50);
  const ref = new MapReference(5, 50);
  const lists = Array.from({ length: 30 }, (_, k) => Array.from({ length: 8 }, (_, r) => `i${(k + r * 3) % 40}`));
  for (let e = 0; e < 20_000; e++) {
    const s = `s${Math.floor(rand() * 120)}`;
    const item = `i${Math.floor(rand() * 40)}`;
    if (rand() < 0.02) {
      m.forget(s);
      ref.last.delete(s);
      continue;
    }
    m.observe(s, item);
    ref.observe(s, item);
    const list = lists[Math.floor(rand() * lists.length)];
    m.emitted(s, list);
    ref.emitted(s, list);
  }
  assert.ok(ref.targets > 5000 && ref.hits > 500, 'the stream exercises hits, misses and evictions');
  assert.equal(m.targets, ref.targets);
  assert.equal(m.hits, ref.hits);
  assert.ok(Math.abs(m.reciprocalRankSum - ref.rr) < 1e-9);
  assert.equal(m.size, ref.last.size);
});
