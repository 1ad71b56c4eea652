import type { Kafka } from 'kafkajs';

export interface ChangelogMessage {
  key: Buffer | null;
  value: Buffer | null;
  partition: number;
}

/**
 * Reads partitions of a compacted changelog topic from the beginning to the end that existed
 * when the call started, read_committed (so state written by aborted transactions never comes
 * back). kafkajs has no manual assignment: a throwaway consumer group subscribes to the topic
 * and the other partitions' records are ignored. Progress is tracked through END_BATCH_PROCESS,
 * which kafkajs also emits for batches holding only transaction markers, so a partition whose
 * log ends in a commit marker still counts as fully read.
 */
export async function readChangelog(
  kafka: Kafka,
  topic: string,
  partitions: readonly number[],
  onRecords: (records: ChangelogMessage[]) => void,
  o: { timeoutMs?: number } = {},
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((p) => partitions.includes(p.partition) && BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high) - 1n]));
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return 0;
  const consumer = kafka.consumer({
    groupId: `${topic}-restore-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`,
    readUncommitted: false,
    maxWaitTimeInMs: 50,
    maxBytesPerPartition: 8 * 1024 * 1024,
  });
  let count = 0;
  const pending = new Set(ends.keys());
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => (resolveDone = r));
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    const end = ends.get(e.payload.partition);
    if (end !== undefined && BigInt(e.payload.lastOffset) >= end) {
      pending.delete(e.payload.partition);
      if (pending.size === 0) resolveDone();
    }
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        if (!ends.has(batch.partition)) return;
        const end = ends.get(batch.partition)!;
        const records: ChangelogMessage[] = [];
        for (const m of batch.messages) {
          if (BigInt(m.offset) > end) break;
          records.push({ key: m.key, value: m.value, partition: batch.partition });
        }
        count += records.length;
        onRecords(records);
      },
    });
    const timeoutMs = o.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`changelog ${topic} partitions [${[...pending]}] not read to their end within ${timeoutMs} ms (an open transaction holds them?)`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return count;
}
