/**
 * The model zoo of `npm run bench:quality -- --zoo`: every cell × head, and the kNN baselines, tuned
 * by the project's tuner (the same search as `streamrec tune`: TPE, one seed, one wall-clock budget
 * per model) on the validation split carved from the dataset's training data, then the best config
 * refitted on the full training data and scored on the test protocol by the caller's evaluator.
 */
import { loadavg } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type SessionData, eventCount } from '../src/data/sessions.ts';
import type { EvalResult } from '../src/eval/evaluate.ts';
import type { SessionScorer } from '../src/eval/scorer.ts';
import { PopularityScorer } from '../src/eval/baselines/popularity.ts';
import { ItemKnnScorer } from '../src/eval/baselines/item-knn.ts';
import { SessionKnnScorer } from '../src/eval/baselines/session-knn.ts';
import { Gru4RecScorer } from '../src/eval/gru4rec-scorer.ts';
import { initBackend } from '../src/model/backend.ts';
import { type Gru4RecConfig, gru4recPreset, validateGru4RecConfig } from '../src/model/gru4rec-config.ts';
import { SessionParallelIterator } from '../src/train/session-parallel.ts';
import { trainGru4Rec } from '../src/train/trainer.ts';
import { defaultStart, makeSampler, tuneTarget } from '../src/train/tune/tune-setup.ts';
import type { TuneConfigOf } from '../src/train/tune/tuned-config-file.ts';
import type { TuneTarget } from '../src/train/tune/tune-target.ts';
import { type TuneResult, tune } from '../src/train/tune/tuner.ts';
import { loadValidationSplit, type ValidationSplit } from '../src/train/tune/validation-split.ts';

export const ZOO_CELLS = ['gru', 'lstm', 'mlstm'] as const;
export const ZOO_HEADS = ['dot', 'mixture-of-tastes', 'mixture-of-cosines', 'regression'] as const;
export type ZooCell = (typeof ZOO_CELLS)[number];
export type ZooHead = (typeof ZOO_HEADS)[number];

/** Each head's start: rsc15-xe-fast with that head, as its preset sets it (mixtures K = 4; regression with its cosine loss). */
const HEAD_PRESETS: Record<ZooHead, string> = {
  dot: 'rsc15-xe-fast',
  'mixture-of-tastes': 'rsc15-mot-fast',
  'mixture-of-cosines': 'rsc15-moc-fast',
  regression: 'rsc15-regression-fast',
};

const HEAD_SHORT: Record<ZooHead, string> = { dot: 'dot', 'mixture-of-tastes': 'MoT K=4', 'mixture-of-cosines': 'MoC K=4', regression: 'regression' };

/** The tuner's start config for one zoo row: the head's preset with the cell changed and nothing else. */
export function zooStartConfig(cell: ZooCell, head: ZooHead): Gru4RecConfig {
  return gru4recPreset(HEAD_PRESETS[head], { cell });
}

export function zooModelName(cell: ZooCell, head: ZooHead): string {
  return `${cell === 'mlstm' ? 'mLSTM' : cell.toUpperCase()} ${HEAD_SHORT[head]}`;
}

/** Heads the config schema accepts now (the regression head may be absent from an older tree). */
export function supportedHeads(): ZooHead[] {
  return ZOO_HEADS.filter((head) => {
    try {
      validateGru4RecConfig(zooStartConfig('gru', head));
      return true;
    } catch {
      return false;
    }
  });
}

/** Parses a comma list against the allowed values, naming the flag on a typo. */
export function parseList<T extends string>(flag: string, text: string, allowed: readonly T[]): T[] {
  const values = text
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  for (const v of values) if (!allowed.includes(v as T)) throw new Error(`${flag}: unknown "${v}"; known: ${allowed.join(', ')}`);
  return values as T[];
}

/** The tuned hyperparameters as one short cell: the target's own table columns, without the empty ones and the fixed cell. */
export function settingsText(described: Record<string, string>): string {
  return Object.entries(described)
    .filter(([k, v]) => v !== '-' && k !== 'cell')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}

/**
 * Final-fit epochs: the flag when given, else the tuned config's nEpochs (the tuner keeps the
 * start's; its trials are cut by time instead), at least 1.
 */
export function finalEpochsOf(tuned: Gru4RecConfig, flag: number | undefined): number {
  return Math.max(1, flag ?? tuned.nEpochs);
}

/** One dataset as the zoo needs it: the full training data, where its validation split comes from, and the test evaluator. */
export interface ZooDataset {
  key: string;
  title: string;
  protocol: string;
  /** Directory loadValidationSplit carves the validation split from (training data only). */
  dataDir: string;
  nItems: number;
  train: SessionData;
  evaluate(scorer: SessionScorer): Promise<EvalResult>;
}

export interface ZooOptions {
  budgetSeconds: number;
  cells: readonly ZooCell[];
  heads: readonly ZooHead[];
  /** Baselines: pop, iknn, sknn (any subset). */
  baselines: readonly string[];
  finalEpochs?: number;
  /** Wall-clock cap of one final fit, seconds; training stops there and the model so far is scored. */
  finalSeconds?: number;
  seed: number;
  out: string;
  command: string;
}

export interface ZooRow {
  model: string;
  kind: 'sequence' | 'knn' | 'popularity';
  cell?: ZooCell;
  head?: ZooHead;
  recall20: number;
  mrr20: number;
  /** Tuner trials the budget allowed (the start trial included); 0 for popularity. */
  trials: number;
  tuneSeconds: number;
  /** The best trial's validation Recall@20 / MRR@20. */
  validRecall20?: number;
  validMrr20?: number;
  /** Final fit on the full training data. */
  trainSeconds: number;
  trainEventsPerSec?: number;
  epochs?: number;
  stoppedByTime?: boolean;
  evalSeconds: number;
  settings: string;
  config?: unknown;
  loadAvgBefore: number[];
  loadAvgAfter: number[];
}

export interface ZooDatasetReport {
  dataset: string;
  protocol: string;
  validation: string;
  nItems: number;
  trainEvents: number;
  rows: ZooRow[];
}

const log = (line: string) => process.stderr.write(`zoo: ${line}\n`);

/** Tunes one target as `streamrec tune` does (TPE, trial time limit a quarter of the budget), logging each trial. */
async function tuneModel<C>(label: string, target: TuneTarget<C>, start: C, o: ZooOptions): Promise<TuneResult<C>> {
  const sampler = makeSampler('bayes', target.space, o.seed);
  const result = await tune(target, {
    sampler,
    budgetSeconds: o.budgetSeconds,
    trialSeconds: o.budgetSeconds / 4,
    start,
    onTrialEnd: (t) => {
      const r = t.run;
      log(
        `  ${label} trial ${t.n}: ${r ? `valid Recall@20 ${r.recall.toFixed(4)} MRR@20 ${r.mrr.toFixed(4)}${r.epochs !== undefined ? `, ${r.epochs.toFixed(2)} epochs` : ''}` : `failed: ${t.error}`}, ${t.seconds.toFixed(1)} s`,
      );
    },
  });
  if (!result.best?.run) throw new Error(`${label}: no trial succeeded; the first failed with: ${result.trials[0]?.error ?? 'no trial ran'}`);
  log(`  ${label}: ${result.trials.length} trials in ${result.seconds.toFixed(1)} s, best trial ${result.best.n}`);
  return result;
}

/** What every tuned row reports: the test scores, the search and its best validation scores, the winning settings. */
function tunedFields<C>(tuned: TuneResult<C>, target: TuneTarget<C>, result: EvalResult) {
  const best = tuned.best!;
  return {
    recall20: result.recall[20],
    mrr20: result.mrr[20],
    trials: tuned.trials.length,
    tuneSeconds: tuned.seconds,
    validRecall20: best.run!.recall,
    validMrr20: best.run!.mrr,
    evalSeconds: result.seconds,
    settings: settingsText(target.describe(best.config)),
  };
}

async function sequenceRow(ds: ZooDataset, split: ValidationSplit, cell: ZooCell, head: ZooHead, o: ZooOptions): Promise<ZooRow> {
  const name = zooModelName(cell, head);
  const loadAvgBefore = loadavg();
  const start = zooStartConfig(cell, head);
  const target = tuneTarget('gru4rec', split, start);
  const tuned = await tuneModel(`${ds.key} ${name}`, target, start, o);
  const best = tuned.best!;
  // The row must be the model it is named after: the tuner keeps the cell and the head from the start.
  if (best.config.cell !== cell || best.config.head !== head) throw new Error(`${name}: the tuner changed the model to ${best.config.cell} ${best.config.head}`);
  const config: Gru4RecConfig = { ...best.config, nEpochs: finalEpochsOf(best.config, o.finalEpochs) };
  const signal = o.finalSeconds !== undefined ? AbortSignal.timeout(o.finalSeconds * 1000) : undefined;
  const { model, stats } = await trainGru4Rec(ds.train, ds.nItems, config, signal ? { signal } : {});
  try {
    const result = await ds.evaluate(new Gru4RecScorer(model, { name }));
    return {
      model: name,
      kind: 'sequence',
      cell,
      head,
      ...tunedFields(tuned, target, result),
      trainSeconds: stats.seconds,
      trainEventsPerSec: stats.eventsPerSec,
      epochs: stats.events / Math.max(SessionParallelIterator.pairCount(ds.train), 1),
      stoppedByTime: stats.aborted,
      config,
      loadAvgBefore,
      loadAvgAfter: loadavg(),
    };
  } finally {
    model.dispose();
  }
}

const KNN_NAMES: Record<'iknn' | 'sknn', string> = { iknn: 'item-kNN', sknn: 'session-kNN' };

async function knnRow<M extends 'iknn' | 'sknn'>(ds: ZooDataset, split: ValidationSplit, model: M, o: ZooOptions): Promise<ZooRow> {
  const loadAvgBefore = loadavg();
  const start = defaultStart(model);
  const target = tuneTarget(model, split, start);
  const tuned = await tuneModel(`${ds.key} ${KNN_NAMES[model]}`, target, start, o);
  const best = tuned.best!;
  const scorer = model === 'iknn' ? new ItemKnnScorer(best.config as TuneConfigOf['iknn']) : new SessionKnnScorer(best.config as TuneConfigOf['sknn']);
  const t0 = performance.now();
  scorer.fit(ds.train, ds.nItems);
  const trainSeconds = (performance.now() - t0) / 1000;
  const result = await ds.evaluate(scorer);
  return {
    model: `${KNN_NAMES[model]} (tuned)`,
    kind: 'knn',
    ...tunedFields(tuned, target, result),
    trainSeconds,
    config: best.config,
    loadAvgBefore,
    loadAvgAfter: loadavg(),
  };
}

async function popularityRow(ds: ZooDataset): Promise<ZooRow> {
  const loadAvgBefore = loadavg();
  const scorer = new PopularityScorer();
  const t0 = performance.now();
  scorer.fit(ds.train, ds.nItems);
  const trainSeconds = (performance.now() - t0) / 1000;
  const result = await ds.evaluate(scorer);
  return {
    model: 'popularity',
    kind: 'popularity',
    recall20: result.recall[20],
    mrr20: result.mrr[20],
    trials: 0,
    tuneSeconds: 0,
    trainSeconds,
    evalSeconds: result.seconds,
    settings: '-',
    loadAvgBefore,
    loadAvgAfter: loadavg(),
  };
}

/** A markdown table (it reads in a terminal too): the README's columns. */
export function formatZooTable(report: ZooDatasetReport): string {
  const header = ['model', 'Recall@20', 'MRR@20', 'trials', 'train events/s', 'tuned settings'];
  const rows = report.rows.map((r) => [
    r.model,
    r.recall20.toFixed(4),
    r.mrr20.toFixed(4),
    r.kind === 'popularity' ? '-' : String(r.trials),
    r.trainEventsPerSec !== undefined ? Math.round(r.trainEventsPerSec).toLocaleString('en-US') : '-',
    r.settings,
  ]);
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [`${report.dataset}: ${report.protocol}; tuned on ${report.validation}`, line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function writeZooJson(o: ZooOptions, reports: readonly ZooDatasetReport[]): void {
  mkdirSync(dirname(o.out), { recursive: true });
  const settings = {
    budgetSeconds: o.budgetSeconds,
    search: 'bayes (TPE)',
    seed: o.seed,
    trialSeconds: o.budgetSeconds / 4,
    finalEpochs: o.finalEpochs ?? 'tuned nEpochs',
    finalSeconds: o.finalSeconds ?? null,
  };
  writeFileSync(o.out, `${JSON.stringify({ generatedAt: new Date().toISOString(), command: o.command, node: process.version, settings, datasets: reports }, null, 2)}\n`);
}

/** Runs the zoo on each dataset in turn; the JSON is rewritten after every row, so a cut-short run keeps what it measured. */
export async function runZoo(datasets: readonly ZooDataset[], o: ZooOptions): Promise<ZooDatasetReport[]> {
  if (o.cells.length > 0 && o.heads.length > 0) await initBackend(undefined, log);
  const reports: ZooDatasetReport[] = [];
  for (const ds of datasets) {
    const split = loadValidationSplit({ data: ds.dataDir });
    log(`${ds.key}: validation ${split.description}; ${split.train.items.length} events, ${split.validTargets} targets`);
    const report: ZooDatasetReport = { dataset: ds.title, protocol: ds.protocol, validation: split.description, nItems: ds.nItems, trainEvents: eventCount(ds.train), rows: [] };
    reports.push(report);
    const add = (row: ZooRow) => {
      report.rows.push(row);
      log(
        `${ds.key} ${row.model}: Recall@20 ${row.recall20.toFixed(4)} MRR@20 ${row.mrr20.toFixed(4)}, ${row.trials} trials, train ${row.trainSeconds.toFixed(1)} s, eval ${row.evalSeconds.toFixed(1)} s, load ${row.loadAvgAfter[0].toFixed(2)}`,
      );
      writeZooJson(o, reports);
    };
    if (o.baselines.includes('pop')) add(await popularityRow(ds));
    for (const knn of ['iknn', 'sknn'] as const) if (o.baselines.includes(knn)) add(await knnRow(ds, split, knn, o));
    for (const cell of o.cells) for (const head of o.heads) add(await sequenceRow(ds, split, cell, head, o));
    console.log(`\n${formatZooTable(report)}\n`);
  }
  return reports;
}
