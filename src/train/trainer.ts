/**
 * Training's public entry point (the CLI, benchmarks and tests import from here): the per-step
 * trainer, the fit loop, and the accidental-hit mask of the step inputs. Each lives in its own
 * module; this one only gathers them.
 */
export { Gru4RecTrainer, type StepTiming } from './gru4rec-trainer.ts';
export type { OptimizerState } from './optimizer.ts';
export { itemSupport, trainGru4Rec, trainSteps, type TrainOptions, type TrainProgress, type TrainStats } from './fit.ts';
export { accidentalHitMask } from './step-inputs.ts';
