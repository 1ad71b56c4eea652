import type { SessionData } from '../../data/sessions.ts';

/**
 * Buffers one window of the stream (session key, item index per event, in arrival order) and
 * turns it into SessionData for the session-parallel iterator and the evaluator.
 *
 * Sessions continue across windows by carrying each open session's LAST ITEM, not its hidden
 * state: the window's copy of the session starts with that item, so the session's first event
 * in this window still forms a training pair (and a ranked target at the gate) and every event is
 * trained on once. Hidden states are not carried because the trainer's rows are re-laid out per
 * window (a session lands in another row), a carried state would have been computed by weights
 * the window has since changed, and the one-step truncated backprop of GRU4Rec takes no gradient
 * through it anyway; what is lost is the context before the last item for that one pair.
 *
 * A session unseen for `carryEvents` events is considered closed and its item is dropped.
 */
export class WindowSessions {
  private readonly carryEvents: number;
  private keys: string[] = [];
  private sessionOf: Int32Array;
  private items: Int32Array;
  private length = 0;
  private readonly windowSession = new Map<string, number>();
  /** Open sessions: key → [last item, event number of it]. */
  private readonly open = new Map<string, { item: number; at: number }>();

  constructor(capacity: number, carryEvents: number) {
    this.sessionOf = new Int32Array(capacity);
    this.items = new Int32Array(capacity);
    this.carryEvents = carryEvents;
  }

  get size(): number {
    return this.length;
  }

  add(session: string, item: number): void {
    if (this.length === this.items.length) {
      this.items = grow(this.items);
      this.sessionOf = grow(this.sessionOf);
    }
    let s = this.windowSession.get(session);
    if (s === undefined) {
      s = this.keys.length;
      this.windowSession.set(session, s);
      this.keys.push(session);
    }
    this.sessionOf[this.length] = s;
    this.items[this.length++] = item;
  }

  /**
   * The window as sessions (ordered by their first event in the window; a continued session
   * prefixed with its carried item), then cleared. `now` is the event number at the window's end:
   * the carry is updated with each session's last item and sessions idle past carryEvents close.
   */
  take(now: number): SessionData {
    for (const [key, c] of this.open) if (c.at < now - this.carryEvents) this.open.delete(key);
    const nS = this.keys.length;
    const len = new Int32Array(nS);
    const carried = new Int32Array(nS).fill(-1);
    for (let s = 0; s < nS; s++) {
      const c = this.open.get(this.keys[s]);
      if (c) {
        carried[s] = c.item;
        len[s] = 1;
      }
    }
    for (let e = 0; e < this.length; e++) len[this.sessionOf[e]]++;
    const offsets = new Int32Array(nS + 1);
    for (let s = 0; s < nS; s++) offsets[s + 1] = offsets[s] + len[s];
    const items = new Int32Array(offsets[nS]);
    const fill = offsets.slice(0, nS);
    for (let s = 0; s < nS; s++) if (carried[s] >= 0) items[fill[s]++] = carried[s];
    for (let e = 0; e < this.length; e++) items[fill[this.sessionOf[e]]++] = this.items[e];
    // Event "times" are positions: stream order is all the iterator and evaluator need.
    const times = new Float64Array(items.length);
    for (let i = 0; i < times.length; i++) times[i] = i;
    for (let s = 0; s < nS; s++) this.open.set(this.keys[s], { item: items[offsets[s + 1] - 1], at: now });
    const data: SessionData = { sessionIds: this.keys, offsets, items, times };
    this.keys = [];
    this.windowSession.clear();
    this.length = 0;
    return data;
  }

  /** The carried items, for a checkpoint. */
  carryState(): Array<[session: string, item: number, at: number]> {
    return [...this.open].map(([k, c]) => [k, c.item, c.at]);
  }

  restoreCarry(state: ReadonlyArray<readonly [string, number, number]>): void {
    this.open.clear();
    for (const [k, item, at] of state) this.open.set(k, { item, at });
  }

  /** Forget carried items whose index now belongs to another item (recycled rows). */
  dropCarriedItems(indices: ReadonlySet<number>): void {
    if (indices.size === 0) return;
    for (const [k, c] of this.open) if (indices.has(c.item)) this.open.delete(k);
  }
}

function grow(a: Int32Array): Int32Array {
  const b = new Int32Array(Math.max(16, a.length * 2));
  b.set(a);
  return b;
}
