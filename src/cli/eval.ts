import { loadSessionTsv, loadUserSequences, type SessionData } from '../data/sessions.ts';
import { ItemIndex } from '../data/item-index.ts';
import type { SessionScorer } from '../eval/scorer.ts';
import { evaluate, itemCounts, type EvalResult } from '../eval/evaluate.ts';
import { evaluateLeaveOneOut, leaveOneOutSplit } from '../eval/leave-one-out.ts';
import { PopularityScorer } from '../eval/baselines/popularity.ts';
import { ItemKnnScorer } from '../eval/baselines/item-knn.ts';
import { SessionKnnScorer } from '../eval/baselines/session-knn.ts';
import { Item2VecKnnScorer } from '../eval/baselines/item2vec-knn.ts';
import { formatTable, toJsonReport, writeJsonReport, type ReportRow } from '../eval/report.ts';
import { writeRecallPlot } from '../eval/plot-png.ts';
import { loadModel } from '../registry/model-file.ts';
import { Gru4Rec } from '../model/gru4rec.ts';
import { Gru4RecScorer } from '../eval/gru4rec-scorer.ts';
import { initBackend } from '../model/backend.ts';
import { ConfigError } from '../errors/errors.ts';

export interface EvalCliOptions {
  /** Session protocol: --train and --test TSV files. Leave-one-out: --data sequences file. */
  train?: string;
  test?: string;
  data?: string;
  /** Trained model directories (streamrec train). */
  models: string[];
  baselines: string[];
  out?: string;
  png?: string;
}

const BASELINES: Record<string, () => SessionScorer & { fit(train: SessionData, nItems: number): unknown }> = {
  pop: () => new PopularityScorer(),
  iknn: () => new ItemKnnScorer(),
  sknn: () => new SessionKnnScorer(),
  i2v: () => new Item2VecKnnScorer(),
};

/**
 * `streamrec eval`: every model through the one evaluator. With trained models the item index is
 * the first model's (test items it does not know are dropped, as the protocol says); baselines
 * are fitted on the same training data and index.
 */
export async function runEval(o: EvalCliOptions): Promise<EvalResult[]> {
  for (const b of o.baselines) if (!BASELINES[b]) throw new ConfigError('--baselines', `unknown baseline "${b}"; known: ${Object.keys(BASELINES).join(', ')}`);
  const loaded = await Promise.all(o.models.map((dir) => loadModel(dir)));
  const index = loaded.length > 0 ? ItemIndex.fromIds(loaded[0].itemIds) : new ItemIndex();
  for (const [i, m] of loaded.entries())
    if (m.itemIds.length !== index.size || m.itemIds.some((id, j) => index.ids[j] !== id))
      throw new ConfigError('--model', `${o.models[i]} has a different item index than ${o.models[0]}`);
  let train: SessionData;
  let run: (s: SessionScorer) => Promise<EvalResult>;
  let protocol: string;
  const fixed = loaded.length > 0 ? 'drop' : 'add';
  if (o.data) {
    const { data } = loadUserSequences(o.data, { index, unknownItems: fixed });
    const split = leaveOneOutSplit(data);
    train = split.train;
    run = (s) => evaluateLeaveOneOut(s, data, { target: 'test', split, trainPopularity: itemCounts(train, index.size) });
    protocol = `leave-one-out on ${o.data}`;
  } else if (o.train && o.test) {
    train = loadSessionTsv(o.train, { index, unknownItems: fixed }).data;
    const test = loadSessionTsv(o.test, { index, unknownItems: 'drop', minSessionLength: 2 }).data;
    run = (s) => evaluate(s, test, { trainPopularity: itemCounts(train, index.size) });
    protocol = `${o.train} -> ${o.test}, rank all items after every event`;
  } else {
    throw new ConfigError('--train/--test', 'give --train and --test (session data) or --data (user sequences, leave-one-out)');
  }
  const rows: ReportRow[] = [];
  for (const b of o.baselines) {
    const scorer = BASELINES[b]();
    const t0 = performance.now();
    scorer.fit(train, index.size);
    const fitSeconds = (performance.now() - t0) / 1000;
    rows.push({ result: await run(scorer), fitSeconds });
  }
  if (loaded.length > 0) await initBackend(undefined, () => undefined);
  for (const [i, m] of loaded.entries()) {
    const model = Gru4Rec.fromWeights(m.weights);
    rows.push({ result: await run(new Gru4RecScorer(model, { name: m.version ?? o.models[i] })) });
    model.dispose();
  }
  const report = { dataset: o.data ?? o.test!, protocol, nItems: index.size, trainEvents: train.items.length, rows };
  process.stdout.write(formatTable(report) + '\n');
  if (o.out) writeJsonReport(o.out, toJsonReport([report]));
  if (o.png) await writeRecallPlot(o.png, [{ title: report.dataset, series: rows.map((r) => ({ name: r.result.model, values: r.result.recallCurve })) }]);
  return rows.map((r) => r.result);
}
