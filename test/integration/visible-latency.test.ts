/**
 * The downstream latency probe on the real broker: a read_committed reader samples a record only
 * once its transaction committed (so the sample includes the time the transaction stayed open),
 * never samples an aborted one, and counts records without a source time apart.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createKafka } from '../../src/kafka/client.ts';
import { VisibleLatencyProbe } from '../../src/kafka/visible-latency.ts';
import { LatencyHistogram } from '../../src/metrics/latency-histogram.ts';
import { testConfig, waitFor } from '../support/kafka.ts';

const OPEN_MS = 600;

test('visible latency: committed records sampled after their commit, aborted ones never', { timeout: 120_000 }, async () => {
  const cfg = await testConfig('visible-latency');
  const topic = cfg.topics.recommendations.name;
  const kafka = createKafka(cfg, '-test-visible');
  const latency = new LatencyHistogram();
  const probe = new VisibleLatencyProbe({
    kafka,
    topic,
    sink: latency,
    sourceAppendedAt: (m) => {
      const v = JSON.parse(m.value!.toString()) as { appendedAt?: number };
      return v.appendedAt ?? Number.NaN;
    },
  });
  const producer = kafka.producer({ transactionalId: `${topic}-tx`, idempotent: true, maxInFlightRequests: 1 });
  await probe.start();
  await producer.connect();
  try {
    const value = (appendedAt: number | undefined, i: number) => ({ key: `s${i}`, value: JSON.stringify({ appendedAt, i }) });
    // Committed after staying open OPEN_MS: visible no earlier than that after its source time.
    const sentAt = Date.now();
    const tx = await producer.transaction();
    await tx.send({ topic, messages: Array.from({ length: 30 }, (_, i) => value(sentAt, i)) });
    await new Promise((r) => setTimeout(r, OPEN_MS));
    await tx.commit();
    const committedAt = Date.now();
    // Aborted: a read_committed reader never sees these.
    const aborted = await producer.transaction();
    await aborted.send({ topic, messages: Array.from({ length: 20 }, (_, i) => value(sentAt - 60_000, i)) });
    await aborted.abort();
    // Committed, without a source time: skipped, not sampled; it comes after the aborted ones.
    const last = await producer.transaction();
    await last.send({ topic, messages: [value(undefined, 99)] });
    await last.commit();

    await waitFor(() => probe.records >= 30 && probe.skipped >= 1, 60_000, 'the committed records at the probe');
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(probe.records, 30, 'the aborted transaction was never sampled');
    assert.equal(probe.skipped, 1);
    assert.equal(latency.count, 30);
    assert.ok(latency.quantile(0) >= OPEN_MS * (1 - 1 / 1024), `earliest visible ${latency.quantile(0)} ms after the source: not before the commit`);
    assert.ok(latency.max < committedAt - sentAt + 30_000, `max ${latency.max}`);
    assert.ok(latency.max < 60_000, 'no sample from the aborted records (a minute old)');
    process.stderr.write(
      `visible-latency: 30 records held ${OPEN_MS} ms in an open transaction, visible p50 ${latency.quantile(0.5).toFixed(1)} ms (commit returned ${committedAt - sentAt} ms after send)\n`,
    );
  } finally {
    await producer.disconnect();
    await probe.stop();
  }
});
