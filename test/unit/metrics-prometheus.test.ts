import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderMetrics, serveMetrics } from '../../src/metrics/prometheus.ts';
import { LatencyHistogram, PrequentialMetrics } from '../../src/metrics/online-metrics.ts';
import type { ServingStats } from '../../src/metrics/serving-stats.ts';

function stats(): ServingStats {
  const latency = new LatencyHistogram();
  for (const ms of [0.5, 3, 3, 40, 1500]) latency.record(ms);
  const quality = new PrequentialMetrics(20);
  quality.emitted('s', ['a', 'b']);
  quality.observe('s', 'b');
  return {
    eventsIn: 10,
    recommendationsOut: 8,
    batches: 2,
    transactionsAborted: 0,
    changelogRecordsOut: 5,
    restoredRecords: 0,
    deadLetters: { MALFORMED: 1, UNKNOWN_SCHEMA: 0, INVALID_FIELD: 0, UNKNOWN_ITEM: 1, TOO_LARGE: 0, KEY_MISMATCH: 0 },
    latency,
    recentLatency: new LatencyHistogram(),
    quality,
  };
}

test('exposition: counters, dead letters by kind, quality gauges, cumulative latency histogram', () => {
  const text = renderMetrics({ stats: stats(), instanceId: '0', modelVersion: () => 'v7', sessionStoreBytes: () => 1234 });
  assert.match(text, /^streamrec_events_consumed_total\{instance="0"\} 10$/m);
  assert.match(text, /^streamrec_dead_letters_total\{instance="0",kind="UNKNOWN_ITEM"\} 1$/m);
  assert.match(text, /^streamrec_online_mrr_at_20\{instance="0"\} 0.5$/m);
  assert.match(text, /^streamrec_model_info\{instance="0",version="v7"\} 1$/m);
  assert.match(text, /^streamrec_session_store_bytes\{instance="0"\} 1234$/m);
  const buckets = [...text.matchAll(/^streamrec_end_to_end_latency_seconds_bucket\{instance="0",le="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])] as const);
  assert.equal(buckets.at(-1)![0], '+Inf');
  assert.equal(buckets.at(-1)![1], 5);
  for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i][1] >= buckets[i - 1][1], 'buckets are cumulative');
  assert.equal(buckets.find(([le]) => le === '0.005')![1], 3, '0.5, 3 and 3 ms are under 5 ms');
  for (const line of text.trim().split('\n')) assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+\{[^}]*\} [-+\d.e]+|\w+\{[^}]*\} NaN)$/);
});

test('GET /metrics serves the exposition; other paths 404', async () => {
  const server = await serveMetrics({ stats: stats(), instanceId: '1', modelVersion: () => 'v1' }, 0, '127.0.0.1');
  const port = (server.address() as { port: number }).port;
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /text\/plain/);
  assert.match(await res.text(), /streamrec_batches_total\{instance="1"\} 2/);
  assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404);
  server.close();
});
