/**
 * The raw GEMM-bound limit of serving on this machine: the bare scoring product [B,H]·[H,N]
 * on onnxruntime (MatMul, then a row-wise ReduceMax so that only B floats leave ORT — the
 * cheapest stand-in for TopK). Every benchmark that claims a serving speed prints this beside
 * it, measured in the same run, so the figure says how far from the hardware the engine is.
 */
import * as ort from 'onnxruntime-node';
import { encodeModel, DataType } from '../../src/engine/onnx/onnx-proto.ts';
import { seededRandom } from './synthetic-weights.ts';

export interface GemmBoundOptions {
  nItems: number;
  hidden: number;
  batch: number;
  threads: number;
  /** Timing budget (default 1 s after one warm-up run). */
  minTimeMs?: number;
}

export interface GemmBound {
  msPerBatch: number;
  eventsPerSec: number;
  gflops: number;
}

/**
 * 'matmul': x·W with W an [H, N] initializer; 'gemmT': Gemm(x, Wy, transB=1) with Wy [N, H] as
 * the serving engine stores it. Input x [batch, H], output y [batch, 1] (row maxima).
 */
export type GemmLayout = 'matmul' | 'gemmT';

export async function createGemmBoundSession(nItems: number, hidden: number, threads: number, layout: GemmLayout = 'matmul'): Promise<ort.InferenceSession> {
  const rand = seededRandom(nItems);
  const W = new Float32Array(hidden * nItems).map(() => rand() - 0.5);
  const product =
    layout === 'matmul'
      ? { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['s'] }
      : { opType: 'Gemm', inputs: ['x', 'W'], outputs: ['s'], attributes: { transB: { kind: 'int' as const, value: 1 } } };
  const bytes = encodeModel({
    irVersion: 8,
    opsetVersion: 17,
    producerName: 'streamrec-bench',
    producerVersion: '1',
    graph: {
      name: 'gemm_bound',
      nodes: [product, { opType: 'ReduceMax', inputs: ['s'], outputs: ['y'], attributes: { axes: { kind: 'ints', value: [1] }, keepdims: { kind: 'int', value: 1 } } }],
      initializers: [{ name: 'W', dims: layout === 'matmul' ? [hidden, nItems] : [nItems, hidden], dataType: DataType.FLOAT, data: W }],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', hidden] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 1] }],
    },
  });
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
}

export async function measureGemmBound(o: GemmBoundOptions): Promise<GemmBound> {
  const session = await createGemmBoundSession(o.nItems, o.hidden, o.threads);
  const rand = seededRandom(7);
  const x = new ort.Tensor(
    'float32',
    new Float32Array(o.batch * o.hidden).map(() => rand() - 0.5),
    [o.batch, o.hidden],
  );
  try {
    await session.run({ x });
    const budget = o.minTimeMs ?? 1000;
    let iterations = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < budget || iterations < 3) {
      await session.run({ x });
      iterations++;
    }
    const msPerBatch = (performance.now() - t0) / iterations;
    return { msPerBatch, eventsPerSec: (o.batch * 1000) / msPerBatch, gflops: (2 * o.batch * o.hidden * o.nItems) / (msPerBatch * 1e6) };
  } finally {
    await session.release();
  }
}
