import { SingleBar, Presets } from 'cli-progress';
import type { StreamrecConfig } from '../config/config.ts';
import { createKafka, ensureTopics } from '../kafka/client.ts';
import { makeCodecs, type ClickEvent } from '../ingest/codec.ts';
import { clicksInTimeOrder, loadDatasetFile, replayClicks } from '../ingest/replay.ts';
import { syntheticClicks } from '../data/synthetic.ts';
import { ConfigError } from '../errors/errors.ts';

export interface ProduceOptions {
  data?: string;
  synthetic?: number;
  items: number;
  rate: number;
  limit?: number;
}

/** `streamrec produce`: a dataset file or synthetic clicks to the clicks topic, with a progress bar. */
export async function runProduce(config: StreamrecConfig, o: ProduceOptions): Promise<void> {
  let events: Iterable<ClickEvent>;
  let total: number;
  if (o.data) {
    const { data, index } = loadDatasetFile(o.data);
    events = clicksInTimeOrder(data, index);
    total = data.items.length;
  } else if (o.synthetic) {
    const start = Date.now();
    events = (function* () {
      for (const c of syntheticClicks({ nItems: o.items, nSessions: o.synthetic! }))
        yield { sessionId: c.sessionId, userId: null, itemId: c.itemId, eventType: 'CLICK' as const, timestamp: start + Math.round(c.time * 1000), context: null };
    })();
    total = Math.round(o.synthetic * 5);
  } else {
    throw new ConfigError('--data', 'give --data <file> or --synthetic <sessions>');
  }
  if (o.limit !== undefined) total = Math.min(total, o.limit);
  const kafka = createKafka(config, '-producer');
  const admin = kafka.admin();
  await admin.connect();
  await ensureTopics(admin, config);
  await admin.disconnect();
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort());
  const bar = new SingleBar({ format: 'produce |{bar}| {value}/{total} events  {rate} ev/s  eta {eta}s', etaBuffer: 50 }, Presets.shades_classic);
  bar.start(total, 0, { rate: 0 });
  const t0 = performance.now();
  try {
    const sent = await replayClicks(producer, makeCodecs(config.wireFormat).click, events, {
      topic: config.topics.clicks.name,
      rate: o.rate,
      limit: o.limit,
      signal: abort.signal,
      onProgress: (n) => bar.update(Math.min(n, total), { rate: Math.round((n * 1000) / (performance.now() - t0)) }),
    });
    bar.stop();
    process.stderr.write(`produce: ${sent} events to ${config.topics.clicks.name} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  } finally {
    bar.stop();
    await producer.disconnect();
  }
}
