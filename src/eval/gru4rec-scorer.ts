import type { SessionScorer } from './scorer.ts';
import type { Gru4Rec } from '../model/gru4rec.ts';

/**
 * A trained GRU4Rec behind the SessionScorer interface: each slot's hidden state lives in
 * plain typed arrays (one per layer, slot-major), so slots cost nothing until used and the
 * tf side only ever sees the n rows of the current step.
 */
export class Gru4RecScorer implements SessionScorer {
  readonly name: string;
  readonly nItems: number;
  private readonly model: Gru4Rec;
  private readonly sizes: number[];
  private state: Float32Array[];
  private capacity: number;
  private batchBufs: Float32Array[];

  constructor(model: Gru4Rec, opts: { name?: string; slots?: number } = {}) {
    this.model = model;
    this.name = opts.name ?? `gru4rec-${model.arch.hiddenSizes.join('x')}`;
    this.nItems = model.arch.nItems;
    this.sizes = [...model.stateSizes];
    this.capacity = Math.max(1, opts.slots ?? 64);
    this.state = this.sizes.map((h) => new Float32Array(this.capacity * h));
    this.batchBufs = this.sizes.map(() => new Float32Array(0));
  }

  reset(slots: Int32Array): void {
    for (const s of slots) {
      if (s >= this.capacity) continue; // never written: already zero once grown
      this.sizes.forEach((h, l) => this.state[l].fill(0, s * h, (s + 1) * h));
    }
  }

  step(n: number, slots: Int32Array, items: Int32Array, out: Float32Array): void {
    if (n === 0) return;
    let maxSlot = 0;
    for (let b = 0; b < n; b++) maxSlot = Math.max(maxSlot, slots[b]);
    this.ensureCapacity(maxSlot + 1);
    const hidden = this.sizes.map((h, l) => {
      if (this.batchBufs[l].length !== n * h) this.batchBufs[l] = new Float32Array(n * h);
      const buf = this.batchBufs[l];
      for (let b = 0; b < n; b++) buf.set(this.state[l].subarray(slots[b] * h, (slots[b] + 1) * h), b * h);
      return buf;
    });
    const r = this.model.step(hidden, items.subarray(0, n));
    this.sizes.forEach((h, l) => {
      for (let b = 0; b < n; b++) this.state[l].set(r.hidden[l].subarray(b * h, (b + 1) * h), slots[b] * h);
    });
    out.set(r.scores.subarray(0, n * this.nItems));
  }

  private ensureCapacity(slots: number): void {
    if (slots <= this.capacity) return;
    const capacity = Math.max(slots, this.capacity * 2);
    this.state = this.state.map((old, l) => {
      const grown = new Float32Array(capacity * this.sizes[l]);
      grown.set(old);
      return grown;
    });
    this.capacity = capacity;
  }
}
