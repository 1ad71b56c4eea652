/**
 * Keeps a slot's index in step with the model's weights: each new version's item matrix is built
 * off the hot path (incrementally when it only appends items) and swapped in when ready. Versions
 * that arrive while a build runs are coalesced: only the newest waiting one is built next, and an
 * index never replaces one of a newer version.
 */
import type { ItemMatrix } from './ann-index.ts';
import type { AnnIndexBuilder, BuiltIndex } from './index-builder.ts';
import type { AnnIndexSlot } from './index-slot.ts';

interface Wanted {
  version: number;
  items: ItemMatrix;
  waiters: Array<{ resolve: () => void; reject: (e: Error) => void }>;
}

export class AnnIndexFollower {
  private running = false;
  private waiting: Wanted | null = null;

  constructor(
    private readonly builder: AnnIndexBuilder,
    private readonly slot: AnnIndexSlot,
    private readonly onBuilt: (version: number, built: BuiltIndex) => void = () => undefined,
  ) {}

  /** Resolves once this version's index (or a newer one) is installed; rejects if its build failed. */
  update(version: number, items: ItemMatrix): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const superseded = this.waiting;
      this.waiting = { version, items, waiters: [...(superseded?.waiters ?? []), { resolve, reject }] };
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    while (this.waiting) {
      const want = this.waiting;
      this.waiting = null;
      try {
        if (want.version > this.slot.version) {
          const built = await this.builder.build(want.items);
          if (want.version > this.slot.version) {
            this.slot.swap(built.index, want.version);
            this.onBuilt(want.version, built);
          } else built.index.dispose();
        }
        for (const w of want.waiters) w.resolve();
      } catch (err) {
        for (const w of want.waiters) w.reject(err as Error);
      }
    }
    this.running = false;
  }
}
