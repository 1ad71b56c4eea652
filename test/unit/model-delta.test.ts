import assert from 'node:assert/strict';
import test from 'node:test';
import { ModelFileError } from '../../src/errors/errors.ts';
import { applyDelta, decodeDelta, encodeDelta, type ModelDelta, perItemTensors } from '../../src/registry/model-delta.ts';
import type { Gru4RecArch } from '../../src/model/weights.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const gru: Gru4RecArch = { nItems: 6, embeddingDim: 0, hiddenSizes: [4], constrainedEmbedding: true, useBias: true };

function sampleDelta(): ModelDelta {
  return {
    base: 3,
    seq: 2,
    nItems: 7,
    ids: [[6, 'item-new']],
    tensors: [
      { name: 'out.Wy', rows: Uint32Array.from([1, 6]), data: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
      { name: 'out.by', rows: Uint32Array.from([6]), data: Float32Array.from([0.5]) },
      { name: 'gru0.b', rows: null, data: new Float32Array(12).fill(0.25) },
    ],
    createdAt: 1_700_000_000_000,
    newestClickAt: 1_700_000_000_500,
    oldestClickAt: 1_700_000_000_100,
    trainingOffsets: { '0': '42', '1': '7' },
  };
}

test('per-item tensors are found from the shapes, for every cell and input', () => {
  assert.deepEqual([...perItemTensors(gru)].sort(), ['out.Wy', 'out.by']);
  assert.deepEqual([...perItemTensors({ ...gru, constrainedEmbedding: false })].sort(), ['gru0.Wx', 'out.Wy', 'out.by']);
  assert.deepEqual([...perItemTensors({ ...gru, constrainedEmbedding: false, embeddingDim: 3 })].sort(), ['item_embedding', 'out.Wy', 'out.by']);
  assert.deepEqual([...perItemTensors({ ...gru, cell: 'mlstm', constrainedEmbedding: false, hiddenSizes: [4, 4] })].sort(), ['mlstm0.Wx', 'out.Wy', 'out.by']);
});

test('a delta survives encode → decode exactly (rows, values, stamps)', () => {
  const d = sampleDelta();
  const back = decodeDelta(encodeDelta(d), 'test.delta', 3);
  assert.equal(back.base, 3);
  assert.equal(back.seq, 2);
  assert.deepEqual(back.ids, d.ids);
  assert.deepEqual(back.trainingOffsets, d.trainingOffsets);
  assert.equal(back.newestClickAt, d.newestClickAt);
  assert.equal(back.tensors.length, 3);
  for (let i = 0; i < 3; i++) {
    assert.equal(back.tensors[i].name, d.tensors[i].name);
    assert.deepEqual(back.tensors[i].rows && [...back.tensors[i].rows!], d.tensors[i].rows && [...d.tensors[i].rows!]);
    assert.deepEqual([...back.tensors[i].data], [...d.tensors[i].data]);
  }
});

test('corrupt, truncated and foreign-base records are refused with one line naming the file', () => {
  const bytes = encodeDelta(sampleDelta());
  const flipped = Buffer.from(bytes);
  flipped[flipped.length - 40] ^= 0xff;
  const cases: [Buffer, RegExp][] = [
    [flipped, /checksum mismatch/],
    [bytes.subarray(0, bytes.length - 10), /checksum mismatch|no SRDELTA1/],
    [Buffer.from('not a delta at all, just some bytes that are long enough to pass the size check'), /no SRDELTA1 header/],
  ];
  for (const [buf, why] of cases) {
    assert.throws(
      () => decodeDelta(buf, '/r/deltas/000003/000002.delta'),
      (e: unknown) => e instanceof ModelFileError && why.test(e.message) && e.message.includes('000002.delta') && !e.message.includes('\n'),
    );
  }
  assert.throws(() => decodeDelta(bytes, 'x.delta', 4), /it is for base version 3, serving follows base 4/);
});

test('applying a delta grows the catalogue, patches the rows, replaces dense tensors, and leaves the old state untouched', () => {
  const weights = syntheticWeights(gru, 7);
  const itemIds = ['a', 'b', 'c', 'd', 'e', 'f'];
  const before = Float32Array.from(weights.tensors['out.Wy'].data);
  const next = applyDelta({ weights, itemIds }, sampleDelta(), 'x.delta');
  assert.equal(next.weights.arch.nItems, 7);
  assert.deepEqual(next.itemIds, [...itemIds, 'item-new']);
  const wy = next.weights.tensors['out.Wy'];
  assert.deepEqual(wy.shape, [7, 4]);
  assert.deepEqual([...wy.data.subarray(4, 8)], [1, 2, 3, 4], 'row 1 patched');
  assert.deepEqual([...wy.data.subarray(24, 28)], [5, 6, 7, 8], 'new row 6');
  assert.deepEqual([...wy.data.subarray(0, 4)], [...before.subarray(0, 4)], 'row 0 kept');
  assert.deepEqual([...weights.tensors['out.Wy'].data], [...before], 'the old state is not written to');
  assert.equal(next.weights.tensors['gru0.Wh'], weights.tensors['gru0.Wh'], 'untouched tensors are shared');
  assert.equal(next.weights.tensors['gru0.b'].data[0], 0.25);
});

test('a delta that does not fit the weights is refused', () => {
  const weights = syntheticWeights(gru, 7);
  const itemIds = ['a', 'b', 'c', 'd', 'e', 'f'];
  const bad = (edit: (d: ModelDelta) => void) => {
    const d = sampleDelta();
    edit(d);
    return () => applyDelta({ weights, itemIds }, d, 'x.delta');
  };
  assert.throws(
    bad((d) => (d.tensors[0].name = 'nope')),
    /tensor "nope" is not in the model/,
  );
  assert.throws(
    bad((d) => (d.tensors[0].rows = Uint32Array.from([1, 9]))),
    /row 9 is beyond the catalogue/,
  );
  assert.throws(
    bad((d) => (d.tensors[2].data = new Float32Array(3))),
    /dense tensor "gru0.b" holds 3 values, expected 12/,
  );
  assert.throws(
    bad((d) => (d.nItems = 5)),
    /a catalogue does not shrink/,
  );
  assert.throws(
    bad((d) => (d.ids = [[6, 'a']])),
    /two rows would hold the same item id/,
  );
  assert.throws(
    bad((d) => d.tensors.splice(1, 1)),
    /tensor "out.by" has no rows for the new items/,
  );
});
