import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { loadConfig } from '../../src/config/config.ts';
import { MODEL_ONNX, onnxExport, startingModel } from '../../src/cli/train-start.ts';
import { ModelFileError } from '../../src/errors/errors.ts';
import { initBackend } from '../../src/model/backend.ts';
import { saveModel } from '../../src/registry/model-file.ts';
import { ModelRegistry } from '../../src/registry/model-registry.ts';
import { followOptions } from '../../src/train/continuous/follow-options.ts';
import { RegistryTarget } from '../../src/train/continuous/registry-target.ts';
import { followConfig, type PassedCandidate, StreamTrainer } from '../../src/train/continuous/stream-trainer.ts';
import { trainGru4Rec } from '../../src/train/fit.ts';
import { decodeOptimizerState, encodeOptimizerState, OPTIMIZER_BIN, optimizerStateFits } from '../../src/train/optimizer-file.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

const ids = Array.from({ length: 12 }, (_, i) => `i${i}`);
const arch = { nItems: ids.length, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: true, useBias: true };

/** A model trained a little on real sequences, with the optimizer state its training ended with. */
async function trainedModel() {
  const config = { ...followConfig('rsc15-xe-fast', arch), nEpochs: 2, batchSize: 4 };
  const items = Int32Array.from({ length: 60 }, (_, k) => (k * 7 + Math.floor(k / 5)) % ids.length);
  const offsets = Int32Array.from({ length: 13 }, (_, s) => s * 5);
  const { model, optimizer } = await trainGru4Rec({ items, offsets } as never, ids.length, config, { keepOptimizerState: true });
  const weights = model.toWeights();
  model.dispose();
  assert.ok(optimizer, 'keepOptimizerState returns the state');
  return { weights, config, saved: { optimizer: config.optimizer, momentum: config.momentum, state: optimizer } };
}

test('optimizer.bin round-trips every slot and the step count, and refuses damaged bytes naming the file', async () => {
  const { saved } = await trainedModel();
  assert.ok(saved.state.steps > 0);
  const bytes = encodeOptimizerState(saved);
  const back = decodeOptimizerState(bytes, 'x/optimizer.bin');
  assert.equal(back.optimizer, saved.optimizer);
  assert.equal(back.state.steps, saved.state.steps);
  assert.deepEqual(Object.keys(back.state.slots), Object.keys(saved.state.slots));
  for (const [name, slot] of Object.entries(saved.state.slots)) {
    assert.deepEqual(back.state.slots[name].acc, slot.acc, name);
    assert.deepEqual(back.state.slots[name].mom, slot.mom, name);
  }
  assert.throws(
    () => decodeOptimizerState(bytes.subarray(0, bytes.length - 4), 'x/optimizer.bin'),
    (e: unknown) => e instanceof ModelFileError && /x\/optimizer\.bin.*truncated/.test(e.message),
  );
  assert.throws(() => decodeOptimizerState(Buffer.from('not a state'), 'x/optimizer.bin'), /not a streamrec optimizer state/);
  assert.match(optimizerStateFits(saved, { optimizer: 'adam', momentum: 0 }) ?? '', /saved by adagrad, the trainer uses adam/);
  assert.equal(optimizerStateFits(saved, saved), null);
});

test('a trainer starting from a registry version goes on from its optimizer state; the versions it publishes carry theirs and an ONNX export that loads', async () => {
  const { weights, config, saved } = await trainedModel();
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-optim-'));
  const registry = new ModelRegistry(join(dir, 'registry'));
  const v1 = await registry.publish({ weights, itemIds: ids, config, parent: null, attachments: { [OPTIMIZER_BIN]: encodeOptimizerState(saved) } });
  await registry.promote(v1.version);

  const start = await startingModel(registry, undefined);
  assert.equal(start.savedOptimizer?.state.steps, saved.state.steps);
  const published: PassedCandidate[] = [];
  const target = new RegistryTarget(registry, null, onnxExport(loadConfig(undefined, {})));
  const capture = {
    serving: () => target.serving(),
    publish: (c: PassedCandidate) => {
      published.push(c);
      return target.publish(c);
    },
  };
  const options = followOptions({ windowEvents: 8, gateWindowEvents: 8, gateMargin: 1, checkpointEveryEvents: 1_000_000 });
  const trainer = new StreamTrainer({ options, checkpointDir: join(dir, 'ckpt'), target: capture }, start);
  try {
    assert.match(trainer.optimizerStart, /from the starting model/);
    for (let k = 0; k < 16; k++) await trainer.event(`s${k % 3}`, ids[(k * 5) % ids.length], 0, k);
  } finally {
    trainer.dispose();
    target.dispose();
  }
  assert.equal(published.length, 1, 'margin 1: the first gate passes');
  // Steps went on from the saved count instead of restarting at zero.
  assert.ok(published[0].optimizer.state.steps > saved.state.steps, `${published[0].optimizer.state.steps} > ${saved.state.steps}`);
  const v2 = (await registry.current())!;
  assert.equal(v2, 2);
  const carried = decodeOptimizerState((await registry.attachment(v2, OPTIMIZER_BIN))!, 'v2');
  assert.equal(carried.state.steps, published[0].optimizer.state.steps);
  const onnx = await registry.attachment(v2, MODEL_ONNX);
  assert.ok(onnx);
  const session = await ort.InferenceSession.create(onnx);
  assert.ok(session.outputNames.length >= 2, 'the export has the step outputs (next hidden state, top-K)');
  await session.release();
  assert.equal(await registry.attachment(v1.version, MODEL_ONNX), null, 'a version published without the file has none');
});

test('an attachment altered after publish fails its checksum on attachment() and on load; VERSION_JSON cannot be attached', async () => {
  const { weights, config, saved } = await trainedModel();
  const registry = new ModelRegistry(join(mkdtempSync(join(tmpdir(), 'streamrec-optim-')), 'registry'));
  const v = await registry.publish({ weights, itemIds: ids, config, parent: null, attachments: { [OPTIMIZER_BIN]: encodeOptimizerState(saved) } });
  const path = join(v.dir, OPTIMIZER_BIN);
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(path, bytes);
  await assert.rejects(
    registry.attachment(v.version, OPTIMIZER_BIN),
    (e: unknown) => e instanceof ModelFileError && e.message.includes(path) && /SHA-256 mismatch/.test(e.message),
  );
  await assert.rejects(registry.load(v.version), /SHA-256 mismatch/);
  await assert.rejects(registry.publish({ weights, itemIds: ids, config, parent: null, attachments: { 'version.json': Buffer.from('{}') } }), /cannot be an attachment/);
});

test('startingModel from a model directory reads its optimizer.bin; a state of another optimizer kind is not used', async () => {
  const { weights, config, saved } = await trainedModel();
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-optim-dir-'));
  const adamState = { ...saved, optimizer: 'adam' as const };
  await saveModel(join(dir, 'm'), { weights, itemIds: ids, config }, { [OPTIMIZER_BIN]: encodeOptimizerState(adamState) });
  const start = await startingModel(new ModelRegistry(join(dir, 'registry')), join(dir, 'm'));
  assert.equal(start.savedOptimizer?.optimizer, 'adam');
  const trainer = new StreamTrainer({ options: followOptions({}), checkpointDir: join(dir, 'ckpt'), target: null }, start);
  try {
    assert.match(trainer.optimizerStart, /fresh optimizer .*saved by adam, the trainer uses adagrad/);
  } finally {
    trainer.dispose();
  }
});
