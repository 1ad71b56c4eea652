import type { DeltaStore } from '../../registry/delta-store.ts';
import type { ModelDelta, ModelState } from '../../registry/model-delta.ts';
import { type DeltaStamp, DeltaBuilder } from './delta-builder.ts';

/**
 * The trainer's side of incremental sync, as StreamTrainer calls it: after every trained window
 * (trained), when a gate published a snapshot (snapshotted), and to ask whether the next window
 * should be a gate window (snapshotDue). StreamTrainer knows nothing of files.
 */
export interface TrainerSync {
  /** A training window is closed this long after the previous delta, however few events it holds. */
  readonly intervalMs: number;
  /** The clock intervals are measured on, epoch ms (wall time; a replay may use stream time). */
  now(): number;
  snapshotDue(): boolean;
  trained(state: ModelState, stamp: DeltaStamp): Promise<void>;
  snapshotted(version: number, state: ModelState): Promise<void>;
}

export interface DeltaSyncOptions {
  intervalMs: number;
  snapshotEveryDeltas: number;
  snapshotEveryMs: number;
  /** Default Date.now. */
  clock?: () => number;
  log?: (line: string) => void;
  /** Every delta written, with its size in bytes (the trainer's metrics, the bench). */
  onDelta?: (d: ModelDelta, bytes: number) => void;
}

/**
 * Deltas into the registry (DeltaStore): each trained window's difference from the chain so far
 * is one delta; a snapshot is due every snapshotEveryDeltas deltas or snapshotEveryMs, or at once
 * when the chain cannot go on (no base yet, or weights a delta cannot express). Deltas are only
 * written from weights that trained on stream clicks: the trainer calls trained() after training.
 */
export class DeltaSync implements TrainerSync {
  readonly intervalMs: number;
  private builder: DeltaBuilder | null;
  private deltasSinceSnapshot: number;
  private snapshotAt: number;
  readonly now: () => number;
  private broken: string | null = null;
  private readonly log: (line: string) => void;

  /**
   * @param start the chain serving follows now (the registry's CURRENT version with its deltas
   *   applied, see DeltaStore.chainState), or null when there is no version yet (the first gate
   *   then publishes the base).
   */
  constructor(
    private readonly store: DeltaStore,
    private readonly o: DeltaSyncOptions,
    start: { base: number; state: ModelState; seq: number } | null,
  ) {
    this.intervalMs = o.intervalMs;
    this.now = o.clock ?? Date.now;
    this.snapshotAt = this.now();
    this.builder = start ? new DeltaBuilder(start.base, start.state, start.seq) : null;
    this.deltasSinceSnapshot = start?.seq ?? 0;
    this.log = o.log ?? (() => undefined);
  }

  snapshotDue(): boolean {
    return this.builder === null || this.broken !== null || this.deltasSinceSnapshot >= this.o.snapshotEveryDeltas || this.now() - this.snapshotAt >= this.o.snapshotEveryMs;
  }

  async trained(state: ModelState, stamp: DeltaStamp): Promise<void> {
    if (!this.builder || this.broken) return;
    let d: ModelDelta | null;
    try {
      d = this.builder.build(state, stamp);
    } catch (e) {
      this.broken = (e as Error).message;
      this.log(`sync: no more deltas on base ${this.builder.base} until the next snapshot: ${this.broken}`);
      return;
    }
    if (!d) return;
    const bytes = await this.store.write(d);
    this.deltasSinceSnapshot++;
    this.o.onDelta?.(d, bytes);
  }

  async snapshotted(version: number, state: ModelState): Promise<void> {
    const previous = this.builder?.base ?? null;
    if (this.builder) this.builder.rebase(version, state);
    else this.builder = new DeltaBuilder(version, state, 0);
    this.broken = null;
    this.deltasSinceSnapshot = 0;
    this.snapshotAt = this.now();
    // The previous chain is kept for processes still on it; older ones are never applied again.
    await this.store.prune(new Set(previous === null ? [version] : [version, previous]));
  }
}
