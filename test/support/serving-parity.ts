import assert from 'node:assert/strict';
import { createOrtEngine } from '../../src/engine/ort-engine.ts';
import { createTfjsEngine } from '../../src/engine/tfjs-engine.ts';
import { Gru4Rec } from '../../src/model/gru4rec.ts';
import type { Gru4RecWeights } from '../../src/model/weights.ts';

/** Largest elementwise |a − b|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * The exported ONNX graph and the tfjs engine against the training-side model's own step, over
 * three chained steps of 5 rows: scores and states within 1e-4, and each served list's top item
 * is the model's best. `rowCheck` adds a head's own assertion on each served row's scores.
 */
export async function assertServingParity(weights: Gru4RecWeights, rowCheck?: (engine: string, scores: Float32Array) => void): Promise<void> {
  const { arch } = weights;
  const model = Gru4Rec.fromWeights(weights);
  const B = 5;
  const opts = { topK: 7, maxBatch: B, outputScores: true, log: () => undefined };
  const engines = [await createOrtEngine(weights, { ...opts, providers: ['cpu'] }), await createTfjsEngine(weights, opts)];
  let hRef: Float32Array[] = model.stateSizes.map((s) => new Float32Array(B * s));
  const hEng = engines.map(() => model.stateSizes.map((s) => new Float32Array(B * s)));
  const outs = engines.map(() => ({ topIdx: new Int32Array(B * 7), topScore: new Float32Array(B * 7), scores: new Float32Array(B * arch.nItems) }));
  for (let t = 0; t < 3; t++) {
    const items = Int32Array.from({ length: B }, (_, b) => (b * 7 + t * 3) % arch.nItems);
    const ref = model.step(hRef, items);
    for (const [e, engine] of engines.entries()) {
      await engine.step(B, items, hEng[e], outs[e]);
      assert.ok(maxAbsDiff(outs[e].scores, ref.scores) < 1e-4, `${engine.name} step ${t}: scores differ by ${maxAbsDiff(outs[e].scores, ref.scores)}`);
      ref.hidden.forEach((h, l) => assert.ok(maxAbsDiff(hEng[e][l], h) < 1e-4, `${engine.name} step ${t}: state ${l}`));
      for (let b = 0; b < B; b++) {
        const row = ref.scores.subarray(b * arch.nItems, (b + 1) * arch.nItems);
        const best = Array.from(row.keys()).sort((x, y) => row[y] - row[x])[0];
        assert.ok(Math.abs(row[outs[e].topIdx[b * 7]] - row[best]) < 1e-5, `${engine.name} row ${b}: top item`);
        rowCheck?.(engine.name, outs[e].scores.subarray(b * arch.nItems, (b + 1) * arch.nItems));
      }
    }
    hRef = ref.hidden;
  }
  for (const e of engines) await e.dispose();
  model.dispose();
}
