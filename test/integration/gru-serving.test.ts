import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from 'kafkajs';
import { collect, recommendationsByEvent, testConfig, waitFor } from '../support/kafka.ts';
import { TEST_ARCH, testItemIds } from '../support/serve-child.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { makeCodecs, type ClickEvent, type Recommendation } from '../../src/ingest/codec.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import { childServer, clickWave } from '../support/drills.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import type { StreamrecConfig } from '../../src/config/config.ts';

const N_SESSIONS = 40;

const wave = (from: number, to: number): ClickEvent[] => clickWave(N_SESSIONS, to, from);

async function produce(cfg: StreamrecConfig, evs: ClickEvent[], extra: Message[] = [], rate = 0): Promise<void> {
  const codec = makeCodecs(cfg.wireFormat).click;
  const producer = createKafka(cfg, '-test-producer').producer();
  await producer.connect();
  const msgs: Message[] = [...evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) })), ...extra];
  const step = rate > 0 ? Math.max(1, Math.round(rate / 20)) : msgs.length;
  for (let i = 0; i < msgs.length; i += step) {
    await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + step), acks: -1 });
    if (rate > 0) await new Promise((r) => setTimeout(r, 50));
  }
  await producer.disconnect();
}

const appFor = async (cfg: StreamrecConfig, instance: string, onAssignment?: (p: number[]) => void) =>
  new ServingApp({
    onAssignment,
    config: cfg,
    recommender: await buildGru4RecRecommender(cfg, syntheticWeights(TEST_ARCH, 3), testItemIds, 'synthetic-v1', () => undefined),
    instanceId: instance,
    sessionTimeoutMs: 6000,
    log: () => undefined,
  });

/** The reference: one process, never interrupted. */
async function uninterrupted(name: string, evs: ClickEvent[]): Promise<Map<string, Recommendation>> {
  const cfg = await testConfig(name);
  const app = await appFor(cfg, 'ref');
  await app.start();
  await produce(cfg, evs);
  await waitFor(() => app.stats.eventsIn >= evs.length, 90_000, 'reference run');
  await app.stop();
  return recommendationsByEvent(cfg, await collect(cfg, cfg.topics.recommendations.name, evs.length, { settleMs: 500 }));
}

function assertSameAsReference(got: Map<string, Recommendation>, ref: Map<string, Recommendation>): void {
  assert.equal(got.size, ref.size, 'one committed recommendation per valid event');
  let compared = 0;
  for (const [k, r] of ref) {
    const g = got.get(k);
    assert.ok(g, `missing recommendation for ${k}`);
    assert.deepEqual(g.itemIds, r.itemIds, `${k}: restored session state recommends differently`);
    for (let i = 0; i < r.scores.length; i++) assert.ok(Math.abs(g.scores[i] - r.scores[i]) < 1e-3);
    compared++;
  }
  assert.equal(compared, ref.size);
}

test('rebalance: a second process takes partitions over with their session states; unknown and malformed events dead-lettered', async () => {
  const all = wave(0, 6);
  const firstHalf = all.slice(0, 3 * N_SESSIONS);
  const secondHalf = all.slice(3 * N_SESSIONS);
  const ref = await uninterrupted('rebalance-ref', all);
  const cfg = await testConfig('rebalance');
  const a = await appFor(cfg, 'a');
  await a.start();
  await produce(cfg, firstHalf);
  await waitFor(() => a.stats.eventsIn >= firstHalf.length, 60_000, 'first half served by A');
  let bPartitions: number[] = [];
  const bApp = await appFor(cfg, 'b', (p) => void (bPartitions = p));
  await bApp.start();
  await waitFor(() => bPartitions.length > 0, 60_000, 'B to be assigned partitions');
  const codec = makeCodecs(cfg.wireFormat).click;
  const bad: Message[] = [
    { key: 's1', value: codec.encode({ ...all[1], itemId: 'brand-new-item', timestamp: all[1].timestamp + 5 }) },
    { key: 'x', value: Buffer.from([0xff, 0xff, 0xff]) },
  ];
  await produce(cfg, secondHalf, bad);
  await waitFor(() => a.stats.eventsIn + bApp.stats.eventsIn >= secondHalf.length + firstHalf.length + bad.length, 90_000, 'second half served');
  assert.ok(bApp.stats.eventsIn > 0, 'B served events of the partitions it took over');
  assert.ok(bApp.stats.restoredRecords > 0, 'B restored session states from the changelog');
  await Promise.all([a.stop(), bApp.stop()]);
  const got = recommendationsByEvent(cfg, await collect(cfg, cfg.topics.recommendations.name, all.length));
  assertSameAsReference(got, ref);
  const dl = makeCodecs(cfg.wireFormat).deadLetter;
  const letters = (await collect(cfg, cfg.topics.deadLetter.name, 2, { settleMs: 500 })).map((m) => dl.decode(m.message.value));
  assert.deepEqual(letters.map((l) => l.errorKind).sort(), ['MALFORMED', 'UNKNOWN_ITEM']);
  assert.match(letters.find((l) => l.errorKind === 'UNKNOWN_ITEM')!.reason, /brand-new-item/);
});

const child = (cfg: StreamrecConfig, instance: string) => childServer(cfg, instance);

test('SIGKILL mid-stream (3 partitions, 2 processes, exactly-once): one committed recommendation per event, restored states recommend as an uninterrupted run', async () => {
  const all = wave(0, 10);
  const ref = await uninterrupted('kill-ref', all);
  const cfg = await testConfig('kill');
  const a = child(cfg, 'a');
  const b = child(cfg, 'b');
  await Promise.all([a.ready, b.ready]);
  let producingDone = false;
  const producing = produce(cfg, all, [], 150).then(() => void (producingDone = true));
  await waitFor(() => b.served() > 40, 60_000, 'B to serve some events');
  b.proc.kill('SIGKILL');
  assert.equal(producingDone, false, 'the kill happens mid-stream');
  await new Promise((r) => b.proc.once('exit', r));
  const b2 = child(cfg, 'b'); // same instance id: fences the dead one's open transaction
  await b2.ready;
  await producing;
  const got = recommendationsByEvent(cfg, await collect(cfg, cfg.topics.recommendations.name, all.length, { timeoutMs: 120_000, settleMs: 3000 }));
  for (const c of [a, b2]) {
    c.proc.kill('SIGTERM');
    await c.exited;
  }
  assert.ok(a.restored() + b2.restored() > 0, 'the partitions of the killed process were restored from the changelog');
  assertSameAsReference(got, ref);
});
