import type { DeadLetterKind } from '../errors/errors.ts';

/** The values carried by the Avro schemas in schemas/, as the codecs hand them out. */

/** Event types of the click schema. */
export type EventType = 'CLICK' | 'VIEW' | 'ADD_TO_CART' | 'PURCHASE';

export interface ClickEvent {
  sessionId: string;
  userId: string | null;
  itemId: string;
  eventType: EventType;
  /** Epoch ms. */
  timestamp: number;
  context: Record<string, string> | null;
}

export interface Recommendation {
  sessionId: string;
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  eventTimestamp: number;
  itemIds: string[];
  scores: number[];
  modelVersion: string;
  producedAt: number;
  latencyMs: number;
  /**
   * Deltas of modelVersion's chain the serving model had applied (train.sync); (modelVersion,
   * modelDelta) never decreases in one partition's output except on a rollback. Optional here:
   * records written before the field decode with the schema default 0.
   */
  modelDelta?: number;
}

export type { DeadLetterKind };

export interface DeadLetter {
  sourceTopic: string;
  sourcePartition: number;
  sourceOffset: number;
  key: Buffer | null;
  value: Buffer | null;
  errorKind: DeadLetterKind;
  reason: string;
  failedAt: number;
  /**
   * Sizes of the original key and value in bytes (null: absent in the source record), and the
   * hex SHA-256 of the original value: they identify the record even when `key`/`value` above
   * had to be trimmed to fit the dead-letter topic (`truncated`). Optional here because records
   * written before these fields existed decode with the schema defaults (null / false).
   */
  originalKeySize?: number | null;
  originalValueSize?: number | null;
  valueSha256?: string | null;
  truncated?: boolean;
}
