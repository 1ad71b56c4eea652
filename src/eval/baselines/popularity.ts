import type { SessionData } from '../../data/sessions.ts';
import type { SessionScorer } from '../scorer.ts';
import { itemCounts } from '../evaluate.ts';

/** POP from the GRU4Rec paper: the same list for everyone, ranked by training event count. */
export class PopularityScorer implements SessionScorer {
  readonly name: string;
  private counts = new Float32Array(0);

  constructor(name = 'popularity') {
    this.name = name;
  }

  get nItems(): number {
    return this.counts.length;
  }

  fit(train: SessionData, nItems: number): this {
    this.counts = Float32Array.from(itemCounts(train, nItems));
    return this;
  }

  reset(_slots: Int32Array): void {}

  step(n: number, _slots: Int32Array, _items: Int32Array, out: Float32Array): void {
    const nItems = this.counts.length;
    for (let b = 0; b < n; b++) out.set(this.counts, b * nItems);
  }
}
