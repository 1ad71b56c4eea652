/**
 * How many of `found`'s ids each row shares with `truth`'s: both are row-major lists of k ids per
 * row (top-k lists). Divided by the number of ids, it is recall@k of `found` against `truth` (the
 * ANN lists against the exact ones); returned as a count so batches can be summed.
 */
export function sharedIds(truth: ArrayLike<number>, found: ArrayLike<number>, k: number): number {
  if (truth.length !== found.length || truth.length % k !== 0) throw new Error(`sharedIds: lists of ${truth.length} and ${found.length} ids are not rows of ${k}`);
  const want = new Set<number>();
  let hits = 0;
  for (let start = 0; start < truth.length; start += k) {
    want.clear();
    for (let j = start; j < start + k; j++) want.add(truth[j]);
    for (let j = start; j < start + k; j++) if (want.has(found[j])) hits++;
  }
  return hits;
}
