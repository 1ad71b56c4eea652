/**
 * Top-K of a whole batch into a StepOutput, row by row, each row with its own exclusion list: the
 * per-row loops both engines share around the selection primitives of src/model/topk.ts.
 */
import { type TopK, takeUnexcluded } from '../model/topk.ts';
import type { ExcludeLists, StepOutput } from './engine.ts';

/**
 * From ranked candidates, K per row (row b's at candidate offset b·K; idxStride as in
 * takeUnexcluded), keeps each row's first out-topK that it does not exclude.
 */
export function takeUnexcludedRows(
  n: number,
  candIdx: Int32Array,
  idxStride: number,
  candScore: Float32Array,
  K: number,
  out: StepOutput,
  topK: number,
  exclude?: ExcludeLists,
): void {
  for (let b = 0; b < n; b++) {
    takeUnexcluded(
      candIdx,
      b * K * idxStride,
      idxStride,
      candScore,
      b * K,
      K,
      topK,
      out.topIdx,
      out.topScore,
      b * topK,
      exclude?.items,
      exclude ? exclude.offsets[b] : 0,
      exclude ? exclude.offsets[b + 1] : 0,
    );
  }
}

/** Selects each row's top selector.k of n score rows (row-major n × nItems), skipping its excluded items. */
export function selectRows(selector: TopK, n: number, scores: Float32Array, nItems: number, out: StepOutput, exclude?: ExcludeLists): void {
  const k = selector.k;
  for (let b = 0; b < n; b++) {
    selector.selectRow(scores, b * nItems, nItems, out.topIdx, out.topScore, b * k, exclude?.items, exclude ? exclude.offsets[b] : 0, exclude ? exclude.offsets[b + 1] : 0);
  }
}
