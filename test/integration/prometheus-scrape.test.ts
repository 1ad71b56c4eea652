/**
 * A real Prometheus (Debian's package, installed here if missing) scrapes a running serving
 * process on loopback, wired by the same serveEndpoints() that `streamrec serve` runs, while
 * clicks are replayed through the test broker. Once traffic has stopped, online Recall@20
 * (k=20, cumulative) and the end-to-end latency histogram (_count, _sum and every bucket) read
 * back through Prometheus's HTTP query API equal what the process computed itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'kafkajs';
import { serveEndpoints } from '../../src/cli/serve.ts';
import { makeCodecs } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { INSTRUMENTS } from '../../src/metrics/instruments.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { clickWave } from '../support/drills.ts';
import { testConfig, waitFor } from '../support/kafka.ts';
import { ensurePrometheus, freePort, prometheusVersion, query, startPrometheus, targets } from '../support/prometheus.ts';
import { TEST_ARCH, testItemIds } from '../support/serve-child.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const prometheus = ensurePrometheus((l) => process.stderr.write(`prometheus-scrape: ${l}\n`));
const VERSION = 'synthetic-v1';

test('Prometheus scrapes serving: online Recall@20 and the latency histogram read through /api/v1/query equal the process’s own', {
  skip: 'skip' in prometheus ? prometheus.skip : false,
  timeout: 240_000,
}, async () => {
  const bin = 'bin' in prometheus ? prometheus.bin : '';
  const port = await freePort();
  const cfg = await testConfig('prom-scrape', (c) => {
    c.metrics = { ...c.metrics, host: '127.0.0.1', port };
  });
  const recommender = await buildGru4RecRecommender(cfg, syntheticWeights(TEST_ARCH, 3), testItemIds, VERSION, () => undefined);
  const app = new ServingApp({ config: cfg, recommender, instanceId: 'prom-0', sessionTimeoutMs: 6000, log: () => undefined });
  // What the process computed for each recommendation it committed (ms), as it committed it.
  const latencies: number[] = [];
  app.events.on('batchCommitted', (b) => {
    for (let i = 0; i < b.inputs.length; i++) if (b.outcomes[i].ok) latencies.push(b.latencyMs[i]);
  });
  const endpoints = await serveEndpoints(app, recommender, cfg, 'prom-0');
  const server = await startPrometheus(bin, [`127.0.0.1:${port}`], { scrapeIntervalMs: 1000 });
  try {
    await app.start();
    // 40 sessions × 25 clicks, produced over a few seconds so that scrapes also see it mid-stream.
    const clicks = clickWave(40, 25);
    const codec = makeCodecs(cfg.wireFormat).click;
    const producer = createKafka(cfg, '-test-producer').producer();
    await producer.connect();
    const msgs: Message[] = clicks.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
    for (let i = 0; i < msgs.length; i += 100) {
      await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + 100), acks: -1 });
      await new Promise((r) => setTimeout(r, 300));
    }
    await producer.disconnect();
    await waitFor(() => app.stats.eventsIn >= msgs.length, 90_000, 'every click served');

    // Traffic has stopped: the process's own figures are final.
    const own = app.stats.online.version(VERSION)!;
    const recall20 = own.recall(20, 'cumulative');
    assert.ok(own.targets >= 900 && recall20 > 0, `Recall@20 ${recall20} over ${own.targets} targets`);
    assert.equal(latencies.length, msgs.length);
    assert.equal(app.stats.latency.count, latencies.length);

    // Wait for a scrape taken after the last commit.
    const targetsQuery = `${INSTRUMENTS.onlineTargets.prometheus}{model_version="${VERSION}"}`;
    await waitForAsync(async () => (await query(server.url, targetsQuery))[0]?.value === own.targets, 30_000, `a scrape with ${own.targets} targets`);
    const [up] = await targets(server.url);
    assert.equal(up.health, 'up', up.lastError);

    const recall = await query(server.url, `${INSTRUMENTS.onlineRecall.prometheus}{k="20",window="cumulative",model_version="${VERSION}"}`);
    assert.equal(recall.length, 1);
    assert.equal(recall[0].value, recall20, 'Recall@20 through Prometheus equals the process’s');
    assert.equal(recall[0].metric.job, 'streamrec');
    const mrr = await query(server.url, `${INSTRUMENTS.onlineMrr.prometheus}{k="20",window="cumulative",model_version="${VERSION}"}`);
    assert.equal(mrr[0].value, own.mrr(20));

    const h = INSTRUMENTS.latencyEndToEnd;
    const [count] = await query(server.url, `${h.prometheus}_count`);
    assert.equal(count.value, latencies.length, 'histogram _count = recommendations the process timed');
    const [sum] = await query(server.url, `${h.prometheus}_sum`);
    const ownSum = latencies.reduce((a, ms) => a + ms / 1000, 0);
    assert.ok(Math.abs(sum.value - ownSum) < 1e-9 * Math.max(1, ownSum), `_sum ${sum.value} vs ${ownSum}`);
    const buckets = await query(server.url, `${h.prometheus}_bucket`);
    assert.equal(buckets.length, h.buckets!.length + 1, 'one series per bound and +Inf');
    let between = 0;
    for (const b of buckets) {
      const le = b.metric.le === '+Inf' ? Infinity : Number(b.metric.le);
      const expected = latencies.filter((ms) => ms / 1000 <= le).length;
      assert.equal(b.value, expected, `bucket le=${b.metric.le}`);
      if (expected > 0 && expected < latencies.length) between++;
    }
    assert.ok(between > 0, 'some bucket splits the latencies (the bucket check is not all-or-nothing)');
    const [p99] = await query(server.url, `histogram_quantile(0.99, ${h.prometheus}_bucket)`);
    assert.ok(Number.isFinite(p99.value) && p99.value > 0, `p99 ${p99.value} s`);
    process.stderr.write(
      `prometheus-scrape: Prometheus ${prometheusVersion(bin)}: Recall@20 ${recall20.toFixed(4)} over ${own.targets} targets, ${latencies.length} latencies, p99 ${(p99.value * 1000).toFixed(0)} ms — equal through /api/v1/query\n`,
    );
  } catch (e) {
    process.stderr.write(`prometheus log:\n${server.log()}\n`);
    throw e;
  } finally {
    await app.stop();
    await endpoints.close();
    await server.stop();
  }
});

async function waitForAsync(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
