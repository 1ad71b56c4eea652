import * as tf from '@tensorflow/tfjs';
import { eventCount, type SessionData } from '../data/sessions.ts';
import { Gru4Rec } from '../model/gru4rec.ts';
import { archOf, item2vecOptionsOf, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { regressionItemVectors } from '../model/item2vec.ts';
import { Gru4RecTrainer, type StepTiming } from './gru4rec-trainer.ts';
import type { OptimizerState } from './optimizer.ts';
import { SessionParallelIterator, type SessionBatch } from './session-parallel.ts';

export interface TrainProgress {
  epoch: number;
  nEpochs: number;
  /** Training events (input → target pairs) done in this epoch and in one full epoch. */
  epochEvents: number;
  epochTotal: number;
  /** Events done over all epochs. */
  events: number;
  /** Running mean loss of this epoch (per event, as the official log). */
  loss: number;
  eventsPerSec: number;
  seconds: number;
}

export interface TrainStats {
  epochs: number;
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** Mean loss per epoch (weighted by rows, as the official code reports it). */
  lossHistory: number[];
  timing: StepTiming;
  backend: string;
  /** What ran the step's products (Gru4RecTrainer.kernel): 'ort-step', 'ort-output' or 'tfjs', and why not faster. */
  kernel: Gru4RecTrainer['kernel'];
  aborted: boolean;
}

export interface TrainOptions {
  onProgress?: (p: TrainProgress) => void;
  /** How often onProgress fires, in steps. */
  progressEvery?: number;
  signal?: AbortSignal;
  /** Continue training this model instead of initialising a fresh one. */
  model?: Gru4Rec;
  /**
   * Also return the optimizer's final state (a copy as large as the weights, twice with
   * momentum), for whoever fine-tunes the model later: the continuous trainer starts from it.
   */
  keepOptimizerState?: boolean;
}

/** Per-item event counts of a data set (the sampling support). */
export function itemSupport(data: SessionData, nItems: number): Float64Array {
  const support = new Float64Array(nItems);
  for (let e = 0; e < eventCount(data); e++) support[data.items[e]]++;
  return support;
}

/** Train on a stream of mini-batches (e.g. from a live topic) with an existing trainer. */
export function trainSteps(trainer: Gru4RecTrainer, batches: Iterable<SessionBatch>): { steps: number; events: number; meanLoss: number } {
  let steps = 0;
  let events = 0;
  let lossSum = 0;
  for (const b of batches) {
    const loss = trainer.step(b);
    if (loss === null) continue;
    steps++;
    events += b.n;
    lossSum += loss * b.n;
  }
  return { steps, events, meanLoss: events > 0 ? lossSum / events : NaN };
}

/**
 * A fresh model for `config` over `train`'s catalogue. The regression head's targets come from the
 * data: item2vec runs on the same training sessions first (before any GRU step, so the targets never
 * move under the predictions), and its unit vectors become the fixed head.items.
 */
export function initialModel(train: SessionData, nItems: number, config: Gru4RecConfig): Gru4Rec {
  const arch = archOf(config, nItems);
  if (config.head !== 'regression') return Gru4Rec.init(arch, config.seed);
  return Gru4Rec.init(arch, config.seed, regressionItemVectors(train, nItems, item2vecOptionsOf(config)));
}

/**
 * Train GRU4Rec for config.nEpochs passes over `train` with session-parallel mini-batches.
 * An aborted signal stops at the next step and returns the model trained so far.
 */
export async function trainGru4Rec(
  train: SessionData,
  nItems: number,
  config: Gru4RecConfig,
  opts: TrainOptions = {},
): Promise<{ model: Gru4Rec; stats: TrainStats; optimizer?: OptimizerState }> {
  const model = opts.model ?? initialModel(train, nItems, config);
  const trainer = new Gru4RecTrainer(model, config, itemSupport(train, nItems));
  const iterator = new SessionParallelIterator(train, config.batchSize);
  const fit = new FitRecord(config.nEpochs, SessionParallelIterator.pairCount(train), opts);
  try {
    for (let epoch = 1; epoch <= config.nEpochs && !fit.aborted; epoch++) await trainEpoch(trainer, iterator, epoch, fit);
  } catch (err) {
    trainer.dispose();
    if (!opts.model) model.dispose();
    throw err;
  }
  const stats = fit.stats({ ...trainer.timing }, trainer.kernel);
  const optimizer = opts.keepOptimizerState ? trainer.optimizerState() : undefined;
  trainer.dispose();
  return { model, stats, ...(optimizer ? { optimizer } : {}) };
}

/** One pass over the iterator's data from fresh hidden states; stops early when the fit's signal aborts. */
async function trainEpoch(trainer: Gru4RecTrainer, iterator: SessionParallelIterator, epoch: number, fit: FitRecord): Promise<void> {
  iterator.restart();
  trainer.resetState();
  let lossSum = 0;
  let epochEvents = 0;
  let steps = 0;
  for (let b = iterator.next(); b; b = iterator.next()) {
    if (fit.signal?.aborted) {
      fit.aborted = true;
      break;
    }
    const loss = trainer.step(b);
    if (loss === null) continue;
    lossSum += loss * b.n;
    epochEvents += b.n;
    fit.events += b.n;
    if (++steps % fit.progressEvery === 0) {
      fit.progress(epoch, epochEvents, lossSum / epochEvents);
      // Let timers, signals and progress rendering run.
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  if (epochEvents > 0) {
    fit.lossHistory.push(lossSum / epochEvents);
    fit.progress(epoch, epochEvents, lossSum / epochEvents);
  }
}

/** What one fit has done so far (events, epoch losses, wall time, abort) and how it reports progress. */
class FitRecord {
  readonly signal: AbortSignal | undefined;
  readonly progressEvery: number;
  readonly lossHistory: number[] = [];
  events = 0;
  aborted = false;
  private readonly start = performance.now();

  constructor(
    private readonly nEpochs: number,
    private readonly epochTotal: number,
    private readonly opts: TrainOptions,
  ) {
    this.signal = opts.signal;
    this.progressEvery = opts.progressEvery ?? 100;
  }

  progress(epoch: number, epochEvents: number, loss: number): void {
    const seconds = this.seconds();
    const { nEpochs, epochTotal, events } = this;
    this.opts.onProgress?.({ epoch, nEpochs, epochEvents, epochTotal, events, loss, eventsPerSec: events / Math.max(seconds, 1e-9), seconds });
  }

  stats(timing: StepTiming, kernel: Gru4RecTrainer['kernel']): TrainStats {
    const seconds = this.seconds();
    const { lossHistory, events, aborted } = this;
    return { epochs: lossHistory.length, events, seconds, eventsPerSec: events / Math.max(seconds, 1e-9), lossHistory, timing, backend: tf.getBackend(), kernel, aborted };
  }

  private seconds(): number {
    return (performance.now() - this.start) / 1000;
  }
}
