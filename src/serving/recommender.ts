/**
 * What the serving loop asks of a model. One call per micro-batch: events arrive in partition
 * order, and a session lives in one partition, so per-session order is the array order.
 */
export interface ClickInput {
  sessionId: string;
  itemId: string;
  partition: number;
  timestamp: number;
}

export type RecommendOutcome = { ok: true; itemIds: string[]; scores: number[] } | { ok: false; kind: 'UNKNOWN_ITEM'; reason: string };

export interface Recommender {
  /** Version stamped on every recommendation (changes on a hot swap). */
  readonly version: string;
  /** Fills out[i] for every events[i]. Must update session state in array order. */
  recommendBatch(events: readonly ClickInput[], out: RecommendOutcome[]): Promise<void>;
  /** Partitions were taken away: drop (or persist) their session state. */
  partitionsRevoked?(partitions: number[]): void;
  close?(): Promise<void>;
}

/**
 * A recommender whose per-session state must survive restarts and rebalances: the serving
 * topology produces its changelog records inside the batch's transaction (to the compacted
 * changelog topic, partition = input partition) and restores a partition before serving it.
 */
export interface StatefulRecommender extends Recommender {
  /** Records for the sessions the last recommendBatch touched; cleared by the call. */
  drainChangelog(): Array<{ key: string; value: Buffer | null; partition: number }>;
  /** The last batch will not be committed: forget its pending records. */
  discardChangelog(): void;
  /**
   * Applies changelog records of one partition in offset order (later wins, null deletes).
   * Records written by another model are not errors: they are re-encoded or dropped, and counted.
   */
  restorePartition(records: Iterable<{ key: string | Uint8Array | null; value: Uint8Array | null; partition: number }>): RestoreCounts | Promise<RestoreCounts>;
  /** After a restore's last record: re-encode sessions restored from another model's state. Returns how many. */
  completeRestore?(): Promise<number>;
  partitionsRevoked(partitions: number[]): void;
}

export interface RestoreCounts {
  restored: number;
  reencodeNeeded: number;
  dropped: number;
  deleted: number;
  invalid: number;
}

export function isStateful(r: Recommender): r is StatefulRecommender {
  return typeof (r as Partial<StatefulRecommender>).drainChangelog === 'function';
}
