import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { sessionCount, sharedDataDir } from '../../src/data/sessions.ts';
import { loadValidationSplit, splitByTime } from '../../src/train/tune/validation-split.ts';
import { PopularityScorer } from '../../src/eval/baselines/popularity.ts';

const DAY = 86_400;

test('tune split by time: sessions ending in the last day validate; their unseen items are dropped, then sessions shorter than 2', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-tune-split-'));
  const rows: string[] = ['SessionId\tItemId\tTime'];
  // Days 0 and 1: training sessions over items a..d. Day 2.5: one session with a new item x, one with x only.
  for (let s = 0; s < 20; s++) for (let e = 0; e < 3; e++) rows.push(`${s}\t${'abcd'[(s + e) % 4]}\t${(s / 20) * 2 * DAY + e}`);
  rows.push(`100\ta\t${2.5 * DAY}`, `100\tx\t${2.5 * DAY + 1}`, `100\tb\t${2.5 * DAY + 2}`, `100\tc\t${2.5 * DAY + 3}`);
  rows.push(`101\tx\t${2.5 * DAY}`, `101\ta\t${2.5 * DAY + 1}`);
  writeFileSync(join(dir, 'train_full.tsv'), rows.join('\n') + '\n');
  const split = loadValidationSplit({ data: dir });
  assert.match(split.description, /sessions ending in the last day validate/);
  // The last event is at 2.5 days: sessions ending after 1.5 days validate (16..19 and 100, 101).
  assert.equal(sessionCount(split.train), 16);
  assert.equal(split.nItems, 4, "the catalogue is the training part's items: x is unknown");
  // 16..19 keep 3 events (2 targets each); 100 loses x (a b c: 2 targets); 101 keeps only a and is dropped.
  assert.equal(split.validTargets, 10);
  const result = await split.score(new PopularityScorer().fit(split.train, split.nItems));
  assert.equal(result.events, 10);
  assert.equal(result.sessions, 5);
});

test('tune split by time: data spanning under two days validates on its last-ending fifth of the sessions', () => {
  const data = {
    sessionIds: Array.from({ length: 10 }, (_, s) => `s${s}`),
    offsets: Int32Array.from({ length: 11 }, (_, s) => 2 * s),
    items: Int32Array.from({ length: 20 }, (_, e) => e % 3),
    // Session s ends at 100 - s: sessions 0 and 1 end last.
    times: Float64Array.from({ length: 20 }, (_, e) => 100 - Math.floor(e / 2) - (e % 2 === 0 ? 0.5 : 0)),
  };
  const { train, valid, nItems, rule } = splitByTime(data);
  assert.match(rule, /last-ending 20% of sessions/);
  assert.deepEqual(valid.sessionIds, ['s0', 's1']);
  assert.equal(sessionCount(train), 8);
  assert.equal(nItems, 3);
});

test('tune split: rsc15-100k uses its train_tr / train_valid files, amazon-video the leave-one-out validation item', async (t) => {
  const root = sharedDataDir();
  if (!existsSync(join(root, 'rsc15-100k', 'train_tr.tsv'))) {
    t.skip(`shared data not found under ${root}`);
    return;
  }
  const rsc = loadValidationSplit({ data: join(root, 'rsc15-100k') });
  assert.match(rsc.description, /train_tr\.tsv -> .*train_valid\.tsv/);
  assert.equal(rsc.train.items.length, 53_254);
  assert.equal(rsc.validTargets, 12_455);
  const amazon = join(root, 'amazon-video');
  if (!existsSync(join(amazon, 'sequences.txt'))) return;
  const loo = loadValidationSplit({ data: amazon });
  assert.match(loo.description, /leave-one-out/);
  // Training holds all but each eligible user's last two items: neither the validation nor the test item.
  assert.equal(loo.train.items.length, 287_107 - 2 * loo.validTargets);
});
