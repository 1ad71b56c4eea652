import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Canvas, type Rgb } from './plot/canvas.ts';
import { GLYPH_ASCENT, textWidth } from './plot/font.ts';
import { encodePng } from './plot/png.ts';

export interface PlotSeries {
  name: string;
  /** values[k-1] = Recall@k. */
  values: number[];
}

export interface PlotPanel {
  title: string;
  series: PlotSeries[];
}

export interface PlotOptions {
  panelWidth?: number;
  panelHeight?: number;
  xLabel?: string;
  yLabel?: string;
}

/** Colour-blind-friendly-ish categorical palette (Tableau 10). */
export const PALETTE: Rgb[] = [
  [31, 119, 180],
  [255, 127, 14],
  [44, 160, 44],
  [214, 39, 40],
  [148, 103, 189],
  [140, 86, 75],
  [227, 119, 194],
  [127, 127, 127],
  [188, 189, 34],
  [23, 190, 207],
];

const INK: Rgb = [33, 33, 33];
const GRID: Rgb = [225, 225, 225];
const SCALE = 2;
const LINE_HEIGHT = 11 * SCALE;

/** Layout of one panel, exported so tests can look at the right pixels. */
export interface PanelLayout {
  left: number;
  top: number;
  plotX: number;
  plotY: number;
  plotW: number;
  plotH: number;
  legendX: number;
  legendY: number;
  yMax: number;
}

export function panelLayout(panel: PlotPanel, index: number, width: number, height: number): PanelLayout {
  const legendW = Math.max(...panel.series.map((s) => textWidth(s.name, SCALE)), 0) + 40;
  const left = index * width;
  const plotX = left + 78;
  const plotY = 44;
  const plotW = width - 78 - legendW - 24;
  const plotH = height - plotY - 64;
  if (plotW < 80 || plotH < 80) throw new RangeError(`panel ${width}x${height} is too small for its legend`);
  const max = Math.max(0, ...panel.series.flatMap((s) => s.values.filter(Number.isFinite)));
  return { left, top: 0, plotX, plotY, plotW, plotH, legendX: plotX + plotW + 20, legendY: plotY, yMax: niceCeil(max) };
}

/**
 * Line plot of Recall@k against k (one line per model), one panel per dataset side by side,
 * returned as PNG bytes.
 */
export function plotRecallCurves(panels: PlotPanel[], opts: PlotOptions = {}): Buffer {
  if (panels.length === 0) throw new RangeError('nothing to plot');
  const width = opts.panelWidth ?? 760;
  const height = opts.panelHeight ?? 460;
  const canvas = new Canvas(width * panels.length, height);
  panels.forEach((panel, i) => drawPanel(canvas, panel, panelLayout(panel, i, width, height), opts));
  return encodePng(canvas.width, canvas.height, canvas.rgb);
}

export function writeRecallPlot(path: string, panels: PlotPanel[], opts: PlotOptions = {}): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, plotRecallCurves(panels, opts));
}

function drawPanel(c: Canvas, panel: PlotPanel, l: PanelLayout, opts: PlotOptions): void {
  const nK = Math.max(2, ...panel.series.map((s) => s.values.length));
  const xOf = (k: number): number => l.plotX + ((k - 1) / (nK - 1)) * (l.plotW - 1);
  const yOf = (v: number): number => l.plotY + l.plotH - 1 - (v / l.yMax) * (l.plotH - 1);

  c.text(l.plotX + (l.plotW - textWidth(panel.title, SCALE)) / 2, 12, panel.title, INK, SCALE);

  // Y grid and tick labels.
  const step = tickStep(l.yMax);
  for (let v = 0; v <= l.yMax + step / 2; v += step) {
    const y = Math.round(yOf(v));
    c.line(l.plotX, y, l.plotX + l.plotW - 1, y, GRID);
    c.line(l.plotX - 5, y, l.plotX, y, INK);
    const label = String(Number(v.toFixed(6)));
    c.text(l.plotX - 8 - textWidth(label, SCALE), y - (GLYPH_ASCENT * SCALE) / 2, label, INK, SCALE);
  }
  // X ticks at every k, labels at 1 and multiples of 5.
  for (let k = 1; k <= nK; k++) {
    const x = Math.round(xOf(k));
    const labelled = k === 1 || k % 5 === 0;
    c.line(x, l.plotY + l.plotH, x, l.plotY + l.plotH + (labelled ? 6 : 3), INK);
    if (labelled) c.text(x - textWidth(String(k), SCALE) / 2, l.plotY + l.plotH + 10, String(k), INK, SCALE);
  }
  c.strokeRect(l.plotX, l.plotY, l.plotW, l.plotH, INK);

  const xLabel = opts.xLabel ?? 'k (list length)';
  c.text(l.plotX + (l.plotW - textWidth(xLabel, SCALE)) / 2, l.plotY + l.plotH + 34, xLabel, INK, SCALE);
  const yLabel = opts.yLabel ?? 'Recall@k';
  c.text(l.plotX - 70, l.plotY - 22, yLabel, INK, SCALE);

  panel.series.forEach((s, i) => {
    const colour = PALETTE[i % PALETTE.length];
    for (let k = 1; k < s.values.length; k++) {
      const a = s.values[k - 1];
      const b = s.values[k];
      if (Number.isFinite(a) && Number.isFinite(b)) c.line(xOf(k), yOf(a), xOf(k + 1), yOf(b), colour, 2);
    }
    for (let k = 1; k <= s.values.length; k++) {
      if (Number.isFinite(s.values[k - 1])) c.fillRect(xOf(k) - 2, yOf(s.values[k - 1]) - 2, 5, 5, colour);
    }
    const ly = l.legendY + i * LINE_HEIGHT;
    c.fillRect(l.legendX, ly + 4, 22, 6, colour);
    c.text(l.legendX + 30, ly, s.name, INK, SCALE);
  });
}

/** The smallest of 1, 2, 2.5, 5 × 10^n that is >= v (0.1 for an empty plot). */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 0.1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v - 1e-12) return m * p;
  return 10 * p;
}

function tickStep(yMax: number): number {
  const raw = yMax / 5;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw - 1e-12) return m * p;
  return 10 * p;
}
