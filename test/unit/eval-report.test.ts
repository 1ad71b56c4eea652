import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EvalResult } from '../../src/eval/evaluate.ts';
import { type DatasetReport, formatTable, toJsonReport, writeJsonReport } from '../../src/eval/report.ts';

function result(model: string, r20: number, extra: Partial<EvalResult> = {}): EvalResult {
  return {
    model,
    tieMode: 'conservative',
    cutoffs: [1, 5, 10, 20],
    recall: { 1: r20 / 4, 5: r20 / 2, 10: r20 * 0.8, 20: r20 },
    mrr: { 1: r20 / 4, 5: r20 / 6, 10: r20 / 7, 20: r20 / 8 },
    recallCurve: Array.from({ length: 20 }, (_, i) => (r20 * (i + 1)) / 20),
    listLength: 20,
    coverage: 0.5,
    popularityBias: 0.25,
    events: 1000,
    sessions: 100,
    seconds: 0.5,
    eventsPerSec: 2000,
    nanTargets: 0,
    ...extra,
  };
}

const REPORT: DatasetReport = {
  dataset: 'rsc15-100k',
  protocol: 'train_full -> test, next item',
  nItems: 2933,
  trainEvents: 70278,
  rows: [
    { result: result('popularity', 0.0894), fitSeconds: 0.01 },
    { result: result('GRU4Rec-XE', 0.61, { nanTargets: 3 }), trainSeconds: 42.5, trainEventsPerSec: 12345 },
  ],
};

test('formatTable prints one aligned row per model with the headline metrics', () => {
  const text = formatTable(REPORT);
  const lines = text.split('\n');
  assert.match(lines[0], /rsc15-100k .*2933 items, 70278 training events, 1000 test targets, ties: conservative/);
  assert.match(lines[1], /^model\s+Recall@20\s+MRR@20\s+Recall@1\s+Recall@5\s+Recall@10\s+Cov@20\s+PopBias\s+eval ev\/s\s+fit\/train s\s+train ev\/s$/);
  const pop = lines.find((l) => l.startsWith('popularity'))!;
  assert.match(pop, /popularity\s+0\.0894\s+0\.0112\s+0\.022[34]\s+0\.0447\s+0\.0715\s+0\.5000\s+0\.2500\s+2\.0k\s+0\.01\s+-$/);
  const gru = lines.find((l) => l.startsWith('GRU4Rec-XE'))!;
  assert.match(gru, /0\.6100\s+0\.0762.*42\.5\s+12k$/);
  assert.equal(lines[1].length, pop.length, 'columns are aligned');
  assert.match(text, /GRU4Rec-XE: 3 targets scored NaN/);
});

test('JSON report carries the machine and every dataset row', () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-report-'));
  try {
    const path = join(dir, 'sub', 'quality.json');
    writeJsonReport(path, toJsonReport([REPORT], { quick: true }));
    const back = JSON.parse(readFileSync(path, 'utf8'));
    assert.equal(back.quick, true);
    assert.ok(back.cpus >= 1 && typeof back.node === 'string');
    assert.equal(back.datasets[0].rows[1].result.recall['20'], 0.61);
    assert.equal(back.datasets[0].rows[1].trainEventsPerSec, 12345);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
