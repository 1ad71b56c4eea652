import { MultiBar, Presets } from 'cli-progress';
import { ConfigError, StreamrecError, UsageError } from '../errors/errors.ts';
import { initBackend } from '../model/backend.ts';
import { formatTrialTable } from '../train/tune/trial-table.ts';
import { defaultStart, makeSampler, SEARCHES, type SearchKind, tuneTarget } from '../train/tune/tune-setup.ts';
import { readStartConfig, TUNE_MODELS, type TuneConfigOf, type TuneModel, writeTunedConfig } from '../train/tune/tuned-config-file.ts';
import { type TuneResult, tune } from '../train/tune/tuner.ts';
import { loadValidationSplit } from '../train/tune/validation-split.ts';

export interface TuneCliOptions {
  /** A dataset directory or file; or train + valid files. */
  data?: string;
  train?: string;
  valid?: string;
  model?: string;
  /** "10m", "90s", "1h", "1500ms" or plain seconds. */
  budget?: string;
  trials?: number;
  /** Training time limit per trial (same syntax as budget); default a quarter of the budget. */
  trialTime?: string;
  search?: string;
  seed?: number;
  out?: string;
  /** Start config: a YAML file (train --config format for gru4rec, model/params for kNN) or a GRU4Rec preset name. */
  from?: string;
  /** Overrides the start config's nEpochs (gru4rec). */
  epochs?: number;
}

/** Seconds in "10m", "90s", "1h", "1500ms" or a plain number of seconds. */
export function parseDuration(flag: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new ConfigError(flag, `expected a duration such as 90s, 10m or 1h, got "${text}"`);
  const scale = { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] ?? 's']!;
  const seconds = Number(m[1]) * scale;
  if (!(seconds > 0)) throw new ConfigError(flag, `expected a positive duration, got "${text}"`);
  return seconds;
}

/**
 * `streamrec tune`: hyperparameter search for GRU4Rec or a kNN baseline on a validation split,
 * within a wall-clock budget; a progress bar while it runs, the table of every trial at the end,
 * and the best config written as YAML (`streamrec train --config` reads the GRU4Rec one).
 */
export async function runTune(o: TuneCliOptions): Promise<TuneResult<unknown>> {
  const model = (o.model ?? 'gru4rec') as TuneModel;
  if (!TUNE_MODELS.includes(model)) throw new ConfigError('--model', `expected one of ${TUNE_MODELS.join(', ')}, got "${o.model}"`);
  const search = (o.search ?? 'bayes') as SearchKind;
  if (!SEARCHES.includes(search)) throw new ConfigError('--search', `expected one of ${SEARCHES.join(', ')}, got "${o.search}"`);
  if (o.trials !== undefined && (!Number.isInteger(o.trials) || o.trials < 1)) throw new ConfigError('--trials', `expected a positive integer, got ${o.trials}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new ConfigError('--seed', `expected an integer, got ${o.seed}`);
  if (o.epochs !== undefined && model !== 'gru4rec') throw new ConfigError('--epochs', 'only applies to --model gru4rec');
  const budgetSeconds = o.budget !== undefined ? parseDuration('--budget', o.budget) : o.trials !== undefined ? Infinity : 600;
  const trialSeconds = o.trialTime !== undefined ? parseDuration('--trial-time', o.trialTime) : budgetSeconds / 4;
  const seed = o.seed ?? 1;
  const source = o.data !== undefined ? { data: o.data } : o.train !== undefined && o.valid !== undefined ? { train: o.train, valid: o.valid } : null;
  if (!source) throw new UsageError('tune needs --data <dir|file>, or --train <file> and --valid <file>');

  let start: TuneConfigOf[TuneModel] = o.from !== undefined ? readStartConfig(model, o.from) : defaultStart(model);
  if (o.epochs !== undefined) start = { ...(start as TuneConfigOf['gru4rec']), nEpochs: o.epochs };
  const split = loadValidationSplit(source);
  const log = (line: string) => process.stderr.write(`tune: ${line}\n`);
  if (model === 'gru4rec') await initBackend(undefined, log);
  const target = tuneTarget(model, split, start);
  const sampler = makeSampler(search, target.space, seed);
  const limits = [Number.isFinite(budgetSeconds) ? `budget ${budgetSeconds} s` : null, o.trials !== undefined ? `${o.trials} trials` : null].filter(Boolean).join(', ');
  log(`${model}, ${sampler.name} search (seed ${seed}), ${limits}${target.stoppable ? `, trials stop training after ${trialSeconds.toFixed(0)} s` : ''}`);
  log(`validation: ${split.description}; ${split.train.items.length} training events, ${split.nItems} items, ${split.validTargets} validation targets`);

  const bars = new MultiBar(
    {
      format: 'tune |{bar}| {value}/{total} {unit}  trial {trial} {stage}  best Recall@20 {best}',
      hideCursor: true,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 15_000,
    },
    Presets.shades_classic,
  );
  const byTime = Number.isFinite(budgetSeconds);
  const bar = bars.create(byTime ? Math.round(budgetSeconds) : o.trials!, 0, { unit: byTime ? 's' : 'trials', trial: 0, stage: '', best: '-' });
  const t0 = performance.now();
  let best = '-';
  let done = 0;
  const show = (trial: number, stage: string) => bar.update(byTime ? Math.min(Math.round((performance.now() - t0) / 1000), bar.getTotal()) : done, { trial, stage, best });
  const result = await tune(target, {
    sampler,
    budgetSeconds,
    trialSeconds,
    start,
    ...(o.trials !== undefined ? { maxTrials: o.trials } : {}),
    onProgress: (n, stage, f) => show(n, `${stage} ${Math.round(f * 100)}%`),
    onTrialEnd: (t) => {
      done++;
      const r = t.run;
      if (r && (best === '-' || r.recall > Number(best))) best = r.recall.toFixed(4);
      const what = r
        ? `Recall@20 ${r.recall.toFixed(4)} MRR@20 ${r.mrr.toFixed(4)}, ${t.seconds.toFixed(1)} s${r.stopped ? ` (${r.stopped === 'time' ? 'stopped by time' : 'diverged'})` : ''}`
        : `failed: ${t.error}`;
      const params = Object.entries(target.describe(t.config))
        .filter(([, v]) => v !== '-')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      bars.log(`trial ${t.n}${t.origin === 'start' ? ' (start)' : ''}: ${what}; ${params}\n`);
      show(t.n, 'done');
    },
  });
  bar.update(byTime ? Math.min(Math.round(result.seconds), bar.getTotal()) : done);
  bars.stop();
  process.stdout.write(`${formatTrialTable(target, result)}\n`);
  if (!result.best?.run) throw new StreamrecError('internal', `no trial succeeded; the first failed with: ${result.trials[0]?.error ?? 'no trial ran'}`);
  const b = result.best;
  const run = b.run!;
  const startRun = result.trials[0]?.origin === 'start' ? result.trials[0].run : null;
  log(
    `${result.trials.length} trials in ${result.seconds.toFixed(1)} s (ended by ${result.endedBy}); best trial ${b.n}: Recall@20 ${run.recall.toFixed(4)} MRR@20 ${run.mrr.toFixed(4)}` +
      (startRun ? ` (start: ${startRun.recall.toFixed(4)} / ${startRun.mrr.toFixed(4)})` : ''),
  );
  const out = o.out ?? `best-${model}.yaml`;
  writeTunedConfig(out, model, b.config as TuneConfigOf[typeof model], [
    `streamrec tune --model ${model}: best of ${result.trials.length} trials (${sampler.name} search, seed ${seed}) in ${result.seconds.toFixed(0)} s`,
    `validation: ${split.description}`,
    `trial ${b.n}: Recall@20 ${run.recall.toFixed(4)}, MRR@20 ${run.mrr.toFixed(4)}, fit ${run.fitSeconds.toFixed(1)} s` +
      (run.epochs !== undefined ? `, ${run.epochs.toFixed(2)} epochs${run.stopped === 'time' ? ' (stopped by the trial time limit)' : ''}` : ''),
    model === 'gru4rec'
      ? 'use: streamrec train --data <train_full.tsv> --config <this file> --out <dir>'
      : `params: the ${model === 'sknn' ? 'SessionKnnOptions' : 'ItemKnnOptions'} of src/eval/baselines`,
  ]);
  log(`best config written to ${out}`);
  return result as TuneResult<unknown>;
}
