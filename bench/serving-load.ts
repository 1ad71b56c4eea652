/**
 * What the serving benchmarks share: a fresh namespaced topology on the bench broker, synthetic
 * click records, and a paced producer. bench:serve and bench:latency both drive serving with them.
 */
import type { Message } from 'kafkajs';
import { loadConfig, namespaced, type StreamrecConfig } from '../src/config/config.ts';
import { syntheticClicks } from '../src/data/synthetic.ts';
import { makeCodecs } from '../src/ingest/codec.ts';
import { createKafka, ensureTopics } from '../src/kafka/client.ts';

/** The default topology on `brokers`, namespaced by `tag` (fresh topics, 3 partitions unless told, groups), serving fields overridden, topics created. */
export async function freshBenchConfig(brokers: string, tag: string, serving: Partial<StreamrecConfig['serving']>, partitions = 3): Promise<StreamrecConfig> {
  const base = loadConfig(undefined, { KAFKA_BROKERS: brokers });
  const cfg = namespaced(base, `bench-${tag}-${Date.now().toString(36)}`, partitions);
  cfg.serving = { ...base.serving, ...serving };
  const admin = createKafka(cfg, '-bench-admin').admin();
  await admin.connect();
  await ensureTopics(admin, cfg);
  await admin.disconnect();
  return cfg;
}

/** n encoded click records over items i0..i(nItems−1), sessions of 5 clicks on average. */
export function clickMessages(cfg: StreamrecConfig, nItems: number, n: number, seed: number): Message[] {
  const codec = makeCodecs(cfg.wireFormat).click;
  const out: Message[] = [];
  const now = Date.now();
  for (const c of syntheticClicks({ nItems, nSessions: Math.ceil(n / 4), meanSessionLength: 5, seed })) {
    if (out.length >= n) break;
    out.push({
      key: c.sessionId,
      value: codec.encode({ sessionId: c.sessionId, userId: null, itemId: `i${c.itemId.slice(1)}`, eventType: 'CLICK', timestamp: now, context: null }),
    });
  }
  return out;
}

/** Sends to the clicks topic in 10 ms slices at `rate` records/s (0: as fast as it goes); each slice gets the broker's append time then. */
export async function sendAtRate(cfg: StreamrecConfig, msgs: Message[], rate: number): Promise<void> {
  const producer = createKafka(cfg, '-bench-producer').producer();
  await producer.connect();
  const per = rate > 0 ? Math.max(1, Math.round(rate / 100)) : 1000;
  const t0 = performance.now();
  for (let i = 0; i < msgs.length; i += per) {
    await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + per), acks: 1 });
    if (rate > 0) {
      const wait = t0 + ((i + per) / rate) * 1000 - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  }
  await producer.disconnect();
}
