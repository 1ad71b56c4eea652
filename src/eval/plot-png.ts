import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { TopLevelSpec } from 'vega-lite';
import { type ChartOptions, type PlotPanel, lineChartSpec } from './plot/chart-spec.ts';
import { type PngOptions, renderSvg, svgToPng } from './plot/render.ts';

export { type BarPanel, type ChartOptions, PALETTE, type PlotPanel, type PlotSeries, groupedBarChartSpec, lineChartSpec } from './plot/chart-spec.ts';
export { type PngOptions, renderSvg } from './plot/render.ts';
export { type OnlineStreamRuns, offlineRecallSpec, onlineRecallSpec, recallCurvePanels } from './plot/figures.ts';

/** A chart drawn both ways: the SVG (for checks and the web) and the PNG made from it. */
export interface RenderedChart {
  svg: string;
  png: Buffer;
}

/** Renders a Vega-Lite spec (from `lineChartSpec` / `groupedBarChartSpec`) to SVG and PNG. */
export async function renderChart(spec: TopLevelSpec, opts: PngOptions = {}): Promise<RenderedChart> {
  const svg = await renderSvg(spec);
  return { svg, png: await svgToPng(svg, opts) };
}

/** Renders a spec and writes the PNG, creating the folder. */
export async function writeChartPng(path: string, spec: TopLevelSpec, opts: PngOptions = {}): Promise<void> {
  const { png } = await renderChart(spec, opts);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, png);
}

/**
 * Line plot of Recall@k against k (one line per model), one panel per dataset side by side.
 * The axis titles default to Recall@k's; a caller plotting something else over an integer x
 * (e.g. online Recall@20 per stream bucket) passes its own.
 */
export async function writeRecallPlot(path: string, panels: PlotPanel[], opts: ChartOptions = {}): Promise<void> {
  await writeChartPng(path, lineChartSpec(panels, { xLabel: 'k (list length)', yLabel: 'Recall@k', ...opts }));
}
