/**
 * `npm run plots`: redraws every PNG under results/ from the JSON the benchmarks wrote, with the
 * same figure definitions the benchmarks use (src/eval/plot/figures.ts). Nothing is re-run.
 *
 * results/quality.png shows what README's offline-quality table reports, which is not one file:
 * the first full run (quality.json) with the rows that later re-runs replaced, after the BPR-max
 * preset fix: every rsc15-100k model (quality-rsc15.json) and amazon-video's BPR-max
 * (quality-amazon-bprmax.json). A re-run's row replaces the row of the same dataset and model.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { DataFileError } from '../src/errors/errors.ts';
import { type OnlineStreamRuns, offlineRecallSpec, onlineRecallSpec, writeChartPng } from '../src/eval/plot-png.ts';
import type { DatasetReport, JsonReport } from '../src/eval/report.ts';

const RESULTS = new URL('../results/', import.meta.url).pathname;

interface Figure {
  png: string;
  /** The JSON files it is drawn from, relative to results/. */
  sources: string[];
  /** Reads the sources: the chart, and one line per series for the log (to check against README's tables). */
  draw(): { spec: TopLevelSpec; summary: string[] };
}

const FIGURES: Figure[] = [
  qualityFigure('quality.png', ['quality.json', 'quality-rsc15.json', 'quality-amazon-bprmax.json']),
  qualityFigure('quality-rsc15.png', ['quality-rsc15.json']),
  onlineFigure('online.png', 'online.json'),
];

function qualityFigure(png: string, sources: string[]): Figure {
  return {
    png,
    sources,
    draw: () => {
      const reports = supersede(sources.map((s) => readQualityReport(s).datasets));
      const summary = reports.flatMap((d) => d.rows.map((r) => `${d.dataset}  ${r.result.model}: Recall@20 ${fixed(r.result.recallCurve[19])}`));
      return { spec: offlineRecallSpec(reports), summary };
    },
  };
}

function onlineFigure(png: string, source: string): Figure {
  return {
    png,
    sources: [source],
    draw: () => {
      const { datasets, buckets } = readOnlineReport(source);
      const summary = datasets.flatMap((d) => d.runs.map((r) => `${d.dataset}  ${r.name}: Recall@20 per bucket ${r.buckets.map((b) => fixed(b.recall, 3)).join(' ')}`));
      return { spec: onlineRecallSpec(datasets, buckets), summary };
    },
  };
}

/**
 * Later reports' rows replace earlier rows of the same dataset and model (a row new to its
 * dataset is appended; a new dataset is added at the end), keeping the first report's order.
 */
function supersede(runs: DatasetReport[][]): DatasetReport[] {
  const merged: DatasetReport[] = [];
  for (const datasets of runs) {
    for (const d of datasets) {
      const target = merged.find((m) => m.dataset === d.dataset);
      if (!target) {
        merged.push({ ...d, rows: [...d.rows] });
        continue;
      }
      for (const row of d.rows) {
        const i = target.rows.findIndex((r) => r.result.model === row.result.model);
        if (i >= 0) target.rows[i] = row;
        else target.rows.push(row);
      }
    }
  }
  return merged;
}

function readJson(name: string): unknown {
  const file = join(RESULTS, name);
  if (!existsSync(file)) throw new DataFileError(file, 'missing (run the benchmark that writes it first)', { missing: true });
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new DataFileError(file, `not JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A bench:quality report, checked for what the figure reads. */
function readQualityReport(name: string): JsonReport {
  const json = readJson(name) as JsonReport;
  const file = join(RESULTS, name);
  if (!Array.isArray(json?.datasets)) throw new DataFileError(file, 'no "datasets" array');
  for (const d of json.datasets) {
    if (typeof d?.dataset !== 'string' || !Array.isArray(d.rows)) throw new DataFileError(file, 'a dataset without "dataset" name or "rows"');
    for (const r of d.rows)
      if (typeof r?.result?.model !== 'string' || !Array.isArray(r.result.recallCurve))
        throw new DataFileError(file, `${d.dataset}: a row without "result.model" or "result.recallCurve"`);
  }
  return json;
}

/** A bench:online report, checked for what the figure reads. */
function readOnlineReport(name: string): { datasets: OnlineStreamRuns[]; buckets: number } {
  const json = readJson(name) as { datasets?: OnlineStreamRuns[]; buckets?: number };
  const file = join(RESULTS, name);
  if (!Array.isArray(json?.datasets)) throw new DataFileError(file, 'no "datasets" array');
  if (typeof json.buckets !== 'number' || !(json.buckets > 0)) throw new DataFileError(file, 'no positive "buckets" count');
  for (const d of json.datasets)
    if (typeof d?.dataset !== 'string' || !Array.isArray(d.runs) || d.runs.some((r) => typeof r?.name !== 'string' || !Array.isArray(r.buckets)))
      throw new DataFileError(file, 'a dataset without "dataset", or a run without "name" and "buckets"');
  return { datasets: json.datasets, buckets: json.buckets };
}

function fixed(v: number | null | undefined, digits = 4): string {
  return typeof v === 'number' && Number.isFinite(v) ? v.toFixed(digits) : '-';
}

async function main(): Promise<void> {
  // A PNG in results/ that no figure here draws would silently go stale: refuse instead.
  const known = new Set(FIGURES.map((f) => f.png));
  const orphans = readdirSync(RESULTS).filter((f) => f.endsWith('.png') && !known.has(f));
  if (orphans.length > 0) throw new DataFileError(join(RESULTS, orphans[0]), 'no figure in scripts/plots.ts draws this PNG; add one or remove the file');
  for (const f of FIGURES) {
    const started = performance.now();
    const { spec, summary } = f.draw();
    await writeChartPng(join(RESULTS, f.png), spec);
    console.log(`results/${f.png} ← ${f.sources.map((s) => `results/${s}`).join(' + ')} (${Math.round(performance.now() - started)} ms)`);
    for (const line of summary) console.log(`  ${line}`);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
