import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf } from '../../src/model/gru4rec-config.ts';
import { Rng } from '../../src/random/rng.ts';
import { growCatalogue } from '../../src/train/continuous/catalogue-growth.ts';
import { CHECKPOINT_FILE, readCheckpoint } from '../../src/train/continuous/checkpoint-file.ts';
import { followOptions } from '../../src/train/continuous/follow-options.ts';
import { runGate } from '../../src/train/continuous/promotion-gate.ts';
import { StreamCatalogue } from '../../src/train/continuous/stream-catalogue.ts';
import { followConfig, StreamTrainer, type WindowReport } from '../../src/train/continuous/stream-trainer.ts';
import { WindowSessions } from '../../src/train/continuous/window-sessions.ts';
import { Gru4RecOptimizer } from '../../src/train/optimizer.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

const N_ITEMS = 30;
const ids = Array.from({ length: N_ITEMS }, (_, i) => `i${i}`);

/** A live-like stream: 8 interleaved sessions, each walking item i → i+1 (mod N) for 2–8 clicks. */
function* chainStream(seed: number, events: number): Generator<{ session: string; item: string }> {
  const rng = new Rng(seed);
  const open: Array<{ id: string; item: number; left: number }> = [];
  let next = 0;
  for (let e = 0; e < events; e++) {
    while (open.length < 8) open.push({ id: `s${seed}-${next++}`, item: Math.floor(rng.next() * N_ITEMS), left: 2 + Math.floor(rng.next() * 7) });
    const k = Math.floor(rng.next() * open.length);
    const s = open[k];
    yield { session: s.id, item: `i${s.item}` };
    s.item = (s.item + 1) % N_ITEMS;
    if (--s.left === 0) open.splice(k, 1);
  }
}

function freshWeights(nItems = N_ITEMS) {
  const config = followConfig(
    'rsc15-xe-fast',
    archOf({ ...followConfig('rsc15-xe-fast', { nItems, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: true, useBias: true }) }, nItems),
  );
  const m = Gru4Rec.init(archOf(config, nItems), 7);
  const w = m.toWeights();
  m.dispose();
  return w;
}

test('a window carries each open session’s last item, so its next event still forms a pair; sessions are ordered by first event', () => {
  const w = new WindowSessions(4, 100);
  w.add('a', 1);
  w.add('b', 5);
  w.add('a', 2);
  const first = w.take(3);
  assert.deepEqual(Array.from(first.offsets), [0, 2, 3]);
  assert.deepEqual(Array.from(first.items), [1, 2, 5]);
  w.add('c', 9);
  w.add('a', 3);
  const second = w.take(5);
  assert.deepEqual(second.sessionIds, ['c', 'a']);
  assert.deepEqual(Array.from(second.items), [9, 2, 3], 'a continues from its carried item 2');
  // Idle past carryEvents: the session is closed, nothing is carried.
  w.add('a', 4);
  assert.deepEqual(Array.from(w.take(50).items), [3, 4]);
  w.add('a', 5);
  assert.deepEqual(Array.from(w.take(1000).items), [5], 'a was idle 950 events > carryEvents 100: closed, nothing carried');
});

test('the catalogue admits an item on its minItemCount-th sighting, expires unseen items and recycles their index', () => {
  const c = StreamCatalogue.ofModel(['x', 'y'], { minItemCount: 3, itemTtlEvents: 10, halfLifeEvents: 1e9 });
  assert.equal(c.observe('new', 1), -1);
  assert.equal(c.observe('new', 2), -1);
  assert.equal(c.summary().pending, 1);
  assert.equal(c.observe('new', 3), 2, 'third sighting: a new row at the end');
  assert.deepEqual(c.takeChanges(), { nItems: 3, recycled: [], admitted: 1 });
  c.observe('x', 5);
  c.advance(15, 15); // y and new were last seen before event 5
  assert.deepEqual(c.summary(), { active: 1, pending: 0, admitted: 1, expired: 2 });
  assert.equal(c.indexOf('y'), -1);
  const s = c.support();
  assert.equal(s[1], 0, 'expired rows are never drawn as negatives');
  assert.ok(s[0] > 1);
  for (let k = 0; k < 3; k++) c.observe('z', 16 + k);
  const changes = c.takeChanges();
  assert.equal(changes.nItems, 3, 'z took an expired index, the catalogue did not grow');
  assert.equal(changes.recycled.length, 1);
  assert.equal(c.ids[changes.recycled[0]], 'z');
  const restored = new StreamCatalogue({ minItemCount: 3, itemTtlEvents: 10, halfLifeEvents: 1e9 }, c.state());
  assert.deepEqual(restored.state(), c.state());
});

test('growing the catalogue keeps old rows and optimizer slots, initialises new and recycled rows like init, zeroes their slots', () => {
  const w = freshWeights();
  const model = Gru4Rec.fromWeights(w);
  const names = new Set(['out.Wy', 'out.by']);
  const opt = new Gru4RecOptimizer({ ...followConfig('rsc15-xe-fast', w.arch), momentum: 0.5 }, model.vars, names);
  const state = opt.state();
  state.slots['out.Wy'].acc.fill(1);
  opt.dispose();
  model.dispose();
  const g = growCatalogue(w, state, N_ITEMS + 2, [3], 1);
  const H = 16;
  const wy = g.weights.tensors['out.Wy'];
  assert.deepEqual(wy.shape, [N_ITEMS + 2, H]);
  assert.deepEqual(wy.data.subarray(0, 3 * H), w.tensors['out.Wy'].data.subarray(0, 3 * H), 'old rows kept');
  assert.notDeepEqual(wy.data.subarray(3 * H, 4 * H), w.tensors['out.Wy'].data.subarray(3 * H, 4 * H), 'recycled row re-initialised');
  const sigma = Math.sqrt(6 / (N_ITEMS + 2 + H));
  for (const v of wy.data.subarray(N_ITEMS * H)) assert.ok(Math.abs(v) <= sigma && v !== 0);
  assert.equal(g.weights.tensors['out.by'].data[N_ITEMS + 1], 0, 'new biases start at 0');
  const acc = g.state.slots['out.Wy'].acc;
  assert.equal(acc[0], 1);
  assert.equal(acc[3 * H], 0, 'recycled row slots zeroed');
  assert.equal(acc[N_ITEMS * H], 0);
  assert.equal(g.state.slots['out.Wy'].mom!.length, (N_ITEMS + 2) * H);
  assert.equal(g.weights.tensors['gru0.Wh'].data, w.tensors['gru0.Wh'].data, 'dense tensors are not copied');
  // The grown weights load as a model of the larger catalogue.
  Gru4Rec.fromWeights(g.weights).dispose();
});

async function feed(trainer: StreamTrainer, seed: number, events: number, startOffset = 0): Promise<WindowReport[]> {
  const reports: WindowReport[] = [];
  let offset = startOffset;
  for (const e of chainStream(seed, events)) {
    const r = await trainer.event(e.session, e.item, offset % 2, Math.floor(offset / 2));
    offset++;
    if (r) reports.push(r);
  }
  return reports;
}

test('the stream trainer trains every event once in windows, gates every other window, admits new items and checkpoints what resumes it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-follow-'));
  const options = followOptions({ windowEvents: 400, gateWindowEvents: 200, checkpointEveryEvents: 600, minItemCount: 2 });
  const trainer = new StreamTrainer({ options, checkpointDir: dir, target: null }, { weights: freshWeights(), itemIds: ids, parent: null });
  const reports = await feed(trainer, 1, 1200);
  assert.deepEqual(
    reports.map((r) => [r.phase, r.events]),
    [
      ['train', 400],
      ['gate', 200],
      ['train', 400],
      ['gate', 200],
    ],
  );
  // Every event is a training target once, except the first of each session (it has no predecessor),
  // also when its session continues across windows.
  const sessions = new Set([...chainStream(1, 1200)].map((e) => e.session));
  assert.equal(
    reports.reduce((n, r) => n + r.pairs, 0),
    1200 - sessions.size,
  );
  for (const r of reports) assert.ok(Number.isFinite(r.loss));
  assert.equal(reports[0].gate, null);
  assert.ok(reports[1].gate && reports[1].gate.serving === null && reports[1].gate.passed, 'nothing serving: the gate passes');
  assert.ok(reports[3].gate!.candidate.recall > reports[1].gate!.candidate.recall - 0.05);
  assert.ok(reports[1].checkpoint && reports[3].checkpoint, 'checkpoints at the first boundaries past 600 events');
  // A new item in the stream is admitted on its 2nd sighting and trained from then on.
  for (let k = 0; k < 3; k++) await trainer.event(`n${k}`, 'brand-new', 0, 600 + k);
  trainer.reject(1, 600);
  const last = await trainer.finish();
  assert.ok(last);
  assert.equal(last.nItems, N_ITEMS + 1);
  assert.equal(last.catalogue.admitted, 1);
  assert.equal(last.pendingEvents, 1);
  const ckpt = await readCheckpoint(dir);
  assert.ok(ckpt);
  assert.deepEqual(ckpt.offsets, { 0: '603', 1: '601' }, 'positions after the last trained event (and the rejected record) per partition');
  assert.equal(ckpt.events, 1203);
  assert.equal(ckpt.rejected, 1);
  assert.equal(ckpt.weights.arch.nItems, N_ITEMS + 1);
  assert.equal(ckpt.catalogue.ids[N_ITEMS], 'brand-new');
  const saved = trainer.snapshot();
  const state = trainer['trainer'].optimizerState();
  trainer.dispose();
  // Resuming: same weights, optimizer state, positions and phase.
  const resumed = new StreamTrainer({ options, checkpointDir: dir, target: null }, ckpt);
  assert.deepEqual(resumed.offsets(), ckpt.offsets);
  assert.deepEqual(resumed.snapshot().weights.tensors['out.Wy'].data, saved.weights.tensors['out.Wy'].data);
  assert.deepEqual(resumed['trainer'].optimizerState(), state);
  assert.equal(resumed.positionOf(0), 603);
  resumed.dispose();
  // A damaged checkpoint is refused, not resumed from.
  const path = join(dir, CHECKPOINT_FILE);
  const bytes = readFileSync(path);
  bytes[bytes.length - 5] ^= 0xff;
  writeFileSync(path, bytes);
  await assert.rejects(readCheckpoint(dir), /SHA-256 mismatch/);
});

test('the gate rejects a deliberately worse candidate (weights trained on shuffled item ids) and passes a good one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-gate-'));
  const options = followOptions({ windowEvents: 3000, gateWindowEvents: 600, checkpointEveryEvents: 1e9 });
  const trainer = new StreamTrainer({ options, checkpointDir: dir, target: null }, { weights: freshWeights(), itemIds: ids, parent: null });
  await feed(trainer, 2, 3000);
  const good = trainer.snapshot();
  trainer.dispose();
  // The same weights, rows assigned to a permutation of the ids: every learnt transition now points at the wrong item.
  const rng = new Rng(5);
  const shuffled = [...good.itemIds];
  for (let i = shuffled.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
  }
  // The held-out window under the candidate's item indices, as the trainer builds it.
  const windowFor = (itemIds: readonly string[]) => {
    const heldOut = new WindowSessions(600, 1e9);
    const index = new Map(itemIds.map((id, i) => [id, i]));
    for (const e of chainStream(3, 600)) heldOut.add(e.session, index.get(e.item)!);
    return heldOut.take(600);
  };
  const goodModel = Gru4Rec.fromWeights(good.weights);
  const badModel = Gru4Rec.fromWeights(good.weights);
  try {
    const rejected = await runGate(windowFor(shuffled), { model: badModel, itemIds: shuffled }, { model: goodModel, itemIds: good.itemIds }, 0);
    assert.equal(rejected.passed, false, JSON.stringify(rejected));
    assert.ok(rejected.serving!.recall > rejected.candidate.recall + 0.2, JSON.stringify(rejected));
    assert.ok(rejected.window > 400, 'scored on the held-out targets');
    const passed = await runGate(windowFor(good.itemIds), { model: goodModel, itemIds: good.itemIds }, { model: badModel, itemIds: shuffled }, 0);
    assert.equal(passed.passed, true);
    // The margin lets a candidate that is a little worse through, and no further.
    const { candidate, serving } = rejected;
    const gap = serving!.recall - candidate.recall;
    assert.equal((await runGate(windowFor(shuffled), { model: badModel, itemIds: shuffled }, { model: goodModel, itemIds: good.itemIds }, gap + 1e-9)).passed, true);
  } finally {
    goodModel.dispose();
    badModel.dispose();
  }
});

test("followConfig keeps the model's head: a mixture-head model fine-tunes as one, and archOf gives the head back", async () => {
  const { followConfig } = await import('../../src/train/continuous/stream-trainer.ts');
  const arch = { nItems: 10, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true, head: 'mixture-of-cosines' as const, tastes: 3, temperature: 0.2 };
  const cfg = followConfig('rsc15-xe-fast', arch);
  assert.equal(cfg.head, 'mixture-of-cosines');
  assert.equal(cfg.tastes, 3);
  assert.equal(cfg.cosineTemperature, 0.2);
  const back = archOf(cfg, 10);
  assert.equal(back.head, 'mixture-of-cosines');
  assert.equal(back.tastes, 3);
  assert.equal(followConfig('rsc15-xe-fast', { ...arch, head: undefined, tastes: undefined, temperature: undefined }).head, 'dot');
});
