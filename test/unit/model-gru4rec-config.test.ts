import { test } from 'node:test';
import assert from 'node:assert/strict';
import { archOf, DEFAULT_GRU4REC_CONFIG, GRU4REC_PRESETS, gru4recPreset, validateGru4RecConfig } from '../../src/model/gru4rec-config.ts';

test('defaults are the official GRU4Rec constructor defaults', () => {
  const c = validateGru4RecConfig({});
  assert.equal(c.loss, 'cross-entropy');
  assert.deepEqual(c.layers, [100]);
  assert.equal(c.batchSize, 64);
  assert.equal(c.learningRate, 0.05);
  assert.equal(c.nSample, 2048);
  assert.equal(c.sampleAlpha, 0.5);
  assert.equal(c.constrainedEmbedding, true);
  assert.equal(c.bpreg, 1.0);
  assert.equal(c.eluParam, 0.5);
  assert.equal(c.sampleCacheSize, 10_000_000);
  // Not an official option: off by default, so the official behaviour is the default.
  assert.equal(c.removeAccidentalHits, false);
  // The returned config owns its arrays.
  c.layers.push(5);
  assert.deepEqual(DEFAULT_GRU4REC_CONFIG.layers, [100]);
});

test('every preset validates; the published ones are the large official sizes', () => {
  for (const name of Object.keys(GRU4REC_PRESETS)) assert.doesNotThrow(() => gru4recPreset(name), name);
  assert.deepEqual(gru4recPreset('rsc15-xe').layers, [480]);
  assert.deepEqual(gru4recPreset('rsc15-bprmax').layers, [512]);
  assert.deepEqual(gru4recPreset('rsc15-xe-fast').layers, [100]);
  assert.equal(gru4recPreset('rsc15-bprmax-fast').loss, 'bpr-max');
  assert.equal(gru4recPreset('rsc15-xe', { nEpochs: 1 }).nEpochs, 1);
  assert.throws(() => gru4recPreset('rsc16'), /unknown GRU4Rec preset "rsc16"; known: rsc15-xe/);
});

test('errors name the field and the rule', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ loss: 'hinge' }, /loss must be one of "cross-entropy", "bpr", "top1", "bpr-max", "top1-max", "adaptive-hinge", "cosine", got "hinge"/],
    [{ layers: [] }, /layers must be a non-empty list of positive integers/],
    [{ layers: [100, 0] }, /layers must be a non-empty list/],
    [{ learningRate: 0 }, /learningRate must be a positive number, got 0/],
    [{ dropoutPHidden: 1 }, /dropoutPHidden must be a number in \[0, 1\)/],
    [{ momentum: -0.1 }, /momentum must be a number in \[0, 1\)/],
    [{ batchSize: 2.5 }, /batchSize must be an integer >= 1, got 2.5/],
    [{ nSample: -1 }, /nSample must be an integer >= 0/],
    [{ optimizer: 'sgd' }, /optimizer must be one of "adagrad", "adam"/],
    [{ constrainedEmbedding: 'yes' }, /constrainedEmbedding must be true or false/],
    [{ logq: Number.NaN }, /logq must be a number in \[0, Infinity\]/],
    [{ embedding: 64 }, /embedding must be 0 when constrainedEmbedding is true/],
    [{ batchSize: 1, nSample: 0 }, /batchSize \+ nSample must be at least 2/],
    [{ learningrate: 0.1 }, /unknown field "learningrate"/],
    [{ removeAccidentalHits: 1 }, /removeAccidentalHits must be true or false/],
  ];
  for (const [partial, re] of cases) assert.throws(() => validateGru4RecConfig(partial), re, JSON.stringify(partial));
});

test('archOf maps the embedding modes onto the weights contract', () => {
  assert.deepEqual(archOf(validateGru4RecConfig({ layers: [8, 4] }), 30), { nItems: 30, embeddingDim: 4, hiddenSizes: [8, 4], constrainedEmbedding: true, useBias: true });
  assert.deepEqual(archOf(validateGru4RecConfig({ constrainedEmbedding: false, embedding: 16, useBias: false }), 30), {
    nItems: 30,
    embeddingDim: 16,
    hiddenSizes: [100],
    constrainedEmbedding: false,
    useBias: false,
  });
  assert.equal(archOf(validateGru4RecConfig({ constrainedEmbedding: false }), 30).embeddingDim, 0);
});
