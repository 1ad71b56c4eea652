import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { runModelPromote } from '../../src/cli/model.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { archOf, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { announceModel, type ModelUpdate, ModelUpdatesFollower } from '../../src/registry/model-updates.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { testConfig, waitFor } from '../support/kafka.ts';

const tmp = mkdtempSync(join(tmpdir(), 'streamrec-registry-updates-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const update = (version: number): ModelUpdate => ({ version, vocabularyHash: 'a'.repeat(64), weightsHash: version.toString(16).padStart(64, '0'), announcedAt: Date.now() });

test('model updates: a follower gets every announcement in order, one call at a time; a follower started later gets the latest; malformed ones are skipped', async () => {
  const cfg = await testConfig('model-updates');
  const kafka = createKafka(cfg, '-test');
  const topic = cfg.topics.modelUpdates.name;

  const admin = kafka.admin();
  await admin.connect();
  const described = await admin.describeConfigs({ resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name: topic, configNames: ['cleanup.policy'] }], includeSynonyms: false });
  await admin.disconnect();
  assert.equal(described.resources[0].configEntries[0].configValue, 'compact', 'ensureTopics creates the topic compacted');

  const first: number[] = [];
  const logged: string[] = [];
  let inFlight = 0;
  let overlapped = false;
  const early = new ModelUpdatesFollower(kafka, topic, (l) => logged.push(l));
  await early.start(async (u) => {
    overlapped ||= inFlight > 0;
    inFlight++;
    await new Promise((r) => setTimeout(r, 30));
    first.push(u.version);
    inFlight--;
  });
  try {
    await announceModel(kafka, topic, update(1));
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic, messages: [{ key: 'model', value: '{"version": "two"}' }] });
    await producer.disconnect();
    await announceModel(kafka, topic, update(2));
    await announceModel(kafka, topic, update(3));
    await waitFor(() => first.length >= 3, 30_000, 'three announcements');
    assert.deepEqual(first, [1, 2, 3]);
    assert.equal(overlapped, false, 'onUpdate calls are serialised');
    assert.equal(logged.length, 1, logged.join('\n'));
    assert.match(logged[0], /skipped the malformed announcement at .*@1: version: must be a positive integer/);

    const second: ModelUpdate[] = [];
    const late = new ModelUpdatesFollower(kafka, topic, () => undefined);
    await late.start((u) => {
      second.push(u);
    });
    try {
      await waitFor(() => second.length >= 1, 30_000, 'the latest announcement');
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(
        second.map((u) => u.version),
        [3],
        'superseded announcements are not replayed to a process that starts later',
      );
      assert.deepEqual(second[0], { ...update(3), announcedAt: second[0].announcedAt });
      await announceModel(kafka, topic, update(4));
      await waitFor(() => second.length >= 2 && first.length >= 4, 30_000, 'version 4 at both followers');
      assert.deepEqual(
        second.map((u) => u.version),
        [3, 4],
      );
      assert.deepEqual(first, [1, 2, 3, 4]);
    } finally {
      await late.stop();
    }
  } finally {
    await early.stop();
  }
});

test('streamrec model promote: verifies, moves CURRENT and announces the version with its hashes; rollback announces the older one', async () => {
  const cfg = await testConfig('model-promote', (c) => (c.registry = { path: join(tmp, 'registry') }));
  const kafka = createKafka(cfg, '-test');
  const reg = new ModelRegistry(cfg.registry.path);
  const config = validateGru4RecConfig({ layers: [4], embedding: 0, constrainedEmbedding: true, loss: 'cross-entropy' });
  const model = (seed: number) => ({ weights: syntheticWeights(archOf(config, 5), seed), itemIds: ['a', 'b', 'c', 'd', 'e'], config });
  await reg.publish({ ...model(1), parent: null });
  await reg.publish({ ...model(2), parent: 1 });

  const seen: ModelUpdate[] = [];
  const follower = new ModelUpdatesFollower(kafka, cfg.topics.modelUpdates.name);
  await follower.start((u) => {
    seen.push(u);
  });
  try {
    const out: string[] = [];
    await runModelPromote(cfg, 2, (t) => out.push(t));
    assert.equal(await reg.current(), 2);
    assert.match(out.join(''), /promoted version 2 \(was none\)/);
    await runModelPromote(cfg, 1, (t) => out.push(t));
    assert.equal(await reg.current(), 1);
    await waitFor(() => seen.length >= 2, 30_000, 'two announcements');
    const [two, one] = [await reg.load(2), await reg.load(1)];
    assert.deepEqual(
      seen.map((u) => [u.version, u.vocabularyHash, u.weightsHash]),
      [
        [2, two.vocabularyHash, two.weightsHash],
        [1, one.vocabularyHash, one.weightsHash],
      ],
    );
    assert.notEqual(one.weightsHash, two.weightsHash);
  } finally {
    await follower.stop();
  }
});
