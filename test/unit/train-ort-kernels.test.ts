import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { Rng } from '../../src/random/rng.ts';
import { archOf, validateGru4RecConfig, type Gru4RecConfig } from '../../src/model/gru4rec-config.ts';
import { targetMask } from '../../src/model/losses.ts';
import { cudaProviderInstalled } from '../../src/engine/onnx/cuda-provider.ts';
import { sampledLossGraph } from '../../src/engine/onnx/sampled-loss-graph.ts';
import { openSyncSession } from '../../src/engine/onnx/sync-session.ts';
import { ItemTables } from '../../src/train/item-tables.ts';
import { kernelChoiceFromEnv, kernelThreadsFromEnv, OrtGruStep, OrtSampledOutput } from '../../src/train/ort-sampled-output.ts';
import { sampledStepLoss } from '../../src/train/sampled-step-loss.ts';
import type { SessionBatch } from '../../src/train/session-parallel.ts';
import { StepInputAssembler } from '../../src/train/step-inputs.ts';
import { Gru4RecTrainer } from '../../src/train/trainer.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

const N_ITEMS = 40;
const base: Partial<Gru4RecConfig> = { layers: [12], batchSize: 6, nSample: 10, sampleAlpha: 0.5, sampleCacheSize: 1000, learningRate: 0.1, eluParam: 0, bpreg: 0, seed: 3 };

/** A mid-session batch: every row continues its session (so the carried state matters). */
function batchOf(n: number, rng: Rng): SessionBatch {
  const pick = () => Math.floor(rng.next() * N_ITEMS);
  return {
    n,
    inputs: Int32Array.from({ length: n }, pick),
    targets: Int32Array.from({ length: n }, pick),
    reset: new Uint8Array(n),
    anyReset: false,
    keep: null,
  } as unknown as SessionBatch;
}

interface StepGrads {
  loss: number;
  grads: Float32Array[];
}

/**
 * One step's loss and the gradients of every leaf ([table rows…, dense parameters…]) through the
 * chosen path, from the same model, inputs and carried state.
 */
function stepGrads(config: Gru4RecConfig, path: 'tfjs' | 'ort-output' | 'ort-step'): StepGrads {
  const model = Gru4Rec.init(archOf(config, N_ITEMS), 7);
  const support = Float32Array.from({ length: N_ITEMS }, (_, i) => 1 + ((i * 7) % 13));
  const assembler = new StepInputAssembler(model, config, support);
  const tables = new ItemTables(model, config);
  const rng = new Rng(11);
  const batch = batchOf(config.batchSize, rng);
  const inputs = assembler.prepare(batch);
  tables.index(inputs);
  const denseNames = Object.keys(model.vars).filter((n) => !tables.names.has(n));
  const out = tf.tidy(() => {
    const hidden = model.stateSizes.map((h) =>
      tf.tensor2d(
        Float32Array.from({ length: inputs.n * h }, () => rng.next() - 0.5),
        [inputs.n, h],
      ),
    );
    const rows = tables.gather(inputs);
    if (path === 'ort-step') {
      const step = OrtGruStep.open(model.arch, config, model.oneHotInput);
      if (typeof step === 'string') throw new Error(step);
      const r = step.run({
        rows,
        hidden: hidden[0],
        params: model.vars,
        logq: inputs.logq,
        embedMask: inputs.embedMask,
        hiddenMask: inputs.hiddenMasks[0],
        exclude: inputs.exclude,
      });
      step.dispose();
      return [r.loss, ...r.tableGrads, ...denseNames.map((n) => r.denseGrads[n])];
    }
    let output: OrtSampledOutput | null = null;
    if (path === 'ort-output') {
      const o = OrtSampledOutput.open(model.arch, config);
      if (typeof o === 'string') throw new Error(o);
      output = o;
    }
    const lossOf = sampledStepLoss({
      model,
      config,
      denseNames,
      nGathered: rows.length,
      inputs,
      hidden,
      targetMask: targetMask(inputs.n, inputs.R),
      onHidden: () => {},
      output,
    });
    const { value, grads } = tf.valueAndGrads(lossOf)([...rows, ...denseNames.map((n) => model.vars[n])]);
    output?.dispose();
    return [value, ...grads];
  });
  const result = { loss: out[0].dataSync()[0], grads: out.slice(1).map((t) => Float32Array.from(t.dataSync() as Float32Array)) };
  tf.dispose(out);
  model.dispose();
  return result;
}

function assertSameGrads(label: string, a: StepGrads, b: StepGrads): void {
  assert.ok(Math.abs(a.loss - b.loss) <= 1e-5 * Math.max(1, Math.abs(a.loss)), `${label}: loss ${a.loss} vs ${b.loss}`);
  assert.equal(a.grads.length, b.grads.length, `${label}: leaf count`);
  a.grads.forEach((g, k) => {
    assert.equal(g.length, b.grads[k].length, `${label}: leaf ${k} size`);
    let scale = 0;
    let diff = 0;
    for (let i = 0; i < g.length; i++) {
      scale = Math.max(scale, Math.abs(g[i]));
      diff = Math.max(diff, Math.abs(g[i] - b.grads[k][i]));
    }
    assert.ok(scale > 0, `${label}: leaf ${k} has an all-zero gradient (nothing compared)`);
    assert.ok(diff <= 1e-5 * Math.max(scale, 1e-3), `${label}: leaf ${k} differs by ${diff} (max |g| ${scale})`);
  });
}

const cases: Array<[string, Partial<Gru4RecConfig>]> = [
  ['cross-entropy, constrained embedding, logq, both dropouts', { loss: 'cross-entropy', logq: 1, dropoutPEmbed: 0.2, dropoutPHidden: 0.2 }],
  ['cross-entropy, one-hot input, accidental hits removed', { loss: 'cross-entropy', constrainedEmbedding: false, sampleAlpha: 0, removeAccidentalHits: true }],
  ['cross-entropy, separate embedding, no bias', { loss: 'cross-entropy', constrainedEmbedding: false, embedding: 8, useBias: false, dropoutPEmbed: 0.3 }],
  ['bpr-max, ELU 0.5, bpreg 1', { loss: 'bpr-max', eluParam: 0.5, bpreg: 1 }],
  ['bpr-max, linear, accidental hits removed, one-hot', { loss: 'bpr-max', constrainedEmbedding: false, bpreg: 0.5, sampleAlpha: 0, removeAccidentalHits: true }],
];

for (const [label, overrides] of cases) {
  test(`onnxruntime step and output layer give tfjs's loss and gradients (${label})`, () => {
    const config = validateGru4RecConfig({ ...base, ...overrides });
    const reference = stepGrads(config, 'tfjs');
    assertSameGrads(`${label}, whole step`, reference, stepGrads(config, 'ort-step'));
    assertSameGrads(`${label}, output layer`, reference, stepGrads(config, 'ort-output'));
  });
}

test('the output layer alone serves encoders the whole-step graph does not cover (LSTM, two layers)', () => {
  const config = validateGru4RecConfig({ ...base, cell: 'lstm', layers: [12, 10], loss: 'cross-entropy', logq: 1, dropoutPHidden: 0.1 });
  assertSameGrads('lstm, two layers', stepGrads(config, 'tfjs'), stepGrads(config, 'ort-output'));
  const model = Gru4Rec.init(archOf(config, N_ITEMS), 1);
  const trainer = new Gru4RecTrainer(model, config, new Float32Array(N_ITEMS).fill(1));
  assert.equal(trainer.kernel.engine, 'ort-output');
  assert.match(trainer.kernel.reason ?? '', /lstm cell runs on tfjs/);
  trainer.dispose();
  model.dispose();
});

test('the trainer picks the fastest kernel the config allows and says why it fell back', () => {
  const kernelOf = (overrides: Partial<Gru4RecConfig>, choice?: 'auto' | 'ort' | 'tfjs') => {
    const config = validateGru4RecConfig({ ...base, ...overrides });
    const model = Gru4Rec.init(archOf(config, N_ITEMS), 1);
    try {
      const trainer = new Gru4RecTrainer(model, config, new Float32Array(N_ITEMS).fill(1), { outputKernel: choice });
      const k = trainer.kernel;
      trainer.dispose();
      return k;
    } finally {
      model.dispose();
    }
  };
  assert.deepEqual(kernelOf({ loss: 'cross-entropy' }), { engine: 'ort-step', provider: cudaProviderInstalled() ? 'cuda' : 'cpu' });
  assert.deepEqual(kernelOf({ loss: 'bpr-max' }, 'tfjs'), { engine: 'tfjs', reason: 'asked for tfjs' });
  assert.deepEqual(kernelOf({ loss: 'top1' }), { engine: 'tfjs', reason: 'the top1 loss runs on tfjs' });
  assert.deepEqual(kernelOf({ loss: 'cross-entropy', head: 'mixture-of-cosines' }), { engine: 'tfjs', reason: 'the mixture-of-cosines head runs on tfjs' });
  assert.throws(() => kernelOf({ loss: 'bpr' }, 'ort'), /outputKernel 'ort' is unavailable: the bpr loss runs on tfjs/);
});

test('a graph onnxruntime cannot load is reported, not thrown', () => {
  const why = openSyncSession(new Uint8Array([1, 2, 3, 4]));
  assert.equal(typeof why, 'string');
  assert.match(why as string, /could not load the graph synchronously \(.*cpu: /);
});

test('without the CUDA provider library, asking for CUDA only is refused with the reason; the default falls back to CPU', () => {
  const graph = sampledLossGraph({ loss: 'cross-entropy', bpreg: 0, eluParam: 0 });
  const cpu = openSyncSession(graph);
  assert.notEqual(typeof cpu, 'string');
  const session = cpu as Exclude<typeof cpu, string>;
  assert.equal(session.provider, cudaProviderInstalled() ? 'cuda' : 'cpu');
  session.dispose();
  if (!cudaProviderInstalled())
    assert.equal(openSyncSession(graph, { providers: ['cuda'] }), 'onnxruntime-node could not load the graph synchronously (cuda: provider library not installed)');
});

test('STREAMREC_TRAIN_KERNEL picks the kernel; a bad value is refused in one line', () => {
  assert.equal(kernelChoiceFromEnv({}), 'auto');
  assert.equal(kernelChoiceFromEnv({ STREAMREC_TRAIN_KERNEL: 'tfjs' }), 'tfjs');
  assert.throws(() => kernelChoiceFromEnv({ STREAMREC_TRAIN_KERNEL: 'gpu' }), /^Error: STREAMREC_TRAIN_KERNEL: expected one of auto, ort, tfjs, got "gpu"$/);
});

test("STREAMREC_TRAIN_THREADS sizes the kernels' thread pool; a bad value is refused in one line", () => {
  assert.equal(kernelThreadsFromEnv({}), 1);
  assert.equal(kernelThreadsFromEnv({ STREAMREC_TRAIN_THREADS: '2' }), 2);
  assert.throws(() => kernelThreadsFromEnv({ STREAMREC_TRAIN_THREADS: '0' }), /STREAMREC_TRAIN_THREADS: expected a positive integer, got "0"/);
});
