/**
 * `streamrec monitor` beside serving on the real broker: both read the same stream, and once
 * both have caught up the monitor's online Recall@k / MRR@k / targets per model version equal
 * serving's own (app.stats), exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import type { Message } from 'kafkajs';
import { testConfig, waitFor } from '../support/kafka.ts';
import { TEST_ARCH, testItemIds } from '../support/serve-child.ts';
import { syntheticWeights } from '../support/synthetic-weights.ts';
import type { StreamrecConfig } from '../../src/config/config.ts';
import { type ClickEvent, makeCodecs } from '../../src/ingest/codec.ts';
import { createKafka } from '../../src/kafka/client.ts';
import { MonitorApp } from '../../src/monitor/monitor-app.ts';
import { CooccurrenceRecommender } from '../../src/serving/cooccurrence-recommender.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { seededRandom } from '../../src/random/rng.ts';

const EPOCH = Date.UTC(2025, 0, 1);

/**
 * Sessions that mostly walk one of a few item paths (so a next-item model finds the next click
 * in its list often), interleaved across sessions like live traffic; `items` names the catalogue.
 */
function pathStream(nSessions: number, perSession: number, items: readonly string[], seed: number): ClickEvent[] {
  const rnd = seededRandom(seed);
  const paths = Array.from({ length: 6 }, () => Array.from({ length: perSession }, () => items[Math.floor(rnd() * items.length)]));
  const out: ClickEvent[] = [];
  for (let e = 0; e < perSession; e++)
    for (let s = 0; s < nSessions; s++) {
      const itemId = rnd() < 0.8 ? paths[s % paths.length][e] : items[Math.floor(rnd() * items.length)];
      out.push({ sessionId: `s${s}`, userId: null, itemId, eventType: 'CLICK', timestamp: EPOCH + e * 1000 + s, context: null });
    }
  return out;
}

/** Sends in small chunks with pauses, so serving commits many batches and the two consumers interleave. */
async function produce(cfg: StreamrecConfig, msgs: Message[], chunk = 50): Promise<void> {
  const producer = createKafka(cfg, '-test-producer').producer();
  await producer.connect();
  for (let i = 0; i < msgs.length; i += chunk) {
    await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + chunk), acks: -1 });
    await new Promise((r) => setTimeout(r, 20));
  }
  await producer.disconnect();
}

function encodeAll(cfg: StreamrecConfig, evs: readonly ClickEvent[]): Message[] {
  const codec = makeCodecs(cfg.wireFormat).click;
  return evs.map((e) => ({ key: e.sessionId, value: codec.encode(e) }));
}

/** The test's namespaced topology with its own monitor group (namespaced() renames serving's and the trainer's). */
const monitorConfig = (name: string) => testConfig(name, (c) => (c.groups = { ...c.groups, monitor: `${c.groups.serving}-monitor` }));

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

/** The value of the first series of `family` whose labels include `labels`, in a Prometheus text scrape. */
function scraped(text: string, family: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${family}{`) && !line.startsWith(`${family} `)) continue;
    const brace = line.indexOf('{');
    const set = brace >= 0 ? line.slice(brace + 1, line.lastIndexOf('}')) : '';
    if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

test('streamrec monitor (the CLI process) beside serving (co-occurrence, 3 partitions) reports serving’s own Recall@20, MRR@20 and targets', async () => {
  const cfg = await monitorConfig('monitor-cooc');
  const items = Array.from({ length: 60 }, (_, i) => `item-${i}`);
  const evs = pathStream(60, 12, items, 5);
  const malformed: Message[] = [
    { key: 'bad1', value: Buffer.from('definitely not avro') },
    { key: 'bad2', value: Buffer.from([0xff, 0xff, 0xff]) },
  ];
  const msgs = encodeAll(cfg, evs);
  msgs.splice(300, 0, ...malformed);

  const recommender = new CooccurrenceRecommender(cfg.serving.topK);
  const serving = new ServingApp({ config: cfg, recommender, instanceId: 'a', sessionTimeoutMs: 6000, log: () => undefined });
  await serving.start();
  const port = await freePort();
  const monitor = spawn(process.execPath, ['--import', 'tsx', new URL('../../src/cli/main.ts', import.meta.url).pathname, 'monitor', '--metrics-port', String(port)], {
    env: {
      ...process.env,
      STREAMREC_TOPICS__CLICKS__NAME: cfg.topics.clicks.name,
      STREAMREC_TOPICS__RECOMMENDATIONS__NAME: cfg.topics.recommendations.name,
      STREAMREC_TOPICS__DEAD_LETTER__NAME: cfg.topics.deadLetter.name,
      STREAMREC_GROUPS__MONITOR: cfg.groups.monitor,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  monitor.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => monitor.once('exit', (code) => r(code)));
  const scrape = async (path = '/metrics') => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text() };
    } catch {
      return { status: 0, text: '' };
    }
  };
  try {
    // Ready once the monitor's consumer owns every partition of the three topics.
    const deadline = Date.now() + 60_000;
    while ((await scrape('/readyz')).status !== 200) {
      assert.ok(Date.now() < deadline, `monitor not ready: ${(await scrape('/readyz')).text} ${stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    await produce(cfg, msgs);
    await waitFor(() => serving.stats.eventsIn >= msgs.length, 90_000, 'serving to commit every click');
    const version = recommender.version;
    // Caught up: every click read by the monitor is final (joined with its list, or skipped).
    let text = '';
    const caughtUp = Date.now() + 60_000;
    for (;;) {
      text = (await scrape()).text;
      const listed = scraped(text, 'streamrec_monitor_clicks_total', { outcome: 'listed' }) ?? 0;
      const pending = scraped(text, 'streamrec_monitor_pending', { side: 'click' });
      if (listed >= serving.stats.recommendationsOut && pending === 0) break;
      assert.ok(Date.now() < caughtUp, `monitor did not catch up: listed ${listed} of ${serving.stats.recommendationsOut}, pending ${pending}\n${stderr}`);
      await new Promise((r) => setTimeout(r, 250));
    }
    const own = serving.stats.online.version(version)!;
    assert.ok(own.targets > 400, `serving measured ${own.targets} targets`);
    assert.ok(own.recall(20) > 0.3, `a model that finds the paths (Recall@20 ${own.recall(20)})`);
    const at20 = { k: '20', model_version: version, window: 'cumulative' };
    assert.equal(scraped(text, 'streamrec_online_recall', at20), own.recall(20), 'Recall@20');
    assert.equal(scraped(text, 'streamrec_online_mrr', at20), own.mrr(20), 'MRR@20');
    assert.equal(scraped(text, 'streamrec_online_targets_total', { model_version: version }), own.targets, 'targets');
    for (const k of ['5', '10']) assert.equal(scraped(text, 'streamrec_online_recall', { ...at20, k }), own.recall(Number(k)), `Recall@${k}`);
    // serving's overall metric (all versions, k = 20) is the same number.
    assert.equal(serving.stats.quality.recall, own.recall(20));
    assert.equal(serving.stats.quality.targets, own.targets);
    assert.equal(scraped(text, 'streamrec_monitor_clicks_total', { outcome: 'undecodable' }), malformed.length);
    assert.equal(scraped(text, 'streamrec_monitor_clicks_total', { outcome: 'missing' }), 0);
    assert.equal(scraped(text, 'streamrec_monitor_answers_unmatched_total'), 0);
  } finally {
    monitor.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    await serving.stop();
  }
  assert.equal(await exited, 0, `the monitor stops cleanly on SIGTERM\n${stderr}`);
  assert.match(stderr, /monitor: stopped cleanly; clicks \d+ lists \d+/);
});

test('monitor beside GRU4Rec serving with unknown items and malformed records: per-version quality equals serving’s exactly', async () => {
  const cfg = await monitorConfig('monitor-gru');
  // Unknown items are dead-lettered UNKNOWN_ITEM by serving: targets (misses) that leave the session's list in place.
  const catalogue = [...testItemIds.slice(0, 40), 'not-in-the-model-1', 'not-in-the-model-2'];
  const evs = pathStream(40, 10, catalogue, 9);
  assert.ok(evs.some((e) => e.itemId.startsWith('not-in-the-model')));
  const msgs = encodeAll(cfg, evs);
  const codec = makeCodecs(cfg.wireFormat).click;
  msgs.splice(150, 0, { key: 'bad', value: Buffer.from('not avro') }, { key: 'other-session', value: codec.encode(evs[0]) });
  const recommender = await buildGru4RecRecommender(cfg, syntheticWeights(TEST_ARCH, 3), testItemIds, 'synthetic-v1', () => undefined);
  const serving = new ServingApp({ config: cfg, recommender, instanceId: 'a', sessionTimeoutMs: 6000, log: () => undefined });
  const monitor = new MonitorApp({ config: cfg, log: () => undefined });
  await Promise.all([serving.start(), monitor.start()]);
  try {
    await waitFor(() => monitor.health().ready, 60_000, 'monitor ready');
    await produce(cfg, msgs, 40);
    await waitFor(() => serving.stats.eventsIn >= msgs.length, 90_000, 'serving to commit every click');
    const j = monitor.join.counts;
    await waitFor(
      () => j.recommendations >= serving.stats.recommendationsOut && j.deadLetteredUnknownItem >= serving.stats.deadLetters.UNKNOWN_ITEM && monitor.join.pendingClicks === 0,
      60_000,
      'monitor to catch up',
    );
    assert.ok(serving.stats.deadLetters.UNKNOWN_ITEM > 0, 'the stream had unknown items');
    assert.equal(j.deadLetteredUnknownItem, serving.stats.deadLetters.UNKNOWN_ITEM);
    assert.equal(j.recommendations, serving.stats.recommendationsOut);
    assert.equal(j.clicksSkipped + j.deadLetteredRejected, 2, 'the two records serving refused');
    assert.equal(j.missing, 0);
    assert.equal(j.answersUnmatched, 0);
    const own = serving.stats.online.version('synthetic-v1')!;
    const seen = monitor.quality.version('synthetic-v1')!;
    assert.ok(own.targets > 200, `serving measured ${own.targets} targets`);
    assert.ok(own.hits(20) > 0, 'some hits');
    assert.equal(seen.targets, own.targets, 'targets, unknown-item clicks included');
    for (const k of [5, 10, 20]) {
      assert.equal(seen.hits(k), own.hits(k), `hits@${k}`);
      assert.equal(seen.recall(k), own.recall(k), `Recall@${k}`);
      assert.equal(seen.mrr(k), own.mrr(k), `MRR@${k}`);
    }
    assert.equal(monitor.quality.overall.recall, serving.stats.quality.recall);
    assert.equal(monitor.quality.overall.targets, serving.stats.quality.targets);
    // The overall MRR is a running float sum: the same terms, added in another order across sessions.
    assert.ok(Math.abs(monitor.quality.overall.mrr - serving.stats.quality.mrr) < 1e-12);
  } finally {
    await Promise.all([monitor.stop(), serving.stop()]);
  }
});
