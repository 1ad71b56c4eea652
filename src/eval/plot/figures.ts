import type { TopLevelSpec } from 'vega-lite';
import type { DatasetReport } from '../report.ts';
import { type PlotPanel, lineChartSpec } from './chart-spec.ts';

/**
 * The figures under results/, one definition each, so a benchmark writing its PNG and
 * `npm run plots` redrawing it from the JSON give the same picture.
 */

/** The Recall@k curves of evaluation reports (up to k = maxK), one panel per dataset. */
export function recallCurvePanels(reports: DatasetReport[], maxK = 20): PlotPanel[] {
  return reports.map((r) => ({ title: r.dataset, series: r.rows.map((row) => ({ name: row.result.model, values: row.result.recallCurve.slice(0, maxK) })) }));
}

/** results/quality*.png: offline Recall@k against k per model, one panel per dataset. */
export function offlineRecallSpec(reports: DatasetReport[]): TopLevelSpec {
  return lineChartSpec(recallCurvePanels(reports), { title: 'Offline Recall@k', xLabel: 'k (list length)', yLabel: 'Recall@k', legendTitle: 'model' });
}

/** What the online figure reads of one stream of bench/online.ts's report. */
export interface OnlineStreamRuns {
  dataset: string;
  runs: { name: string; buckets: { recall: number }[] }[];
}

/** results/online.png: prequential Recall@20 per equal share of the served stream, one line per run. */
export function onlineRecallSpec(streams: OnlineStreamRuns[], buckets: number): TopLevelSpec {
  return lineChartSpec(
    streams.map((s) => ({ title: s.dataset, series: s.runs.map((r) => ({ name: r.name, values: r.buckets.map((b) => b.recall) })) })),
    {
      title: 'Online Recall@20: frozen vs continuously trained',
      xLabel: `served stream, ${100 / buckets}% buckets (1 = earliest)`,
      yLabel: 'online Recall@20',
      legendTitle: 'run',
    },
  );
}
