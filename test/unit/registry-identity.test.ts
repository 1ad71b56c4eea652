import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, saveModel } from '../../src/registry/model-file.ts';
import { stateLayoutHash, stateLayoutOf, vocabularyHash } from '../../src/registry/model-identity.ts';
import { modelStamp } from '../../src/session/session-codec.ts';
import type { Gru4RecArch } from '../../src/model/weights.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const arch = (hiddenSizes: number[], nItems = 20): Gru4RecArch => ({ nItems, embeddingDim: 0, hiddenSizes, constrainedEmbedding: false, useBias: true });
const ids = (n: number, prefix = 'item-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

test('the vocabulary hash identifies the id list: another list, order or split gives another hash', () => {
  const base = vocabularyHash(['a', 'b', 'c']);
  assert.match(base, /^[0-9a-f]{64}$/);
  assert.equal(vocabularyHash(['a', 'b', 'c']), base, 'deterministic');
  assert.notEqual(vocabularyHash(['a', 'b', 'd']), base, 'another item');
  assert.notEqual(vocabularyHash(['b', 'a', 'c']), base, 'indices are part of it');
  assert.notEqual(vocabularyHash(['a', 'b']), base, 'a shorter catalogue');
  // Length-prefixed: concatenations that read the same as strings are different lists.
  assert.notEqual(vocabularyHash(['ab', 'c']), vocabularyHash(['a', 'bc']));
  assert.notEqual(vocabularyHash(['é']), vocabularyHash(['e\u0301']), 'bytes, not what a font shows');
});

test('the state layout hash changes with the hidden sizes or the model format, not with the catalogue', () => {
  const h = (a: Gru4RecArch, format = 'streamrec-gru4rec/1') => stateLayoutHash(stateLayoutOf(format, a));
  assert.equal(h(arch([8, 4], 20)), h(arch([8, 4], 5000)));
  assert.equal(h(arch([8], 20)), h({ ...arch([8], 20), embeddingDim: 3 }), 'the input side does not shape the state');
  assert.notEqual(h(arch([8, 4])), h(arch([8, 5])));
  assert.notEqual(h(arch([8, 4])), h(arch([4, 8])));
  assert.notEqual(h(arch([8, 4])), h(arch([8, 4, 2])));
  assert.notEqual(h(arch([8])), h(arch([8]), 'streamrec-gru4rec/2'));
  assert.deepEqual(stateLayoutOf('streamrec-gru4rec/1', arch([8, 4])), { modelFormat: 'streamrec-gru4rec/1', hiddenSizes: [8, 4], history: 'item-indices-oldest-first' });
});

test('a loaded model exposes its vocabulary, state layout and weights hashes, and they make its session stamp', async () => {
  const root = mkdtempSync(join(tmpdir(), 'streamrec-identity-'));
  try {
    const w = syntheticWeights(arch([8]), 1);
    await saveModel(join(root, 'a'), { weights: w, itemIds: ids(20), config: null });
    await saveModel(join(root, 'b'), { weights: w, itemIds: ids(20, 'sku-'), config: null });
    await saveModel(join(root, 'c'), { weights: syntheticWeights(arch([8]), 2), itemIds: ids(20), config: null });
    await saveModel(join(root, 'd'), { weights: syntheticWeights(arch([12]), 1), itemIds: ids(20), config: null });
    const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map((n) => loadModel(join(root, n))));
    assert.equal(a.vocabularyHash, vocabularyHash(ids(20)));
    assert.notEqual(b.vocabularyHash, a.vocabularyHash, 'another item list');
    assert.equal(c.vocabularyHash, a.vocabularyHash);
    assert.deepEqual(a.stateLayout.hiddenSizes, [8]);
    assert.equal(a.stateLayoutHash, stateLayoutHash(a.stateLayout));
    assert.equal(c.stateLayoutHash, a.stateLayoutHash, 'other weights, same layout');
    assert.notEqual(d.stateLayoutHash, a.stateLayoutHash, 'another hidden size');
    assert.notEqual(c.weightsHash, a.weightsHash);
    assert.equal(b.weightsHash, a.weightsHash);
    const stamp = modelStamp(a);
    assert.deepEqual(Buffer.from(stamp.vocabulary).toString('hex'), a.vocabularyHash.slice(0, 16));
    assert.deepEqual(Buffer.from(stamp.stateLayout).toString('hex'), a.stateLayoutHash.slice(0, 16));
    assert.deepEqual(Buffer.from(stamp.weights).toString('hex'), a.weightsHash.slice(0, 16));
    assert.throws(() => modelStamp({ ...a, vocabularyHash: 'xyz' }), /vocabularyHash must be a lowercase hex digest/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
