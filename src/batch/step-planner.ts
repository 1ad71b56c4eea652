/**
 * Splits a micro-batch into encoder steps in which every session occurs at
 * most once. A batch may hold several events of one session; a recurrent
 * step consumes one event per state, so the k-th event of a session has to
 * wait for the state its (k-1)-th event produced. Step k therefore holds the
 * k-th occurrence of every session, which keeps each session's events in
 * order while the engine still sees whole batches.
 *
 * Output (no allocation on the hot path): `perm` lists batch positions grouped
 * by step, in batch order within a step; step s is perm[stepStart[s] ..
 * stepStart[s + 1]). Most batches have one step.
 */
export class StepPlanner {
  /** Occurrences of each slot so far in the batch being planned; all zero between calls. */
  private readonly seen: Int32Array;
  private stepOf: Int32Array;

  constructor(slotCapacity: number) {
    this.seen = new Int32Array(slotCapacity);
    this.stepOf = new Int32Array(256);
  }

  /**
   * @param slots session slot of each batch position (any dense id < slotCapacity)
   * @param perm  receives n batch positions
   * @param stepStart receives (steps + 1) offsets; needs room for n + 1
   * @returns the number of steps
   */
  plan(slots: Int32Array, n: number, perm: Int32Array, stepStart: Int32Array): number {
    if (perm.length < n || stepStart.length < n + 1) throw new RangeError(`perm needs ${n} and stepStart ${n + 1} entries`);
    if (this.stepOf.length < n) this.stepOf = new Int32Array(Math.max(n, 2 * this.stepOf.length));
    const seen = this.seen;
    const stepOf = this.stepOf;
    let steps = 0;
    stepStart.fill(0, 0, n + 1);
    for (let i = 0; i < n; i++) {
      const s = seen[slots[i]]++;
      stepOf[i] = s;
      stepStart[s + 1]++;
      if (s + 1 > steps) steps = s + 1;
    }
    for (let i = 0; i < n; i++) seen[slots[i]] = 0;
    for (let s = 1; s <= steps; s++) stepStart[s] += stepStart[s - 1];
    // stepStart[s] doubles as the write cursor of step s, then gets restored.
    for (let i = 0; i < n; i++) perm[stepStart[stepOf[i]]++] = i;
    for (let s = steps; s > 0; s--) stepStart[s] = stepStart[s - 1];
    stepStart[0] = 0;
    return steps;
  }
}
