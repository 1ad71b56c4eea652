import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testConfig } from '../support/kafka.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { makeCodecs, type ClickEvent } from '../../src/ingest/codec.ts';
import { loadClickHistory } from '../../src/train/topic-history.ts';

test('the trainer reads the click history back from the topic as time-ordered sessions; malformed records are skipped and counted', async () => {
  const cfg = await testConfig('history');
  const codec = makeCodecs(cfg.wireFormat).click;
  const ev = (sessionId: string, itemId: string, timestamp: number): ClickEvent => ({ sessionId, userId: null, itemId, eventType: 'CLICK', timestamp, context: null });
  // Out of order on purpose: s2 starts first; s1's events arrive late-first.
  const events = [ev('s1', 'b', 30), ev('s2', 'x', 5), ev('s1', 'a', 10), ev('s2', 'y', 6), ev('s1', 'c', 40)];
  const producer = createKafka(cfg, '-test').producer();
  await producer.connect();
  await producer.send({
    topic: cfg.topics.clicks.name,
    messages: [...events.map((e) => ({ key: e.sessionId, value: codec.encode(e) })), { key: 'bad', value: Buffer.from('garbage') }],
  });
  await producer.disconnect();
  const { data, index, skipped } = await loadClickHistory(createKafka(cfg, '-test-trainer'), cfg.topics.clicks.name, codec);
  assert.equal(skipped, 1);
  assert.deepEqual(data.sessionIds, ['s2', 's1'], 'sessions ordered by their first event');
  const seq = (s: number) => Array.from(data.items.subarray(data.offsets[s], data.offsets[s + 1]), (i) => index.idOf(i));
  assert.deepEqual(seq(0), ['x', 'y']);
  assert.deepEqual(seq(1), ['a', 'b', 'c'], 'events of a session ordered by time');
});
