import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { createGemmBoundSession, measureGemmBound } from '../support/gemm-bound.ts';

test('the bound graph computes row maxima of x·W, and the measurement is self-consistent', async () => {
  const session = await createGemmBoundSession(50, 4, 1);
  const x = new Float32Array([1, 0, 0, 0, 0, 0, 0, 0]);
  const { y } = await session.run({ x: new ort.Tensor('float32', x, [2, 4]) });
  assert.deepEqual(y.dims, [2, 1]);
  assert.equal((y.data as Float32Array)[1], 0, 'a zero row scores 0 everywhere');
  assert.ok((y.data as Float32Array)[0] > 0, 'max over 50 uniform(-0.5,0.5) weights is positive');
  await session.release();
  const b = await measureGemmBound({ nItems: 2000, hidden: 32, batch: 16, threads: 1, minTimeMs: 100 });
  assert.ok(b.msPerBatch > 0 && Number.isFinite(b.msPerBatch));
  assert.ok(Math.abs(b.eventsPerSec - (16 * 1000) / b.msPerBatch) < 1e-6 * b.eventsPerSec);
  assert.ok(Math.abs(b.gflops - (2 * 16 * 32 * 2000) / (b.msPerBatch * 1e6)) < 1e-9 * b.gflops);
});
