import type { TopLevelSpec } from 'vega-lite';
import { StreamrecError } from '../../errors/errors.ts';
import { CHART_FONT_FAMILY } from './fonts.ts';

/** One line (or one bar colour): a name for the legend and its values in x order. */
export interface PlotSeries {
  name: string;
  /** Line charts: values[i] is the value at x = i + 1. Bar charts: values[i] belongs to categories[i]. */
  values: number[];
}

/** One panel of a line chart; panels sit side by side, each with its own y scale. */
export interface PlotPanel {
  title: string;
  series: PlotSeries[];
}

/** One panel of a grouped bar chart: a group of bars per category, one bar per series. */
export interface BarPanel {
  title: string;
  categories: string[];
  series: PlotSeries[];
}

export interface ChartOptions {
  /** Over the whole figure; none by default. */
  title?: string;
  xLabel?: string;
  yLabel?: string;
  /** Legend heading; none by default. */
  legendTitle?: string;
  /** Size of each panel's plot area in CSS pixels (the PNG is scaled up from these). */
  panelWidth?: number;
  panelHeight?: number;
}

/**
 * Tableau 10 as Vega ships it, pinned here so a series keeps its colour whatever the other
 * series are called (Vega would otherwise assign colours in name order).
 */
export const PALETTE = ['#4c78a8', '#f58518', '#e45756', '#72b7b2', '#54a24b', '#eeca3b', '#b279a2', '#ff9da6', '#9d755d', '#bab0ac'];

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

/**
 * Line chart of one or more panels (e.g. Recall@k against k, one panel per dataset), as a
 * Vega-Lite spec. Non-finite values are left out, so a missing point breaks nothing.
 */
export function lineChartSpec(panels: PlotPanel[], opts: ChartOptions = {}): TopLevelSpec {
  const titles = panelTitles(panels);
  const rows = panels.flatMap((p) => p.series.flatMap((s) => s.values.map((y, i) => ({ panel: p.title, series: s.name, x: i + 1, y }))));
  const finite = rows.filter((r) => Number.isFinite(r.y));
  if (finite.length === 0) throw new StreamrecError('internal', 'line chart: no finite value to plot');
  const xMax = Math.max(2, ...finite.map((r) => r.x));
  return {
    $schema: SCHEMA,
    ...figureTitle(opts),
    data: { values: finite },
    facet: { column: panelFacet(titles) },
    resolve: { scale: { y: 'independent' } },
    spec: {
      width: opts.panelWidth ?? 420,
      height: opts.panelHeight ?? 300,
      mark: { type: 'line', strokeWidth: 2, point: { filled: true, size: 36 } },
      encoding: {
        x: {
          field: 'x',
          type: 'quantitative',
          title: opts.xLabel ?? null,
          scale: { domain: [1, xMax], nice: false },
          axis: { values: integerTicks(xMax), format: 'd' },
        },
        y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? null },
        color: seriesColour(
          panels.flatMap((p) => p.series),
          opts,
        ),
      },
    },
    config: CONFIG,
  };
}

/** Grouped bar chart: per panel, one group of bars per category, one coloured bar per series. */
export function groupedBarChartSpec(panels: BarPanel[], opts: ChartOptions = {}): TopLevelSpec {
  const titles = panelTitles(panels);
  const rows = panels.flatMap((p) =>
    p.series.flatMap((s) => {
      if (s.values.length !== p.categories.length)
        throw new StreamrecError('internal', `bar chart "${p.title}": series "${s.name}" has ${s.values.length} values for ${p.categories.length} categories`);
      return s.values.map((y, i) => ({ panel: p.title, series: s.name, category: p.categories[i], y }));
    }),
  );
  const finite = rows.filter((r) => Number.isFinite(r.y));
  if (finite.length === 0) throw new StreamrecError('internal', 'bar chart: no finite value to plot');
  const series = panels.flatMap((p) => p.series);
  return {
    $schema: SCHEMA,
    ...figureTitle(opts),
    data: { values: finite },
    facet: { column: panelFacet(titles) },
    // xOffset follows x: with x independent per panel, a shared xOffset would have no band to divide.
    resolve: { scale: { y: 'independent', x: 'independent', xOffset: 'independent' } },
    spec: {
      width: opts.panelWidth ?? 420,
      height: opts.panelHeight ?? 300,
      mark: { type: 'bar' },
      encoding: {
        x: { field: 'category', type: 'nominal', title: opts.xLabel ?? null, sort: [...new Set(panels.flatMap((p) => p.categories))], axis: { labelAngle: 0 } },
        xOffset: { field: 'series', type: 'nominal', sort: distinctNames(series) },
        y: { field: 'y', type: 'quantitative', title: opts.yLabel ?? null },
        color: seriesColour(series, opts),
      },
    },
    config: CONFIG,
  };
}

const CONFIG = {
  font: CHART_FONT_FAMILY,
  background: 'white',
  padding: 12,
  title: { fontSize: 15, offset: 10 },
  axis: { labelFontSize: 11, titleFontSize: 12 },
  // No truncation: names are short, and Vega's text-width estimate (no canvas here) runs long.
  legend: { labelFontSize: 12, titleFontSize: 12, labelLimit: 0 },
} as const;

function figureTitle(opts: ChartOptions): { title?: { text: string; anchor: 'start' } } {
  return opts.title ? { title: { text: opts.title, anchor: 'start' } } : {};
}

/** The facet that lays the panels out left to right, in the order given, titled by their headers. */
function panelFacet(titles: string[]) {
  return { field: 'panel', type: 'nominal', sort: titles, header: { title: null, labelFontSize: 13, labelFontWeight: 'bold' } } as const;
}

/** Colour by series name, in first-seen order, with the pinned palette (cycled past ten). */
function seriesColour(series: PlotSeries[], opts: ChartOptions) {
  const names = distinctNames(series);
  return {
    field: 'series',
    type: 'nominal',
    title: opts.legendTitle ?? null,
    sort: names,
    scale: { domain: names, range: names.map((_, i) => PALETTE[i % PALETTE.length]) },
  } as const;
}

function distinctNames(series: PlotSeries[]): string[] {
  return [...new Set(series.map((s) => s.name))];
}

function panelTitles(panels: { title: string }[]): string[] {
  if (panels.length === 0) throw new StreamrecError('internal', 'chart: no panel to plot');
  const titles = panels.map((p) => p.title);
  const dup = titles.find((t, i) => titles.indexOf(t) !== i);
  // Panels are facets keyed by title: two with one title would be drawn as one.
  if (dup !== undefined) throw new StreamrecError('internal', `chart: two panels are titled "${dup}"`);
  return titles;
}

/** x ticks of an integer axis 1..n: all of them when few, else 1 and the multiples of a round step (5, 10, 20, 50, ...). */
export function integerTicks(n: number): number[] {
  const all = Array.from({ length: n }, (_, i) => i + 1);
  if (n <= 12) return all;
  let step = 5;
  for (let p = 10; n / step > 12; p *= 10) step = [p, 2 * p, 5 * p].find((s) => n / s <= 12) ?? 5 * p;
  return all.filter((k) => k === 1 || k % step === 0);
}
