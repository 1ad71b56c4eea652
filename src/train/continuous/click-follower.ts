import type { Kafka } from 'kafkajs';
import { decodeClickRecord, type IngestLimits } from '../../ingest/click-decoder.ts';
import type { Codecs } from '../../ingest/codec.ts';
import { Rejection } from '../../ingest/rejection.ts';
import type { StreamTrainer } from './stream-trainer.ts';

export interface FollowClicksOptions {
  topic: string;
  groupId: string;
  codecs: Pick<Codecs, 'click'>;
  limits: IngestLimits;
  trainer: StreamTrainer;
  /** Aborting stops consumption after the record in hand; the caller then finishes the trainer. */
  signal: AbortSignal;
  /** Called once per partition with the first offset this process reads there. */
  onFirstOffset?: (partition: number, offset: number) => void;
}

/**
 * Feeds the clicks topic to a StreamTrainer until the signal aborts. Its own consumer group,
 * read_committed, autoCommit off: the trainer's position lives in its checkpoint, not in group
 * offsets, so on start every partition is sought to the trainer's offsets (partitions it has
 * never read start at the beginning). Records below the trainer's position (a fetch that raced
 * the seek) are dropped, so no event is trained on twice. Records that do not decode are skipped
 * and counted, like the serving path's dead letters, but nothing is written anywhere.
 */
export async function followClicks(kafka: Kafka, o: FollowClicksOptions): Promise<void> {
  const consumer = kafka.consumer({ groupId: o.groupId, readUncommitted: false, maxWaitTimeInMs: 200, maxBytesPerPartition: 4 * 1024 * 1024 });
  const start = o.trainer.offsets();
  const seen = new Set<number>();
  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= consumer.stop();
  };
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [o.topic], fromBeginning: true });
    let failure: unknown = null;
    const crashed = new Promise<void>((resolve) => {
      consumer.on(consumer.events.CRASH, (e) => {
        if (e.payload.restart) return;
        failure = e.payload.error;
        resolve();
      });
    });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat, isRunning }) => {
        const partition = batch.partition;
        const from = Number(start[String(partition)] ?? 0);
        const now = Date.now();
        for (const m of batch.messages) {
          if (o.signal.aborted || !isRunning()) return;
          const offset = Number(m.offset);
          if (offset < from || offset < o.trainer.positionOf(partition)) continue;
          if (!seen.has(partition)) {
            seen.add(partition);
            o.onFirstOffset?.(partition, offset);
          }
          const ev = decodeClickRecord(o.codecs, m.key, m.value, now, o.limits);
          if (ev instanceof Rejection) {
            o.trainer.reject(partition, offset);
            continue;
          }
          // A window closed: training took a while, tell the group coordinator we are alive.
          if (await o.trainer.event(ev.sessionId, ev.itemId, partition, offset)) await heartbeat();
        }
      },
    });
    for (const [p, off] of Object.entries(start)) consumer.seek({ topic: o.topic, partition: Number(p), offset: off });
    const aborted = new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      else o.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([aborted, crashed]);
    stop();
    await stopping;
    if (failure) throw failure;
  } finally {
    await consumer.disconnect();
  }
}
