/**
 * Commit spans on the real broker (serving.commit): one transaction holds several micro-batches,
 * an engine failure in the middle of a span aborts all of it and the output is still exactly
 * once and equal to an uninterrupted run, and so is a SIGKILL while a span is open.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Message } from 'kafkajs';
import type { StreamrecConfig } from '../../src/config/config.ts';
import { type ClickEvent, makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import type { SpanCommitted } from '../../src/serving/serving-events.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { childServer, clickWave } from '../support/drills.ts';
import { type Collected, collect, recommendationsByEvent, testConfig, waitFor } from '../support/kafka.ts';
import { TEST_ARCH, testItemIds } from '../support/serve-child.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';

const SESSIONS = 30;

async function produce(cfg: StreamrecConfig, evs: ClickEvent[], rate = 0): Promise<void> {
  const codec = makeCodecs(cfg.wireFormat).click;
  const msgs: Message[] = evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
  const producer = createKafka(cfg, '-test-producer').producer();
  await producer.connect();
  const step = rate > 0 ? Math.max(1, Math.round(rate / 20)) : msgs.length;
  for (let i = 0; i < msgs.length; i += step) {
    await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + step), acks: -1 });
    if (rate > 0) await new Promise((r) => setTimeout(r, 50));
  }
  await producer.disconnect();
}

async function servingApp(cfg: StreamrecConfig, instance: string) {
  const rec = await buildGru4RecRecommender(cfg, syntheticWeights(TEST_ARCH, 3), testItemIds, 'synthetic-v1', () => undefined);
  return { rec, app: new ServingApp({ config: cfg, recommender: rec, instanceId: instance, sessionTimeoutMs: 6000, log: () => undefined }) };
}

const withCommit =
  (intervalMs: number, maxSize = 16) =>
  (c: StreamrecConfig) => {
    c.serving = { ...c.serving, batch: { maxSize, maxWaitMs: 5 }, commit: { intervalMs, maxRecords: 100_000 } };
  };

function assertSameAs(got: Map<string, Recommendation>, ref: Map<string, Recommendation>): void {
  assert.equal(got.size, ref.size, 'one committed recommendation per event');
  for (const [k, r] of ref) {
    const g = got.get(k);
    assert.ok(g, `missing recommendation for ${k}`);
    assert.deepEqual(g.itemIds, r.itemIds, `${k}: the session state differs from an uninterrupted run`);
  }
}

/** Transactions that wrote to each partition: runs of consecutive offsets (a commit marker takes the offset after each run). */
function transactionsPerPartition(recs: Collected[]): Map<number, number> {
  const offsets = new Map<number, bigint[]>();
  for (const r of recs) {
    const list = offsets.get(r.partition) ?? [];
    list.push(BigInt(r.message.offset));
    offsets.set(r.partition, list);
  }
  const runs = new Map<number, number>();
  for (const [p, list] of offsets) {
    list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    let n = 1;
    for (let i = 1; i < list.length; i++) if (list[i] !== list[i - 1] + 1n) n++;
    runs.set(p, n);
  }
  return runs;
}

const EVENTS = clickWave(SESSIONS, 12);
const references = new Map<ClickEvent[], Map<string, Recommendation>>();

/** One process, commit per micro-batch, never interrupted: what every run below must equal (batch composition does not change what a session is recommended). */
async function reference(evs: ClickEvent[]): Promise<Map<string, Recommendation>> {
  const known = references.get(evs);
  if (known) return known;
  const cfg = await testConfig('span-ref', withCommit(0, 64));
  const { app } = await servingApp(cfg, 'ref');
  const spans: SpanCommitted[] = [];
  app.events.on('spanCommitted', (s) => spans.push(s));
  await app.start();
  await produce(cfg, evs);
  await waitFor(() => app.stats.eventsIn >= evs.length, 90_000, 'reference run');
  await app.stop();
  // intervalMs 0 is the old behaviour: one transaction per micro-batch.
  assert.ok(spans.length > 1 && spans.every((s) => s.batches === 1), 'intervalMs 0 commits every micro-batch');
  const map = recommendationsByEvent(cfg, await collect(cfg, cfg.topics.recommendations.name, evs.length, { settleMs: 500 }));
  references.set(evs, map);
  return map;
}

test('intervalMs 200: several micro-batches per transaction, each click one recommendation, one changelog record per session per commit', async () => {
  const ref = await reference(EVENTS);
  const cfg = await testConfig('span-interval', withCommit(200));
  const { app } = await servingApp(cfg, 'a');
  const spans: SpanCommitted[] = [];
  let batches = 0;
  let changelogRecords = 0;
  app.events.on('spanCommitted', (s) => spans.push(s));
  app.events.on('batchCommitted', (b) => {
    batches++;
    changelogRecords += b.changelogRecords;
  });
  // Produced before serving starts: the first fetch holds every record, so spans fill up.
  await produce(cfg, EVENTS);
  await app.start();
  await waitFor(() => app.stats.eventsIn >= EVENTS.length, 90_000, 'served');
  await app.stop();
  const recs = await collect(cfg, cfg.topics.recommendations.name, EVENTS.length, { settleMs: 1000 });
  assertSameAs(recommendationsByEvent(cfg, recs), ref);
  assert.equal(app.stats.eventsIn, EVENTS.length, 'every record counted once by the stats');
  assert.equal(
    spans.reduce((n, s) => n + s.batches, 0),
    batches,
  );
  assert.ok(batches >= EVENTS.length / 16, `micro-batches of at most 16 (${batches})`);
  assert.ok(spans.length * 3 <= batches, `several micro-batches per transaction (${spans.length} spans, ${batches} batches)`);
  // Read back read_committed: the transactions that wrote each partition of the recommendations
  // topic (runs of offsets between commit markers) are at most the spans, far fewer than batches.
  for (const [p, n] of transactionsPerPartition(recs)) assert.ok(n <= spans.length, `partition ${p}: ${n} transactions, ${spans.length} spans`);
  // A session touched in several batches of a span writes one changelog record for it.
  assert.ok(changelogRecords <= spans.length * SESSIONS, `${changelogRecords} changelog records for ${spans.length} spans of ${SESSIONS} sessions`);
  assert.ok(changelogRecords < EVENTS.length / 2, `the changelog is leaner than one record per event (${changelogRecords})`);
});

test('an engine failure in the middle of a span aborts all of it: restored, served again, exactly once', async () => {
  const ref = await reference(EVENTS);
  const cfg = await testConfig('span-engine', withCommit(5000));
  const { app, rec } = await servingApp(cfg, 'a');
  const recommend = rec.recommendBatch.bind(rec);
  let calls = 0;
  // Fails after the batch's state was advanced (the worst case), in the span's fourth batch.
  rec.recommendBatch = async (events, out) => {
    await recommend(events, out);
    if (++calls === 4) throw new Error('injected engine failure');
  };
  const aborts: Array<{ events: number; partitions: readonly number[] }> = [];
  app.events.on('batchAborted', (a) => aborts.push(a));
  let firstSpanBatches = 0;
  app.events.once('spanCommitted', (s) => (firstSpanBatches = s.batches));
  await produce(cfg, EVENTS);
  await app.start();
  await waitFor(() => app.stats.eventsIn >= EVENTS.length, 90_000, 'served after the abort');
  await app.stop();
  assert.equal(aborts.length, 1);
  // The whole span went: the three batches before the failing one as well (16 records each).
  assert.ok(aborts[0].events > 3 * 16, `the abort covered the whole span (${aborts[0].events} records)`);
  assert.ok(firstSpanBatches > 1, 'the span served again held several batches');
  assertSameAs(recommendationsByEvent(cfg, await collect(cfg, cfg.topics.recommendations.name, EVENTS.length, { settleMs: 1000 })), ref);
  assert.equal(app.stats.eventsIn, EVENTS.length, 'aborted batches are not counted');
});

/** Committed offsets of each partition with a gap of at least 3 (records of an aborted transaction, its abort marker, a commit marker). */
function abortedRuns(recs: Collected[]): number {
  const offsets = new Map<number, bigint[]>();
  for (const r of recs) offsets.set(r.partition, [...(offsets.get(r.partition) ?? []), BigInt(r.message.offset)]);
  let n = 0;
  for (const list of offsets.values()) {
    list.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 1; i < list.length; i++) if (list[i] - list[i - 1] >= 3n) n++;
  }
  return n;
}

const BACKLOG = clickWave(SESSIONS, 90);

test('SIGKILL while a span is open, then a restart: exactly once, states as in an uninterrupted run', async () => {
  const ref = await reference(BACKLOG);
  const cfg = await testConfig('span-kill', withCommit(300));
  const first = BACKLOG.slice(0, BACKLOG.length / 6);
  // The first part is served and committed by an earlier process (its state goes to the changelog).
  await produce(cfg, first);
  const earlier = await servingApp(cfg, 'a');
  await earlier.app.start();
  await waitFor(() => earlier.app.stats.eventsIn >= first.length, 60_000, 'the first part served and committed');
  await earlier.app.stop();
  // The rest is appended before the victim starts, so its first fetch holds all of it; its spans
  // never fall due and commit only when a fetch is served (no input waiting): one span of
  // hundreds of micro-batches of 8, open with its recommendations sent for the whole fetch.
  await produce(cfg, BACKLOG.slice(first.length));
  const long = { STREAMREC_SERVING__COMMIT__INTERVAL_MS: '600000', STREAMREC_SERVING__COMMIT__MAX_RECORDS: '10000000', STREAMREC_SERVING__BATCH__MAX_SIZE: '8' };
  // A read_uncommitted reader sees the open span's recommendations as soon as they are sent.
  const sent = createKafka(cfg, '-test-uncommitted').consumer({ groupId: `${cfg.groups.serving}-uncommitted`, readUncommitted: true, maxWaitTimeInMs: 20 });
  let seen = 0;
  await sent.connect();
  await sent.subscribe({ topics: [cfg.topics.recommendations.name], fromBeginning: true });
  await sent.run({ eachMessage: async () => void seen++ });
  await waitFor(() => seen >= first.length, 60_000, 'the reader to catch up');
  const a = childServer(cfg, 'a', long);
  await a.ready;
  // Recommendations of the open span reach the topic: kill the process now, long before its
  // fetch is served (hundreds of micro-batches of 8, one span).
  await waitFor(() => seen > first.length, 60_000, 'the second part being served');
  a.proc.kill('SIGKILL');
  await sent.disconnect();
  await a.exited;
  assert.equal(a.served(), 0, 'the victim committed nothing: the kill came while its one span was open');
  // Same instance id: fences the open transaction of the killed one. Default span settings.
  const a2 = childServer(cfg, 'a', { STREAMREC_SERVING__BATCH__MAX_SIZE: '16' });
  await a2.ready;
  const recs = await collect(cfg, cfg.topics.recommendations.name, BACKLOG.length, { timeoutMs: 90_000, settleMs: 2000 });
  a2.proc.kill('SIGTERM');
  await a2.exited;
  assert.ok(
    abortedRuns(recs) > 0,
    `the killed process had an open transaction holding sent recommendations (aborted when its successor fenced it); the reader had seen ${seen} records at the kill`,
  );
  assert.ok(a2.restored() > 0, 'the restarted process restored the states from the changelog');
  assertSameAs(recommendationsByEvent(cfg, recs), ref);
});
