/**
 * The HDR-backed LatencyHistogram against exact order statistics of the same samples: every
 * reported quantile within the histogram's 3-significant-digit precision, and merge, subtract,
 * reset and the status page's LatencyWindow keep that precision.
 */
import { test } from 'node:test';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import assert from 'node:assert/strict';
import { formatPercentiles, LatencyHistogram, latencyPercentiles } from '../../src/metrics/latency-histogram.ts';
import { LatencyWindow } from '../../src/metrics/status/latency-window.ts';
import { seededRandom } from '../../src/random/rng.ts';

/** The exact quantile HDR approximates: the smallest sample that a fraction q of all samples are at or below. */
function exactQuantile(sorted: Float64Array, q: number): number {
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)];
}

/**
 * 3 significant digits: within one bucket (at most 1/1024 of the value) plus half a microsecond
 * of rounding. Quantiles report a bucket's upper edge, q = 0 its lower edge.
 */
function assertWithinHdr(actual: number, exact: number, what: string): void {
  const tolerance = exact / 1024 + 0.0005;
  assert.ok(Math.abs(actual - exact) <= tolerance, `${what}: ${actual} vs exact ${exact} (±${tolerance.toFixed(4)})`);
}

/** Latencies with a heavy tail, like serving's: mostly a few ms, a few long commits up to seconds. */
function samples(n: number, seed: number): Float64Array {
  const rnd = seededRandom(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rnd() < 0.02 ? 200 + rnd() * 3000 : 0.05 + -Math.log(1 - rnd()) * 8;
  return out;
}

const QUANTILES = [0, 0.001, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1];

test('quantiles equal the sorted samples within HDR precision (3 significant digits), count/sum/max exact', () => {
  const xs = samples(50_000, 7);
  const h = new LatencyHistogram();
  for (const x of xs) h.record(x);
  const sorted = Float64Array.from(xs).sort();
  for (const q of QUANTILES) assertWithinHdr(h.quantile(q), exactQuantile(sorted, q), `q=${q}`);
  assert.equal(h.count, xs.length);
  assert.ok(Math.abs(h.sum - xs.reduce((a, b) => a + b, 0)) < 1e-6);
  assert.equal(h.max, sorted[sorted.length - 1]);
  assert.equal(h.quantile(1), h.max, 'p100 is the exact maximum, not its bucket edge');
  const p = latencyPercentiles(h);
  assert.deepEqual(p, { count: xs.length, p50: h.quantile(0.5), p95: h.quantile(0.95), p99: h.quantile(0.99), p999: h.quantile(0.999), max: h.max });
  assert.match(formatPercentiles(h), /^p50 \d+\.\d p95 \d+\.\d p99 \d+\.\d p99\.9 \d+\.\d ms$/);
});

test('the old log buckets were 12% wide: a tail HDR now resolves to 0.1%', () => {
  const h = new LatencyHistogram();
  // 999 samples at 100 ms and one at 105 ms: p99.9 must tell them apart.
  for (let i = 0; i < 999; i++) h.record(100);
  h.record(105);
  assert.equal(h.quantile(0.999), 100.031, 'the upper edge of the 100 ms bucket (32 µs wide at this magnitude)');
  assert.equal(h.quantile(0.9995), 105);
});

test('edge values: negative clock skew counts as 0, non-finite is ignored, beyond 1 h saturates with the exact max kept', () => {
  const h = new LatencyHistogram();
  h.record(-3);
  h.record(Number.NaN);
  h.record(Number.POSITIVE_INFINITY);
  assert.equal(h.count, 1);
  assert.equal(h.quantile(0.5), 0);
  h.record(2 * 3_600_000);
  assert.equal(h.count, 2);
  assert.equal(h.max, 7_200_000);
  assertWithinHdr(h.quantile(1), 3_600_000, 'a quantile on a saturated sample reads 1 h');
  assert.equal(new LatencyHistogram().quantile(0.99), 0, 'empty');
  assert.equal(formatPercentiles(new LatencyHistogram()), 'no samples');
});

test('merge equals recording both streams into one; reset empties and counts the reset', () => {
  const a = samples(10_000, 1);
  const b = samples(10_000, 2);
  const ha = new LatencyHistogram();
  const hb = new LatencyHistogram();
  const both = new LatencyHistogram();
  for (const x of a) {
    ha.record(x);
    both.record(x);
  }
  for (const x of b) {
    hb.record(x);
    both.record(x);
  }
  ha.merge(hb);
  assert.equal(ha.count, 20_000);
  assert.ok(Math.abs(ha.sum - both.sum) < 1e-6);
  assert.equal(ha.max, both.max);
  for (const q of QUANTILES) assert.equal(ha.quantile(q), both.quantile(q), `q=${q}`);
  const sorted = Float64Array.from([...a, ...b]).sort();
  for (const q of QUANTILES) assertWithinHdr(ha.quantile(q), exactQuantile(sorted, q), `merged q=${q}`);

  const before = ha.resets;
  ha.reset();
  assert.equal(ha.resets, before + 1);
  assert.equal(ha.count, 0);
  assert.equal(ha.sum, 0);
  assert.equal(ha.max, 0);
  assert.equal(ha.quantile(0.5), 0);
  ha.record(4);
  assert.equal(ha.quantile(0.5), 4, 'usable after a reset');
});

test('subtracting an earlier copy leaves exactly the later samples', () => {
  const early = samples(5_000, 3);
  const late = Float64Array.from(samples(5_000, 4), (x) => x + 50);
  const h = new LatencyHistogram();
  for (const x of early) h.record(x);
  const snapshot = new LatencyHistogram();
  snapshot.copyFrom(h);
  for (const x of late) h.record(x);
  const diff = new LatencyHistogram();
  diff.copyFrom(h);
  diff.subtract(snapshot);
  const onlyLate = new LatencyHistogram();
  for (const x of late) onlyLate.record(x);
  assert.equal(diff.count, late.length);
  assert.ok(Math.abs(diff.sum - onlyLate.sum) < 1e-6);
  for (const q of QUANTILES.slice(0, -1)) assert.equal(diff.quantile(q), onlyLate.quantile(q), `q=${q}`);
  // The difference's max is its top bucket's upper edge, capped at the full max.
  assertWithinHdr(diff.max, onlyLate.max, 'max of a difference');
});

test('the status window: each take() holds only its interval, two readers do not interfere, an owner reset restarts it', () => {
  const h = new LatencyHistogram();
  const mine = new LatencyWindow(() => h);
  const theirs = new LatencyWindow(() => h);
  const first = samples(2_000, 5);
  for (const x of first) h.record(x);
  assert.equal(theirs.take().count, 2_000);
  const w1 = mine.take();
  assert.equal(w1.count, 2_000);
  const sorted1 = Float64Array.from(first).sort();
  for (const q of [0.5, 0.99]) assertWithinHdr(w1.quantile(q), exactQuantile(sorted1, q), `window 1 q=${q}`);

  // The second interval is ten times slower: its quantiles must show none of the first.
  const second = Float64Array.from(samples(1_000, 6), (x) => x * 10 + 100);
  for (const x of second) h.record(x);
  const w2 = mine.take();
  assert.equal(w2.count, 1_000);
  assert.ok(Math.abs(w2.sum - second.reduce((a, b) => a + b, 0)) < 1e-6);
  const sorted2 = Float64Array.from(second).sort();
  for (const q of [0, 0.5, 0.99, 0.999]) assertWithinHdr(w2.quantile(q), exactQuantile(sorted2, q), `window 2 q=${q}`);
  assert.equal(mine.take().count, 0, 'an idle interval is empty');

  // The owner resets and records as many samples as before: the window notices the reset.
  h.reset();
  for (const x of first) h.record(x);
  const w3 = mine.take();
  assert.equal(w3.count, 2_000);
  assert.equal(w3.quantile(0.5), w1.quantile(0.5));
});

test('record() allocates nothing per sample: 4M records cause at most one young-generation collection', async () => {
  const h = new LatencyHistogram();
  const xs = samples(200_000, 9);
  for (const x of xs) h.record(x); // warm up the JIT and the counts array
  await new Promise((r) => setImmediate(r));
  const collections: string[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) collections.push(String((e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind));
  });
  observer.observe({ entryTypes: ['gc'] });
  // A scavenge runs at the latest every 16 MB allocated (the largest young semi-space): 4M samples
  // at even 16 bytes each would be 64 MB, four or more. One is allowed for what the test itself
  // left in the young generation before the loop.
  for (let r = 0; r < 20; r++) for (let i = 0; i < xs.length; i++) h.record(xs[i]);
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  const minor = collections.filter((k) => k === String(constants.NODE_PERFORMANCE_GC_MINOR)).length;
  assert.ok(minor <= 1, `young-generation collections during the records: ${collections.join(',')}`);
  assert.equal(h.count, 4_200_000);
});
