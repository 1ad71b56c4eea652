/**
 * bench:serve's timed runs on the real broker, at a toy size: a backlog served to its last commit
 * in each delivery mode, a steady rate measured through serving's and a read_committed reader's
 * histograms, and the engine alternated with the GEMM bound.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Catalogue, engineVsBound, servingLatency, servingThroughput } from '../../bench/serve-runs.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import { brokers } from '../support/kafka.ts';

const nItems = 500;
const cat: Catalogue = {
  nItems,
  weights: syntheticWeights({ nItems, embeddingDim: 16, hiddenSizes: [16], constrainedEmbedding: true, useBias: true }, 3),
  itemIds: Array.from({ length: nItems }, (_, i) => `i${i}`),
};

test('servingThroughput serves the whole backlog to its last commit, exactly-once per batch and per interval, and at-least-once', { timeout: 240_000 }, async () => {
  const b = await brokers();
  for (const [delivery, commitIntervalMs] of [
    ['exactly-once', 0],
    ['exactly-once', 100],
    ['at-least-once', 0],
  ] as const) {
    const run = await servingThroughput(b, cat, { client: 'kafkajs', delivery, commitIntervalMs }, 3_000, `it-${delivery}-${commitIntervalMs}`, () => 0);
    assert.equal(run.events, 3_000);
    assert.ok(run.seconds > 0 && Number.isFinite(run.eventsPerSec) && run.eventsPerSec > 0, `${delivery}/${commitIntervalMs}: ${JSON.stringify(run)}`);
    assert.ok(run.meanBatch >= 1 && run.meanBatch <= 256, `mean batch ${run.meanBatch} within the topology's maxSize`);
  }
});

test('servingLatency samples every click of the steady phase in both histograms; visible (after the commit) is no earlier than produced', { timeout: 180_000 }, async () => {
  const l = await servingLatency(await brokers(), cat, { client: 'kafkajs', delivery: 'exactly-once', commitIntervalMs: 100 }, 300, 2, 'it-latency');
  assert.equal(l.events, 600);
  assert.equal(l.produced.count, 600);
  assert.ok(l.visible.count >= 600, `visible samples ${l.visible.count}`);
  assert.ok(l.produced.p50 <= l.produced.p99 && l.produced.p99 <= l.produced.p999);
  assert.ok(l.visible.p50 >= l.produced.p50, `visible p50 ${l.visible.p50} vs produced ${l.produced.p50}`);
});

test('engineVsBound alternates the engine and the GEMM bound, one figure each per repeat', { timeout: 60_000 }, async () => {
  const r = await engineVsBound(cat, 10, 32, 1, 2, 50);
  assert.equal(r.boundEventsPerSec.length, 2);
  assert.equal(r.engineEventsPerSec.length, 2);
  for (const x of [...r.boundEventsPerSec, ...r.engineEventsPerSec]) assert.ok(Number.isFinite(x) && x > 0);
});
