import type { Kafka } from 'kafkajs';
import type { KafkaClient } from '../../kafka/kafka-client.ts';
import { asKafkaClient } from '../../kafka/kafkajs-client.ts';
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
export async function followClicks(kafka: Kafka | KafkaClient, o: FollowClicksOptions): Promise<void> {
  let failure: unknown = null;
  let onCrash: () => void = () => undefined;
  const crashed = new Promise<void>((resolve) => (onCrash = resolve));
  const consumer = asKafkaClient(kafka).consumer({
    groupId: o.groupId,
    readUncommitted: false,
    fromBeginning: true,
    maxWaitTimeInMs: 200,
    maxBytesPerPartition: 4 * 1024 * 1024,
    maxBatchRecords: 1024,
    onCrash: (e) => {
      failure = e;
      onCrash();
    },
  });
  const start = o.trainer.offsets();
  const seen = new Set<number>();
  // With sync, a window whose interval is up is closed between fetches too (a quiet stream would
  // otherwise hold its last clicks until the next one); never while a batch is being fed.
  let feeding = false;
  let flushing: Promise<unknown> | null = null;
  const interval = o.trainer.syncIntervalMs;
  const flushTimer =
    interval === null
      ? null
      : setInterval(
          () => {
            if (feeding || flushing || o.signal.aborted) return;
            flushing = o.trainer.closeDueWindow().finally(() => (flushing = null));
          },
          Math.max(50, Math.floor(interval / 4)),
        );
  await consumer.connect();
  try {
    await consumer.subscribe([o.topic]);
    await consumer.run({
      eachBatch: async ({ batch, heartbeat, isRunning }) => {
        if (flushing) await flushing;
        feeding = true;
        try {
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
            // The record's timestamp is its append time on a LogAppendTime topic, the producer's send time otherwise.
            if (await o.trainer.event(ev.sessionId, ev.itemId, partition, offset, Number(m.timestamp))) await heartbeat();
          }
        } finally {
          feeding = false;
        }
      },
    });
    for (const [p, off] of Object.entries(start)) consumer.seek(o.topic, Number(p), off);
    const aborted = new Promise<void>((resolve) => {
      if (o.signal.aborted) resolve();
      else o.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await Promise.race([aborted, crashed]);
    // The batch in hand returns at its next record (the signal); disconnecting below waits for it.
    if (failure) throw failure;
  } finally {
    if (flushTimer) clearInterval(flushTimer);
    await flushing;
    await consumer.disconnect();
  }
}
