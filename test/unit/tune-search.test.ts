import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RandomSearch } from '../../src/train/tune/random-search.ts';
import { TpeSearch } from '../../src/train/tune/tpe-search.ts';
import type { Observation, Sampler } from '../../src/train/tune/sampler.ts';
import { outsideSpace, type Point, type SearchSpace } from '../../src/train/tune/search-space.ts';
import { GRU4REC_SPACE } from '../../src/train/tune/gru4rec-target.ts';
import { SessionKnnTarget } from '../../src/train/tune/knn-target.ts';
import { tune } from '../../src/train/tune/tuner.ts';
import { formatTrialTable } from '../../src/train/tune/trial-table.ts';
import { syntheticSplit } from './tune-fixtures.ts';

/** Proposals of a sampler fed back its own scores under `objective`. */
function run(sampler: Sampler, n: number, objective: (p: Point) => number): Observation[] {
  const history: Observation[] = [];
  for (let i = 0; i < n; i++) {
    const point = sampler.propose(history);
    history.push({ point, score: objective(point) });
  }
  return history;
}

/** A smooth objective with its optimum at lr 0.02, hidden 200, loss bpr-max. */
const SPACE: SearchSpace = {
  lr: { kind: 'float', lo: 1e-4, hi: 1, log: true },
  hidden: { kind: 'int', lo: 16, hi: 1024, log: true },
  loss: { kind: 'choice', values: ['xe', 'bpr-max', 'top1'] },
};
const objective = (p: Point) =>
  -((Math.log10(p.lr as number) - Math.log10(0.02)) ** 2) - (Math.log2(p.hidden as number) - Math.log2(200)) ** 2 / 4 - (p.loss === 'bpr-max' ? 0 : 1);

test('tune samplers: the same seed proposes the same points; another seed other points', () => {
  for (const make of [(seed: number) => new RandomSearch(GRU4REC_SPACE, seed), (seed: number) => new TpeSearch(GRU4REC_SPACE, seed, { startup: 3 })]) {
    const score = (p: Point) => -Math.abs(Math.log(p.learningRate as number) - Math.log(0.05));
    const a = run(make(42), 12, score);
    const b = run(make(42), 12, score);
    const c = run(make(43), 12, score);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
    for (const o of a) assert.equal(outsideSpace(GRU4REC_SPACE, o.point), null);
  }
});

test('tune TPE: after its random start it samples near the best trials and beats random search on a smooth objective', () => {
  // Over 50 seeds (measured: TPE's best is better in 37, 16.9 of its last 20 proposals use the best loss on average).
  let tpeWins = 0;
  let lateBest = 0;
  const seeds = 50;
  for (let seed = 1; seed <= seeds; seed++) {
    const tpe = run(new TpeSearch(SPACE, seed, { startup: 8 }), 40, objective);
    const rnd = run(new RandomSearch(SPACE, seed), 40, objective);
    const best = (h: Observation[]) => Math.max(...h.map((o) => o.score!));
    lateBest += tpe.slice(20).filter((o) => o.point.loss === 'bpr-max').length;
    if (best(tpe) > best(rnd)) tpeWins++;
  }
  // Random search would put a third (6.7 of 20) on the best loss and win half the time.
  assert.ok(lateBest / seeds >= 14, `${lateBest / seeds} of the last 20 TPE proposals use the best loss, on average`);
  assert.ok(tpeWins >= 32, `TPE found the better optimum in ${tpeWins} of ${seeds} runs`);
});

test('tune TPE: failed trials count as bad, and fewer than two scored trials still mean random proposals', () => {
  const tpe = new TpeSearch(SPACE, 9, { startup: 2 });
  const history: Observation[] = [
    { point: { lr: 0.5, hidden: 16, loss: 'xe' }, score: null },
    { point: { lr: 0.5, hidden: 16, loss: 'xe' }, score: null },
  ];
  for (let i = 0; i < 5; i++) assert.equal(outsideSpace(SPACE, tpe.propose(history)), null);
});

test('tune: a kNN search with a trial count is deterministic end to end for a seed (same trials, same scores)', async () => {
  const split = syntheticSplit({ nSessions: 600 });
  const search = async (seed: number) => {
    const target = new SessionKnnTarget(split);
    const result = await tune(target, {
      sampler: new TpeSearch(target.space, seed, { startup: 3 }),
      budgetSeconds: Infinity,
      maxTrials: 6,
      start: target.configOf({ k: 100, sampleSize: 500, weighting: 'linear', similarity: 'cosine', scoreDecay: 'none' }),
    });
    return { result, table: formatTrialTable(target, result) };
  };
  const a = await search(5);
  const b = await search(5);
  assert.equal(a.result.trials.length, 6);
  assert.equal(a.result.endedBy, 'trials');
  assert.deepEqual(
    a.result.trials.map((t) => [t.config, t.run!.recall, t.run!.mrr]),
    b.result.trials.map((t) => [t.config, t.run!.recall, t.run!.mrr]),
  );
  // The printed table too, but for its two wall-time columns (fit s, score s: next to last but one).
  const untimed = (table: string) =>
    table.split('\n').map((row) =>
      row
        .split('|')
        .filter((_, i, cells) => i !== cells.length - 3 && i !== cells.length - 4)
        .join('|'),
    );
  assert.deepEqual(untimed(a.table), untimed(b.table));
  assert.equal(a.table.split('\n').length, 2 + 6);
  assert.equal(a.table.split('\n').filter((row) => row.startsWith('| *')).length, 1, 'one best row');
  assert.equal(a.result.trials[0].origin, 'start');
  assert.ok(a.result.best!.run!.recall >= a.result.trials[0].run!.recall);
  assert.ok(
    a.result.trials.every((t) => t.run!.recall > 0.1),
    'session-kNN learns the synthetic successors',
  );
  const c = await search(6);
  assert.notDeepEqual(
    a.result.trials.slice(1).map((t) => t.config),
    c.result.trials.slice(1).map((t) => t.config),
  );
});
