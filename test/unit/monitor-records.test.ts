import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { DEFAULT_INGEST_LIMITS } from '../../src/ingest/click-decoder.ts';
import { type ClickEvent, makeCodecs, type Recommendation } from '../../src/ingest/codec.ts';
import { serveHttp } from '../../src/metrics/http-server.ts';
import { OnlineQuality, registerOnlineQualityInstruments } from '../../src/metrics/online-quality.ts';
import { createTelemetry } from '../../src/metrics/telemetry.ts';
import { MonitorReadiness } from '../../src/monitor/monitor-health.ts';
import { MONITOR_INSTRUMENTS, registerMonitorInstruments } from '../../src/monitor/monitor-instruments.ts';
import { type MonitorRecord, MonitorRecords } from '../../src/monitor/monitor-records.ts';
import { PrequentialJoin } from '../../src/monitor/prequential-join.ts';

const codecs = makeCodecs('plain');
const T0 = Date.UTC(2025, 0, 1);
const TOPIC = 'clicks';

function clickRecord(offset: number, sessionId: string, itemId: string, at = T0 + offset): MonitorRecord {
  const ev: ClickEvent = { sessionId, userId: null, itemId, eventType: 'CLICK', timestamp: at, context: null };
  return { key: Buffer.from(sessionId), value: codecs.click.encode(ev), offset: String(offset), timestamp: String(at) };
}

function recRecord(partition: number, sourceOffset: number, sessionId: string, itemIds: string[], modelVersion = 'v1', sourceTopic = TOPIC): MonitorRecord {
  const rec: Recommendation = {
    sessionId,
    sourceTopic,
    sourcePartition: partition,
    sourceOffset,
    eventTimestamp: T0,
    itemIds,
    scores: itemIds.map((_, i) => 1 - i / 100),
    modelVersion,
    producedAt: T0 + sourceOffset + 7,
    latencyMs: 7,
  };
  return { key: Buffer.from(sessionId), value: codecs.recommendation.encode(rec), offset: '0', timestamp: String(T0) };
}

function deadLetterRecord(partition: number, sourceOffset: number, errorKind: 'UNKNOWN_ITEM' | 'MALFORMED'): MonitorRecord {
  const value = codecs.deadLetter.encode({ sourceTopic: TOPIC, sourcePartition: partition, sourceOffset, key: null, value: null, errorKind, reason: 'test', failedAt: T0 });
  return { key: null, value, offset: '0', timestamp: String(T0) };
}

function setUp() {
  const quality = new OnlineQuality({ slidingTargets: 100, maxSessions: 1000, maxVersions: 4 });
  const join = new PrequentialJoin(quality, { windowMs: 60_000, maxPending: 1000 });
  return { quality, join, records: new MonitorRecords(join, codecs, TOPIC, DEFAULT_INGEST_LIMITS) };
}

test('records of the three topics are decoded and joined: lists, dead letters, and what cannot be used', () => {
  const { quality, join, records } = setUp();
  records.click(0, clickRecord(0, 's', 'a'), T0);
  records.recommendation(recRecord(0, 0, 's', ['b', 'c']), T0);
  records.click(0, clickRecord(1, 's', 'c'), T0); // rank 2 in v1's list
  records.deadLetter(deadLetterRecord(0, 1, 'UNKNOWN_ITEM'), T0);
  records.click(0, { key: Buffer.from('s'), value: Buffer.from([0xff, 0xff]), offset: '2', timestamp: String(T0) }, T0);
  records.deadLetter(deadLetterRecord(0, 2, 'MALFORMED'), T0); // serving refused it too: expected, not unmatched
  records.click(0, clickRecord(3, 's', 'b'), T0); // v1's list is still the session's: b at rank 1
  records.recommendation(recRecord(0, 3, 's', ['x'], 'v2'), T0);
  records.recommendation({ key: null, value: Buffer.from('not avro'), offset: '1', timestamp: String(T0) }, T0);
  records.recommendation(recRecord(0, 9, 's', ['x'], 'v2', 'other-clicks'), T0);
  assert.deepEqual(join.counts, {
    clicks: 3,
    clicksSkipped: 1,
    clicksDuplicate: 0,
    recommendations: 2,
    deadLetteredUnknownItem: 1,
    deadLetteredRejected: 0,
    missing: 0,
    missingOverflow: 0,
    answersUnmatched: 0,
  });
  assert.deepEqual(records.counts, { recommendationsUndecodable: 1, deadLettersUndecodable: 0, answersForeign: 1 });
  const v1 = quality.version('v1')!;
  assert.equal(v1.targets, 2);
  assert.equal(v1.recall(20), 1);
  assert.equal(v1.mrr(20), (1 / 2 + 1) / 2);
  assert.equal(quality.version('v2')?.targets ?? 0, 0, 'v2 emitted the latest list; nothing judged it yet');
  assert.equal(records.latency.count, 2, 'the latency the joinable lists report');
});

test('the monitor exports the online-quality series serving exports, and its join counters, through the Prometheus exporter', async () => {
  const { quality, join, records } = setUp();
  records.click(0, clickRecord(0, 's', 'a'), T0);
  records.recommendation(recRecord(0, 0, 's', ['b', 'c']), T0);
  records.click(0, clickRecord(1, 's', 'b'), T0);
  records.click(1, clickRecord(0, 't', 'a'), T0); // never answered
  join.advance(T0 + 60_000);
  const telemetry = createTelemetry({ serviceName: 'streamrec-monitor', instanceId: 'test' });
  registerOnlineQualityInstruments(telemetry.meter, quality);
  registerMonitorInstruments(telemetry.meter, join, records.counts);
  const server = await serveHttp({ metrics: telemetry.metricsHandler }, 0, '127.0.0.1');
  try {
    const port = (server.address() as AddressInfo).port;
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const value = (family: string, labels: Record<string, string>): number | undefined => {
      for (const line of text.split('\n')) {
        if (!line.startsWith(`${family}{`)) continue;
        const set = line.slice(family.length + 1, line.lastIndexOf('}'));
        if (Object.entries(labels).every(([k, v]) => set.includes(`${k}="${v}"`))) return Number(line.slice(line.lastIndexOf(' ') + 1));
      }
      return undefined;
    };
    assert.equal(value('streamrec_online_recall', { k: '20', model_version: 'v1', window: 'cumulative' }), 1);
    assert.equal(value('streamrec_online_targets_total', { model_version: 'v1' }), 1);
    assert.equal(value(MONITOR_INSTRUMENTS.clicks.prometheus, { outcome: 'listed' }), 1);
    assert.equal(value(MONITOR_INSTRUMENTS.clicks.prometheus, { outcome: 'missing' }), 2, 'the session-s click waits for its own list too');
    assert.equal(value(MONITOR_INSTRUMENTS.missingRecommendations.prometheus, { cause: 'window' }), 2);
    assert.equal(value(MONITOR_INSTRUMENTS.pending.prometheus, { side: 'click' }), 0);
    for (const spec of Object.values(MONITOR_INSTRUMENTS)) assert.match(text, new RegExp(`^# TYPE ${spec.prometheus} (counter|gauge)$`, 'm'), spec.name);
  } finally {
    await new Promise((r) => server.close(r));
    await telemetry.shutdown();
  }
});

test('ready only with every partition of every topic assigned; a consumer that gave up is not alive', () => {
  const r = new MonitorReadiness(
    new Map([
      ['clicks', 3],
      ['recs', 2],
    ]),
  );
  assert.deepEqual(r.health(), { alive: true, ready: false, reason: 'starting: the consumer has not joined its group yet' });
  r.joined({ clicks: [0, 2], recs: [0, 1] });
  assert.equal(r.health().ready, false);
  assert.match(r.health().reason, /holds 1 of 3 partitions of clicks.*run one monitor per group/);
  r.rebalancing();
  assert.match(r.health().reason, /rebalancing/);
  r.joined({ clicks: [0, 1, 2], recs: [1, 0] });
  assert.deepEqual(r.health(), { alive: true, ready: true, reason: 'ok' });
  r.failed('broker gone');
  assert.deepEqual(r.health(), { alive: false, ready: false, reason: 'consumer stopped: broker gone' });
});
