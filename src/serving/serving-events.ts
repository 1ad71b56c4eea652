import { EventEmitter } from 'node:events';
import type { DeadLetterKind } from '../errors/errors.ts';
import type { SwapReport } from './gru4rec-recommender.ts';
import type { ClickInput, RecommendOutcome, RestoreCounts } from './recommender.ts';

/**
 * What the serving process tells the world (as kafkajs instruments its consumer with events):
 * metrics, logs, the demo and tests subscribe; none of them shares state with the loop. A
 * micro-batch is told (batchCommitted) once the commit span holding it has committed, one event
 * per batch, in order, then the span itself (spanCommitted): a record is counted exactly once,
 * and only once its outputs are durable. Read the arrays in the listener, do not keep them.
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
  /** Changelog records the span's commit wrote (drained once per span): on its last batch, 0 on the others. */
  changelogRecords: number;
  /** The version that served the whole batch (no batch mixes versions). */
  modelVersion: string;
  /**
   * Time the batch spent in each stage (ms), indexed as STAGES (src/metrics/instruments.ts):
   * queue (its oldest chunk, submitted → engine pass began), decode, store (session state, when
   * the recommender reports it apart from its engine work; else NaN and inside engine), engine
   * (the recommender call), produce (encoding the outputs and handing them to the span's send
   * chain; the send itself overlaps the next batch's step), commit (outputs handed over → the
   * span committed: the span's later batches, the wait for its sends, its changelog, offsets
   * and commit point; with serving.commit.intervalMs 0, the send and the commit of this batch).
   */
  stageMs: Float64Array;
  /** Oldest chunk of the batch: fetched from the broker → its engine pass began (ms). */
  waitMs: number;
}

/** A commit span committed: its batches' outputs, changelog and offsets are durable. */
export interface SpanCommitted {
  batches: number;
  /** Input records of its batches (valid and dead-lettered). */
  records: number;
  changelogRecords: number;
  partitions: readonly number[];
  /** Its first batch began → committed (ms). */
  spanMs: number;
  /** After its last batch, waiting for its batches' sends to be acknowledged (ms). */
  flushMs: number;
  /** Changelog, offsets and the commit point (ms). */
  commitMs: number;
}

/** A commit span aborted: nothing of it is durable; its partitions are restored and fetched again. */
export interface BatchAborted {
  partitions: readonly number[];
  /** Input records of the span (every batch of it is served again). */
  events: number;
  reason: string;
  error: unknown;
  /** Aborts in a row without a commit in between. */
  consecutive: number;
}

export interface ServingEventMap {
  batchCommitted: [BatchCommitted];
  spanCommitted: [SpanCommitted];
  batchAborted: [BatchAborted];
  assigned: [{ partitions: number[]; revoked: number[]; added: number[] }];
  restored: [{ partitions: number[]; records: number; counts: RestoreCounts; reencoded: number; ms: number }];
  /** A chunk of a partition was committed: the records left between it and the high watermark of its fetch. */
  lag: [{ partition: number; records: number }];
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
