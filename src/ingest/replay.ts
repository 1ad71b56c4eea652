import type { Producer, Message } from 'kafkajs';
import type { AvroCodec, ClickEvent } from './codec.ts';
import { loadSessionTsv, loadUserSequences, type SessionData } from '../data/sessions.ts';
import type { ItemIndex } from '../data/item-index.ts';

/**
 * Turns a dataset into a clickstream in event-time order: sessions interleave as they did on
 * the site, which is what a live topic looks like (and what makes online metrics meaningful).
 */
export function* clicksInTimeOrder(data: SessionData, index: ItemIndex): Generator<ClickEvent> {
  const n = data.items.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  // Events of one session keep their order because sort is stable and sessions are already ordered.
  const sorted = Array.from(order).sort((a, b) => data.times[a] - data.times[b]);
  const sessionOf = new Int32Array(n);
  for (let s = 0; s + 1 < data.offsets.length; s++) sessionOf.fill(s, data.offsets[s], data.offsets[s + 1]);
  for (const e of sorted) {
    yield {
      sessionId: data.sessionIds[sessionOf[e]],
      userId: null,
      itemId: index.idOf(data.items[e]),
      eventType: 'CLICK',
      timestamp: Math.round(data.times[e] * 1000),
      context: null,
    };
  }
}

/** Loads a dataset file: GRU4Rec-style TSV (SessionId/ItemId/Time) or `user item` sequences. */
export function loadDatasetFile(path: string): { data: SessionData; index: ItemIndex } {
  return path.endsWith('.tsv') ? loadSessionTsv(path) : loadUserSequences(path);
}

export interface ReplayOptions {
  topic: string;
  /** Events per second; 0 = as fast as the broker takes them. */
  rate: number;
  batchSize?: number;
  limit?: number;
  signal?: AbortSignal;
  onProgress?: (sent: number) => void;
}

/** Produces clicks keyed by session id at a steady rate (token bucket), in batches. */
export async function replayClicks(producer: Producer, codec: AvroCodec<ClickEvent>, events: Iterable<ClickEvent>, o: ReplayOptions): Promise<number> {
  const batchSize = o.batchSize ?? 500;
  const limit = o.limit ?? Infinity;
  const started = performance.now();
  let sent = 0;
  let buf: Message[] = [];
  const flush = async () => {
    if (buf.length === 0) return;
    await producer.send({ topic: o.topic, messages: buf, acks: -1 });
    sent += buf.length;
    buf = [];
    o.onProgress?.(sent);
    if (o.rate > 0) {
      const due = started + (sent / o.rate) * 1000;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  };
  // Small batches at low rates keep the stream smooth instead of bursty.
  const perBatch = o.rate > 0 ? Math.max(1, Math.min(batchSize, Math.round(o.rate / 50))) : batchSize;
  for (const ev of events) {
    if (o.signal?.aborted || sent + buf.length >= limit) break;
    buf.push({ key: ev.sessionId, value: codec.encode(ev) });
    if (buf.length >= perBatch) await flush();
  }
  await flush();
  return sent;
}
