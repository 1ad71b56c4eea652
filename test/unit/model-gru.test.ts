import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import { Gru4RecScorer } from '../../src/eval/gru4rec-scorer.ts';
import type { Gru4RecArch, Gru4RecWeights } from '../../src/model/weights.ts';

before(async () => {
  await initBackend('wasm', () => {});
});

/** The weights contract's GRU formulation in float64, straight from the header of weights.ts. */
function referenceStep(w: Gru4RecWeights, hidden: Float64Array[], items: Int32Array): { hidden: Float64Array[]; scores: Float64Array } {
  const { arch, tensors } = w;
  const n = items.length;
  const sig = (x: number) => 1 / (1 + Math.exp(-x));
  const next: Float64Array[] = [];
  // Layer-0 input: rows of the input table (embedding, Wy when constrained, or Wx0 itself for one-hot).
  let x: Float64Array;
  let inDim: number;
  const oneHot = !arch.constrainedEmbedding && arch.embeddingDim === 0;
  if (!oneHot) {
    const table = arch.constrainedEmbedding ? tensors['out.Wy'] : tensors['item_embedding'];
    inDim = table.shape[1];
    x = new Float64Array(n * inDim);
    for (let b = 0; b < n; b++) for (let d = 0; d < inDim; d++) x[b * inDim + d] = table.data[items[b] * inDim + d];
  } else {
    inDim = 0;
    x = new Float64Array(0);
  }
  arch.hiddenSizes.forEach((H, l) => {
    const Wx = tensors[`gru${l}.Wx`];
    const Wrz = tensors[`gru${l}.Wrz`];
    const Wh = tensors[`gru${l}.Wh`];
    const bias = tensors[`gru${l}.b`].data;
    const h = hidden[l];
    const out = new Float64Array(n * H);
    for (let b = 0; b < n; b++) {
      const vx = new Float64Array(3 * H);
      for (let c = 0; c < 3 * H; c++) {
        let v = bias[c];
        if (l === 0 && oneHot) v += Wx.data[items[b] * 3 * H + c];
        else for (let k = 0; k < inDim; k++) v += x[b * inDim + k] * Wx.data[k * 3 * H + c];
        vx[c] = v;
      }
      const r = new Float64Array(H);
      const z = new Float64Array(H);
      for (let c = 0; c < 2 * H; c++) {
        let v = vx[H + c];
        for (let k = 0; k < H; k++) v += h[b * H + k] * Wrz.data[k * 2 * H + c];
        if (c < H) r[c] = sig(v);
        else z[c - H] = sig(v);
      }
      for (let c = 0; c < H; c++) {
        let v = vx[c];
        for (let k = 0; k < H; k++) v += r[k] * h[b * H + k] * Wh.data[k * H + c];
        const cand = Math.tanh(v);
        out[b * H + c] = (1 - z[c]) * h[b * H + c] + z[c] * cand;
      }
    }
    next.push(out);
    x = out;
    inDim = H;
  });
  const top = next[next.length - 1];
  const H = arch.hiddenSizes[arch.hiddenSizes.length - 1];
  const Wy = tensors['out.Wy'].data;
  const by = tensors['out.by'].data;
  const scores = new Float64Array(n * arch.nItems);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < arch.nItems; i++) {
      let v = arch.useBias ? by[i] : 0;
      for (let k = 0; k < H; k++) v += top[b * H + k] * Wy[i * H + k];
      scores[b * arch.nItems + i] = v;
    }
  return { hidden: next, scores };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Non-zero biases, so the comparison exercises them (fresh models start with zero biases). */
function withRandomBiases(model: Gru4Rec, seed: number): Gru4RecWeights {
  const w = model.toWeights();
  let s = seed;
  const rand = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5;
  for (const [name, t] of Object.entries(w.tensors)) if (name.endsWith('.b') || name === 'out.by') for (let i = 0; i < t.data.length; i++) t.data[i] = rand();
  return w;
}

const ARCHS: Array<[string, Gru4RecArch]> = [
  ['one-hot input, 2 layers', { nItems: 23, embeddingDim: 0, hiddenSizes: [6, 5], constrainedEmbedding: false, useBias: true }],
  ['separate embedding', { nItems: 19, embeddingDim: 4, hiddenSizes: [7], constrainedEmbedding: false, useBias: true }],
  ['constrained embedding, no bias', { nItems: 17, embeddingDim: 5, hiddenSizes: [5], constrainedEmbedding: true, useBias: false }],
];

for (const [label, arch] of ARCHS) {
  test(`tfjs step equals the float64 reference of the contract's GRU (${label})`, () => {
    const model = Gru4Rec.init(arch, 3);
    const weights = withRandomBiases(model, 9);
    model.dispose();
    const m = Gru4Rec.fromWeights(weights);
    const n = 4;
    const items = Int32Array.from([0, 5, arch.nItems - 1, 5]);
    // Two chained steps: the second starts from a non-zero state.
    let hidden: Float32Array[] = arch.hiddenSizes.map((h) => new Float32Array(n * h));
    let ref: Float64Array[] = arch.hiddenSizes.map((h) => new Float64Array(n * h));
    for (let t = 0; t < 2; t++) {
      const got = m.step(hidden, items);
      const want = referenceStep(weights, ref, items);
      got.hidden.forEach((h, l) => assert.ok(maxAbsDiff(h, want.hidden[l]) < 1e-5, `step ${t} layer ${l} hidden differs by ${maxAbsDiff(h, want.hidden[l])}`));
      assert.ok(maxAbsDiff(got.scores, want.scores) < 1e-5, `step ${t} scores differ by ${maxAbsDiff(got.scores, want.scores)}`);
      hidden = got.hidden;
      ref = want.hidden;
      items.reverse();
    }
    m.dispose();
  });
}

test('toWeights / fromWeights round-trips every tensor exactly and predicts identically', () => {
  const arch: Gru4RecArch = { nItems: 11, embeddingDim: 3, hiddenSizes: [4, 6], constrainedEmbedding: false, useBias: true };
  const a = Gru4Rec.init(arch, 5);
  const wa = a.toWeights();
  const b = Gru4Rec.fromWeights(wa);
  const wb = b.toWeights();
  assert.deepEqual(Object.keys(wb.tensors).sort(), Object.keys(wa.tensors).sort());
  for (const name of Object.keys(wa.tensors)) {
    assert.deepEqual(wb.tensors[name].shape, wa.tensors[name].shape);
    assert.deepEqual(wb.tensors[name].data, wa.tensors[name].data, `tensor ${name} changed`);
  }
  assert.deepEqual(wb.arch, wa.arch);
  const hidden = arch.hiddenSizes.map((h) => new Float32Array(2 * h));
  const items = Int32Array.from([3, 7]);
  assert.deepEqual(b.step(hidden, items).scores, a.step(hidden, items).scores);
  a.dispose();
  b.dispose();
});

test('fromWeights refuses weights that break the contract', () => {
  const arch: Gru4RecArch = { nItems: 5, embeddingDim: 0, hiddenSizes: [3], constrainedEmbedding: false, useBias: true };
  const m = Gru4Rec.init(arch, 1);
  const w = m.toWeights();
  m.dispose();
  const broken = { ...w, tensors: { ...w.tensors, 'gru0.Wh': { shape: [3, 4], data: new Float32Array(12) } } };
  assert.throws(() => Gru4Rec.fromWeights(broken), /gru0\.Wh.*shape \[3,4\], expected \[3,3\]/);
});

test('constrained embedding: out.Wy is the input table, no separate embedding exists', () => {
  const arch: Gru4RecArch = { nItems: 9, embeddingDim: 4, hiddenSizes: [4], constrainedEmbedding: true, useBias: true };
  const m = Gru4Rec.init(arch, 2);
  const w = m.toWeights();
  assert.equal(m.inputTable, 'out.Wy');
  assert.equal('item_embedding' in w.tensors, false);
  assert.deepEqual(w.tensors['gru0.Wx'].shape, [4, 12]);
  const hidden = [new Float32Array(4)];
  const before = m.step(hidden, Int32Array.from([6])).hidden[0];
  m.dispose();
  // Changing the Wy row of the input item changes the encoder's state...
  const w2 = structuredClone(w);
  for (let k = 0; k < 4; k++) w2.tensors['out.Wy'].data[6 * 4 + k] += 0.5;
  const m2 = Gru4Rec.fromWeights(w2);
  const after = m2.step(hidden, Int32Array.from([6])).hidden[0];
  assert.ok(maxAbsDiff(before, after) > 1e-3, 'the state must depend on out.Wy[6]');
  m2.dispose();
  // ...while changing another item's row leaves it untouched.
  const w3 = structuredClone(w);
  for (let k = 0; k < 4; k++) w3.tensors['out.Wy'].data[2 * 4 + k] += 0.5;
  const m3 = Gru4Rec.fromWeights(w3);
  assert.deepEqual(m3.step(hidden, Int32Array.from([6])).hidden[0], before);
  m3.dispose();
});

test('initialisation: uniform within ±sqrt(6/(fan_in+fan_out)) per gate block, zero biases, seeded', () => {
  const arch: Gru4RecArch = { nItems: 50, embeddingDim: 0, hiddenSizes: [8], constrainedEmbedding: false, useBias: true };
  const m = Gru4Rec.init(arch, 7);
  const w = m.toWeights();
  const bound = (name: string, limit: number) => {
    const d = w.tensors[name].data;
    const max = d.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    assert.ok(max <= limit, `${name}: max |w| ${max} exceeds ${limit}`);
    assert.ok(max > 0.8 * limit, `${name}: max |w| ${max} far below ${limit}: not uniform over the range`);
  };
  bound('gru0.Wx', Math.sqrt(6 / (50 + 8)));
  bound('gru0.Wrz', Math.sqrt(6 / (8 + 8)));
  bound('gru0.Wh', Math.sqrt(6 / (8 + 8)));
  bound('out.Wy', Math.sqrt(6 / (50 + 8)));
  assert.ok(w.tensors['gru0.b'].data.every((v) => v === 0));
  assert.ok(w.tensors['out.by'].data.every((v) => v === 0));
  const again = Gru4Rec.init(arch, 7);
  assert.deepEqual(again.toWeights().tensors['out.Wy'].data, w.tensors['out.Wy'].data);
  const other = Gru4Rec.init(arch, 8);
  assert.notDeepEqual(other.toWeights().tensors['out.Wy'].data, w.tensors['out.Wy'].data);
  for (const x of [m, again, other]) x.dispose();
});

test('Gru4RecScorer keeps per-slot state: slots run independently and reset zeroes one slot', async () => {
  const arch: Gru4RecArch = { nItems: 13, embeddingDim: 0, hiddenSizes: [5], constrainedEmbedding: false, useBias: true };
  const m = Gru4Rec.init(arch, 4);
  const scorer = new Gru4RecScorer(m, { slots: 2 });
  const out = new Float32Array(3 * arch.nItems);
  // Slots 0, 1 and 7 (beyond the initial capacity) see different sequences.
  await scorer.step(3, Int32Array.from([0, 1, 7]), Int32Array.from([2, 3, 4]), out);
  await scorer.step(2, Int32Array.from([7, 0]), Int32Array.from([5, 6]), out);
  const slot7 = out.slice(0, arch.nItems);
  // Same sequence run alone through the model.
  const s1 = m.step([new Float32Array(5)], Int32Array.from([4]));
  const s2 = m.step(s1.hidden, Int32Array.from([5]));
  assert.ok(maxAbsDiff(slot7, s2.scores) < 1e-6, 'slot 7 must only see its own events');
  // After a reset, slot 7 behaves like a fresh session.
  scorer.reset(Int32Array.from([7]));
  await scorer.step(1, Int32Array.from([7]), Int32Array.from([4]), out);
  assert.ok(maxAbsDiff(out.slice(0, arch.nItems), s1.scores) < 1e-6, 'reset must zero the slot state');
  // ...and slot 0 kept its state through the reset of slot 7.
  const a1 = m.step([new Float32Array(5)], Int32Array.from([2]));
  const a2 = m.step(a1.hidden, Int32Array.from([9]));
  await scorer.step(1, Int32Array.from([0]), Int32Array.from([9]), out);
  const a3 = m.step(m.step(a1.hidden, Int32Array.from([6])).hidden, Int32Array.from([9]));
  assert.ok(maxAbsDiff(out.slice(0, arch.nItems), a3.scores) < 1e-6, 'slot 0 must continue its session');
  assert.ok(maxAbsDiff(a2.scores, a3.scores) > 1e-6, 'the check above must be sensitive to history');
  m.dispose();
});

test('inference leaves no tensors behind', () => {
  const arch: Gru4RecArch = { nItems: 13, embeddingDim: 0, hiddenSizes: [5], constrainedEmbedding: false, useBias: true };
  const m = Gru4Rec.init(arch, 4);
  m.step([new Float32Array(5)], Int32Array.from([1]));
  const count = tf.memory().numTensors;
  for (let i = 0; i < 20; i++) m.step([new Float32Array(10)], Int32Array.from([1, 2]));
  assert.equal(tf.memory().numTensors, count);
  m.dispose();
});
