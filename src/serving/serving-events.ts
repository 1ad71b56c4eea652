import { EventEmitter } from 'node:events';
import type { DeadLetterKind } from '../errors/errors.ts';
import type { SwapReport } from './gru4rec-recommender.ts';
import type { ClickInput, RecommendOutcome, RestoreCounts } from './recommender.ts';

/**
 * What the serving process tells the world (as kafkajs instruments its consumer with events):
 * metrics, logs, the demo and tests subscribe; none of them shares state with the loop. The
 * arrays in a batchCommitted event are the loop's reused buffers: read them in the listener,
 * do not keep them.
 */
export interface BatchCommitted {
  /** Records consumed (valid and dead-lettered). */
  consumed: number;
  /** inputs[i] was answered by outcomes[i]; outcomes with ok = false were dead-lettered. */
  inputs: readonly ClickInput[];
  outcomes: readonly RecommendOutcome[];
  /** Click appended to the topic → recommendation produced, per input (ms; NaN for dead letters). */
  latencyMs: Float64Array;
  recommendations: number;
  deadLetters: ReadonlyMap<DeadLetterKind, number>;
  changelogRecords: number;
  /** Engine step, produce and commit durations of this batch (ms). */
  stepMs: number;
  commitMs: number;
}

export interface BatchAborted {
  partitions: readonly number[];
  events: number;
  reason: string;
  error: unknown;
  /** Aborts in a row without a commit in between. */
  consecutive: number;
}

export interface ServingEventMap {
  batchCommitted: [BatchCommitted];
  batchAborted: [BatchAborted];
  assigned: [{ partitions: number[]; revoked: number[]; added: number[] }];
  restored: [{ partitions: number[]; records: number; counts: RestoreCounts; reencoded: number; ms: number }];
  restoreFailed: [{ partitions: number[]; error: Error }];
  /** A new model serves from the next micro-batch on (no batch mixes versions). */
  modelSwapped: [SwapReport];
  /** A new version could not be loaded or does not fit; the current model keeps serving. */
  swapRefused: [{ version: string; reason: string }];
  /** The process can no longer serve (fenced, broker gone for good, an unwritable topic): it stops. */
  fatal: [{ error: Error }];
  log: [string];
}

export class ServingEvents extends EventEmitter<ServingEventMap> {}
