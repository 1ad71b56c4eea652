/**
 * The Kafka client seam (src/kafka/kafka-client.ts) on the real broker, with each client: topics,
 * a consumer group with its assignment hook, read-to-end over a transactional log that ends in a
 * commit marker (aborted records never come back), and fencing of a zombie transactional producer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KafkaMessage } from 'kafkajs';
import type { StreamrecConfig } from '../../src/config/config.ts';
import { confluentAvailability } from '../../src/kafka/confluent-client.ts';
import { createKafkaClient } from '../../src/kafka/create-client.ts';
import type { KafkaClient, KafkaClientKind } from '../../src/kafka/kafka-client.ts';
import { testConfig, waitFor } from '../support/kafka.ts';

const confluent = confluentAvailability();
const KINDS: { kind: KafkaClientKind; skip: string | false }[] = [
  { kind: 'kafkajs', skip: false },
  { kind: 'confluent', skip: confluent.available ? false : `confluent client unavailable: ${confluent.reason}` },
];

const msgs = (prefix: string, n: number, partition: number) => Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, value: `${prefix}-${i}`, partition }));

async function readAll(client: KafkaClient, topic: string): Promise<Map<number, KafkaMessage[]>> {
  const out = new Map<number, KafkaMessage[]>();
  await client.readToEnd(topic, (p, ms) => out.set(p, [...(out.get(p) ?? []), ...ms]), { timeoutMs: 30_000 });
  return out;
}

for (const { kind, skip } of KINDS) {
  test(`${kind}: group assignment hook, eachBatch, read-to-end past commit markers without aborted records`, { skip }, async () => {
    const cfg: StreamrecConfig = await testConfig(`seam-${kind}`);
    const client = createKafkaClient(cfg, '-seam-test', kind);
    const topic = cfg.topics.clicks.name;
    const producer = client.producer({ transactionalId: `seam-${kind}-${Date.now()}`, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      const ok = await producer.transaction();
      await ok.sendBatch([{ topic, messages: [...msgs('a', 5, 0), ...msgs('b', 3, 1)] }]);
      await ok.commit();
      const aborted = await producer.transaction();
      await aborted.sendBatch([{ topic, messages: msgs('x', 4, 0) }]);
      await aborted.abort();
      const last = await producer.transaction();
      await last.sendBatch([{ topic, messages: msgs('c', 2, 0) }]);
      await last.commit();
      // Partition 1 ends in an aborted transaction: its records and its abort marker are skipped too.
      const trailing = await producer.transaction();
      await trailing.sendBatch([{ topic, messages: msgs('y', 3, 1) }]);
      await trailing.abort();
    } finally {
      await producer.disconnect();
    }
    // Partition 0 ends in a commit marker, after an aborted transaction's records and markers;
    // partition 1 in an abort marker.
    const read = await readAll(client, topic);
    assert.deepEqual(
      (read.get(0) ?? []).map((m) => m.value?.toString()),
      ['a-0', 'a-1', 'a-2', 'a-3', 'a-4', 'c-0', 'c-1'],
    );
    assert.deepEqual(
      (read.get(1) ?? []).map((m) => m.value?.toString()),
      ['b-0', 'b-1', 'b-2'],
    );
    assert.equal(read.has(2), false, 'an empty partition is read to its end at once');

    let assigned: number[] = [];
    const seen: string[] = [];
    const consumer = client.consumer({ groupId: `${cfg.groups.serving}-seam`, maxWaitTimeInMs: 100, maxBatchRecords: 64, onAssigned: (a) => (assigned = a[topic] ?? []) });
    await consumer.connect();
    try {
      await consumer.subscribe([topic]);
      await consumer.run({
        eachBatch: async ({ batch }) => {
          for (const m of batch.messages) seen.push(`${batch.partition}:${m.value?.toString()}`);
        },
      });
      await waitFor(() => seen.length >= 10, 30_000, 'the group consumer to read the committed records');
      assert.deepEqual(assigned, [0, 1, 2], 'one member holds every partition');
      await consumer.commitOffsets([{ topic, partition: 0, offset: '3' }]);
      const admin = client.admin();
      await admin.connect();
      const committed = await admin.fetchOffsets(`${cfg.groups.serving}-seam`, topic);
      await admin.disconnect();
      assert.equal(committed.find((p) => p.partition === 0)?.offset, '3');
    } finally {
      await consumer.disconnect();
    }
    assert.equal(seen.filter((s) => s.includes('x-') || s.includes('y-')).length, 0, 'read_committed: no aborted record');
    assert.equal(new Set(seen).size, 10);
  });

  test(`${kind}: a zombie transactional producer is fenced, and nothing of it reaches read_committed readers`, { skip }, async () => {
    const cfg = await testConfig(`fence-${kind}`);
    const client = createKafkaClient(cfg, '-fence-test', kind);
    const topic = cfg.topics.recommendations.name;
    const txId = `fence-${kind}-${Date.now()}`;
    const zombie = client.producer({ transactionalId: txId, maxInFlightRequests: 1, retry: { retries: 2 } });
    await zombie.connect();
    const successor = client.producer({ transactionalId: txId, maxInFlightRequests: 1 });
    try {
      const zt = await zombie.transaction();
      await zt.sendBatch([{ topic, messages: msgs('zombie', 3, 0) }]);
      // A new instance with the same transactional id bumps the epoch: the open transaction is aborted.
      await successor.connect();
      const st = await successor.transaction();
      await st.sendBatch([{ topic, messages: msgs('live', 2, 0) }]);
      await st.commit();
      await assert.rejects(
        (async () => {
          await zt.sendBatch([{ topic, messages: msgs('zombie-late', 1, 0) }]);
          await zt.commit();
        })(),
        (e: Error) => /fenc|epoch|PRODUCER_FENCED|INVALID_PRODUCER/i.test(`${e.message} ${(e as { type?: string }).type ?? ''}`),
        'the zombie cannot commit',
      );
    } finally {
      await zombie.disconnect().catch(() => undefined);
      await successor.disconnect();
    }
    const read = await readAll(client, topic);
    assert.deepEqual(
      (read.get(0) ?? []).map((m) => m.value?.toString()),
      ['live-0', 'live-1'],
    );
  });
}
