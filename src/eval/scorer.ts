/**
 * What the offline evaluator (and anything else that replays sessions) needs from a model:
 * a batch of independent "slots", each holding one session's state. The evaluator runs test
 * sessions session-parallel: when a session ends, a new one takes its slot and the slot is reset.
 * Baselines and neural models implement the same interface, so every number comes from one evaluator.
 */
export interface SessionScorer {
  readonly name: string;
  /** Number of catalogue items scored (scores are written for indices 0..nItems-1). */
  readonly nItems: number;
  /** Clear the state of these slots (a new session starts in each). */
  reset(slots: Int32Array): void;
  /**
   * Feed items[b] as the next event of the session in slots[b] (b < n) and write the scores of all
   * nItems for the next event into out[b*nItems .. (b+1)*nItems). Higher is better.
   */
  step(n: number, slots: Int32Array, items: Int32Array, out: Float32Array): void | Promise<void>;
}
