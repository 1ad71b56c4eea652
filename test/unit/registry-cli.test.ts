import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatVersionTable, parseVersion } from '../../src/cli/model.ts';
import { ConfigError, EXIT_CODES } from '../../src/errors/errors.ts';
import { archOf, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { CURRENT_FILE, type ListedVersion, ModelRegistry } from '../../src/registry/model-registry.ts';
import { WEIGHTS_BIN } from '../../src/registry/model-file.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const tmp = mkdtempSync(join(tmpdir(), 'streamrec-model-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;

function run(args: string[], registry: string) {
  // A broker nobody listens on: the commands that must not need one fail loudly if they try.
  const env = { ...process.env, STREAMREC_REGISTRY__PATH: registry, KAFKA_BROKERS: '127.0.0.1:1' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', main, 'model', ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, lines: r.stderr.split('\n').filter((l) => l.startsWith('streamrec: ')), stderr: r.stderr };
}

const info = (version: number, extra: Partial<ListedVersion> = {}): ListedVersion => ({
  version,
  dir: `/r/versions/${version}`,
  parent: version > 1 ? version - 1 : null,
  createdAt: `2024-05-0${version}T12:00:00.000Z`,
  vocabularyHash: 'a'.repeat(64),
  nItems: 37_483,
  ...extra,
});

test('the version table: lineage, items, gate Recall@20 candidate/serving, passed, * on the current one, broken versions with their reason', () => {
  const table = formatVersionTable(
    [
      info(1, { gate: { window: 5000, candidate: { recall: 0.5, mrr: 0.2 }, serving: null, margin: 0, passed: true } }),
      info(2, { gate: { window: 5000, candidate: { recall: 0.6123, mrr: 0.25 }, serving: { recall: 0.5987, mrr: 0.24 }, margin: 0, passed: true } }),
      info(3, { gate: { window: 5000, candidate: { recall: 0.58, mrr: 0.24 }, serving: { recall: 0.6123, mrr: 0.25 }, margin: 0, passed: false } }),
      info(4),
      info(5, { error: '/r/versions/000005/weights.bin: holds 40 bytes' }),
    ],
    2,
  );
  assert.equal(
    table,
    [
      '   VERSION  PARENT  CREATED                   ITEMS  GATE R@20 CAND/SERV  PASSED',
      '   1        -       2024-05-01T12:00:00.000Z  37483  0.500/-              yes',
      '*  2        1       2024-05-02T12:00:00.000Z  37483  0.612/0.599          yes',
      '   3        2       2024-05-03T12:00:00.000Z  37483  0.580/0.612          no',
      '   4        3       2024-05-04T12:00:00.000Z  37483  -                    -',
      '   5                                                                      BROKEN: /r/versions/000005/weights.bin: holds 40 bytes',
      '',
    ].join('\n'),
  );
});

test('--version takes a positive integer', () => {
  assert.equal(parseVersion('12'), 12);
  for (const bad of ['0', '-1', '1.5', 'latest', ''])
    assert.throws(
      () => parseVersion(bad),
      (e: unknown) => e instanceof ConfigError && /--version: expected a version number/.test(e.message),
    );
});

test('streamrec model list and promote against a registry directory; a broken version is not promoted and nothing connects', async () => {
  const root = join(tmp, 'registry');
  const reg = new ModelRegistry(root);
  const config = validateGru4RecConfig({ layers: [4], embedding: 0, constrainedEmbedding: true, loss: 'cross-entropy' });
  const model = { weights: syntheticWeights(archOf(config, 6), 1), itemIds: ['a', 'b', 'c', 'd', 'e', 'f'], config };
  await reg.publish({ ...model, parent: null });
  await reg.promote(1);
  const { dir } = await reg.publish({ ...model, parent: 1 });
  truncateSync(join(dir, WEIGHTS_BIN), 12);

  const list = run(['list'], root);
  assert.equal(list.code, EXIT_CODES.ok, list.stderr);
  const rows = list.stdout.trim().split('\n');
  assert.equal(rows.length, 3, list.stdout);
  assert.match(rows[1], /^\*\s+1\s+-\s+\S+Z\s+6\s+-\s+-$/);
  assert.match(rows[2], /^\s+2\s+BROKEN: .*weights\.bin: holds 12 bytes/);

  const promote = run(['promote', '--version', '2'], root);
  assert.equal(promote.code, EXIT_CODES.dataFile, promote.stderr);
  assert.equal(promote.lines.length, 1, promote.stderr);
  assert.match(promote.lines[0], /000002\/weights\.bin: holds 12 bytes/);
  assert.equal(readFileSync(join(root, CURRENT_FILE), 'utf8'), '1\n', 'CURRENT stays where it was');

  const usage = run(['promote'], root);
  assert.equal(usage.code, EXIT_CODES.usage, usage.stderr);
  assert.match(usage.lines[0], /model promote needs --version N/);
  const unknown = run(['prune'], root);
  assert.equal(unknown.code, EXIT_CODES.usage, unknown.stderr);
  assert.match(unknown.lines[0], /unknown model subcommand "prune"/);
});
