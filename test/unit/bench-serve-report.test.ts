import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markdownReport, modeLabel, spread, type ServeReport } from '../../bench/serve-report.ts';

const percentiles = (p50: number) => ({ count: 100, p50, p95: p50 * 2, p99: p50 * 3, p999: p50 * 4, max: p50 * 5 });

test('spread: median of odd and even counts, min and max, the values kept in run order', () => {
  assert.deepEqual(spread([3, 1, 2]), { median: 2, min: 1, max: 3, values: [3, 1, 2] });
  assert.equal(spread([4, 1, 3, 2]).median, 2.5);
  assert.equal(spread([7]).median, 7);
});

test('markdownReport: one row per limit, engine and serving mode with its ratios and visible latency percentiles; passthrough once', () => {
  const eos = { client: 'kafkajs' as const, delivery: 'exactly-once' as const, commitIntervalMs: 100 };
  const report: ServeReport = {
    bench: 'serve',
    date: '2026-12-02T01:00:00.000Z',
    minutes: 3.2,
    quick: false,
    cpu: { model: 'Test CPU', cores: 2 },
    loadAvgBefore: [0.5, 0.4, 0.3],
    loadAvgAfter: [1.5, 1, 0.5],
    node: 'v20.0.0',
    broker: 'Apache Kafka 4.1.1',
    clients: {},
    config: { hidden: 100, topK: 20, partitions: 3, batch: { maxSize: 256, maxWaitMs: 10 }, commitIntervalMs: 100, repeats: 3, baseEvents: 100_000, latencySeconds: 6 },
    skipped: ['confluent client skipped: not installed'],
    passthrough: [
      {
        id: 'kafkajs-eos-interval-100ms',
        system: 'bare kafkajs consume→produce',
        guarantee: 'exactly-once',
        cadence: 'one transaction per 100 ms',
        runs: [],
        medianEventsPerSec: 50_000,
        minEventsPerSec: 45_000,
        maxEventsPerSec: 52_000,
      },
    ],
    catalogues: [
      {
        nItems: 3000,
        events: 100_000,
        batch: 256,
        gemmBound: spread([200_000, 210_000, 190_000]),
        engineOnly: spread([150_000, 160_000, 140_000]),
        engineVsGemmBound: 0.75,
        serving: [
          {
            id: 'kafkajs-eos-commit100ms',
            mode: eos,
            events: 100_000,
            throughput: spread([30_000, 32_000, 28_000]),
            runs: [],
            meanBatch: 250,
            latency: { rate: 15_000, events: 90_000, meanBatch: 60, produced: percentiles(5), visible: percentiles(60) },
            passthroughRow: 'kafkajs-eos-interval-100ms',
            vsPassthrough: 0.6,
            vsKafkaStreams: null,
            vsGemmBound: 0.15,
          },
        ],
      },
    ],
  };
  const md = markdownReport(report);
  assert.match(md, /^2026-12-02; Test CPU, 2 cores; load average 0\.50 \/ 0\.40 \/ 0\.30 before/);
  assert.match(md, /\| 3,000 \| GEMM-bound limit \(batch 256\) \| 200,000 \| 190,000–210,000 \| \| \|/);
  assert.match(md, /\| 3,000 \| engine step alone \| 150,000 \| 140,000–160,000 \| engine\/GEMM 75% \| \|/);
  assert.match(
    md,
    /\| 3,000 \| serving, kafkajs exactly-once, commit every 100 ms \| 30,000 \| 28,000–32,000 \| ÷ passthrough 60%, end-to-end\/GEMM 15% \| 15,000\/s → 60\.0 \/ 120\.0 \/ 180\.0 \/ 240\.0 \|/,
  );
  assert.match(md, /\| bare kafkajs consume→produce \| exactly-once \| one transaction per 100 ms \| 50,000 \| 45,000–52,000 \|/);
  assert.match(md, /confluent client skipped: not installed/);
  assert.equal(modeLabel({ client: 'kafkajs', delivery: 'at-least-once', commitIntervalMs: 0 }), 'kafkajs at-least-once, commit every batch');
});
