import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { cpus } from 'node:os';
import type { EvalResult } from './evaluate.ts';

/** One model's line: its evaluation plus what it cost to build. */
export interface ReportRow {
  result: EvalResult;
  /** Baselines: seconds spent in fit(). */
  fitSeconds?: number;
  /** Trained models: wall seconds of training and training throughput. */
  trainSeconds?: number;
  trainEventsPerSec?: number;
  /** Configuration and training history worth keeping with the numbers (JSON only). */
  details?: Record<string, unknown>;
}

export interface DatasetReport {
  dataset: string;
  /** How train and test were built, in words (e.g. "train_full -> test, next-item"). */
  protocol: string;
  nItems: number;
  trainEvents: number;
  rows: ReportRow[];
}

const FIXED_K = 20;

/** A fixed-width terminal table, models as rows. */
export function formatTable(report: DatasetReport): string {
  const cutoffs = [...new Set(report.rows.flatMap((r) => r.result.cutoffs))].filter((k) => k !== FIXED_K).sort((a, b) => a - b);
  const listLength = report.rows[0]?.result.listLength ?? FIXED_K;
  const header = ['model', `Recall@${FIXED_K}`, `MRR@${FIXED_K}`, ...cutoffs.map((k) => `Recall@${k}`), `Cov@${listLength}`, 'PopBias', 'eval ev/s', 'fit/train s', 'train ev/s'];
  const body = report.rows.map((row) => {
    const r = row.result;
    return [
      r.model,
      metric(r.recall[FIXED_K] ?? r.recallCurve[FIXED_K - 1]),
      metric(r.mrr[FIXED_K]),
      ...cutoffs.map((k) => metric(r.recall[k])),
      metric(r.coverage),
      metric(r.popularityBias ?? undefined),
      rate(r.eventsPerSec),
      row.fitSeconds !== undefined ? row.fitSeconds.toFixed(2) : row.trainSeconds !== undefined ? row.trainSeconds.toFixed(1) : '-',
      row.trainEventsPerSec !== undefined ? rate(row.trainEventsPerSec) : '-',
    ];
  });
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((b) => b[c].length)));
  const line = (cells: string[]): string => cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
  const first = report.rows[0]?.result;
  const title =
    `${report.dataset} — ${report.protocol}; ${report.nItems} items, ${report.trainEvents} training events` +
    (first ? `, ${first.events} test targets, ties: ${first.tieMode}` : '');
  const rule = '-'.repeat(widths.reduce((a, b) => a + b, 0) + 2 * (widths.length - 1));
  const notes = report.rows.filter((r) => r.result.nanTargets > 0).map((r) => `! ${r.result.model}: ${r.result.nanTargets} targets scored NaN (counted as misses)`);
  return [title, line(header), rule, ...body.map(line), ...notes].join('\n');
}

export interface JsonReport {
  generatedAt: string;
  node: string;
  cpus: number;
  cpuModel: string;
  datasets: DatasetReport[];
  [extra: string]: unknown;
}

export function toJsonReport(datasets: DatasetReport[], extra: Record<string, unknown> = {}): JsonReport {
  const cpu = cpus();
  return { generatedAt: new Date().toISOString(), node: process.version, cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', ...extra, datasets };
}

export function writeJsonReport(path: string, report: JsonReport): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(report, null, 2) + '\n');
}

function metric(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? '-' : v.toFixed(4);
}

function rate(v: number): string {
  if (!Number.isFinite(v) || v <= 0) return '-';
  return v >= 1e4 ? `${(v / 1000).toFixed(0)}k` : v >= 1000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(0);
}
