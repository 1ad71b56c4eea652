import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, truncateSync, appendFileSync, unlinkSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { loadModel, saveModel, MANIFEST_JSON, MODEL_JSON, WEIGHTS_BIN } from '../../src/registry/model-file.ts';
import { archOf, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';
import type { Gru4RecWeights } from '../../src/model/weights.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const root = mkdtempSync(join(tmpdir(), 'streamrec-model-file-'));
const config = validateGru4RecConfig({ layers: [6, 4], embedding: 3, constrainedEmbedding: false, loss: 'bpr-max' });
const nItems = 12;
const itemIds = Array.from({ length: nItems }, (_, i) => `item-${1000 + i}`);
let weights: Gru4RecWeights;

before(async () => {
  await initBackend('wasm', () => {});
  const m = Gru4Rec.init(archOf(config, nItems), 5);
  weights = m.toWeights();
  m.dispose();
  // Values that only survive an exact float32 round trip: tiny, huge, negative zero.
  weights.tensors['out.by'].data.set([1e-38, -3.4e38, -0, 0.1, Math.PI]);
});

after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
async function savedCopy(): Promise<string> {
  const dir = join(root, `m${counter++}`);
  await saveModel(dir, { weights, itemIds, config, metrics: { 'recall@20': 0.6 }, version: 'v3', parent: 'v2' });
  return dir;
}

/**
 * Records the files' current checksums in the manifest, as a buggy writer would that produced bad
 * content and hashed it faithfully: what the checks behind the manifest are there for.
 */
function resign(dir: string): void {
  const path = join(dir, MANIFEST_JSON);
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  for (const name of Object.keys(manifest.files)) {
    const bytes = readFileSync(join(dir, name));
    manifest.files[name] = { sha256: createHash('sha256').update(bytes).digest('hex'), bytes: bytes.length };
  }
  writeFileSync(path, JSON.stringify(manifest));
}

function editJson(dir: string, edit: (j: Record<string, any>) => void): void {
  const path = join(dir, MODEL_JSON);
  const j = JSON.parse(readFileSync(path, 'utf8'));
  edit(j);
  writeFileSync(path, JSON.stringify(j));
  resign(dir);
}

test('save/load round-trips weights bit for bit, with ids, config and lineage', async () => {
  const dir = join(root, 'roundtrip');
  const createdAt = new Date('2024-05-01T12:00:00Z');
  await saveModel(dir, { weights, itemIds, config, metrics: { 'recall@20': 0.61, 'mrr@20': 0.27 }, version: 'v7', parent: 'v6', createdAt });
  assert.deepEqual(readdirSync(dir).sort(), [MANIFEST_JSON, MODEL_JSON, WEIGHTS_BIN], 'no temporary files are left');
  const loaded = await loadModel(dir);
  assert.deepEqual(loaded.weights.arch, weights.arch);
  for (const [name, t] of Object.entries(weights.tensors)) {
    const got = loaded.weights.tensors[name];
    assert.deepEqual(got.shape, t.shape);
    assert.deepEqual(
      new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength),
      new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      `tensor ${name} differs`,
    );
  }
  assert.ok(Object.is(loaded.weights.tensors['out.by'].data[2], -0));
  assert.deepEqual(loaded.itemIds, itemIds);
  assert.deepEqual(loaded.config, config);
  assert.deepEqual(loaded.metrics, { 'recall@20': 0.61, 'mrr@20': 0.27 });
  assert.equal(loaded.version, 'v7');
  assert.equal(loaded.parent, 'v6');
  assert.equal(loaded.createdAt, createdAt.toISOString());
  // weights.bin is exactly the concatenated little-endian float32 values.
  const total = Object.values(weights.tensors).reduce((a, t) => a + t.data.length, 0);
  assert.equal(readFileSync(join(dir, WEIGHTS_BIN)).length, total * 4);
  // The loaded weights build a working model.
  const m = Gru4Rec.fromWeights(loaded.weights);
  assert.equal(m.step([new Float32Array(6), new Float32Array(4)], Int32Array.from([3])).scores.length, nItems);
  m.dispose();
});

test('a missing directory, model.json or weights.bin is refused by name', async () => {
  await assert.rejects(loadModel(join(root, 'nope')), /nope: model directory does not exist/);
  const a = await savedCopy();
  unlinkSync(join(a, MODEL_JSON));
  await assert.rejects(loadModel(a), /model\.json: missing/);
  const b = await savedCopy();
  unlinkSync(join(b, WEIGHTS_BIN));
  await assert.rejects(loadModel(b), /weights\.bin: missing/);
});

test('a file that is not JSON, or has the wrong format tag or version, is refused', async () => {
  const a = await savedCopy();
  writeFileSync(join(a, MODEL_JSON), '{"format": "streamrec-gru4rec", ');
  resign(a);
  await assert.rejects(loadModel(a), /model\.json: not valid JSON/);
  const b = await savedCopy();
  editJson(b, (j) => (j.format = 'tfjs-layers-model'));
  await assert.rejects(loadModel(b), /not a streamrec GRU4Rec model: format is "tfjs-layers-model"/);
  const c = await savedCopy();
  editJson(c, (j) => (j.formatVersion = 2));
  await assert.rejects(loadModel(c), /unsupported formatVersion 2/);
});

test('a truncated or oversized weights.bin is refused before reading tensors', async () => {
  const a = await savedCopy();
  const size = readFileSync(join(a, WEIGHTS_BIN)).length;
  truncateSync(join(a, WEIGHTS_BIN), size - 4);
  resign(a);
  await assert.rejects(loadModel(a), new RegExp(`weights\\.bin: truncated: it holds ${size - 4} bytes, the tensors in model\\.json need ${size}`));
  const b = await savedCopy();
  appendFileSync(join(b, WEIGHTS_BIN), Buffer.alloc(8));
  resign(b);
  await assert.rejects(loadModel(b), /holds \d+ bytes, more than the \d+ the tensors in model\.json describe/);
});

test('tensor tables that disagree with the architecture are refused, naming the tensor', async () => {
  const a = await savedCopy();
  editJson(a, (j) => (j.tensors.find((t: any) => t.name === 'gru1.Wh').shape = [4, 5]));
  await assert.rejects(loadModel(a), /tensor "gru1\.Wh" has shape \[4,5\], the architecture needs \[4,4\]/);
  const b = await savedCopy();
  editJson(b, (j) => (j.tensors = j.tensors.filter((t: any) => t.name !== 'item_embedding')));
  await assert.rejects(loadModel(b), /tensor "item_embedding" is missing/);
  const c = await savedCopy();
  editJson(c, (j) => j.tensors.push({ name: 'gru2.Wx', shape: [4, 12], offset: 0, length: 48 }));
  await assert.rejects(loadModel(c), /tensor "gru2\.Wx" does not belong to this architecture/);
  const d = await savedCopy();
  editJson(d, (j) => (j.arch.hiddenSizes = [6, 5]));
  await assert.rejects(loadModel(d), /tensor "gru1\.Wx" has shape \[6,12\], the architecture needs \[6,15\]/);
});

test('non-finite weights are refused, naming the tensor', async () => {
  const a = await savedCopy();
  const j = JSON.parse(readFileSync(join(a, MODEL_JSON), 'utf8'));
  const entry = j.tensors.find((t: any) => t.name === 'gru0.Wrz');
  const bin = readFileSync(join(a, WEIGHTS_BIN));
  bin.writeFloatLE(Number.NaN, entry.offset + 4 * 5);
  writeFileSync(join(a, WEIGHTS_BIN), bin);
  resign(a);
  await assert.rejects(loadModel(a), /tensor "gru0\.Wrz" holds a non-finite value at 5/);
});

test('item ids and config are checked against the architecture', async () => {
  const a = await savedCopy();
  editJson(a, (j) => j.itemIds.pop());
  await assert.rejects(loadModel(a), /model\.json: itemIds: has 11 entries, arch\.nItems is 12/);
  const b = await savedCopy();
  editJson(b, (j) => (j.itemIds[3] = j.itemIds[4]));
  await assert.rejects(loadModel(b), /model\.json: itemIds\[4\]: duplicate of itemIds\[3\] \("item-1004"\)/);
  const c = await savedCopy();
  editJson(c, (j) => (j.config.learningRate = -1));
  await assert.rejects(loadModel(c), /model\.json: config\.learningRate: must be a positive number, got -1$/);
  const d = await savedCopy();
  editJson(d, (j) => (j.config.layers = [6, 4, 2]));
  await assert.rejects(loadModel(d), /the config describes architecture .* the weights have/);
  await assert.rejects(saveModel(join(root, 'bad'), { weights, itemIds: itemIds.slice(1), config }), /11 item ids for a model of 12 items/);
  assert.equal(existsSync(join(root, 'bad')), false, 'nothing is written for a refused save');
});

test('a model without config (imported weights) saves and loads with config null', async () => {
  const dir = join(root, 'noconfig');
  await saveModel(dir, { weights, itemIds, config: null });
  const loaded = await loadModel(dir);
  assert.equal(loaded.config, null);
  assert.equal(loaded.version, undefined);
  assert.deepEqual(loaded.weights.tensors['out.Wy'].data, weights.tensors['out.Wy'].data);
});

test('overwritten weight bytes are refused by the manifest, naming the file and both hashes', async () => {
  const dir = join(root, 'overwritten');
  const large = syntheticWeights({ nItems: 200, embeddingDim: 0, hiddenSizes: [16], constrainedEmbedding: false, useBias: true }, 3);
  await saveModel(dir, { weights: large, itemIds: Array.from({ length: 200 }, (_, i) => `i${i}`), config: null });
  const bin = readFileSync(join(dir, WEIGHTS_BIN));
  // 1,000 finite weights replaced in place: the size and every structural check still pass.
  for (let i = 0; i < 1000; i++) bin.writeFloatLE(0.5, 4 * i);
  writeFileSync(join(dir, WEIGHTS_BIN), bin);
  await assert.rejects(loadModel(dir), (e: Error) => {
    assert.match(e.message, /weights\.bin: SHA-256 mismatch \(manifest [0-9a-f]{64}, file [0-9a-f]{64}\)/);
    assert.equal(e.message.split('\n').length, 1);
    return true;
  });
  const b = await savedCopy();
  truncateSync(join(b, WEIGHTS_BIN), 100);
  await assert.rejects(loadModel(b), /weights\.bin: holds 100 bytes, manifest\.json records \d+: truncated/);
  const c = await savedCopy();
  editJsonWithoutResign(c, (j) => (j.metrics['recall@20'] = 0.7));
  await assert.rejects(loadModel(c), /model\.json: SHA-256 mismatch/);
});

function editJsonWithoutResign(dir: string, edit: (j: Record<string, any>) => void): void {
  const j = JSON.parse(readFileSync(join(dir, MODEL_JSON), 'utf8'));
  edit(j);
  writeFileSync(join(dir, MODEL_JSON), JSON.stringify(j));
}

test('a directory without a manifest (saved before checksums) is refused, naming the manifest', async () => {
  const dir = await savedCopy();
  unlinkSync(join(dir, MANIFEST_JSON));
  await assert.rejects(loadModel(dir), /manifest\.json: missing: the model directory has no checksums .* save the model again/);
  const b = await savedCopy();
  writeFileSync(
    join(b, MANIFEST_JSON),
    JSON.stringify({ format: 'streamrec-model-manifest', formatVersion: 1, files: {}, vocabularyHash: '0'.repeat(64), stateLayoutHash: '0'.repeat(64) }),
  );
  await assert.rejects(loadModel(b), /manifest\.json: files: model\.json is not listed/);
  const c = await savedCopy();
  const m = JSON.parse(readFileSync(join(c, MANIFEST_JSON), 'utf8'));
  m.files[WEIGHTS_BIN].sha256 = 'ABC';
  writeFileSync(join(c, MANIFEST_JSON), JSON.stringify(m));
  await assert.rejects(loadModel(c), /manifest\.json: files\.weights\.bin\.sha256: must be a lowercase hex SHA-256 \(64 characters\), got "ABC"/);
});

test('saving over an existing model replaces it whole: the new one loads, with its own hashes', async () => {
  const dir = await savedCopy();
  const first = await loadModel(dir);
  const otherIds = itemIds.map((id) => `${id}-v2`);
  await saveModel(dir, { weights, itemIds: otherIds, config });
  const second = await loadModel(dir);
  assert.deepEqual(second.itemIds, otherIds);
  assert.notEqual(second.vocabularyHash, first.vocabularyHash);
  assert.equal(second.stateLayoutHash, first.stateLayoutHash, 'same architecture, same state layout');
  assert.equal(second.weightsHash, first.weightsHash, 'same weights, same bytes');
  assert.equal(
    second.weightsHash,
    createHash('sha256')
      .update(readFileSync(join(dir, WEIGHTS_BIN)))
      .digest('hex'),
  );
  assert.deepEqual(readdirSync(dir).sort(), [MANIFEST_JSON, MODEL_JSON, WEIGHTS_BIN]);
});

test('model.json fields are checked by their path, hashes included', async () => {
  const a = await savedCopy();
  editJson(a, (j) => (j.arch.hiddenSizes = [6, 0]));
  await assert.rejects(loadModel(a), /model\.json: arch\.hiddenSizes\[1\]: must be a positive integer, got 0$/);
  const b = await savedCopy();
  editJson(b, (j) => (j.config.learningrate = 0.1));
  await assert.rejects(loadModel(b), /model\.json: config\.learningrate: unknown field$/);
  const c = await savedCopy();
  editJson(c, (j) => (j.vocabularyHash = 'f'.repeat(64)));
  await assert.rejects(loadModel(c), /model\.json: vocabularyHash: f{64} does not match the item ids \(their hash is [0-9a-f]{64}\)/);
  const d = await savedCopy();
  editJson(d, (j) => (j.tensors[2].offset = 6));
  await assert.rejects(loadModel(d), /model\.json: tensors\[2\]\.offset: must be a non-negative multiple of 4, got 6$/);
  const e = await savedCopy();
  editJson(e, (j) => (j.createdAt = 'yesterday'));
  await assert.rejects(loadModel(e), /model\.json: createdAt: must be an ISO-8601 time, got "yesterday"$/);
  const f = await savedCopy();
  const m = JSON.parse(readFileSync(join(f, MANIFEST_JSON), 'utf8'));
  m.stateLayoutHash = '0'.repeat(64);
  writeFileSync(join(f, MANIFEST_JSON), JSON.stringify(m));
  await assert.rejects(loadModel(f), /manifest\.json: stateLayoutHash: 0{64} does not match model\.json's architecture/);
});
