/**
 * The continuous trainer's instruments (`streamrec train --follow`): what its window reports
 * say, kept as plain numbers here (the metrics layer knows nothing of the trainer) and read at
 * collection time.
 */
import type { BatchObservableResult, Meter } from '@opentelemetry/api';
import { counterSpec, gaugeSpec, INSTRUMENTS } from './instruments.ts';

export interface GateScores {
  recall: number;
  mrr: number;
}

/** Filled from the trainer's window reports (src/cli/train.ts). */
export interface TrainerStats {
  /** Mean loss of the last trained window; null before the first. */
  loss: number | null;
  /** Events trained on. */
  events: number;
  /** The last gate's Recall@20 / MRR@20 (serving null when nothing was serving). */
  gate: { candidate: GateScores; serving: GateScores | null } | null;
  promoted: number;
  rejected: number;
  /** The catalogue after the last window; null before the first. */
  catalogue: { active: number; pending: number; admitted: number; expired: number } | null;
}

export function createTrainerStats(): TrainerStats {
  return { loss: null, events: 0, gate: null, promoted: 0, rejected: 0, catalogue: null };
}

/** Registers the trainer's instruments on `meter`; returns a function that removes the callback. */
export function registerTrainerInstruments(meter: Meter, stats: TrainerStats): () => void {
  const loss = gaugeSpec(meter, INSTRUMENTS.trainerLoss);
  const events = counterSpec(meter, INSTRUMENTS.trainerEvents);
  const gateRecall = gaugeSpec(meter, INSTRUMENTS.gateRecall);
  const gateMrr = gaugeSpec(meter, INSTRUMENTS.gateMrr);
  const promotions = counterSpec(meter, INSTRUMENTS.trainerPromotions);
  const items = gaugeSpec(meter, INSTRUMENTS.catalogueItems);
  const admitted = counterSpec(meter, INSTRUMENTS.catalogueAdmitted);
  const expired = counterSpec(meter, INSTRUMENTS.catalogueExpired);
  const observables = [loss, events, gateRecall, gateMrr, promotions, items, admitted, expired];
  const callback = (r: BatchObservableResult) => {
    if (stats.loss !== null) r.observe(loss, stats.loss);
    r.observe(events, stats.events);
    const g = stats.gate;
    if (g) {
      r.observe(gateRecall, g.candidate.recall, { model: 'candidate' });
      r.observe(gateMrr, g.candidate.mrr, { model: 'candidate' });
      if (g.serving) {
        r.observe(gateRecall, g.serving.recall, { model: 'serving' });
        r.observe(gateMrr, g.serving.mrr, { model: 'serving' });
      }
    }
    r.observe(promotions, stats.promoted, { outcome: 'promoted' });
    r.observe(promotions, stats.rejected, { outcome: 'rejected' });
    const c = stats.catalogue;
    if (c) {
      r.observe(items, c.active, { state: 'active' });
      r.observe(items, c.pending, { state: 'pending' });
      r.observe(admitted, c.admitted);
      r.observe(expired, c.expired);
    }
  };
  meter.addBatchObservableCallback(callback, observables);
  return () => meter.removeBatchObservableCallback(callback, observables);
}

/** The figures of one trainer window report that the instruments show (WindowReport has them). */
export interface WindowFigures {
  events: number;
  loss: number;
  catalogue: { active: number; pending: number; admitted: number; expired: number };
  gate: { candidate: GateScores; serving: GateScores | null; passed: boolean } | null;
}

/** Folds one window report into the stats. */
export function recordWindow(stats: TrainerStats, r: WindowFigures): void {
  stats.events += r.events;
  if (Number.isFinite(r.loss)) stats.loss = r.loss;
  const c = r.catalogue;
  stats.catalogue = { active: c.active, pending: c.pending, admitted: c.admitted, expired: c.expired };
  if (r.gate) {
    stats.gate = { candidate: { ...r.gate.candidate }, serving: r.gate.serving ? { ...r.gate.serving } : null };
    if (r.gate.passed) stats.promoted++;
    else stats.rejected++;
  }
}
