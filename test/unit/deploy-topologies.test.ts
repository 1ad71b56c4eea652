/**
 * topologies/: every file loads through the real config loader (src/config/config.ts), the
 * high-throughput example is what it says (more partitions, bigger batches, at-least-once, its
 * Kafka password from the environment), and what deploy/ generates from the topologies (ConfigMaps,
 * topic scripts; scripts/deploy/render-configmaps.ts) is committed up to date.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ConfigError, DEFAULT_TOPOLOGY, loadConfig, Secret } from '../../src/config/config.ts';
import { CONFIGMAP_KEY, configMapName, orphans, PARTITIONS_ANNOTATION, REPO_ROOT, readTopologies, renderAll, topicsServingCreates } from '../../scripts/deploy/topology-renders.ts';

const HIGH_THROUGHPUT = join(REPO_ROOT, 'topologies/high-throughput.yaml');

test('topologies: high-throughput.yaml loads through the config loader, its SASL password from the variable it names', () => {
  const c = loadConfig(HIGH_THROUGHPUT, { KAFKA_SASL_PASSWORD: 'from-the-environment' });
  const d = loadConfig(DEFAULT_TOPOLOGY, {});
  assert.ok(c.topics.clicks.partitions > d.topics.clicks.partitions, `more partitions (${c.topics.clicks.partitions})`);
  assert.equal(c.topics.sessionChangelog.partitions, c.topics.clicks.partitions);
  assert.ok(c.serving.batch.maxSize > d.serving.batch.maxSize, `bigger batches (${c.serving.batch.maxSize})`);
  assert.ok(c.serving.batch.maxWaitMs >= d.serving.batch.maxWaitMs, 'a batch may wait as long or longer to fill');
  assert.equal(c.serving.delivery, 'at-least-once');
  assert.equal(c.model.kind, 'registry');
  assert.equal(c.kafka.security.protocol, 'sasl_ssl');
  assert.ok(c.kafka.security.sasl?.password instanceof Secret);
  assert.equal(c.kafka.security.sasl.password.reveal(), 'from-the-environment');
  assert.ok(!readFileSync(HIGH_THROUGHPUT, 'utf8').includes('from-the-environment'));
});

test('topologies: without the password variable high-throughput.yaml stops with the loader message naming it', () => {
  assert.throws(
    () => loadConfig(HIGH_THROUGHPUT, {}),
    (e: unknown) => e instanceof ConfigError && /kafka\.security\.sasl\.passwordEnv/.test(e.message) && /KAFKA_SASL_PASSWORD is not set/.test(e.message),
  );
});

test('topologies: every topology file loads (the ones a deployment can pick), the default and the high-throughput example among them', () => {
  const all = readTopologies();
  const names = all.map((t) => t.name);
  for (const n of ['default', 'high-throughput']) assert.ok(names.includes(n), n);
  for (const t of all) assert.ok(t.config.topics.clicks.partitions >= 1, t.file);
});

test('deploy: the ConfigMaps and topic scripts rendered from topologies/ are committed up to date', async () => {
  const rendered = await renderAll();
  assert.equal(rendered.length, 2 * readTopologies().length);
  for (const f of rendered) {
    let committed: string | null = null;
    try {
      committed = readFileSync(join(REPO_ROOT, f.path), 'utf8');
    } catch {}
    assert.ok(committed === f.text, `${f.path} is stale: run \`node --import tsx scripts/deploy/render-configmaps.ts\``);
  }
  assert.deepEqual(orphans(REPO_ROOT, rendered), [], 'generated files whose topology is gone');
});

test('deploy: each ConfigMap carries its topology verbatim, its partition count, and no credentials', () => {
  for (const t of readTopologies()) {
    const cm = parseYaml(readFileSync(join(REPO_ROOT, `deploy/k8s/configmap-${t.name}.yaml`), 'utf8'));
    assert.equal(cm.metadata.name, configMapName(t.name));
    assert.equal(cm.data[CONFIGMAP_KEY], t.text, 'byte for byte');
    assert.equal(cm.metadata.annotations[PARTITIONS_ANNOTATION], String(t.config.topics.clicks.partitions));
    const sasl = parseYaml(t.text)?.kafka?.security?.sasl;
    assert.equal(sasl?.password, undefined, `${t.file} holds no inline password (a ConfigMap is not a Secret)`);
  }
});

test('deploy: each topic script is valid sh and creates what serving creates, with the topology partitions', async () => {
  for (const t of readTopologies()) {
    const path = join(REPO_ROOT, `deploy/compose/topics-${t.name}.sh`);
    const syntax = spawnSync('sh', ['-n', path], { encoding: 'utf8' });
    assert.equal(syntax.status, 0, `${path}: ${syntax.stderr}`);
    const lines = readFileSync(path, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('create '));
    const wanted = await topicsServingCreates(t.config);
    assert.deepEqual(
      wanted.map((x) => x.topic).sort(),
      Object.values(t.config.topics)
        .map((x) => x.name)
        .sort(),
      'every topic of the topology',
    );
    assert.equal(lines.length, wanted.length);
    for (const w of wanted) {
      const line = lines.find((l) => l.includes(`--topic ${w.topic} `));
      assert.ok(line, `creates ${w.topic}`);
      assert.match(line, new RegExp(`--partitions ${w.numPartitions}(\\s|$)`));
      for (const e of w.configEntries ?? []) assert.ok(line.includes(`--config ${e.name}=${e.value}`), `${w.topic}: ${e.name}=${e.value}`);
    }
    const changelog = lines.find((l) => l.includes(`--topic ${t.config.topics.sessionChangelog.name} `))!;
    assert.match(changelog, /cleanup\.policy=compact/, 'the changelog is compacted');
  }
});
