/**
 * attachStats feeds ServingStats' HDR histograms from batchCommitted: one sample per batch for
 * each stage the batch measured (stageMs in STAGES order, NaN = not measured), one end-to-end
 * sample per recommendation (dead letters' NaN latencies left out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config/config.ts';
import { STAGES } from '../../src/metrics/instruments.ts';
import { attachStats } from '../../src/serving/instrumentation.ts';
import { type BatchCommitted, ServingEvents } from '../../src/serving/serving-events.ts';
import type { ClickInput, RecommendOutcome } from '../../src/serving/recommender.ts';

const click = (sessionId: string, itemId: string): ClickInput => ({ sessionId, itemId, partition: 0, timestamp: 0 });
const list = (...itemIds: string[]): RecommendOutcome => ({ ok: true, itemIds, scores: itemIds.map(() => 1) });

function batch(latencyMs: number[], outcomes: RecommendOutcome[], stageMs: number[]): BatchCommitted {
  return {
    consumed: outcomes.length,
    inputs: outcomes.map((_, i) => click(`s${i}`, `i${i}`)),
    outcomes,
    latencyMs: Float64Array.from(latencyMs),
    recommendations: outcomes.filter((o) => o.ok).length,
    deadLetters: new Map(),
    changelogRecords: 0,
    modelVersion: 'v1',
    stageMs: Float64Array.from(stageMs),
    waitMs: stageMs[0],
  };
}

test('per-stage histograms get one sample per batch and measured stage; end to end one per recommendation', () => {
  const events = new ServingEvents();
  const stats = attachStats(events, loadConfig(undefined, {}));
  const store = STAGES.indexOf('store');
  // 200 batches; stage s of batch b takes (s + 1) * (b + 1) / 10 ms; the store stage is measured on even batches only.
  for (let b = 0; b < 200; b++) {
    const stageMs = STAGES.map((_, s) => (s === store && b % 2 === 1 ? Number.NaN : ((s + 1) * (b + 1)) / 10));
    const unknown: RecommendOutcome = { ok: false, kind: 'UNKNOWN_ITEM', reason: 'not in the catalogue' };
    events.emit('batchCommitted', batch([b + 1, Number.NaN, 2 * (b + 1)], [list('x'), unknown, list('y')], stageMs));
  }
  assert.deepEqual(Object.keys(stats.stages), [...STAGES]);
  for (let s = 0; s < STAGES.length; s++) {
    const h = stats.stages[STAGES[s]];
    const expected = s === store ? 100 : 200;
    assert.equal(h.count, expected, `${STAGES[s]}: samples`);
    const values = Array.from({ length: 200 }, (_, b) => ((s + 1) * (b + 1)) / 10).filter((_, b) => s !== store || b % 2 === 0);
    assert.ok(Math.abs(h.sum - values.reduce((a, v) => a + v, 0)) < 1e-9, `${STAGES[s]}: sum`);
    assert.equal(h.max, values[values.length - 1], `${STAGES[s]}: max`);
    // The median batch: exact within the histogram's 0.1%.
    const median = values[Math.ceil(values.length / 2) - 1];
    assert.ok(Math.abs(h.quantile(0.5) - median) <= median / 1024 + 0.0005, `${STAGES[s]}: p50 ${h.quantile(0.5)} vs ${median}`);
  }
  // Two recommendations per batch (the dead letter has no latency), in both end-to-end histograms.
  assert.equal(stats.latency.count, 400);
  assert.equal(stats.recentLatency.count, 400);
  assert.equal(stats.latency.max, 400);
  assert.equal(stats.latency.sum, 3 * ((200 * 201) / 2));
  assert.equal(stats.batches, 200);
});
