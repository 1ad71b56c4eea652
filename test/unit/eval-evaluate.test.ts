import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sessions } from '../support/sessions.ts';
import type { SessionScorer } from '../../src/eval/scorer.ts';
import { evaluate } from '../../src/eval/evaluate.ts';
import { PopularityScorer } from '../../src/eval/baselines/popularity.ts';

/** Scores depend only on the item just fed: row `table[item]`. */
class TableScorer implements SessionScorer {
  readonly name = 'table';
  constructor(private readonly table: number[][]) {}
  get nItems(): number {
    return this.table[0].length;
  }
  reset(): void {}
  step(n: number, _slots: Int32Array, items: Int32Array, out: Float32Array): void {
    for (let b = 0; b < n; b++) out.set(this.table[items[b]], b * this.nItems);
  }
}

/**
 * Stateful: predicts (sum of the session's items so far) mod nItems with score 1, everything else 0.
 * A wrong reset or a slot mix-up changes its predictions, so batch size must not change its results.
 * It also records what it was fed, per session as the evaluator presented it.
 */
class PrefixSumScorer implements SessionScorer {
  readonly name = 'prefix-sum';
  private readonly sums = new Map<number, number>();
  private readonly current = new Map<number, number[]>();
  readonly fed: number[][] = [];
  maxN = 0;
  maxSlot = -1;
  constructor(readonly nItems: number) {}
  reset(slots: Int32Array): void {
    for (const s of slots) {
      this.sums.set(s, 0);
      const seq: number[] = [];
      this.current.set(s, seq);
      this.fed.push(seq);
    }
  }
  step(n: number, slots: Int32Array, items: Int32Array, out: Float32Array): void {
    this.maxN = Math.max(this.maxN, n);
    for (let b = 0; b < n; b++) {
      const s = slots[b];
      this.maxSlot = Math.max(this.maxSlot, s);
      const sum = (this.sums.get(s) ?? NaN) + items[b];
      this.sums.set(s, sum);
      this.current.get(s)!.push(items[b]);
      out.fill(0, b * this.nItems, (b + 1) * this.nItems);
      out[b * this.nItems + (sum % this.nItems)] = 1;
    }
  }
}

test('Recall@k and MRR@k match hand-computed ranks 2, 4 and 1', async () => {
  const table = [
    [0.9, 0.5, 0.1, 0.3, 0.2], // after 0, target 1: only 0.9 above -> rank 2
    [0.5, 0.6, 0.3, 0.9, 0.1], // after 1, target 2: 0.5, 0.6, 0.9 above -> rank 4
    [0, 0, 0, 0, 0],
    [0.1, 0.2, 0.3, 0.4, 0.5], // after 3, target 4: top -> rank 1
    [0, 0, 0, 0, 0],
  ];
  const r = await evaluate(
    new TableScorer(table),
    sessions([
      [0, 1, 2],
      [3, 4],
    ]),
    { cutoffs: [1, 2, 3, 5] },
  );
  assert.equal(r.events, 3);
  assert.equal(r.sessions, 2);
  assert.equal(r.recall[1], 1 / 3);
  assert.equal(r.recall[2], 2 / 3);
  assert.equal(r.recall[3], 2 / 3);
  assert.equal(r.recall[5], 1);
  assert.ok(Math.abs(r.mrr[1] - 1 / 3) < 1e-12);
  assert.ok(Math.abs(r.mrr[2] - (1 + 1 / 2) / 3) < 1e-12);
  assert.ok(Math.abs(r.mrr[5] - (1 + 1 / 2 + 1 / 4) / 3) < 1e-12);
  assert.deepEqual(r.recallCurve.slice(0, 5), [1 / 3, 2 / 3, 2 / 3, 1, 1]);
  assert.equal(r.recallCurve.length, 20);
  assert.equal(r.nanTargets, 0);
});

test('ties: conservative counts them against the model, standard for it, median halfway', async () => {
  // After item 0 the target 1 scores 0.5, tied with items 2 and 3; item 4 is above.
  const table = [
    [0, 0.5, 0.5, 0.5, 0.7],
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0],
  ];
  const data = sessions([[0, 1]]);
  const cons = await evaluate(new TableScorer(table), data, { cutoffs: [20] });
  const std = await evaluate(new TableScorer(table), data, { cutoffs: [20], tieMode: 'standard' });
  const med = await evaluate(new TableScorer(table), data, { cutoffs: [20], tieMode: 'median' });
  assert.equal(cons.tieMode, 'conservative');
  assert.equal(cons.mrr[20], 1 / 4);
  assert.equal(std.mrr[20], 1 / 2);
  assert.equal(med.mrr[20], 1 / 3);
  // The curve buckets by ceil(rank): the tied target is a hit from k = 4 (conservative) / 2 (standard).
  assert.deepEqual(cons.recallCurve.slice(0, 4), [0, 0, 0, 1]);
  assert.deepEqual(std.recallCurve.slice(0, 4), [0, 1, 1, 1]);
});

test('a constant scorer gets no hits under the default tie mode', async () => {
  const nItems = 50;
  const zeros = Array.from({ length: nItems }, () => new Array<number>(nItems).fill(0));
  const data = sessions([
    [1, 2, 3],
    [4, 5],
  ]);
  const cons = await evaluate(new TableScorer(zeros), data, { cutoffs: [20] });
  assert.equal(cons.recall[20], 0);
  assert.equal(cons.mrr[20], 0);
  const std = await evaluate(new TableScorer(zeros), data, { cutoffs: [20], tieMode: 'standard' });
  assert.equal(std.recall[20], 1, 'standard mode rewards ties, which is why it is not the default');
});

test('the first event is only input, the last only a target; length-1 sessions are skipped', async () => {
  const data = sessions([[3], [1, 2], [4, 5, 6], [0]]);
  const scorer = new PrefixSumScorer(7);
  const r = await evaluate(scorer, data, { batchSize: 2 });
  assert.equal(r.events, 3);
  assert.equal(r.sessions, 2);
  assert.deepEqual(
    scorer.fed.filter((s) => s.length > 0),
    [[1], [4, 5]],
  );
});

test('results do not depend on the number of slots: long sessions and more sessions than slots', async () => {
  const nItems = 7;
  let seed = 12345;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const list: number[][] = [];
  for (let s = 0; s < 40; s++) {
    const len = 2 + Math.floor(rnd() * 12);
    list.push(Array.from({ length: len }, () => Math.floor(rnd() * nItems)));
  }
  // Direct sequential computation of the expected hits at rank 1.
  let hits = 0;
  let events = 0;
  for (const s of list) {
    let sum = 0;
    for (let i = 0; i + 1 < s.length; i++) {
      sum += s[i];
      events++;
      if (sum % nItems === s[i + 1]) hits++;
    }
  }
  assert.ok(hits > 0 && hits < events, 'the fixture must have both hits and misses');
  const data = sessions(list);
  for (const batchSize of [1, 2, 3, 7, 100]) {
    const scorer = new PrefixSumScorer(nItems);
    const r = await evaluate(scorer, data, { batchSize, cutoffs: [1] });
    assert.equal(r.events, events, `batchSize ${batchSize}`);
    assert.equal(r.recall[1], hits / events, `batchSize ${batchSize}`);
    assert.ok(scorer.maxN <= batchSize && scorer.maxSlot < batchSize, `batchSize ${batchSize}: slots stay within the batch`);
    assert.deepEqual(
      scorer.fed.filter((s) => s.length > 0).sort(),
      list.map((s) => s.slice(0, -1)).sort(),
      `batchSize ${batchSize}: every session fed once, in order, without its last event`,
    );
  }
});

test('coverage and popularity bias come from the top-listLength lists', async () => {
  const train = sessions([
    [0, 1, 1],
    [1, 2, 1],
    [2, 0],
  ]); // counts: 0:2, 1:4, 2:2, 3:0
  const pop = new PopularityScorer().fit(train, 4);
  const counts = Float64Array.from([2, 4, 2, 0]);
  const r = await evaluate(
    pop,
    sessions([
      [3, 0],
      [0, 2, 1],
    ]),
    { listLength: 2, trainPopularity: counts, cutoffs: [1, 2] },
  );
  // Always recommends [1, 0] (0 beats 2 on the index tie-break).
  assert.equal(r.coverage, 2 / 4);
  assert.equal(r.popularityBias, (1 + 0.5) / 2);
  assert.equal(r.events, 3);
  // targets 0, 2, 1 -> conservative ranks 3 (1, 0, 2 tie at 2), 3, 1.
  assert.equal(r.recall[1], 1 / 3);
  assert.equal(r.recall[2], 1 / 3);
  assert.equal(r.recallCurve[2], 1);
});

test('a NaN target score counts as a miss and is reported', async () => {
  const table = [
    [0, NaN, 1],
    [0, 0, 0],
    [1, 0.5, 0],
  ];
  const r = await evaluate(
    new TableScorer(table),
    sessions([
      [0, 1],
      [2, 0],
    ]),
    { cutoffs: [1] },
  );
  assert.equal(r.nanTargets, 1);
  assert.equal(r.recall[1], 1 / 2);
});

test('items outside the scorer catalogue are rejected with a pointer to the fix', async () => {
  const table = [
    [0, 1],
    [1, 0],
  ];
  await assert.rejects(evaluate(new TableScorer(table), sessions([[0, 5]])), /outside the scorer's catalogue/);
});

test('onProgress reaches the total number of targets', async () => {
  const calls: Array<[number, number]> = [];
  const table = [
    [1, 0, 0],
    [0, 1, 0],
    [0, 0, 1],
  ];
  await evaluate(
    new TableScorer(table),
    sessions([
      [0, 1, 2],
      [1, 2],
      [2, 0, 1, 2],
    ]),
    { batchSize: 2, onProgress: (d, t) => calls.push([d, t]) },
  );
  assert.ok(calls.length >= 3);
  assert.deepEqual(calls[calls.length - 1], [6, 6]);
  for (let i = 1; i < calls.length; i++) assert.ok(calls[i][0] >= calls[i - 1][0]);
});
