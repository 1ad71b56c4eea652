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

export type RecommendOutcome =
  | { ok: true; itemIds: string[]; scores: number[] }
  | { ok: false; kind: 'UNKNOWN_ITEM'; reason: string };

export interface Recommender {
  /** Version stamped on every recommendation (changes on a hot swap). */
  readonly version: string;
  /** Fills out[i] for every events[i]. Must update session state in array order. */
  recommendBatch(events: readonly ClickInput[], out: RecommendOutcome[]): Promise<void>;
  /** Partitions were taken away: drop (or persist) their session state. */
  partitionsRevoked?(partitions: number[]): void;
  close?(): Promise<void>;
}
