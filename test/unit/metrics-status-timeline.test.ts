import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QualityByVersion } from '../../src/cli/demo-version-quality.ts';
import { ConfigError } from '../../src/errors/errors.ts';
import { LatencyHistogram, PrequentialMetrics } from '../../src/metrics/online-metrics.ts';
import { createServingStats } from '../../src/metrics/serving-stats.ts';
import { LatencyWindow } from '../../src/metrics/status/latency-window.ts';
import { Ring } from '../../src/metrics/status/ring.ts';
import { servingStatusSource } from '../../src/metrics/status/serving-status-source.ts';
import { readingsAt20, type StatusSource } from '../../src/metrics/status/status-source.ts';
import { StatusTimeline } from '../../src/metrics/status/status-timeline.ts';

/** A process's counters as serving keeps them: cumulative totals, overall and per-version prequential quality. */
class Process {
  eventsIn = 0;
  eventsOut = 0;
  readonly latency = new LatencyHistogram();
  readonly overall = new PrequentialMetrics(20);
  readonly byVersion = new QualityByVersion(20);
  version = 'v1';
  lag: number | undefined = undefined;

  /** One click served by the current version: judged against the session's previous list, then a new list emitted. */
  serve(sessionId: string, itemId: string, list: string[], latencyMs: number): void {
    this.eventsIn++;
    this.overall.observe(sessionId, itemId);
    this.overall.emitted(sessionId, list);
    this.byVersion.record(this.version, sessionId, itemId, list);
    this.eventsOut++;
    this.latency.record(latencyMs);
  }

  source(instanceId = 'serving-0'): StatusSource {
    return {
      instanceId,
      eventsIn: () => this.eventsIn,
      eventsOut: () => this.eventsOut,
      latency: () => this.latency,
      quality: () => ({ recall20: this.overall.recall, mrr20: this.overall.mrr, targets: this.overall.targets }),
      qualityByVersion: () => this.byVersion.rows().map((r) => ({ version: r.version, recall20: r.recall, mrr20: r.mrr, targets: r.targets })),
      currentVersion: () => this.version,
      consumerLag: () => this.lag,
    };
  }
}

/** A clock the test moves by hand. */
function clock(start = 1_700_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('rates and latency quantiles cover one interval, read off cumulative counters the source keeps', () => {
  const p = new Process();
  const c = clock();
  const timeline = new StatusTimeline(p.source(), { now: c.now });
  const reference = new LatencyHistogram();
  for (let i = 0; i < 300; i++) p.serve(`s${i % 40}`, `i${i % 7}`, ['i1', 'i2'], 5 + (i % 10));
  c.advance(2000);
  const first = timeline.sample();
  assert.equal(first.eventsInPerSec, 150);
  assert.equal(first.eventsOutPerSec, 150);

  for (let i = 0; i < 100; i++) {
    const ms = 40 + i;
    p.serve(`s${i % 40}`, `i${i % 7}`, ['i1', 'i2'], ms);
    reference.record(ms);
  }
  p.lag = 1234;
  c.advance(500);
  const second = timeline.sample();
  assert.equal(second.eventsInPerSec, 200);
  // Only the interval's 100 samples (40..139 ms), none of the first 300 (5..14 ms).
  assert.equal(second.latencyP50Ms, reference.quantile(0.5));
  assert.equal(second.latencyP99Ms, reference.quantile(0.99));
  assert.ok(second.latencyP50Ms! > 40 && second.latencyP50Ms! < 139 * 1.13, `p50 ${second.latencyP50Ms}`);
  assert.equal(second.lag, 1234);
  assert.equal(second.recall20, p.overall.recall);
  assert.equal(second.targets, p.overall.targets);
  assert.ok(p.overall.targets > 0 && p.overall.recall > 0, 'the sequence has hits');
  assert.equal(p.latency.count, 400, 'the shared histogram is read, never reset');

  c.advance(1000);
  const idle = timeline.sample();
  assert.equal(idle.eventsInPerSec, 0);
  assert.equal(idle.latencyP50Ms, null, 'an interval without samples has no quantile, not a stale one');
});

test('a latency window of its own: another reader, or the owner resetting, takes nothing from it', () => {
  const h = new LatencyHistogram();
  const mine = new LatencyWindow(() => h);
  const theirs = new LatencyWindow(() => h);
  for (let i = 1; i <= 50; i++) h.record(i);
  assert.equal(theirs.take().count, 50);
  const w = mine.take();
  assert.equal(w.count, 50, 'the other reader took its window without shrinking mine');
  assert.equal(w.sum, (50 * 51) / 2);
  assert.equal(mine.take().count, 0);
  h.record(3);
  h.reset();
  h.record(7);
  h.record(8);
  const afterReset = mine.take();
  assert.equal(afterReset.count, 2, 'a histogram that went backwards counts as restarted');
  assert.equal(afterReset.sum, 15);
});

test('keeps only the last `capacity` samples, oldest first', () => {
  const p = new Process();
  const c = clock();
  const timeline = new StatusTimeline(p.source(), { now: c.now, capacity: 3 });
  for (let i = 0; i < 5; i++) {
    for (let e = 0; e <= i; e++) p.serve(`s${e}`, 'i1', ['i1'], 1);
    c.advance(1000);
    timeline.sample();
  }
  const s = timeline.snapshot();
  assert.equal(s.series.t.length, 3);
  assert.deepEqual(s.series.eventsInPerSec, [3, 4, 5]);
  assert.equal(s.series.t[2] - s.series.t[0], 2, 'seconds, as uPlot expects');
  assert.equal(s.current!.eventsInPerSec, 5);

  const ring = new Ring<number>(4);
  for (let i = 1; i <= 10; i++) ring.push(i);
  assert.deepEqual(ring.toArray(), [7, 8, 9, 10]);
  assert.equal(ring.last(), 10);
  assert.equal(ring.size, 4);
});

test('version history: first seen, swap pause, latest quality; a version is plotted only while its quality moves', () => {
  const p = new Process();
  const c = clock();
  const timeline = new StatusTimeline(p.source(), { now: c.now });
  const t0 = c.now();
  // v1 serves sessions a and b: a's next click is in v1's list (hit at rank 2), b's is not.
  p.serve('a', 'x', ['y', 'z'], 1);
  p.serve('b', 'x', ['y'], 1);
  p.serve('a', 'z', ['q'], 1);
  p.serve('b', 'w', ['q'], 1);
  c.advance(1000);
  timeline.sample();

  // Hot swap: v2 serves; session a's next click still judges the list v1 emitted (credited to v1).
  c.advance(200);
  p.version = 'v2';
  timeline.modelSwapped('v2', 12.5);
  p.serve('a', 'q', ['r'], 1);
  p.serve('c', 'r', ['s'], 1);
  p.serve('c', 's', ['t'], 1);
  c.advance(800);
  timeline.sample();
  c.advance(1000);
  p.serve('c', 't', ['u'], 1);
  timeline.sample();

  const s = timeline.snapshot();
  const [v1, v2] = s.versions;
  assert.equal(v1.version, 'v1');
  assert.equal(v1.firstSeen, t0);
  assert.equal(v1.swapPauseMs, null, 'v1 served from the start, no swap');
  assert.equal(v2.version, 'v2');
  assert.equal(v2.firstSeen, t0 + 1200);
  assert.equal(v2.swapPauseMs, 12.5);
  const rows = p.byVersion.rows();
  assert.deepEqual(
    s.versions.map((v) => [v.version, v.targets, v.recall20, v.mrr20]),
    rows.map((r) => [r.version, r.targets, r.recall, r.mrr]),
  );
  assert.equal(v1.targets, 3, "v1 judged a's two clicks and b's one");
  assert.equal(v1.recall20, 2 / 3);
  assert.equal(v1.mrr20, (1 / 2 + 1) / 3);
  assert.equal(v2.recall20, 1, 'c clicked what v2 listed, twice');

  assert.deepEqual(
    s.series.byVersion.map((v) => v.version),
    ['v1', 'v2'],
  );
  const [c1, c2] = s.series.byVersion;
  assert.deepEqual(c1.recall20, [1 / 2, 2 / 3, null], 'v1 stops being plotted once nothing judges its lists');
  assert.deepEqual(c2.recall20, [null, 1, 1], 'v2 from its first target, then while it serves');
  assert.deepEqual(c2.mrr20, [null, 1, 1]);
  assert.equal(s.current!.version, 'v2');
  assert.equal(s.current!.recall20, p.overall.recall);
  assert.equal(s.current!.targets, 5, 'every target counts overall: 3 for v1, 2 for v2');
});

test('the history keeps maxVersions versions, dropping the oldest', () => {
  const p = new Process();
  const timeline = new StatusTimeline(p.source(), { maxVersions: 2 });
  timeline.modelSwapped('v2', 1);
  timeline.modelSwapped('v3', 2);
  assert.deepEqual(
    timeline.snapshot().versions.map((v) => [v.version, v.swapPauseMs]),
    [
      ['v2', 1],
      ['v3', 2],
    ],
  );
});

test('a source that throws leaves the timeline as it was; the timer reports it on the page instead of throwing', async () => {
  const p = new Process();
  const c = clock();
  let broken = false;
  const source: StatusSource = {
    ...p.source(),
    qualityByVersion: () => {
      if (broken) throw new Error('quality store gone');
      return readingsAt20([]);
    },
  };
  const timeline = new StatusTimeline(source, { now: c.now, intervalMs: 10 });
  p.serve('a', 'x', ['x'], 3);
  c.advance(1000);
  timeline.sample();
  broken = true;
  for (let i = 0; i < 10; i++) p.serve('a', 'x', ['x'], 50);
  c.advance(1000);
  assert.throws(() => timeline.sample(), /quality store gone/);
  assert.equal(timeline.snapshot().series.t.length, 1, 'nothing of the failed sample is kept');

  timeline.start();
  try {
    await new Promise((r) => setTimeout(r, 60));
    assert.equal(timeline.snapshot().error, 'quality store gone');
    broken = false;
    await new Promise((r) => setTimeout(r, 60));
    const s = timeline.snapshot();
    assert.equal(s.error, null, 'a good sample clears the error');
    assert.ok(s.series.t.length >= 2);
  } finally {
    timeline.stop();
  }
  // A failed sample takes no latency window: the next good one still sees the samples recorded before it.
  const timeline2 = new StatusTimeline(source, { now: c.now });
  broken = true;
  for (let i = 0; i < 10; i++) p.serve('b', 'x', ['x'], 80);
  assert.throws(() => timeline2.sample());
  broken = false;
  c.advance(1000);
  const r = timeline2.sample();
  assert.ok(r.latencyP50Ms! >= 80, `p50 ${r.latencyP50Ms}`);
});

test('options are checked and readingsAt20 adapts per-version views', () => {
  const p = new Process();
  assert.throws(
    () => new StatusTimeline(p.source(), { intervalMs: 0 }),
    (e: unknown) => e instanceof ConfigError && /status\.intervalMs/.test(e.message),
  );
  assert.throws(() => new StatusTimeline(p.source(), { capacity: 1.5 }), ConfigError);
  assert.throws(() => new StatusTimeline(p.source(), { maxVersions: -1 }), ConfigError);
  const view = { version: 'v7', targets: 10, recall: (k: number) => k / 100, mrr: (k: number) => k / 1000 };
  assert.deepEqual(readingsAt20([view]), [{ version: 'v7', recall20: 0.2, mrr20: 0.02, targets: 10 }]);
});

test('servingStatusSource reads ServingStats: cumulative latency, per-version quality, lag summed over partitions', () => {
  const stats = createServingStats({ slidingTargets: 100, maxSessions: 1000, maxVersions: 4 });
  let version = 'v1';
  const source = servingStatusSource(stats, 'serving-3', () => version);
  assert.equal(source.consumerLag!(), undefined, 'no partition yet: unknown');
  const serve = (session: string, item: string, list: string[]) => {
    stats.online.observe(session, item);
    stats.online.emitted(session, version, list);
    stats.eventsIn++;
    stats.recommendationsOut++;
    stats.latency.record(4);
    stats.recentLatency.record(4);
  };
  serve('a', 'x', ['y']);
  serve('a', 'y', ['z']);
  version = 'v2';
  serve('a', 'q', ['r']);
  stats.consumerLag.set(0, 5).set(2, 7);
  const timeline = new StatusTimeline(source);
  stats.recentLatency.reset();
  assert.equal(source.latency(), stats.latency, 'the histogram nobody resets');
  assert.equal(source.consumerLag!(), 12);
  assert.equal(source.currentVersion!(), 'v2');
  assert.deepEqual(source.quality(), { recall20: 0.5, mrr20: 0.5, targets: 2 });
  assert.deepEqual(source.qualityByVersion(), [
    { version: 'v1', recall20: 0.5, mrr20: 0.5, targets: 2 },
    { version: 'v2', recall20: 0, mrr20: 0, targets: 0 },
  ]);
  const r = timeline.sample();
  assert.equal(r.lag, 12);
  assert.equal(r.version, 'v2');
  assert.equal(timeline.snapshot().instanceId, 'serving-3');
});
