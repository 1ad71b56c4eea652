import type { Point, SearchSpace } from './search-space.ts';

/** Why a trial's training ended before its configured epochs, or null when it ran them all. */
export type StopReason = 'time' | 'diverged' | null;

/** What one trial measured on the validation split. */
export interface TrialRun {
  recall: number;
  mrr: number;
  /** Fitting (training, or building the kNN tables) and scoring the validation part, wall seconds. */
  fitSeconds: number;
  scoreSeconds: number;
  stopped: StopReason;
  /** Epochs trained, fractional when stopped by time (GRU4Rec only). */
  epochs?: number;
}

/** Hooks a trial reports through; the tuner turns them into the progress bar. */
export interface TrialContext {
  /** Aborts at the trial's training deadline (its time limit, or the end of the budget). */
  signal: AbortSignal;
  onProgress?: (stage: 'fit' | 'score', fraction: number) => void;
}

/**
 * One kind of model to tune: its search space, how a point becomes a validated config (and back,
 * for a start config given by the user), how a config is shown in the results table, and how it is
 * fitted on the split's training part and scored on its validation part.
 */
export interface TuneTarget<C> {
  readonly model: string;
  readonly space: SearchSpace;
  /** Whether run() honours ctx.signal (GRU4Rec training does; a kNN fit cannot stop half-way). */
  readonly stoppable: boolean;
  configOf(point: Point): C;
  pointOf(config: C): Point;
  /** The hyperparameters that matter for this config, as table cells (column → text). */
  describe(config: C): Record<string, string>;
  run(config: C, ctx: TrialContext): Promise<TrialRun>;
}

/** A number as a short table cell: 3 significant digits, no exponent for everyday magnitudes. */
export function shortNumber(x: number): string {
  if (Number.isInteger(x)) return String(x);
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(1) : String(Number(x.toPrecision(3)));
}
