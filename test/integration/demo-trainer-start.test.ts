import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'node:test';
import { DemoTrainer } from '../../src/cli/demo-trainer.ts';
import { syntheticClicks } from '../../src/data/synthetic.ts';
import { makeCodecs } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { archOf } from '../../src/model/gru4rec-config.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { readCheckpoint } from '../../src/train/continuous/checkpoint-file.ts';
import { followConfig } from '../../src/train/continuous/stream-trainer.ts';
import { testConfig, waitFor } from '../support/kafka.ts';

test('the demo’s trainer (train --follow from a registry version, no checkpoint) starts at the version’s trainingOffsets, not at the history; SIGTERM exits 0 with a checkpoint', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-demo-trainer-'));
  const cfg = await testConfig('demo-trainer', (c) => {
    c.registry = { path: join(dir, 'registry') };
  });
  const clicks = [...syntheticClicks({ nItems: 120, nSessions: 600, seed: 11 })];
  const itemIds = [...new Set(clicks.map((c) => c.itemId))];
  const codec = makeCodecs(cfg.wireFormat).click;
  const kafka = createKafka(cfg, '-test');
  const producer = kafka.producer();
  await producer.connect();
  const now = Date.now();
  const send = async (part: typeof clicks) => {
    const messages = part.map((c, i) => ({
      key: c.sessionId,
      value: codec.encode({ sessionId: c.sessionId, userId: null, itemId: c.itemId, eventType: 'CLICK', timestamp: now + i, context: null }),
    }));
    for (let i = 0; i < messages.length; i += 500) await producer.send({ topic: cfg.topics.clicks.name, messages: messages.slice(i, i + 500), acks: -1 });
  };
  // The "history" version 1 was trained on, then the demo's trainingOffsets: the topic's end offsets.
  const half = Math.floor(clicks.length / 2);
  await send(clicks.slice(0, half));
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(cfg.topics.clicks.name);
  await admin.disconnect();
  const trainingOffsets = Object.fromEntries(ends.map((p) => [String(p.partition), p.high]));
  assert.ok(
    Object.values(trainingOffsets).every((o) => Number(o) > 0),
    'every partition holds history',
  );

  await initBackend('wasm', () => undefined);
  const config = followConfig('rsc15-xe-fast', { nItems: itemIds.length, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: true, useBias: true });
  const model = Gru4Rec.init(archOf(config, itemIds.length), 1);
  const registry = new ModelRegistry(cfg.registry.path);
  const v1 = await registry.publish({ weights: model.toWeights(), itemIds, config, parent: null, trainingOffsets });
  model.dispose();
  await registry.promote(v1.version);

  const lines: string[] = [];
  const trainer = new DemoTrainer({
    env: process.env,
    config: cfg,
    windowEvents: 400,
    gateWindowEvents: 200,
    checkpointDir: join(dir, 'ckpt'),
    logFile: join(dir, 'trainer.log'),
    onLine: (l) => lines.push(l),
  });
  try {
    await trainer.ready(90_000);
    await send(clicks.slice(half));
    for (const p of Object.keys(trainingOffsets))
      await waitFor(() => lines.some((l) => l.includes(`partition ${p}: first offset read`)), 60_000, `partition ${p} read (log:\n${lines.join('\n')})`);
    for (const [p, off] of Object.entries(trainingOffsets)) {
      const line = lines.find((l) => l.includes(`partition ${p}: first offset read`))!;
      assert.equal(line.split('first offset read ')[1], off, `partition ${p} starts where version 1's training stopped`);
    }
    assert.ok(lines.some((l) => l.includes('starting from registry version 1 at its training offsets')));
  } finally {
    await producer.disconnect();
    const code = await trainer.stop({ alreadySignalled: false });
    assert.equal(code, 0, lines.join('\n'));
  }
  // Only the live half was trained on: the checkpoint counts those events, not the history.
  const ckpt = await readCheckpoint(join(dir, 'ckpt'));
  assert.ok(ckpt, 'SIGTERM left a checkpoint');
  assert.ok(ckpt.events <= clicks.length - half, `${ckpt.events} events trained on; the live half has ${clicks.length - half}`);
  for (const [p, off] of Object.entries(trainingOffsets)) assert.ok(BigInt(ckpt.offsets[p] ?? off) >= BigInt(off));
  assert.match(readFileSync(join(dir, 'trainer.log'), 'utf8'), /train: stopped:/);
});
