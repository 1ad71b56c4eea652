import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelFileError } from '../../src/errors/errors.ts';
import { archOf, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { verifyManifest } from '../../src/registry/manifest.ts';
import { loadModel, loadModelWith, MANIFEST_JSON, MODEL_JSON, saveModel, WEIGHTS_BIN } from '../../src/registry/model-file.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const root = mkdtempSync(join(tmpdir(), 'streamrec-extra-files-'));
after(() => rmSync(root, { recursive: true, force: true }));
const config = validateGru4RecConfig({ layers: [4], embedding: 0, constrainedEmbedding: true, loss: 'cross-entropy' });
const itemIds = ['a', 'b', 'c', 'd', 'e'];
const model = () => ({ weights: syntheticWeights(archOf(config, itemIds.length), 3), itemIds, config });

test('extra files saved beside a model are listed in its manifest, returned verified, and checked like the weights', async () => {
  const dir = join(root, 'm');
  await saveModel(dir, model(), { 'notes.json': Buffer.from('{"hello":1}') });
  const manifest = JSON.parse(readFileSync(join(dir, MANIFEST_JSON), 'utf8'));
  assert.deepEqual(Object.keys(manifest.files).sort(), [MODEL_JSON, 'notes.json', WEIGHTS_BIN]);
  const { model: loaded, extra } = await loadModelWith(dir, ['notes.json']);
  assert.deepEqual(loaded.itemIds, itemIds);
  assert.equal(extra.get('notes.json')?.toString('utf8'), '{"hello":1}');
  writeFileSync(join(dir, 'notes.json'), '{"hello":2}');
  await assert.rejects(loadModel(dir), (e: unknown) => e instanceof ModelFileError && e.file === join(dir, 'notes.json') && /SHA-256 mismatch/.test(e.message));
});

test('a required extra file the manifest does not list is refused; reserved names cannot be extra files', async () => {
  const dir = join(root, 'plain');
  await saveModel(dir, model());
  await assert.rejects(loadModelWith(dir, ['version.json']), (e: unknown) => e instanceof ModelFileError && /files: version\.json is not listed/.test(e.message));
  for (const name of [MODEL_JSON, MANIFEST_JSON, 'sub/x.json', '.hidden'])
    await assert.rejects(
      saveModel(join(root, 'bad'), model(), { [name]: Buffer.from('x') }),
      (e: unknown) => e instanceof ModelFileError && /cannot be an extra file/.test(e.message),
    );
});

test("verifyManifest others: 'size' checks the sizes of files it does not hash", async () => {
  const dir = join(root, 'sizes');
  await saveModel(dir, model(), { 'meta.json': Buffer.from('{}') });
  const bin = readFileSync(join(dir, WEIGHTS_BIN));
  bin[0] ^= 0xff;
  writeFileSync(join(dir, WEIGHTS_BIN), bin);
  const { contents } = await verifyManifest(dir, ['meta.json'], { others: 'size' });
  assert.deepEqual([...contents.keys()], ['meta.json'], 'only required files are read into memory');
  await assert.rejects(verifyManifest(dir, ['meta.json']), /weights\.bin: SHA-256 mismatch/, 'the default hashes everything');
  writeFileSync(join(dir, WEIGHTS_BIN), bin.subarray(0, 8));
  await assert.rejects(verifyManifest(dir, ['meta.json'], { others: 'size' }), /weights\.bin: holds 8 bytes/);
});
