import type { Kafka, KafkaMessage } from 'kafkajs';

/**
 * Reads partitions of a topic from the beginning up to the end they had when the call started,
 * read_committed (records of aborted transactions never come back). kafkajs has no manual
 * partition assignment, so a throwaway consumer group subscribes and other partitions are
 * ignored. Progress is tracked through END_BATCH_PROCESS, which kafkajs also emits for batches
 * holding only transaction markers, so a partition whose log ends in a commit marker still
 * counts as fully read. Used to restore session state and to load training history.
 */
export async function readTopicToEnd(
  kafka: Kafka,
  topic: string,
  onMessages: (partition: number, messages: KafkaMessage[]) => void,
  o: { partitions?: readonly number[]; timeoutMs?: number } = {},
): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((p) => (o.partitions ?? [p.partition]).includes(p.partition) && BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high) - 1n]));
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return 0;
  const consumer = kafka.consumer({
    groupId: `${topic}-reader-${process.pid}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`,
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
        const end = ends.get(batch.partition);
        if (end === undefined) return;
        let n = batch.messages.length;
        while (n > 0 && BigInt(batch.messages[n - 1].offset) > end) n--;
        if (n === 0) return;
        count += n;
        onMessages(batch.partition, n === batch.messages.length ? batch.messages : batch.messages.slice(0, n));
      },
    });
    const timeoutMs = o.timeoutMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${topic} partitions [${[...pending]}] not read to their end within ${timeoutMs} ms (an open transaction holds them?)`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
  } finally {
    await consumer.disconnect();
  }
  return count;
}
