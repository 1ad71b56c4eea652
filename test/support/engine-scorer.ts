/**
 * The serving engine behind the evaluator's SessionScorer interface, for tests that score a
 * trained model the way serving runs it: the exported ONNX graph, fed the per-layer state buffers
 * (h, or [h | c]) exactly as the session store holds them, one slot per evaluator session.
 */
import type { InferenceEngine } from '../../src/engine/engine.ts';
import type { SessionScorer } from '../../src/eval/scorer.ts';

export class EngineScorer implements SessionScorer {
  readonly name: string;
  readonly nItems: number;
  private readonly sizes: readonly number[];
  private readonly slabs: Float32Array[];
  private readonly rows: Float32Array[];
  private readonly out: { topIdx: Int32Array; topScore: Float32Array; scores: Float32Array };

  constructor(
    private readonly engine: InferenceEngine,
    slots: number,
  ) {
    this.name = engine.name;
    this.nItems = engine.nItems;
    this.sizes = engine.hiddenSizes;
    this.slabs = this.sizes.map((s) => new Float32Array(slots * s));
    this.rows = this.sizes.map((s) => new Float32Array(engine.maxBatch * s));
    const B = engine.maxBatch;
    this.out = { topIdx: new Int32Array(B * engine.topK), topScore: new Float32Array(B * engine.topK), scores: new Float32Array(B * engine.nItems) };
  }

  reset(slots: Int32Array): void {
    for (const slot of slots) this.sizes.forEach((s, l) => this.slabs[l].fill(0, slot * s, (slot + 1) * s));
  }

  async step(n: number, slots: Int32Array, items: Int32Array, out: Float32Array): Promise<void> {
    this.sizes.forEach((s, l) => {
      for (let b = 0; b < n; b++) this.rows[l].set(this.slabs[l].subarray(slots[b] * s, (slots[b] + 1) * s), b * s);
    });
    await this.engine.step(n, items, this.rows, this.out);
    this.sizes.forEach((s, l) => {
      for (let b = 0; b < n; b++) this.slabs[l].set(this.rows[l].subarray(b * s, (b + 1) * s), slots[b] * s);
    });
    out.set(this.out.scores.subarray(0, n * this.nItems));
  }
}
