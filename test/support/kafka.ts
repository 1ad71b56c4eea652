/**
 * Integration-test plumbing: a real broker (KAFKA_BROKERS from `npm test`, or one started
 * here for a file run on its own), per-test topic names, and a read_committed collector.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import type { KafkaMessage } from 'kafkajs';
import { loadConfig, namespaced, type StreamrecConfig } from '../../src/config/config.ts';
import { createKafka, ensureTopics } from '../../src/kafka/client.ts';
import { makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { startLocalBroker, type LocalBroker } from '../../scripts/kafka/local-broker.ts';

let broker: LocalBroker | null = null;

export async function brokers(): Promise<string> {
  if (process.env.KAFKA_BROKERS) return process.env.KAFKA_BROKERS;
  broker = await startLocalBroker();
  process.env.KAFKA_BROKERS = broker.brokers;
  after(async () => {
    await broker?.stop();
  });
  return broker.brokers;
}

let counter = 0;

/** A config whose topics and groups are unique to this test. */
export async function testConfig(name: string, overrides: (c: StreamrecConfig) => void = () => undefined): Promise<StreamrecConfig> {
  const b = await brokers();
  // STREAMREC_KAFKA__CLIENT=confluent runs the whole suite's serving on the other client.
  const client = process.env.STREAMREC_KAFKA__CLIENT;
  const base = loadConfig(undefined, { KAFKA_BROKERS: b, ...(client ? { STREAMREC_KAFKA__CLIENT: client } : {}) });
  const cfg = namespaced(base, `t-${name}-${process.pid}-${Date.now().toString(36)}-${counter++}`, 3);
  cfg.serving = { ...base.serving, batch: { maxSize: 64, maxWaitMs: 5 } };
  overrides(cfg);
  const admin = createKafka(cfg, '-test-admin').admin();
  await admin.connect();
  await ensureTopics(admin, cfg);
  await admin.disconnect();
  return cfg;
}

export interface Collected {
  partition: number;
  message: KafkaMessage;
}

/**
 * Reads a topic from the beginning with read_committed until `expected` records arrived and
 * `settleMs` passed without more (so duplicates would show), or `timeoutMs` elapsed.
 */
export async function collect(cfg: StreamrecConfig, topic: string, expected: number, o: { timeoutMs?: number; settleMs?: number } = {}): Promise<Collected[]> {
  const kafka = createKafka(cfg, '-test-reader');
  const consumer = kafka.consumer({ groupId: `reader-${topic}-${Date.now()}-${counter++}`, readUncommitted: false, maxWaitTimeInMs: 100 });
  const out: Collected[] = [];
  let lastAt = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      out.push({ partition, message });
      lastAt = Date.now();
    },
  });
  const deadline = Date.now() + (o.timeoutMs ?? 60_000);
  const settle = o.settleMs ?? 1500;
  while (Date.now() < deadline && !(out.length >= expected && Date.now() - lastAt >= settle)) await new Promise((r) => setTimeout(r, 100));
  await consumer.disconnect();
  return out;
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Recommendations keyed by event (session @ click time); fails on a duplicate, which exactly-once forbids. */
export function recommendationsByEvent(cfg: StreamrecConfig, recs: readonly Collected[]): Map<string, Recommendation> {
  const codec = makeCodecs(cfg.wireFormat).recommendation;
  const m = new Map<string, Recommendation>();
  for (const r of recs) {
    const rec = codec.decode(r.message.value);
    const k = `${rec.sessionId}@${rec.eventTimestamp}`;
    assert.ok(!m.has(k), `duplicate recommendation for ${k}`);
    m.set(k, rec);
  }
  return m;
}
