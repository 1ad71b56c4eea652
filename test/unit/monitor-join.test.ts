import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PrequentialMetrics } from '../../src/metrics/online-metrics.ts';
import { OnlineQuality } from '../../src/metrics/online-quality.ts';
import { Fifo } from '../../src/monitor/fifo.ts';
import { type DeadLetterOutcome, type PrequentialSink, PrequentialJoin } from '../../src/monitor/prequential-join.ts';
import { seededRandom } from '../../src/random/rng.ts';

/** PrequentialMetrics behind the sink interface (it takes no version). */
function metricsSink(m: PrequentialMetrics): PrequentialSink {
  return { observe: (s, i) => void m.observe(s, i), emitted: (s, _v, l) => m.emitted(s, l), forget: (s) => m.forget(s) };
}

/** Records every call, to check the order the join replays. */
class CallLog implements PrequentialSink {
  readonly calls: string[] = [];
  observe(s: string, i: string): void {
    this.calls.push(`observe ${s} ${i}`);
  }
  emitted(s: string, v: string, l: readonly string[]): void {
    this.calls.push(`emitted ${s} ${v} ${l.join(',')}`);
  }
  forget(s: string): void {
    this.calls.push(`forget ${s}`);
  }
}

const list = (sessionId: string, itemIds: string[], modelVersion = 'v1') => ({ sessionId, itemIds, modelVersion });

test('a list that arrives before its click, and lists out of order within a session, are replayed in click order', () => {
  const log = new CallLog();
  const j = new PrequentialJoin(log, { windowMs: 1000, maxPending: 100 });
  j.recommendation(0, 1, list('s', ['c', 'x']), 0); // the second click's list, before either click
  assert.equal(j.pendingAnswers, 1);
  j.click(0, 0, 100, 's', 'a', 0);
  j.click(0, 1, 110, 's', 'b', 0);
  assert.deepEqual(log.calls, [], 'nothing is final while the first click waits for its list');
  assert.equal(j.pendingClicks, 2);
  j.recommendation(0, 0, list('s', ['b', 'y']), 0);
  assert.deepEqual(log.calls, ['observe s a', 'emitted s v1 b,y', 'observe s b', 'emitted s v1 c,x']);
  assert.equal(j.pendingClicks, 0);
  assert.equal(j.pendingAnswers, 0);
  assert.equal(j.counts.recommendations, 2);
});

test('a click still without its list once its partition has answered clicks a window later is a missing recommendation, not a miss', () => {
  const m = new PrequentialMetrics(20);
  const j = new PrequentialJoin(metricsSink(m), { windowMs: 1000, maxPending: 100 });
  j.click(0, 0, 0, 's', 'a', 0);
  j.recommendation(0, 0, list('s', ['b']), 0);
  j.click(0, 1, 100, 's', 'b', 0); // a hit against a's list; its own list never comes
  j.click(0, 2, 200, 's', 'c', 0); // would be judged against b's list: must not count
  j.click(0, 3, 1099, 't', 'x', 0);
  j.recommendation(0, 3, list('t', ['y']), 0); // t's click at 1099 < 100 + 1000: the window is still open
  assert.equal(j.counts.missing, 0);
  assert.equal(m.targets, 0, 's waits for the list of its click at 100');
  j.click(0, 4, 1100, 't', 'y', 0);
  j.recommendation(0, 4, list('t', ['z']), 0); // answered at click time 1100 = 100 + window: b is given up
  assert.equal(j.counts.missing, 1);
  assert.equal(m.targets, 2, 'b (a hit) and t:y (a hit); c is no target');
  assert.equal(m.hits, 2);
  assert.equal(j.pendingClicks, 1, 'c still waits for its own list');
  j.recommendation(0, 1, list('s', ['c']), 0); // b's list, too late
  assert.equal(j.counts.answersUnmatched, 1);
  j.recommendation(0, 2, list('s', ['d']), 0);
  assert.equal(m.targets, 2, 'c was not judged against anything');
  j.click(0, 5, 1200, 's', 'd', 0);
  j.recommendation(0, 5, list('s', ['e']), 0);
  assert.equal(m.targets, 3, 'd is judged against c’s list again');
  assert.equal(m.hits, 3);
});

test('a partition with no answers at all gives clicks up after the window in wall time', () => {
  const m = new PrequentialMetrics(20);
  const j = new PrequentialJoin(metricsSink(m), { windowMs: 1000, maxPending: 100 });
  j.click(1, 0, 0, 's', 'a', 10_000);
  j.click(1, 1, 5, 's', 'b', 10_400);
  j.advance(10_999);
  assert.equal(j.counts.missing, 0);
  j.advance(11_000);
  assert.equal(j.counts.missing, 1, 'read 1000 ms ago with no answer on its partition since');
  j.advance(11_400);
  assert.equal(j.counts.missing, 2);
  assert.equal(j.pendingClicks, 0);
  // An answer moves the partition's wall clock: a click read later waits a full window again.
  j.click(1, 2, 10, 'u', 'c', 11_500);
  j.recommendation(1, 2, list('u', ['d']), 11_500);
  j.click(1, 3, 20, 'u', 'd', 11_600);
  j.advance(12_499);
  assert.equal(j.counts.missing, 2);
  assert.equal(m.targets, 0, 'u:d is judged once it is final, when its own list comes or it is given up');
  j.advance(12_600);
  assert.equal(j.counts.missing, 3);
  assert.equal(m.targets, 1);
  assert.equal(m.hits, 1, 'u:d is still judged against the list of u:c');
});

test('dead letters: UNKNOWN_ITEM is a target that keeps the previous list, a rejected click is nothing', () => {
  const log = new CallLog();
  const j = new PrequentialJoin(log, { windowMs: 1000, maxPending: 100 });
  j.click(0, 0, 0, 's', 'a', 0);
  j.recommendation(0, 0, list('s', ['b']), 0);
  j.click(0, 1, 1, 's', 'new-item', 0);
  j.deadLetter(0, 1, 'unknown-item', 0);
  j.deadLetter(0, 2, 'rejected', 0); // before its click
  j.click(0, 2, 2, 's', 'odd', 0);
  j.click(0, 3, 3, 's', 'b', 0);
  j.recommendation(0, 3, list('s', ['c']), 0);
  assert.deepEqual(log.calls, ['observe s a', 'emitted s v1 b', 'observe s new-item', 'observe s b', 'emitted s v1 c']);
  assert.equal(j.counts.deadLetteredUnknownItem, 1);
  assert.equal(j.counts.deadLetteredRejected, 1);
});

test('undecodable clicks, re-delivered clicks, answers for clicks never read and mismatched sessions are not joined', () => {
  const log = new CallLog();
  const j = new PrequentialJoin(log, { windowMs: 1000, maxPending: 100 });
  j.recommendation(0, 5, list('s', ['z']), 0); // a click before this monitor's start position...
  j.click(0, 7, 0, 's', 'a', 0); // ...which it never reads: the answer is dropped
  assert.equal(j.pendingAnswers, 0);
  assert.equal(j.counts.answersUnmatched, 1);
  j.click(0, 7, 0, 's', 'a', 0); // re-delivered after a rebalance
  assert.equal(j.counts.clicksDuplicate, 1);
  j.recommendation(0, 7, list('someone-else', ['b']), 0);
  assert.equal(j.counts.answersUnmatched, 2, 'an answer for another session does not answer this click');
  j.recommendation(0, 7, list('s', ['b']), 0);
  j.recommendation(0, 7, list('s', ['b']), 0); // a duplicate answer
  assert.equal(j.counts.answersUnmatched, 3);
  j.recommendation(0, 8, list('s', ['c']), 0);
  j.skippedClick(0, 8, 0); // the monitor could not decode it either
  assert.equal(j.counts.clicksSkipped, 1);
  assert.equal(j.pendingAnswers, 0);
  assert.equal(j.counts.answersUnmatched, 4);
  assert.deepEqual(log.calls, ['observe s a', 'emitted s v1 b']);
});

test('memory is bounded: beyond maxPending the oldest waiting click is given up and the oldest early answer dropped', () => {
  const m = new PrequentialMetrics(20);
  const j = new PrequentialJoin(metricsSink(m), { windowMs: 1e9, maxPending: 3 });
  for (let i = 0; i < 10; i++) j.click(i % 2, i, i, `s${i}`, 'a', i);
  assert.equal(j.pendingClicks, 3);
  assert.equal(j.counts.missing, 7);
  assert.equal(j.counts.missingOverflow, 7);
  for (let i = 0; i < 10; i++) j.recommendation(2, i, list(`t${i}`, ['x']), i);
  assert.equal(j.pendingAnswers, 3);
  assert.equal(j.counts.answersUnmatched, 7);
  for (let i = 0; i < 10; i++) j.click(2, i, i, `t${i}`, 'a', 100 + i);
  assert.equal(j.counts.recommendations, 3, 'the three newest early answers were kept');
});

interface StreamClick {
  partition: number;
  offset: number;
  time: number;
  sessionId: string;
  itemId: string;
  outcome: { itemIds: string[]; version: string } | DeadLetterOutcome;
}

/**
 * A served stream: sessions on 3 partitions (by session), items from a small catalogue, lists
 * that often hold the next item, a hot swap from v1 to v2 half way, some unknown items and some
 * records the recommender rejected.
 */
function servedStream(seed: number, nSessions: number): StreamClick[] {
  const rnd = seededRandom(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  const sessions = Array.from({ length: nSessions }, (_, s) => {
    const len = 2 + pick(8);
    return { id: `s${s}`, items: Array.from({ length: len }, () => `i${pick(40)}`), at: 0 };
  });
  const out: StreamClick[] = [];
  const offsets = [0, 0, 0];
  let time = 0;
  for (let live = sessions.slice(); live.length > 0; ) {
    const k = pick(live.length);
    const s = live[k];
    const partition = Number(s.id.slice(1)) % 3;
    const itemId = s.items[s.at];
    const next = s.items[s.at + 1];
    const r = rnd();
    let outcome: StreamClick['outcome'];
    if (r < 0.05) outcome = 'unknown-item';
    else if (r < 0.08) outcome = 'rejected';
    else {
      const itemIds = Array.from({ length: 20 }, () => `i${pick(40)}`);
      if (next !== undefined && rnd() < 0.5) itemIds[pick(20)] = next;
      outcome = { itemIds: [...new Set(itemIds)], version: time < nSessions * 25 ? 'v1' : 'v2' };
    }
    out.push({ partition, offset: offsets[partition]++, time: (time += 10), sessionId: s.id, itemId, outcome });
    if (++s.at === s.items.length) live.splice(k, 1);
  }
  return out;
}

/** What serving's stats subscriber does with the stream, in serving order. */
function asServed(stream: readonly StreamClick[], sink: PrequentialSink): void {
  for (const c of stream) {
    if (c.outcome === 'rejected') continue;
    sink.observe(c.sessionId, c.itemId);
    if (c.outcome !== 'unknown-item') sink.emitted(c.sessionId, c.outcome.version, c.outcome.itemIds);
  }
}

/**
 * The same stream as the monitor sees it: each partition's clicks in offset order, answers on
 * their own schedule (up to 300 ms before or 800 ms after their click), all interleaved.
 */
function asMonitored(stream: readonly StreamClick[], seed: number, j: PrequentialJoin): void {
  const rnd = seededRandom(seed);
  const events: Array<{ at: number; seq: number; run: () => void }> = [];
  const lastClickAt = [0, 0, 0];
  for (const c of stream) {
    const clickAt = Math.max(lastClickAt[c.partition], c.time + rnd() * 500);
    lastClickAt[c.partition] = clickAt;
    events.push({ at: clickAt, seq: events.length, run: () => j.click(c.partition, c.offset, c.time, c.sessionId, c.itemId, clickAt) });
    const answerAt = c.time + (rnd() * 1100 - 300);
    const o = c.outcome;
    events.push({
      at: answerAt,
      seq: events.length,
      run: () =>
        typeof o === 'string' ? j.deadLetter(c.partition, c.offset, o, answerAt) : j.recommendation(c.partition, c.offset, list(c.sessionId, o.itemIds, o.version), answerAt),
    });
  }
  events.sort((a, b) => a.at - b.at || a.seq - b.seq);
  for (const e of events) e.run();
}

test('on a reordered stream the monitor counts the targets and hits of PrequentialMetrics fed in serving order, exactly', () => {
  for (const seed of [1, 2, 3]) {
    const stream = servedStream(seed, 300);
    const served = new PrequentialMetrics(20);
    asServed(stream, metricsSink(served));
    const monitored = new PrequentialMetrics(20);
    const j = new PrequentialJoin(metricsSink(monitored), { windowMs: 5000, maxPending: 100_000 });
    asMonitored(stream, seed + 100, j);
    assert.ok(served.targets > 500 && served.hits > 100, `a stream with substance (${served.targets} targets, ${served.hits} hits)`);
    assert.equal(monitored.targets, served.targets, `seed ${seed}: targets`);
    assert.equal(monitored.hits, served.hits, `seed ${seed}: hits`);
    // A running float sum: the monitor adds the same terms, but across sessions not in serving's order.
    assert.ok(Math.abs(monitored.reciprocalRankSum - served.reciprocalRankSum) < 1e-9, `seed ${seed}: reciprocal ranks`);
    assert.equal(j.counts.missing, 0);
    assert.equal(j.counts.answersUnmatched, 0);
    assert.equal(j.pendingClicks + j.pendingAnswers, 0);
    assert.equal(j.counts.recommendations + j.counts.deadLetteredUnknownItem + j.counts.deadLetteredRejected, stream.length);
  }
});

test('per model version (k = 5, 10, 20, cumulative) the monitor equals OnlineQuality fed in serving order, exactly', () => {
  const stream = servedStream(7, 400);
  const served = new OnlineQuality({ slidingTargets: 200, maxSessions: 100_000, maxVersions: 8 });
  asServed(stream, served);
  const monitored = new OnlineQuality({ slidingTargets: 200, maxSessions: 100_000, maxVersions: 8 });
  asMonitored(stream, 8, new PrequentialJoin(monitored, { windowMs: 5000, maxPending: 100_000 }));
  const versions = served.versions().map((v) => v.version);
  assert.deepEqual(versions, ['v1', 'v2']);
  assert.deepEqual(
    monitored.versions().map((v) => v.version),
    versions,
  );
  for (const name of versions) {
    const s = served.version(name)!;
    const m = monitored.version(name)!;
    assert.ok(s.targets > 100, `${name} has targets`);
    assert.equal(m.targets, s.targets, `${name}: targets`);
    assert.equal(m.events, s.events, `${name}: lists`);
    for (const k of [5, 10, 20]) {
      assert.equal(m.hits(k), s.hits(k), `${name} hits@${k}`);
      assert.equal(m.recall(k), s.recall(k), `${name} Recall@${k}`);
      assert.equal(m.mrr(k), s.mrr(k), `${name} MRR@${k}: from integer counts by rank, so exact`);
    }
    // The sliding window is the last N targets in the order they were judged: per session that is
    // serving's order, across sessions of a partition the monitor may judge a later click first
    // (an earlier one still waits for its list), so the window holds nearly, not exactly, the same targets.
    assert.equal(m.windowTargets, s.windowTargets);
  }
  assert.equal(monitored.overall.recall, served.overall.recall);
});

test('a recommender that stops answering one partition: its clicks are given up, the other partitions keep measuring', () => {
  const stream = servedStream(11, 200);
  const served = new PrequentialMetrics(20);
  // What a correct monitor should report: partition 2 never answered, so none of its clicks count.
  asServed(
    stream.filter((c) => c.partition !== 2),
    metricsSink(served),
  );
  const monitored = new PrequentialMetrics(20);
  const j = new PrequentialJoin(metricsSink(monitored), { windowMs: 2000, maxPending: 100_000 });
  let now = 0;
  for (const c of stream) {
    now = c.time;
    j.click(c.partition, c.offset, c.time, c.sessionId, c.itemId, now);
    if (c.partition === 2) continue;
    const o = c.outcome;
    if (typeof o === 'string') j.deadLetter(c.partition, c.offset, o, now);
    else j.recommendation(c.partition, c.offset, list(c.sessionId, o.itemIds, o.version), now);
  }
  j.advance(now + 2000);
  const p2 = stream.filter((c) => c.partition === 2).length;
  assert.equal(j.counts.missing, p2, 'every click of the silent partition is missing');
  assert.equal(j.pendingClicks, 0);
  // Each missing click is observed (judged against nothing: no list was ever held) and forgets its session.
  assert.equal(monitored.targets, served.targets);
  assert.equal(monitored.hits, served.hits);
});

test('the FIFO keeps order across its compactions', () => {
  const q = new Fifo<number>();
  let next = 0;
  let expected = 0;
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 700; i++) q.push(next++);
    for (let i = 0; i < 500; i++) assert.equal(q.shift(), expected++);
  }
  assert.equal(q.length, next - expected);
  assert.equal(q.peek(), expected);
  while (q.length > 0) assert.equal(q.shift(), expected++);
  assert.equal(q.shift(), undefined);
  assert.equal(expected, next);
});
