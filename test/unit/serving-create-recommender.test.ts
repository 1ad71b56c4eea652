import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { loadConfig } from '../../src/config/config.ts';
import { createRecommender } from '../../src/serving/create-recommender.ts';
import { Gru4RecRecommender } from '../../src/serving/gru4rec-recommender.ts';
import { CooccurrenceRecommender } from '../../src/serving/cooccurrence-recommender.ts';
import { saveModel } from '../../src/registry/model-file.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const quiet = () => undefined;

test('model.kind picks the recommender; a GRU4Rec model directory is loaded with its version', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-model-'));
  const weights = syntheticWeights({ nItems: 30, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true }, 1);
  await saveModel(dir, { weights, itemIds: Array.from({ length: 30 }, (_, i) => `item-${i}`), config: null, version: 'v42' });
  const cooc = await createRecommender(loadConfig(undefined, {}), quiet);
  assert.ok(cooc instanceof CooccurrenceRecommender);
  const gru = await createRecommender(loadConfig(undefined, { STREAMREC_MODEL__KIND: 'gru4rec', STREAMREC_MODEL__PATH: dir, STREAMREC_SERVING__TOP_K: '5' }), quiet);
  assert.ok(gru instanceof Gru4RecRecommender);
  assert.equal(gru.version, 'v42');
  const out: Parameters<typeof gru.recommendBatch>[1] = [];
  await gru.recommendBatch([{ sessionId: 's', itemId: 'item-3', partition: 0, timestamp: 0 }], out);
  assert.ok(out[0].ok && out[0].itemIds.length === 5 && out[0].itemIds.every((id) => id.startsWith('item-')));
  await gru.close?.();
});

test('a bad model directory is refused before serving starts, with the reason', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-model-'));
  const weights = syntheticWeights({ nItems: 30, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true }, 1);
  await saveModel(dir, { weights, itemIds: Array.from({ length: 30 }, (_, i) => `item-${i}`), config: null });
  truncateSync(join(dir, 'weights.bin'), 100);
  const cfg = loadConfig(undefined, { STREAMREC_MODEL__KIND: 'gru4rec', STREAMREC_MODEL__PATH: dir });
  await assert.rejects(createRecommender(cfg, quiet), /weights\.bin/);
  writeFileSync(join(dir, 'model.json'), '{"format":"something-else"}');
  await assert.rejects(createRecommender(cfg, quiet), /model\.json: (holds \d+ bytes, manifest\.json records|SHA-256 mismatch)/);
  await assert.rejects(
    createRecommender(loadConfig(undefined, { STREAMREC_MODEL__KIND: 'gru4rec', STREAMREC_MODEL__PATH: join(dir, 'missing') }), quiet),
    /missing: model directory does not exist/,
  );
});
