import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OnlineQuality } from '../../src/metrics/online-quality.ts';
import { PrequentialMetrics } from '../../src/metrics/online-metrics.ts';
import { seededRandom } from '../../src/random/rng.ts';

const options = { slidingTargets: 1000, maxSessions: 10_000, maxVersions: 8 };

test('a target is credited to the version that emitted the list it is checked against, at k = 5, 10, 20', () => {
  const q = new OnlineQuality(options);
  const ranked = Array.from({ length: 20 }, (_, r) => `r${r}`); // r{n} sits at rank n + 1
  q.emitted('a', 'v1', ranked);
  q.emitted('b', 'v1', ranked);
  q.emitted('c', 'v1', ranked);
  q.observe('a', 'r3'); // rank 4: a hit at 5, 10, 20
  q.emitted('a', 'v2', ranked);
  q.observe('b', 'r7'); // rank 8: a hit at 10 and 20, v1's list
  q.emitted('b', 'v2', ranked);
  q.observe('c', 'nope'); // a miss for v1
  q.emitted('c', 'v2', ranked);
  q.observe('a', 'r15'); // rank 16: a hit at 20 only, v2's list
  q.observe('d', 'r0'); // no list held: not a target
  const v1 = q.version('v1')!;
  const v2 = q.version('v2')!;
  assert.deepEqual([v1.targets, v1.events, v2.targets, v2.events], [3, 3, 1, 3]);
  assert.deepEqual(
    [5, 10, 20].map((k) => v1.hits(k)),
    [1, 2, 2],
  );
  assert.equal(v1.recall(5), 1 / 3);
  assert.equal(v1.recall(20), 2 / 3);
  assert.equal(v1.mrr(5), 1 / 4 / 3);
  assert.equal(v1.mrr(20), (1 / 4 + 1 / 8) / 3);
  assert.deepEqual(
    [5, 10, 20].map((k) => v2.recall(k)),
    [0, 0, 1],
  );
  assert.equal(v2.mrr(20), 1 / 16);
  assert.deepEqual(
    q.versions().map((v) => v.version),
    ['v1', 'v2'],
    'in the order they first served',
  );
  assert.equal(q.overall.targets, 4);
  assert.equal(q.overall.hits, 3, 'overall is Recall@20 over all versions');
});

/** The definition spelt out: a Map of each session's latest (list, version), every target's rank kept per version. */
class Reference {
  readonly last = new Map<string, { list: readonly string[]; version: string }>();
  readonly ranks = new Map<string, number[]>();
  observe(s: string, item: string) {
    const held = this.last.get(s);
    if (!held) return;
    const r = held.list.slice(0, 20).indexOf(item);
    this.ranks.get(held.version)!.push(r);
  }
  emitted(s: string, version: string, list: readonly string[]) {
    if (!this.ranks.has(version)) this.ranks.set(version, []);
    this.last.set(s, { list, version });
  }
  recall(version: string, k: number, lastN = Infinity): number {
    const rs = this.ranks.get(version)!.slice(-lastN);
    return rs.filter((r) => r >= 0 && r < k).length / rs.length;
  }
  mrr(version: string, k: number, lastN = Infinity): number {
    const rs = this.ranks.get(version)!.slice(-lastN);
    return rs.reduce((a, r) => a + (r >= 0 && r < k ? 1 / (r + 1) : 0), 0) / rs.length;
  }
}

test('cumulative and sliding Recall@k / MRR@k equal the definition on a stream with hot swaps; per-version targets add up to the overall metric', () => {
  const rand = seededRandom(11);
  const window = 257;
  const q = new OnlineQuality({ ...options, slidingTargets: window });
  const ref = new Reference();
  const overall = new PrequentialMetrics(20, options.maxSessions);
  const lists = Array.from({ length: 40 }, (_, k) => Array.from({ length: 20 }, (_, r) => `i${(k * 7 + r * 3) % 60}`));
  let version = 'v1';
  for (let e = 0; e < 30_000; e++) {
    if (e % 7000 === 6999) version = `v${Number(version.slice(1)) + 1}`;
    const s = `s${Math.floor(rand() * 300)}`;
    const item = `i${Math.floor(rand() * 60)}`;
    q.observe(s, item);
    ref.observe(s, item);
    overall.observe(s, item);
    const list = lists[Math.floor(rand() * lists.length)];
    q.emitted(s, version, list);
    ref.emitted(s, version, list);
    overall.emitted(s, list);
  }
  assert.equal(q.versions().length, 5);
  let targets = 0;
  for (const v of q.versions()) {
    assert.equal(v.targets, ref.ranks.get(v.version)!.length, v.version);
    assert.equal(v.windowTargets, Math.min(window, v.targets));
    targets += v.targets;
    for (const k of [5, 10, 20]) {
      assert.ok(Math.abs(v.recall(k) - ref.recall(v.version, k)) < 1e-12, `${v.version} Recall@${k}`);
      assert.ok(Math.abs(v.mrr(k) - ref.mrr(v.version, k)) < 1e-12, `${v.version} MRR@${k}`);
      assert.ok(Math.abs(v.recall(k, 'sliding') - ref.recall(v.version, k, window)) < 1e-12, `${v.version} sliding Recall@${k}`);
      assert.ok(Math.abs(v.mrr(k, 'sliding') - ref.mrr(v.version, k, window)) < 1e-12, `${v.version} sliding MRR@${k}`);
    }
  }
  assert.ok(targets > 25_000);
  assert.equal(targets, overall.targets);
  assert.equal(q.overall.targets, overall.targets);
  assert.equal(q.overall.hits, overall.hits);
});

test('beyond maxVersions the version that emitted least recently is retired; lists it left count only overall', () => {
  const q = new OnlineQuality({ ...options, maxVersions: 2 });
  q.emitted('a', 'v1', ['x']);
  q.emitted('b', 'v2', ['x']);
  q.emitted('c', 'v1', ['x']); // v1 emitted more recently than v2 now
  q.emitted('d', 'v3', ['x']); // retires v2
  assert.deepEqual(
    q.versions().map((v) => v.version),
    ['v1', 'v3'],
  );
  assert.equal(q.version('v2'), undefined);
  q.observe('b', 'x'); // v2's list: no version gets it
  q.observe('a', 'x');
  q.observe('d', 'x');
  assert.deepEqual([q.version('v1')!.targets, q.version('v3')!.targets, q.overall.targets], [1, 1, 3]);
  q.emitted('e', 'v2', ['x']); // v2 again is a new version (retires v1, the least recent now)
  assert.equal(q.version('v2')!.targets, 0);
  assert.equal(q.version('v1'), undefined);
});

test('forget: the session’s next click is no target; bad options are refused', () => {
  const q = new OnlineQuality(options);
  q.emitted('a', 'v1', ['x']);
  q.forget('a');
  q.observe('a', 'x');
  assert.equal(q.version('v1')!.targets, 0);
  assert.equal(q.version('v1')!.recall(20), 0, 'no targets: 0, not NaN');
  assert.throws(() => new OnlineQuality({ ...options, slidingTargets: 0 }), /slidingTargets/);
  assert.throws(() => new OnlineQuality({ ...options, maxVersions: 0 }), /maxVersions/);
  assert.throws(() => new OnlineQuality({ ...options, cutoffs: [10, 5] }), /ascending/);
  assert.equal(new OnlineQuality({ ...options, cutoffs: [1000] }).cutoffs[0], 1000, 'any serving.topK is a valid cutoff');
});
