import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { ProtoWriter } from '../../src/engine/onnx/proto-writer.ts';
import { encodeModel, DataType } from '../../src/engine/onnx/onnx-proto.ts';
import { exportOnnx, buildGraph } from '../../src/engine/onnx/graph-builder.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { referenceStep, referenceTopK } from '../support/reference-engine.ts';
import type { Gru4RecArch } from '../../src/model/weights.ts';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

test('ProtoWriter encodes varints, negatives, floats, strings and nested messages per the wire format', () => {
  assert.equal(hex(new ProtoWriter().varint(1, 150).finish()), '089601'); // the protobuf docs' example
  assert.equal(hex(new ProtoWriter().varint(2, 2 ** 40).finish()), '10808080808020');
  assert.equal(hex(new ProtoWriter().varint(3, -1).finish()), '18ffffffffffffffffff01');
  assert.equal(hex(new ProtoWriter().float(2, 1.5).finish()), '150000c03f');
  assert.equal(hex(new ProtoWriter().string(4, 'Add').finish()), '2203416464');
  assert.equal(hex(new ProtoWriter().packedVarints(1, [3, 300]).finish()), '0a0303ac02');
  const inner = new ProtoWriter().varint(1, 150);
  assert.equal(hex(new ProtoWriter().message(3, inner).finish()), '1a03089601');
  // Large byte payloads are spliced by reference and still land in order.
  const big = new Uint8Array(1000).map((_, i) => i & 0xff);
  const out = new ProtoWriter().varint(1, 1).bytes(2, big).varint(3, 7).finish();
  assert.equal(out.length, 2 + 3 + 1000 + 2);
  assert.deepEqual(out.subarray(5, 1005), big);
  assert.equal(hex(out.subarray(1005)), '1807');
  assert.throws(() => new ProtoWriter().varint(1, 2 ** 60), /safe integer/);
});

test('a hand-written two-node model encodes to bytes onnxruntime-node loads and runs', async () => {
  const bytes = encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: 'test',
    producerVersion: '1',
    graph: {
      name: 'g',
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] },
        { opType: 'Add', inputs: ['xw', 'c'], outputs: ['y'] },
      ],
      initializers: [
        { name: 'W', dims: [2, 3], dataType: DataType.FLOAT, data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        { name: 'c', dims: [3], dataType: DataType.FLOAT, data: Float32Array.from([0.5, -1, 2]) },
      ],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 2] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 3] }],
    },
  });
  const session = await ort.InferenceSession.create(bytes);
  const res = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1, 2, 0]), [2, 2]) });
  assert.deepEqual(Array.from(res.y.data as Float32Array), [5.5, 6, 11, 2.5, 3, 8]);
  await session.release();
});

const arch = (over: Partial<Gru4RecArch>): Gru4RecArch => ({
  nItems: 120,
  embeddingDim: 0,
  hiddenSizes: [16],
  constrainedEmbedding: false,
  useBias: true,
  ...over,
});

test('exported GRU4Rec graph: names, shapes, K = topK + maxExclude, and it loads from a .onnx file', async () => {
  const w = syntheticWeights(arch({ embeddingDim: 8, hiddenSizes: [16, 12] }), 5);
  const model = buildGraph(w, { topK: 10, maxExclude: 4, outputScores: true });
  assert.equal(model.irVersion, 8);
  const ops = new Set(model.graph.nodes.map((n) => n.opType));
  for (const op of ['Gather', 'Gemm', 'MatMul', 'Add', 'Sigmoid', 'Tanh', 'Mul', 'Sub', 'Split', 'TopK']) assert.ok(ops.has(op), `graph lacks ${op}`);
  const kInit = model.graph.initializers.find((t) => t.name === 'topk_k');
  assert.deepEqual(Array.from(kInit!.data as BigInt64Array), [14n]);

  const dir = mkdtempSync(join(tmpdir(), 'streamrec-onnx-'));
  try {
    const file = join(dir, 'step.onnx');
    writeFileSync(file, exportOnnx(w, { topK: 10, maxExclude: 4, outputScores: true }));
    const session = await ort.InferenceSession.create(file);
    assert.deepEqual(session.inputNames, ['item', 'h0', 'h1']);
    assert.deepEqual(session.outputNames, ['h0_next', 'h1_next', 'topk_scores', 'topk_indices', 'scores']);
    const n = 3;
    const items = [0, 119, 42];
    const h0 = new Float32Array(n * 16).map((_, i) => Math.sin(i) * 0.5);
    const h1 = new Float32Array(n * 12).map((_, i) => Math.cos(i) * 0.5);
    const res = await session.run({
      item: new ort.Tensor('int64', BigInt64Array.from(items.map(BigInt)), [n]),
      h0: new ort.Tensor('float32', h0, [n, 16]),
      h1: new ort.Tensor('float32', h1, [n, 12]),
    });
    assert.deepEqual(res.topk_indices.dims, [n, 14]);
    assert.deepEqual(res.scores.dims, [n, 120]);
    const ref = referenceStep(w, n, items, [h0, h1]);
    const got = res.h1_next.data as Float32Array;
    for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - ref.hidden[1][i]) < 1e-5, `h1_next[${i}]`);
    const idx = Array.from(res.topk_indices.data as BigInt64Array, Number);
    for (let b = 0; b < n; b++) assert.deepEqual(idx.slice(b * 14, (b + 1) * 14), referenceTopK(ref.scores.subarray(b * 120, (b + 1) * 120), 14));
    await session.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('export refuses bad weights and bad options with a clear message', () => {
  const w = syntheticWeights(arch({}), 1);
  const missing = { ...w, tensors: { ...w.tensors } };
  delete missing.tensors['gru0.Wh'];
  assert.throws(() => exportOnnx(missing, { topK: 5 }), /tensor "gru0\.Wh" is missing/);
  const misshapen = { ...w, tensors: { ...w.tensors, 'out.Wy': { shape: [120, 15], data: new Float32Array(120 * 15) } } };
  assert.throws(() => exportOnnx(misshapen, { topK: 5 }), /"out\.Wy" has shape \[120,15\], expected \[120,16\]/);
  const nan = { ...w, tensors: { ...w.tensors, 'gru0.b': { shape: [48], data: new Float32Array(48).fill(NaN) } } };
  assert.throws(() => exportOnnx(nan, { topK: 5 }), /non-finite/);
  assert.throws(() => exportOnnx(w, { topK: 0 }), /topK must be an integer/);
  assert.throws(() => exportOnnx(w, { topK: 121 }), /topK must be an integer/);
  assert.throws(() => exportOnnx(w, { topK: 5, maxExclude: -1 }), /maxExclude/);
});
