import type { Kafka } from 'kafkajs';
import { readTopicToEnd } from '../kafka/read-to-end.ts';
import { sessionsFromClicks, type ClickRow, type SessionData } from '../data/sessions.ts';
import type { ItemIndex } from '../data/item-index.ts';
import type { AvroCodec, ClickEvent } from '../ingest/codec.ts';
import { DecodeError } from '../ingest/codec.ts';

/**
 * The trainer's view of the stream: every click on the topic so far, as sessions. Records that
 * do not decode are skipped and counted (serving dead-letters them; training must not stop).
 */
export async function loadClickHistory(kafka: Kafka, topic: string, codec: AvroCodec<ClickEvent>): Promise<{ data: SessionData; index: ItemIndex; skipped: number }> {
  const rows: ClickRow[] = [];
  let skipped = 0;
  await readTopicToEnd(kafka, topic, (_partition, messages) => {
    for (const m of messages) {
      try {
        const ev = codec.decode(m.value);
        rows.push({ session: ev.sessionId, item: ev.itemId, time: ev.timestamp });
      } catch (e) {
        if (!(e instanceof DecodeError)) throw e;
        skipped++;
      }
    }
  });
  return { ...sessionsFromClicks(rows), skipped };
}
