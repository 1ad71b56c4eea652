/**
 * The serving process's instruments on an OpenTelemetry meter. Totals the process keeps anyway
 * (ServingStats) are observable counters and gauges read at collection time, so the exported
 * value is the process's own number and nothing is added to the event path for them; timings
 * are histograms recorded once per committed micro-batch (end-to-end latency once per
 * recommendation). Online quality is registered by registerOnlineQualityInstruments, the same
 * call `streamrec monitor` makes.
 */
import type { Attributes, BatchObservableResult, Histogram, Meter } from '@opentelemetry/api';
import { DEAD_LETTER_KINDS } from '../errors/errors.ts';
import { counterSpec, gaugeSpec, histogramSpec, INSTRUMENTS, STAGES } from './instruments.ts';
import { registerOnlineQualityInstruments } from './online-quality.ts';
import type { ServingStats } from './serving-stats.ts';

export interface ServingGaugeSources {
  /** The version serving now (streamrec.model.info). */
  modelVersion: () => string;
  /** Sessions in the store, when the model keeps session state. */
  sessions?: () => number;
  /** Bytes held by session state, when the model keeps any. */
  sessionStoreBytes?: () => number;
}

const NO_ATTRIBUTES: Attributes = Object.freeze({});
const STAGE_ATTRIBUTES: readonly Attributes[] = STAGES.map((stage) => Object.freeze({ stage }));
const REASON_ATTRIBUTES = new Map(DEAD_LETTER_KINDS.map((reason) => [reason, Object.freeze({ reason })]));

export class ServingInstruments {
  private readonly batchSize: Histogram;
  private readonly batchWait: Histogram;
  private readonly latency: Histogram;
  private readonly stageDuration: Histogram;
  private readonly swapPause: Histogram;
  private readonly unregister: Array<() => void> = [];

  constructor(meter: Meter, stats: ServingStats, sources: ServingGaugeSources) {
    this.batchSize = histogramSpec(meter, INSTRUMENTS.batchSize);
    this.batchWait = histogramSpec(meter, INSTRUMENTS.batchWait);
    this.latency = histogramSpec(meter, INSTRUMENTS.latencyEndToEnd);
    this.stageDuration = histogramSpec(meter, INSTRUMENTS.stageDuration);
    this.swapPause = histogramSpec(meter, INSTRUMENTS.modelSwapPause);

    const consumed = counterSpec(meter, INSTRUMENTS.eventsConsumed);
    const produced = counterSpec(meter, INSTRUMENTS.recommendationsProduced);
    const deadLetters = counterSpec(meter, INSTRUMENTS.deadLetters);
    const aborted = counterSpec(meter, INSTRUMENTS.transactionsAborted);
    const swaps = counterSpec(meter, INSTRUMENTS.modelSwaps);
    const lag = gaugeSpec(meter, INSTRUMENTS.consumerLag);
    const info = gaugeSpec(meter, INSTRUMENTS.modelInfo);
    const sessions = gaugeSpec(meter, INSTRUMENTS.sessionsLive);
    const storeBytes = gaugeSpec(meter, INSTRUMENTS.sessionStoreSize);
    const observables = [consumed, produced, deadLetters, aborted, swaps, lag, info, sessions, storeBytes];
    const callback = (r: BatchObservableResult) => {
      r.observe(consumed, stats.eventsIn);
      r.observe(produced, stats.recommendationsOut);
      for (const kind of DEAD_LETTER_KINDS) r.observe(deadLetters, stats.deadLetters[kind], REASON_ATTRIBUTES.get(kind));
      r.observe(aborted, stats.transactionsAborted);
      r.observe(swaps, stats.modelSwaps);
      for (const [partition, records] of stats.consumerLag) r.observe(lag, records, { partition: String(partition) });
      r.observe(info, 1, { model_version: sources.modelVersion() });
      if (sources.sessions) r.observe(sessions, sources.sessions());
      if (sources.sessionStoreBytes) r.observe(storeBytes, sources.sessionStoreBytes());
    };
    meter.addBatchObservableCallback(callback, observables);
    this.unregister.push(() => meter.removeBatchObservableCallback(callback, observables));
    this.unregister.push(registerOnlineQualityInstruments(meter, stats.online));
  }

  /**
   * One committed micro-batch: its size, how long its oldest chunk waited, the time of each
   * stage (stageMs indexed as STAGES; NaN for a stage not measured), and the end-to-end latency
   * of each recommendation (latencyMs[0..n), NaN for dead letters).
   */
  recordBatch(size: number, waitMs: number, stageMs: ArrayLike<number>, latencyMs: ArrayLike<number>, n: number): void {
    this.batchSize.record(size, NO_ATTRIBUTES);
    if (Number.isFinite(waitMs)) this.batchWait.record(waitMs / 1000, NO_ATTRIBUTES);
    for (let s = 0; s < STAGES.length; s++) if (Number.isFinite(stageMs[s])) this.stageDuration.record(stageMs[s] / 1000, STAGE_ATTRIBUTES[s]);
    for (let i = 0; i < n; i++) {
      const ms = latencyMs[i];
      // Below 0 is clock skew between the producing host and this one (the click's timestamp is
      // the producer's): it counts in the lowest bucket rather than being dropped by the SDK.
      if (Number.isFinite(ms)) this.latency.record(ms > 0 ? ms / 1000 : 0, NO_ATTRIBUTES);
    }
  }

  recordSwapPause(ms: number): void {
    this.swapPause.record(ms / 1000, NO_ATTRIBUTES);
  }

  /** Stops the observable callbacks (the histograms stay, recording into a provider that may be shut down). */
  close(): void {
    for (const u of this.unregister.splice(0)) u();
  }
}
