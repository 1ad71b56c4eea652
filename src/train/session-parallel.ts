import { sessionCount, type SessionData } from '../data/sessions.ts';

/**
 * One step of session-parallel mini-batching. Arrays have batchSize capacity and are
 * reused between steps; only rows [0, n) are meaningful.
 */
export interface SessionBatch {
  /** Rows in this step (falls below batchSize only at the end, when no session is left to take a slot). */
  n: number;
  /** Current item of the session in each row. */
  inputs: Int32Array;
  /** Next item of the same session (the training target). */
  targets: Int32Array;
  /** 1 where a new session starts in the row at this step: its hidden state must be zeroed first. */
  reset: Uint8Array;
  anyReset: boolean;
  /**
   * Set only on steps where rows left the batch: row r of this step continues row keep[r]
   * of the previous step, so hidden states must be gathered with it (before zeroing resets).
   */
  keep: Int32Array | null;
}

/**
 * The GRU4Rec session-parallel iterator: batchSize slots each walk one session; input = the
 * current item, target = the next one. When a session runs out, the next session (in data
 * order, which the loaders keep sorted by first event time) takes its slot. Sessions shorter
 * than 2 events yield no pair and are skipped. When no session is left, the slot leaves the
 * batch and the rows behind it move up.
 */
export class SessionParallelIterator {
  readonly batchSize: number;
  private readonly data: SessionData;
  private readonly pos: Int32Array;
  private readonly end: Int32Array;
  private readonly keepRows: Int32Array;
  private readonly batch: SessionBatch;
  private nextSession = 0;
  private started = false;

  constructor(data: SessionData, batchSize: number) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batchSize must be a positive integer, got ${batchSize}`);
    this.data = data;
    this.batchSize = batchSize;
    this.pos = new Int32Array(batchSize);
    this.end = new Int32Array(batchSize);
    this.keepRows = new Int32Array(batchSize);
    this.batch = {
      n: 0,
      inputs: new Int32Array(batchSize),
      targets: new Int32Array(batchSize),
      reset: new Uint8Array(batchSize),
      anyReset: false,
      keep: null,
    };
  }

  /** Number of (input, target) pairs one pass yields. */
  static pairCount(data: SessionData): number {
    let pairs = 0;
    for (let s = 0; s < sessionCount(data); s++) pairs += Math.max(0, data.offsets[s + 1] - data.offsets[s] - 1);
    return pairs;
  }

  /** Start a new pass over the data. */
  restart(): void {
    this.nextSession = 0;
    this.started = false;
    this.batch.n = 0;
  }

  /** The next step, or null when the pass is over. The returned object is reused by the next call. */
  next(): SessionBatch | null {
    const b = this.batch;
    const { pos, end, keepRows } = this;
    let compacted = false;
    if (!this.started) {
      this.started = true;
      let n = 0;
      while (n < this.batchSize && this.takeSession(n)) n++;
      b.n = n;
      b.reset.fill(1, 0, n);
      b.anyReset = n > 0;
    } else {
      let m = 0;
      b.anyReset = false;
      for (let r = 0; r < b.n; r++) {
        pos[r]++;
        let reset = 0;
        if (pos[r] + 1 >= end[r]) {
          // Rows below r are final already, so row r may be overwritten by takeSession.
          if (!this.takeSession(r)) {
            compacted = true;
            continue;
          }
          reset = 1;
        }
        if (m !== r) {
          pos[m] = pos[r];
          end[m] = end[r];
        }
        b.reset[m] = reset;
        b.anyReset ||= reset === 1;
        keepRows[m] = r;
        m++;
      }
      b.n = m;
    }
    if (b.n === 0) return null;
    const items = this.data.items;
    for (let r = 0; r < b.n; r++) {
      b.inputs[r] = items[pos[r]];
      b.targets[r] = items[pos[r] + 1];
    }
    b.keep = compacted ? keepRows.subarray(0, b.n) : null;
    return b;
  }

  /** Put the next session with at least one pair into row r; false when none is left. */
  private takeSession(r: number): boolean {
    const { offsets } = this.data;
    const nSessions = sessionCount(this.data);
    while (this.nextSession < nSessions) {
      const s = this.nextSession++;
      if (offsets[s + 1] - offsets[s] >= 2) {
        this.pos[r] = offsets[s];
        this.end[r] = offsets[s + 1];
        return true;
      }
    }
    return false;
  }
}
