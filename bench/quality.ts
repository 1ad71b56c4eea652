/**
 * Offline quality benchmark: every model through the one evaluator, on both shared datasets.
 *   rsc15-100k   — train_full -> test, next-item after every event (the GRU4Rec protocol)
 *   amazon-video — leave-one-out per user (train: all but the last two items; target: the last)
 * Prints one table per dataset, writes the JSON result and a Recall@k plot.
 *
 *   node --import tsx bench/quality.ts [--quick] [--out results/quality.json] [--png results/quality.png]
 *        [--datasets rsc15,amazon] [--models pop,iknn,sknn,gru-xe,gru-bprmax] [--batch 512] [--epochs N]
 *
 * --quick evaluates amazon-video on its first 5000 users only (training data unchanged) and trains
 * GRU4Rec for fewer epochs; numbers from --quick are for smoke tests, not for claims.
 *
 * --zoo: every cell × head and the kNN baselines, each tuned by `streamrec tune`'s search within the
 * same budget on the training data's validation split, refitted and scored here (bench/quality-zoo.ts):
 *   node --import tsx bench/quality.ts --zoo [--budget 60s] [--cells gru,lstm,mlstm]
 *        [--heads dot,mixture-of-tastes,mixture-of-cosines,regression] [--baselines pop,iknn,sknn]
 *        [--final-epochs N] [--final-seconds S] [--seed 1] [--out results/quality-zoo.json]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { type SessionData, eventCount, loadSessionTsv, loadUserSequences, sharedDataDir, truncateSessions } from '../src/data/sessions.ts';
import type { SessionScorer } from '../src/eval/scorer.ts';
import { type EvalResult, type EvaluateOptions, evaluate, itemCounts } from '../src/eval/evaluate.ts';
import { evaluateLeaveOneOut, leaveOneOutSplit } from '../src/eval/leave-one-out.ts';
import { PopularityScorer } from '../src/eval/baselines/popularity.ts';
import { ItemKnnScorer } from '../src/eval/baselines/item-knn.ts';
import { SessionKnnScorer } from '../src/eval/baselines/session-knn.ts';
import { type DatasetReport, type ReportRow, formatTable, toJsonReport, writeJsonReport } from '../src/eval/report.ts';
import { offlineRecallSpec, writeChartPng } from '../src/eval/plot-png.ts';
import { GRU_MODELS, type TrainedModel } from './quality-gru.ts';
import { parseDuration } from '../src/cli/tune.ts';
import { ZOO_CELLS, ZOO_HEADS, type ZooDataset, parseList, runZoo, supportedHeads } from './quality-zoo.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    png: { type: 'string', default: 'results/quality.png' },
    datasets: { type: 'string', default: 'rsc15,amazon' },
    models: { type: 'string', default: 'pop,iknn,sknn,gru-xe,gru-bprmax' },
    batch: { type: 'string', default: '512' },
    epochs: { type: 'string' },
    zoo: { type: 'boolean', default: false },
    budget: { type: 'string', default: '60s' },
    cells: { type: 'string', default: ZOO_CELLS.join(',') },
    heads: { type: 'string' },
    baselines: { type: 'string', default: 'pop,iknn,sknn' },
    'final-epochs': { type: 'string' },
    'final-seconds': { type: 'string' },
    seed: { type: 'string', default: '1' },
  },
});
const out = args.out ?? (args.zoo ? 'results/quality-zoo.json' : 'results/quality.json');
const quick = args.quick!;
const QUICK_AMAZON_USERS = 5000;
const batchSize = Number(args.batch);

/** One evaluation setting: the training data and how a scorer is evaluated on it. */
interface Dataset {
  key: string;
  dir: string;
  title: string;
  protocol: string;
  nItems: number;
  train: SessionData;
  run(scorer: SessionScorer, opts: EvaluateOptions): Promise<EvalResult>;
}

function loadRsc15(dir: string): Dataset {
  const { data: train, index } = loadSessionTsv(join(dir, 'train_full.tsv'));
  const { data: test } = loadSessionTsv(join(dir, 'test.tsv'), { index, unknownItems: 'drop', minSessionLength: 2 });
  return {
    key: 'rsc15-100k',
    dir,
    title: 'rsc15-100k',
    protocol: 'train_full -> test, rank all items after every event',
    nItems: index.size,
    train,
    run: (scorer, opts) => evaluate(scorer, test, opts),
  };
}

function loadAmazon(dir: string): Dataset {
  const { data, index } = loadUserSequences(join(dir, 'sequences.txt'));
  const split = leaveOneOutSplit(data);
  if (quick) split.test = truncateSessions(split.test, (s, len) => (s < QUICK_AMAZON_USERS ? len : 0));
  return {
    key: 'amazon-video',
    dir,
    title: quick ? `amazon-video (LOO, first ${QUICK_AMAZON_USERS} users)` : 'amazon-video (leave-one-out)',
    protocol: `leave-one-out: last item of each user, rank all items${quick ? `, first ${QUICK_AMAZON_USERS} users (--quick)` : ''}`,
    nItems: index.size,
    train: split.train,
    run: (scorer, opts) => evaluateLeaveOneOut(scorer, data, { ...opts, target: 'test', split }),
  };
}

interface Baseline {
  key: string;
  make(): SessionScorer & { fit(train: SessionData, nItems: number): unknown };
}

const BASELINES: Baseline[] = [
  { key: 'pop', make: () => new PopularityScorer() },
  { key: 'iknn', make: () => new ItemKnnScorer() },
  { key: 'sknn', make: () => new SessionKnnScorer() },
];

async function evaluateWithProgress(ds: Dataset, scorer: SessionScorer, trainPopularity: Float64Array): Promise<EvalResult> {
  const bar = new SingleBar(
    {
      format: `  ${scorer.name.padEnd(18)} {bar} {percentage}% | {value}/{total} targets | eta {eta}s`,
      hideCursor: true,
      clearOnComplete: true,
      stream: process.stderr,
      noTTYOutput: true,
      notTTYSchedule: 15_000,
    },
    Presets.shades_classic,
  );
  let started = false;
  try {
    return await ds.run(scorer, {
      batchSize,
      trainPopularity,
      onProgress: (done, total) => {
        if (!started) {
          bar.start(total, 0);
          started = true;
        }
        bar.update(done);
      },
    });
  } finally {
    if (started) bar.stop();
  }
}

async function benchDataset(ds: Dataset, models: Set<string>): Promise<DatasetReport> {
  const trainPopularity = itemCounts(ds.train, ds.nItems);
  const rows: ReportRow[] = [];
  for (const b of BASELINES) {
    if (!models.has(b.key)) continue;
    const scorer = b.make();
    const t0 = performance.now();
    scorer.fit(ds.train, ds.nItems);
    const fitSeconds = (performance.now() - t0) / 1000;
    const result = await evaluateWithProgress(ds, scorer, trainPopularity);
    rows.push({ result, fitSeconds });
    console.error(`  ${ds.key} ${result.model}: Recall@20 ${result.recall[20].toFixed(4)}, fit ${fitSeconds.toFixed(2)} s, eval ${result.seconds.toFixed(1)} s`);
  }
  for (const g of GRU_MODELS) {
    if (!models.has(g.key)) continue;
    const trained: TrainedModel = await g.train(ds.key, ds.train, ds.nItems, { quick, epochs: args.epochs !== undefined ? Number(args.epochs) : undefined });
    const result = await evaluateWithProgress(ds, trained.scorer, trainPopularity);
    rows.push({ result, trainSeconds: trained.trainSeconds, trainEventsPerSec: trained.trainEventsPerSec, details: trained.details });
    console.error(
      `  ${ds.key} ${result.model}: Recall@20 ${result.recall[20].toFixed(4)}, train ${trained.trainSeconds.toFixed(1)} s (${trained.trainEventsPerSec.toFixed(0)} ev/s), eval ${result.seconds.toFixed(1)} s`,
    );
  }
  return { dataset: ds.title, protocol: ds.protocol, nItems: ds.nItems, trainEvents: eventCount(ds.train), rows };
}

async function main(): Promise<void> {
  const root = sharedDataDir();
  const models = new Set(args.models!.split(',').map((m) => m.trim()));
  const known = new Set([...BASELINES.map((b) => b.key), ...GRU_MODELS.map((g) => g.key)]);
  for (const m of models) if (!known.has(m)) throw new Error(`unknown model "${m}"; known: ${[...known].join(', ')}`);
  const loaders: Record<string, () => Dataset> = {
    rsc15: () => loadRsc15(join(root, 'rsc15-100k')),
    amazon: () => loadAmazon(join(root, 'amazon-video')),
  };
  const datasets: Dataset[] = [];
  for (const key of args.datasets!.split(',').map((d) => d.trim())) {
    const load = loaders[key];
    if (!load) throw new Error(`unknown dataset "${key}"; known: ${Object.keys(loaders).join(', ')}`);
    const dirName = key === 'rsc15' ? 'rsc15-100k' : 'amazon-video';
    if (!existsSync(join(root, dirName))) {
      console.error(`skipping ${key}: ${join(root, dirName)} not found (set SHARED_DATA_DIR)`);
      continue;
    }
    console.error(`${key}: loading`);
    datasets.push(load());
  }
  if (datasets.length === 0) throw new Error(`no dataset found under ${root}`);
  if (args.zoo) return zoo(datasets);
  const reports: DatasetReport[] = [];
  for (const ds of datasets) {
    const report = await benchDataset(ds, models);
    reports.push(report);
    console.log('\n' + formatTable(report) + '\n');
  }
  writeJsonReport(out, toJsonReport(reports, { quick, batchSize, command: process.argv.slice(2).join(' ') }));
  await writeChartPng(args.png!, offlineRecallSpec(reports));
  console.error(`wrote ${out} and ${args.png}`);
}

async function zoo(datasets: Dataset[]): Promise<void> {
  // Without --heads: every head the config accepts in this tree (the regression head is new).
  const heads = args.heads !== undefined ? parseList('--heads', args.heads, ZOO_HEADS) : supportedHeads();
  const zooDatasets: ZooDataset[] = datasets.map((ds) => {
    const trainPopularity = itemCounts(ds.train, ds.nItems);
    return { ...ds, dataDir: ds.dir, evaluate: (scorer: SessionScorer) => evaluateWithProgress(ds, scorer, trainPopularity) };
  });
  await runZoo(zooDatasets, {
    budgetSeconds: parseDuration('--budget', args.budget!),
    cells: parseList('--cells', args.cells!, ZOO_CELLS),
    heads,
    baselines: parseList('--baselines', args.baselines!, ['pop', 'iknn', 'sknn']),
    ...(args['final-epochs'] !== undefined ? { finalEpochs: Number(args['final-epochs']) } : {}),
    ...(args['final-seconds'] !== undefined ? { finalSeconds: parseDuration('--final-seconds', args['final-seconds']) } : {}),
    seed: Number(args.seed),
    out,
    command: process.argv.slice(2).join(' '),
  });
  console.error(`wrote ${out}`);
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exitCode = 1;
});
