import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadConfig, namespaced } from '../../src/config/config.ts';
import { parseGateLine, trainerEnv } from '../../src/cli/demo-trainer.ts';
import { promotionLine } from '../../src/cli/demo.ts';
import { QualityByVersion } from '../../src/cli/demo-version-quality.ts';
import { windowLine } from '../../src/cli/train.ts';
import { startingModel } from '../../src/cli/train-start.ts';
import { PrequentialMetrics } from '../../src/metrics/online-metrics.ts';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf } from '../../src/model/gru4rec-config.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { followOptions } from '../../src/train/continuous/follow-options.ts';
import { followConfig, StreamTrainer, type WindowReport } from '../../src/train/continuous/stream-trainer.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

const ids = Array.from({ length: 12 }, (_, i) => `i${i}`);

function smallModel() {
  const config = followConfig('rsc15-xe-fast', { nItems: ids.length, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: true, useBias: true });
  const m = Gru4Rec.init(archOf(config, ids.length), 3);
  const weights = m.toWeights();
  m.dispose();
  return { weights, config };
}

test('startingModel from the registry brings the version’s trainingOffsets; a version without them starts at the beginning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-demo-start-'));
  const registry = new ModelRegistry(join(dir, 'registry'));
  const { weights, config } = smallModel();
  const v1 = await registry.publish({ weights, itemIds: ids, config, parent: null, trainingOffsets: { '0': '23597', '1': '22537', '2': '24144' } });
  await registry.promote(v1.version);
  const start = await startingModel(registry, undefined);
  assert.equal(start.parent, 1);
  assert.deepEqual(start.offsets, { '0': '23597', '1': '22537', '2': '24144' });

  const v2 = await registry.publish({ weights, itemIds: ids, config, parent: 1 });
  await registry.promote(v2.version);
  assert.equal((await startingModel(registry, undefined)).offsets, undefined, 'a version without trainingOffsets starts at the beginning');
});

test('a StreamTrainer started at offsets reads from them, drops nothing after them, and its first candidate is stamped with them', async () => {
  const { weights } = smallModel();
  const published: Array<Record<string, string>> = [];
  const target = {
    serving: async () => null,
    publish: async (c: { trainingOffsets: Record<string, string> }) => {
      published.push(c.trainingOffsets);
      return published.length + 1;
    },
  };
  const options = followOptions({ windowEvents: 4, gateWindowEvents: 4, checkpointEveryEvents: 1_000_000 });
  const trainer = new StreamTrainer(
    { options, checkpointDir: mkdtempSync(join(tmpdir(), 'streamrec-demo-ckpt-')), target },
    { weights, itemIds: ids, parent: 1, offsets: { '0': '100', '2': '7' } },
  );
  try {
    assert.deepEqual(trainer.offsets(), { '0': '100', '2': '7' });
    assert.equal(trainer.positionOf(0), 100, 'the click follower drops records below this, and seeks here');
    assert.equal(trainer.positionOf(1), 0, 'a partition the version never saw is read from its beginning');
    for (let k = 0; k < 4; k++) await trainer.event(`s${k % 2}`, ids[k], 0, 100 + k);
    assert.deepEqual(trainer.offsets(), { '0': '104', '2': '7' });
    for (let k = 0; k < 4; k++) await trainer.event(`s${k % 2}`, ids[k + 4], 2, 7 + k);
    assert.deepEqual(published, [{ '0': '104', '2': '7' }], 'the gate’s candidate was trained through the first window, on top of the starting offsets');
  } finally {
    trainer.dispose();
  }
});

test('QualityByVersion credits each target to the version that emitted the list; the totals equal the overall prequential metric', () => {
  const q = new QualityByVersion(20, 1000);
  const all = new PrequentialMetrics(20, 1000);
  const serve = (version: string, session: string, item: string, list: string[]) => {
    q.record(version, session, item, list);
    all.observe(session, item);
    all.emitted(session, list);
  };
  serve('v1', 'a', 'x', ['y', 'z']);
  serve('v1', 'b', 'x', ['q']);
  serve('v1', 'a', 'y', ['w']); // v1's list for a had y at rank 1: a v1 hit
  // Swap: b's next click is judged against v1's list (a v1 miss); a's against v1's ['w'] (hit at rank 1).
  serve('v2', 'b', 'r', ['s', 't']);
  serve('v2', 'a', 'w', ['u']);
  serve('v2', 'b', 't', ['s']); // v2's list for b had t at rank 2
  serve('v2', 'a', 'nope', ['u']); // v2 miss
  const [v1, v2] = q.rows();
  assert.deepEqual({ version: v1.version, events: v1.events, targets: v1.targets, recall: v1.recall }, { version: 'v1', events: 3, targets: 3, recall: 2 / 3 });
  assert.equal(v1.mrr, 2 / 3);
  assert.deepEqual(
    { version: v2.version, events: v2.events, targets: v2.targets, recall: v2.recall, mrr: v2.mrr },
    { version: 'v2', events: 4, targets: 2, recall: 0.5, mrr: 0.25 },
  );
  assert.equal(v1.targets + v2.targets, all.targets);
  assert.equal(v1.recall * v1.targets + v2.recall * v2.targets, all.hits);
});

function report(gate: WindowReport['gate'], published: number | null): WindowReport {
  return {
    window: 3,
    phase: 'gate',
    events: 1000,
    pairs: 700,
    pendingEvents: 0,
    loss: 6.1,
    eventsPerSec: 900,
    seconds: 1.1,
    nItems: 2933,
    catalogue: { admitted: 0, pending: 0, expired: 0 } as WindowReport['catalogue'],
    gate,
    published,
    checkpoint: null,
  };
}

test('parseGateLine reads the verdict from the trainer’s own window line (passed, rejected, nothing serving), and ignores other lines', () => {
  const gate = { window: 729, candidate: { recall: 0.5531, mrr: 0.25 }, serving: { recall: 0.6681, mrr: 0.33 }, margin: 0, passed: false };
  assert.deepEqual(parseGateLine(`train: ${windowLine(report(gate, null))}`), { window: 3, targets: 729, candidateRecall: 0.5531, servingRecall: 0.6681, passed: false });
  assert.deepEqual(parseGateLine(windowLine(report({ ...gate, passed: true }, 2))), { window: 3, targets: 729, candidateRecall: 0.5531, servingRecall: 0.6681, passed: true });
  assert.equal(parseGateLine(windowLine(report({ ...gate, serving: null, passed: true }, 2)))?.servingRecall, null);
  assert.equal(parseGateLine(windowLine({ ...report(null, null), phase: 'train' })), null);
  assert.equal(parseGateLine('train: following demo-clicks as demo-trainer on wasm'), null);
});

test('trainerEnv points train --follow at the demo’s namespaced topics, group, registry and windows', () => {
  const config = namespaced(loadConfig(undefined, {}), 'demo-x');
  config.registry = { path: '/tmp/demo-x/registry' };
  const env = trainerEnv({ env: { KAFKA_BROKERS: '127.0.0.1:1' }, config, windowEvents: 2000, gateWindowEvents: 1000 });
  const child = loadConfig(undefined, env);
  assert.equal(child.kafka.brokers.join(','), '127.0.0.1:1');
  assert.equal(child.topics.clicks.name, config.topics.clicks.name);
  assert.equal(child.topics.modelUpdates.name, config.topics.modelUpdates.name);
  assert.equal(child.groups.trainer, config.groups.trainer);
  assert.equal(child.registry.path, '/tmp/demo-x/registry');
  assert.equal(child.train.windowEvents, 2000);
  assert.equal(child.train.gateWindowEvents, 1000);
});

test('promotionLine names the version, the gate’s scores and the swap’s cost', () => {
  const line = promotionLine(
    {
      version: 'v3',
      at: 9.2,
      gate: { window: 731, candidate: { recall: 0.7004, mrr: 0.38 }, serving: { recall: 0.6935, mrr: 0.36 }, margin: 0, passed: true },
      pauseMs: 41.6,
      sessions: 1203,
    },
    'v2',
  );
  assert.equal(line, 'promoted v3 (gate on 731 held-out targets: candidate Recall@20 0.700 vs serving 0.694) → swapped in for v2: pause 42 ms, 1,203 sessions re-encoded');
});
