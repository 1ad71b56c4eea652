import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { ConfigError, DEFAULT_TOPOLOGY, applyEnvOverrides, loadConfig, validateConfig } from '../../src/config/config.ts';

const raw = () => parse(readFileSync(DEFAULT_TOPOLOGY, 'utf8')) as Record<string, any>;

test('default topology loads into a typed config', () => {
  const cfg = loadConfig(DEFAULT_TOPOLOGY, {});
  assert.equal(cfg.topics.clicks.partitions, 3);
  assert.equal(cfg.serving.delivery, 'exactly-once');
  assert.equal(cfg.serving.topK, 20);
  assert.deepEqual(cfg.kafka.brokers, ['127.0.0.1:9092']);
});

test('environment overrides: KAFKA_BROKERS and STREAMREC_<PATH>', () => {
  const cfg = loadConfig(DEFAULT_TOPOLOGY, {
    KAFKA_BROKERS: '127.0.0.1:1234, 127.0.0.1:1235',
    STREAMREC_SERVING__BATCH__MAX_SIZE: '512',
    STREAMREC_SERVING__DELIVERY: 'at-least-once',
    STREAMREC_SERVING__EXCLUDE_SEEN: 'true',
    STREAMREC_TOPICS__CLICKS__NAME: 'my-clicks',
  });
  assert.deepEqual(cfg.kafka.brokers, ['127.0.0.1:1234', '127.0.0.1:1235']);
  assert.equal(cfg.serving.batch.maxSize, 512);
  assert.equal(cfg.serving.delivery, 'at-least-once');
  assert.equal(cfg.serving.excludeSeen, true);
  assert.equal(cfg.topics.clicks.name, 'my-clicks');
});

test('an override naming no field is refused', () => {
  assert.throws(
    () => applyEnvOverrides(raw(), { STREAMREC_SERVING__BATCH__MAX_SIZ: '1' }),
    (e: unknown) => e instanceof ConfigError && /MAX_SIZ/.test(e.message),
  );
});

const bad: Array<[string, (r: Record<string, any>) => void, RegExp]> = [
  ['negative batch size', (r) => (r.serving.batch.maxSize = -1), /serving\.batch\.maxSize: expected an integer/],
  ['string batch size', (r) => (r.serving.batch.maxSize = 'abc'), /serving\.batch\.maxSize/],
  ['unknown delivery', (r) => (r.serving.delivery = 'maybe-once'), /serving\.delivery: expected one of exactly-once \| at-least-once/],
  ['missing topic name', (r) => delete r.topics.clicks.name, /topics\.clicks\.name: is required/],
  ['bad broker', (r) => (r.kafka.brokers = ['localhost']), /kafka\.brokers: "localhost" is not host:port/],
  ['typo field', (r) => (r.serving.batchh = {}), /serving\.batchh: unknown field/],
  ['changelog not co-partitioned', (r) => (r.topics.sessionChangelog.partitions = 5), /topics\.sessionChangelog\.partitions: must equal/],
  ['gru4rec without path', (r) => (r.model.kind = 'gru4rec'), /model\.path: is required/],
  ['zero topK', (r) => (r.serving.topK = 0), /serving\.topK/],
];
for (const [name, mutate, message] of bad) {
  test(`bad config is refused naming the field: ${name}`, () => {
    const r = raw();
    mutate(r);
    assert.throws(
      () => validateConfig(r),
      (e: unknown) => e instanceof ConfigError && message.test(e.message),
    );
  });
}

test('unreadable and non-YAML files are refused with the path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-cfg-'));
  assert.throws(() => loadConfig(join(dir, 'nope.yaml'), {}), /cannot read .*nope\.yaml/);
  const f = join(dir, 'bad.yaml');
  writeFileSync(f, 'kafka: [unclosed');
  assert.throws(() => loadConfig(f, {}), /not valid YAML/);
});

test('namespaced: every topic and group gets the prefix; clicks and changelog stay co-partitioned', async () => {
  const { namespaced } = await import('../../src/config/config.ts');
  const base = loadConfig(DEFAULT_TOPOLOGY, {});
  const n = namespaced(base, 'run1', 6);
  assert.equal(n.topics.clicks.name, 'run1-clicks');
  assert.equal(n.topics.sessionChangelog.name, 'run1-streamrec-session-changelog');
  assert.equal(n.groups.serving, 'run1-streamrec-serving');
  assert.equal(n.groups.trainer, 'run1-streamrec-trainer');
  assert.deepEqual(n.topics.modelUpdates, { name: 'run1-streamrec-model-updates', partitions: 1 }, 'one partition whatever the others get');
  assert.equal(n.registry.path, base.registry.path, 'the registry is on disk, not on the cluster');
  assert.equal(n.topics.clicks.partitions, 6);
  assert.equal(n.topics.sessionChangelog.partitions, 6);
  assert.equal(n.topics.deadLetter.partitions, base.topics.deadLetter.partitions);
  assert.doesNotThrow(() => validateConfig(n));
  assert.equal(base.topics.clicks.name, 'clicks', 'the base config is not modified');
});
