import type { Trial, TuneResult } from './tuner.ts';
import type { TuneTarget } from './tune-target.ts';

/**
 * Every trial as one Markdown table row (readable in a terminal, pastes into a README): its
 * hyperparameters, validation Recall@20 / MRR@20, fit and scoring seconds, and why it stopped
 * early if it did. The best trial is marked with *.
 */
export function formatTrialTable<C>(target: TuneTarget<C>, result: TuneResult<C>): string {
  const described = result.trials.map((t) => target.describe(t.config));
  const paramColumns: string[] = [];
  for (const d of described) for (const k of Object.keys(d)) if (!paramColumns.includes(k)) paramColumns.push(k);
  const hasEpochs = result.trials.some((t) => t.run?.epochs !== undefined);
  const header = ['#', ...paramColumns, 'Recall@20', 'MRR@20', 'fit s', 'score s', ...(hasEpochs ? ['epochs'] : []), 'note'];
  const rows = result.trials.map((t, i) => [
    `${t === result.best ? '*' : ''}${t.n}`,
    ...paramColumns.map((k) => described[i][k] ?? '-'),
    t.run ? t.run.recall.toFixed(4) : '-',
    t.run ? t.run.mrr.toFixed(4) : '-',
    t.run ? t.run.fitSeconds.toFixed(1) : t.seconds.toFixed(1),
    t.run ? t.run.scoreSeconds.toFixed(1) : '-',
    ...(hasEpochs ? [t.run?.epochs !== undefined ? t.run.epochs.toFixed(2) : '-'] : []),
    noteOf(t),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]) => `| ${cells.map((x, c) => x.padEnd(widths[c])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

function noteOf<C>(t: Trial<C>): string {
  const parts: string[] = [];
  if (t.origin === 'start') parts.push('start');
  if (t.error !== undefined) parts.push(`failed: ${t.error.split('\n')[0].slice(0, 80)}`);
  if (t.run?.stopped === 'time') parts.push('stopped by time');
  if (t.run?.stopped === 'diverged') parts.push('diverged (NaN loss)');
  return parts.join(', ');
}
