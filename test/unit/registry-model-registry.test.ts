import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFileError } from '../../src/errors/errors.ts';
import { archOf, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { vocabularyHash } from '../../src/registry/model-identity.ts';
import { MANIFEST_JSON, MODEL_JSON, WEIGHTS_BIN } from '../../src/registry/model-file.ts';
import { CURRENT_FILE, type GateRecord, ModelRegistry, type PublishInput, VERSION_JSON } from '../../src/registry/model-registry.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const tmp = mkdtempSync(join(tmpdir(), 'streamrec-registry-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const config = validateGru4RecConfig({ layers: [6], embedding: 0, constrainedEmbedding: true, loss: 'cross-entropy' });
const nItems = 9;
const itemIds = Array.from({ length: nItems }, (_, i) => `item-${i}`);
const gate: GateRecord = { window: 5000, candidate: { recall: 0.61, mrr: 0.27 }, serving: { recall: 0.58, mrr: 0.25 }, margin: 0, passed: true };

let counter = 0;
function freshRegistry(): ModelRegistry {
  return new ModelRegistry(join(tmp, `r${counter++}`));
}

function input(seed: number, extra: Partial<PublishInput> = {}): PublishInput {
  return { weights: syntheticWeights(archOf(config, nItems), seed), itemIds, config, parent: null, ...extra };
}

/** The ModelFileError `fn` rejects with (fails the test on anything else). */
async function modelFileErrorOf(fn: () => Promise<unknown>): Promise<ModelFileError> {
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof ModelFileError, `expected a ModelFileError, got ${e}`);
    return e;
  }
  assert.fail('expected a ModelFileError');
}

/** Records the files' current checksums in the manifest, as a writer with a bug would (what the checks behind it are for). */
function resign(dir: string, edit: (m: Record<string, any>) => void = () => undefined): void {
  const path = join(dir, MANIFEST_JSON);
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  for (const name of Object.keys(manifest.files)) {
    const bytes = readFileSync(join(dir, name));
    manifest.files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
  edit(manifest);
  writeFileSync(path, JSON.stringify(manifest));
}

function editJson(path: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(readFileSync(path, 'utf8'));
  edit(j);
  writeFileSync(path, JSON.stringify(j));
}

test('publish, list, promote and load round-trip; publishing does not promote; nothing temporary is left', async () => {
  const reg = freshRegistry();
  assert.deepEqual(await reg.list(), []);
  assert.equal(await reg.current(), null);
  const createdAt = new Date('2024-05-01T12:00:00Z');
  const v1 = await reg.publish(input(1, { gate: { ...gate, serving: null }, createdAt }));
  const v2 = await reg.publish(input(2, { parent: 1, gate, trainingOffsets: { '0': '120', '1': '98' } }));
  assert.equal(v1.version, 1);
  assert.equal(v2.version, 2);
  assert.equal(v1.dir, join(reg.root, 'versions', '000001'));
  assert.deepEqual(v1, {
    version: 1,
    parent: null,
    createdAt: createdAt.toISOString(),
    vocabularyHash: vocabularyHash(itemIds),
    nItems,
    gate: { ...gate, serving: null },
    dir: v1.dir,
  });
  assert.equal(await reg.current(), null, 'publish does not promote');

  assert.deepEqual(await reg.list(), [v1, v2]);
  assert.deepEqual(readdirSync(v2.dir).sort(), [MANIFEST_JSON, MODEL_JSON, VERSION_JSON, WEIGHTS_BIN]);
  assert.deepEqual(readdirSync(join(reg.root, 'versions')), ['000001', '000002'], 'no staging directory is left');
  const manifest = JSON.parse(readFileSync(join(v2.dir, MANIFEST_JSON), 'utf8'));
  assert.ok(VERSION_JSON in manifest.files, 'version.json is covered by the checksums');

  await reg.promote(2);
  assert.equal(await reg.current(), 2);
  assert.equal(readFileSync(join(reg.root, CURRENT_FILE), 'utf8'), '2\n');
  assert.deepEqual(readdirSync(reg.root).sort(), [CURRENT_FILE, 'versions'], 'no temporary CURRENT is left');
  const loaded = await reg.load(2);
  assert.deepEqual(loaded.info, v2);
  assert.deepEqual(loaded.itemIds, itemIds);
  assert.equal(loaded.version, '2', "model.json's lineage strings follow the registry's numbers");
  assert.equal(loaded.parent, '1');
  const want = input(2).weights;
  for (const [name, t] of Object.entries(want.tensors)) assert.deepEqual(loaded.weights.tensors[name].data, t.data, name);

  await reg.promote(1);
  assert.equal(await reg.current(), 1, 'rollback is promoting an earlier version');
  assert.equal((await new ModelRegistry(reg.root).load(1)).info.version, 1, 'another instance over the same root sees the same store');
});

test('concurrent publishes, from two registry instances over one root, get distinct consecutive versions that all load', async () => {
  const a = freshRegistry();
  const b = new ModelRegistry(a.root);
  const published = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).publish(input(i + 10))));
  const versions = published.map((p) => p.version).sort((x, y) => x - y);
  assert.deepEqual(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const listed = await a.list();
  assert.deepEqual(
    listed.map((v) => [v.version, v.error]),
    versions.map((v) => [v, undefined]),
  );
  // Each version holds the weights its own publisher wrote, not a racer's.
  for (const [i, p] of published.entries()) {
    const loaded = await a.load(p.version);
    assert.deepEqual(loaded.weights.tensors['out.Wy'].data, input(i + 10).weights.tensors['out.Wy'].data, `version ${p.version}`);
  }
});

/** A registry with version 1 promoted and version 2 published, for a corruption of version 2. */
async function withTwoVersions(): Promise<{ reg: ModelRegistry; dir: string }> {
  const reg = freshRegistry();
  await reg.publish(input(1));
  await reg.promote(1);
  const { dir } = await reg.publish(input(2, { parent: 1, gate }));
  return { reg, dir };
}

/** load() and promote() both refuse version 2 naming `file`; CURRENT stays on version 1. */
async function assertRefused(reg: ModelRegistry, file: string, problem: RegExp): Promise<void> {
  for (const attempt of [() => reg.load(2), () => reg.promote(2)]) {
    const e = await modelFileErrorOf(attempt);
    assert.equal(e.file, file);
    assert.match(e.message, problem);
  }
  assert.equal(await reg.current(), 1, 'CURRENT is not moved to a version that does not load');
}

test('a flipped byte in weights.bin is refused by load and promote, naming the file', async () => {
  const { reg, dir } = await withTwoVersions();
  const path = join(dir, WEIGHTS_BIN);
  const bytes = readFileSync(path);
  bytes[17] ^= 0x01;
  writeFileSync(path, bytes);
  await assertRefused(reg, path, /SHA-256 mismatch/);
});

test('a truncated weights.bin is refused by load and promote, and listed as broken', async () => {
  const { reg, dir } = await withTwoVersions();
  const path = join(dir, WEIGHTS_BIN);
  truncateSync(path, 40);
  await assertRefused(reg, path, /holds 40 bytes, manifest\.json records \d+: truncated/);
  const [one, two] = await reg.list();
  assert.equal(one.error, undefined);
  assert.equal(two.version, 2);
  assert.match(two.error ?? '', /weights\.bin: holds 40 bytes/, 'a listing checks sizes without reading the weights');
});

test('an edited version.json is refused by load and promote, and listed as broken', async () => {
  const { reg, dir } = await withTwoVersions();
  const path = join(dir, VERSION_JSON);
  // Same length, so only the checksum can tell: a gate score raised by hand.
  const text = readFileSync(path, 'utf8');
  assert.ok(text.includes('"recall": 0.61'));
  writeFileSync(path, text.replace('"recall": 0.61', '"recall": 0.91'));
  await assertRefused(reg, path, /SHA-256 mismatch/);
  assert.match((await reg.list())[1].error ?? '', /version\.json: SHA-256 mismatch/);
});

test("a version.json re-signed with another version's number, or with broken fields, is refused naming it", async () => {
  const { reg, dir } = await withTwoVersions();
  const path = join(dir, VERSION_JSON);
  editJson(path, (j) => (j.version = 7));
  resign(dir);
  await assertRefused(reg, path, /version: 7, but the directory holds version 2/);
  editJson(path, (j) => {
    j.version = 2;
    j.gate.candidate.recall = 1.5;
  });
  resign(dir);
  await assertRefused(reg, path, /gate\.candidate\.recall: must be a number in \[0, 1\], got 1\.5/);
});

test('a model.json with another vocabulary than its manifest records is refused; so is one that disagrees with version.json', async () => {
  const { reg, dir } = await withTwoVersions();
  const other = itemIds.map((id, i) => (i === 0 ? 'item-new' : id));
  editJson(join(dir, MODEL_JSON), (j) => {
    j.itemIds = other;
    j.vocabularyHash = vocabularyHash(other);
  });
  // Checksums re-recorded, the manifest's vocabulary left as it was: model.json alone changed its ids.
  resign(dir);
  await assertRefused(reg, join(dir, MANIFEST_JSON), /vocabularyHash: [0-9a-f]{64} is not model\.json's [0-9a-f]{64}/);
  // The whole model directory consistent with the new ids: version.json still says the old vocabulary.
  resign(dir, (m) => (m.vocabularyHash = vocabularyHash(other)));
  await assertRefused(reg, join(dir, VERSION_JSON), /vocabularyHash: [0-9a-f]{64} is not the model's [0-9a-f]{64}/);
});

test('a version that does not exist, or is not a number, is refused naming the directory', async () => {
  const { reg } = await withTwoVersions();
  for (const bad of [3, 0, 1.5]) await modelFileErrorOf(() => reg.promote(bad));
  assert.match((await modelFileErrorOf(() => reg.load(3))).message, /versions\/000003: version 3 is not in the registry/);
  assert.equal(await reg.current(), 1);
});

test('publish refuses a missing parent and a bad gate record, and leaves no version behind', async () => {
  const reg = freshRegistry();
  assert.match((await modelFileErrorOf(() => reg.publish(input(1, { parent: 4 })))).message, /parent version 4 is not in the registry/);
  const e = await modelFileErrorOf(() => reg.publish(input(1, { gate: { ...gate, window: -1 } })));
  assert.match(e.message, /version\.json: gate\.window: must be a non-negative integer, got -1/);
  const offsets = await modelFileErrorOf(() => reg.publish(input(1, { trainingOffsets: { '0': '-5' } })));
  assert.match(offsets.message, /trainingOffsets\.0: must be an offset as a decimal string/);
  assert.deepEqual(await reg.list(), [], 'the reserved numbers were given back');
  assert.equal((await reg.publish(input(1))).version, 1);
});

test('a number reserved by a publish that died is listed as broken and skipped by the next publish', async () => {
  const reg = freshRegistry();
  await reg.publish(input(1));
  mkdirSync(reg.dirOf(2));
  const next = await reg.publish(input(3, { parent: 1 }));
  assert.equal(next.version, 3);
  const listed = await reg.list();
  assert.deepEqual(
    listed.map((v) => v.version),
    [1, 2, 3],
  );
  assert.match(listed[1].error ?? '', /empty: reserved by a publish/);
  await modelFileErrorOf(() => reg.promote(2));
});

test('a CURRENT file that does not hold a version number is refused naming it', async () => {
  const reg = freshRegistry();
  await reg.publish(input(1));
  writeFileSync(join(reg.root, CURRENT_FILE), 'latest\n');
  const e = await modelFileErrorOf(() => reg.current());
  assert.equal(e.file, join(reg.root, CURRENT_FILE));
  assert.match(e.message, /expected a version number, got "latest\\n"/);
  await reg.promote(1);
  assert.equal(await reg.current(), 1, 'promote replaces it');
  assert.equal(existsSync(join(reg.root, 'versions', '000001', VERSION_JSON)), true);
});
