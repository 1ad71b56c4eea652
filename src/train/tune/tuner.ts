import type { Observation, Sampler } from './sampler.ts';
import type { Point } from './search-space.ts';
import type { TrialRun, TuneTarget } from './tune-target.ts';

export interface TuneOptions<C> {
  sampler: Sampler;
  /** Wall-clock budget of the whole search, seconds (Infinity: only maxTrials ends it). */
  budgetSeconds: number;
  /** Most trials, the start trial included. Default Infinity (the budget ends the search). */
  maxTrials?: number;
  /** Training time limit of one trial, seconds; its training stops there and the model so far is scored. Default Infinity. */
  trialSeconds?: number;
  /** Least training time worth starting a trial for, seconds. Default 2. */
  minTrainSeconds?: number;
  /** Trial 0 trains this config as given (the user's starting point); the search starts after it. */
  start?: C;
  onTrialStart?: (n: number, config: C) => void;
  onTrialEnd?: (trial: Trial<C>) => void;
  onProgress?: (n: number, stage: 'fit' | 'score', fraction: number) => void;
}

export interface Trial<C> {
  /** 0-based, in the order run. */
  n: number;
  /** 'start' for the given start config, else the sampler's name. */
  origin: string;
  point: Point;
  config: C;
  /** Null when the trial failed (error says why). */
  run: TrialRun | null;
  error?: string;
  /** Wall seconds of the whole trial. */
  seconds: number;
}

export interface TuneResult<C> {
  trials: Trial<C>[];
  /** Highest validation Recall@20 (then MRR@20, then the earlier trial); null when every trial failed. */
  best: Trial<C> | null;
  seconds: number;
  /** What ended the search. */
  endedBy: 'trials' | 'budget';
}

/**
 * The search loop: propose, train + score, record, until maxTrials or the budget. Time rules:
 *  - a trial's training is stopped by its time limit or by the budget's end less a reserve for
 *    scoring (1.5 × the longest validation pass so far), whichever comes first;
 *  - a new trial starts only when it can still train minTrainSeconds before that reserve, or, for
 *    a target whose trials cannot stop early (kNN), when the longest trial so far still fits;
 * so the search ends within the budget plus at most one validation pass longer than the reserve
 * (the first one, whose length is not known in advance).
 */
export async function tune<C>(target: TuneTarget<C>, o: TuneOptions<C>): Promise<TuneResult<C>> {
  const maxTrials = o.maxTrials ?? Infinity;
  const trialMs = (o.trialSeconds ?? Infinity) * 1000;
  const minTrainMs = (o.minTrainSeconds ?? 2) * 1000;
  const stoppable = target.stoppable;
  const t0 = performance.now();
  const end = t0 + o.budgetSeconds * 1000;
  const trials: Trial<C>[] = [];
  const history: Observation[] = [];
  let scoreReserveMs = 0;
  let longestTrialMs = 0;
  let endedBy: TuneResult<C>['endedBy'] = 'trials';

  while (trials.length < maxTrials) {
    const now = performance.now();
    const left = end - now;
    const fits = stoppable ? left - scoreReserveMs >= Math.min(minTrainMs, trialMs) : left >= longestTrialMs;
    if (left <= 0 || (trials.length > 0 && !fits)) {
      endedBy = 'budget';
      break;
    }
    const n = trials.length;
    const fromStart = n === 0 && o.start !== undefined;
    let point: Point;
    let config: C;
    try {
      point = fromStart ? target.pointOf(o.start as C) : o.sampler.propose(history);
      config = fromStart ? (o.start as C) : target.configOf(point);
    } catch (e) {
      throw new Error(`tune: trial ${n} has no valid config: ${(e as Error).message}`, { cause: e });
    }
    o.onTrialStart?.(n, config);
    const deadline = Math.min(now + trialMs, end - scoreReserveMs);
    const controller = new AbortController();
    // setTimeout caps delays at 2^31 - 1 ms (and fires at once beyond): no deadline, no timer.
    const timer = Number.isFinite(deadline) ? setTimeout(() => controller.abort(), Math.min(Math.max(0, deadline - now), 2 ** 31 - 1)) : undefined;
    let run: TrialRun | null = null;
    let error: string | undefined;
    try {
      run = await target.run(config, { signal: controller.signal, onProgress: (stage, f) => o.onProgress?.(n, stage, f) });
    } catch (e) {
      // One configuration that breaks (out of memory, a numerical failure) must not end the search.
      error = (e as Error).message ?? String(e);
    } finally {
      clearTimeout(timer);
    }
    const seconds = (performance.now() - now) / 1000;
    if (run) scoreReserveMs = Math.max(scoreReserveMs, 1.5 * run.scoreSeconds * 1000);
    longestTrialMs = Math.max(longestTrialMs, seconds * 1000);
    const trial: Trial<C> = { n, origin: fromStart ? 'start' : o.sampler.name, point, config, run, ...(error !== undefined ? { error } : {}), seconds };
    trials.push(trial);
    history.push({ point, score: run ? run.recall : null });
    o.onTrialEnd?.(trial);
  }
  return { trials, best: bestTrial(trials), seconds: (performance.now() - t0) / 1000, endedBy };
}

/** Highest Recall@20, then MRR@20, then the earlier trial. */
export function bestTrial<C>(trials: readonly Trial<C>[]): Trial<C> | null {
  let best: Trial<C> | null = null;
  for (const t of trials) {
    if (!t.run) continue;
    if (!best?.run || t.run.recall > best.run.recall || (t.run.recall === best.run.recall && t.run.mrr > best.run.mrr)) best = t;
  }
  return best;
}
