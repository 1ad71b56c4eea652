/**
 * The catalogue (src/metrics/instruments.ts) against a real scrape of the 0.223 exporter: every
 * instrument, registered by the code the processes run (serving's instrumentation, the trainer's
 * instruments), appears under the Prometheus name, type, unit and labels the catalogue says, with
 * the values the process holds. The dashboard and the README table are written from the catalogue.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config/config.ts';
import { serveHttp } from '../../src/metrics/http-server.ts';
import { INSTRUMENTS, type InstrumentSpec, prometheusSeries, STAGES } from '../../src/metrics/instruments.ts';
import { createTelemetry, type Telemetry } from '../../src/metrics/telemetry.ts';
import { syncInstruments } from '../../src/metrics/sync-instruments.ts';
import { createTrainerStats, recordWindow, registerTrainerInstruments } from '../../src/metrics/trainer-instruments.ts';
import { attachStats, instrumentServing } from '../../src/serving/instrumentation.ts';
import { type BatchCommitted, ServingEvents } from '../../src/serving/serving-events.ts';
import type { ClickInput, RecommendOutcome } from '../../src/serving/recommender.ts';
import { type ExpositionSample, parseExposition } from '../support/prometheus.ts';

async function scrape(t: Telemetry): Promise<{ text: string; contentType: string | null }> {
  const server = await serveHttp({ metrics: t.metricsHandler }, 0);
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`);
    assert.equal(res.status, 200);
    return { text: await res.text(), contentType: res.headers.get('content-type') };
  } finally {
    server.close();
  }
}

function batch(
  inputs: ClickInput[],
  outcomes: RecommendOutcome[],
  latencyMs: number[],
  modelVersion: string,
  deadLetters: Array<['UNKNOWN_ITEM' | 'MALFORMED', number]> = [],
): BatchCommitted {
  const stageMs = new Float64Array(STAGES.length).fill(2);
  stageMs[STAGES.indexOf('store')] = Number.NaN;
  return {
    // Undecodable records never become inputs; an unknown item is an input answered by a dead letter.
    consumed: inputs.length + deadLetters.filter(([k]) => k !== 'UNKNOWN_ITEM').reduce((a, [, n]) => a + n, 0),
    inputs,
    outcomes,
    latencyMs: Float64Array.from(latencyMs),
    recommendations: outcomes.filter((o) => o.ok).length,
    deadLetters: new Map(deadLetters),
    changelogRecords: inputs.length,
    modelVersion,
    stageMs,
    waitMs: 3,
  };
}

const click = (sessionId: string, itemId: string): ClickInput => ({ sessionId, itemId, partition: 0, timestamp: 0 });
const list = (...itemIds: string[]): RecommendOutcome => ({ ok: true, itemIds, scores: itemIds.map(() => 1) });

/** A serving process's telemetry fed with real serving events, and a trainer's fed with window reports. */
function processes() {
  const config = loadConfig(undefined, {});
  const events = new ServingEvents();
  const stats = attachStats(events, config);
  const serving = createTelemetry({ serviceName: 'streamrec-serve', instanceId: 'serve-0' });
  instrumentServing(events, stats, serving.meter, { modelVersion: () => 'v2', sessions: () => 2, sessionStoreBytes: () => 4096 });
  // v1 emits for a and b; a's next click hits rank 2 of v1's list, then v2 takes over.
  events.emit('batchCommitted', batch([click('a', 'x'), click('b', 'y')], [list('p', 'q', 'r'), list('q')], [5, 40], 'v1'));
  events.emit(
    'batchCommitted',
    batch([click('a', 'q'), click('b', 'unknown')], [list('s', 't'), { ok: false, kind: 'UNKNOWN_ITEM', reason: 'not in the catalogue' }], [800, Number.NaN], 'v2', [
      ['UNKNOWN_ITEM', 1],
      ['MALFORMED', 2],
    ]),
  );
  events.emit('modelSwapped', { from: 'v1', to: 'v2', sessions: 2, pauseMs: 12, itemsRemoved: 0, itemsAdded: 1 });
  events.emit('lag', { partition: 1, records: 17 });
  events.emit('batchAborted', { partitions: [0], events: 3, reason: 'test', error: new Error('test'), consecutive: 1 });
  // Incremental sync (the delta follower records these as deltas are applied and rolled back).
  const sync = syncInstruments(serving.meter);
  sync.freshness.record(3.5);
  sync.rollbacks.add(1, { trigger: 'automatic' });

  const trainerStats = createTrainerStats();
  const trainer = createTelemetry({ serviceName: 'streamrec-trainer', instanceId: 'trainer-0' });
  registerTrainerInstruments(trainer.meter, trainerStats);
  const catalogue = { active: 900, pending: 30, admitted: 12, expired: 4 };
  recordWindow(trainerStats, { events: 1000, loss: 6.25, catalogue, gate: null });
  recordWindow(trainerStats, { events: 500, loss: 6.0, catalogue, gate: { candidate: { recall: 0.6, mrr: 0.3 }, serving: { recall: 0.55, mrr: 0.28 }, passed: true } });
  recordWindow(trainerStats, { events: 500, loss: 5.9, catalogue, gate: { candidate: { recall: 0.5, mrr: 0.2 }, serving: { recall: 0.56, mrr: 0.29 }, passed: false } });
  return { stats, serving, trainer };
}

const PROMETHEUS_TYPE = { counter: 'counter', gauge: 'gauge', histogram: 'histogram' } as const;

function one(samples: ExpositionSample[], name: string, labels: Record<string, string> = {}): number {
  const hits = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.equal(hits.length, 1, `${name}${JSON.stringify(labels)}: ${hits.length} samples`);
  return hits[0].value;
}

test('every catalogue instrument is exported under its Prometheus name, type, unit and labels', async () => {
  const { serving, trainer } = processes();
  try {
    const byProcess = { serving: parseExposition((await scrape(serving)).text), trainer: parseExposition((await scrape(trainer)).text) };
    for (const spec of Object.values(INSTRUMENTS) as InstrumentSpec[]) {
      const { samples, families } = byProcess[spec.process];
      const family = families.get(spec.prometheus);
      assert.ok(family, `${spec.name}: family ${spec.prometheus} in the ${spec.process} scrape`);
      assert.equal(family.type, PROMETHEUS_TYPE[spec.kind], `${spec.prometheus} TYPE`);
      assert.equal(family.unit, spec.unit, `${spec.prometheus} UNIT`);
      assert.equal(family.help, spec.description, `${spec.prometheus} HELP`);
      for (const series of prometheusSeries(spec)) {
        const points = samples.filter((s) => s.name === series);
        assert.ok(points.length > 0, `${series} has samples`);
        for (const p of points) {
          const own = Object.keys(p.labels).filter((k) => k !== 'otel_scope_name' && k !== 'le');
          assert.deepEqual(own.sort(), [...spec.attributes].sort(), `${series} labels`);
          assert.equal(p.labels.otel_scope_name, 'streamrec');
        }
      }
    }
    // The resource, once per process.
    assert.equal(one(byProcess.serving.samples, 'target_info', { service_name: 'streamrec-serve', service_instance_id: 'serve-0' }), 1);
    assert.equal(one(byProcess.trainer.samples, 'target_info', { service_name: 'streamrec-trainer', service_instance_id: 'trainer-0' }), 1);
  } finally {
    await serving.shutdown();
    await trainer.shutdown();
  }
});

test('the exported values are the process’s own: counters, dead letters by reason, lag, histograms, online quality, trainer', async () => {
  const { stats, serving, trainer } = processes();
  try {
    const s = parseExposition((await scrape(serving)).text).samples;
    assert.equal(one(s, 'streamrec_events_consumed_total'), stats.eventsIn);
    assert.equal(stats.eventsIn, 6);
    assert.equal(one(s, 'streamrec_recommendations_produced_total'), 3);
    assert.equal(one(s, 'streamrec_dead_letters_total', { reason: 'UNKNOWN_ITEM' }), 1);
    assert.equal(one(s, 'streamrec_dead_letters_total', { reason: 'MALFORMED' }), 2);
    assert.equal(one(s, 'streamrec_dead_letters_total', { reason: 'TOO_LARGE' }), 0, 'every reason is a series from the start (rate() needs the zero)');
    assert.equal(one(s, 'streamrec_transactions_aborted_total'), 1);
    assert.equal(one(s, 'streamrec_consumer_lag', { partition: '1' }), 17);
    assert.equal(one(s, 'streamrec_model_info', { model_version: 'v2' }), 1);
    assert.equal(one(s, 'streamrec_model_swaps_total'), 1);
    assert.equal(one(s, 'streamrec_model_swap_pause_sum'), 0.012);
    assert.equal(one(s, 'streamrec_sessions_live'), 2);
    assert.equal(one(s, 'streamrec_session_store_size'), 4096);
    // End-to-end latency: 5 ms, 40 ms, 800 ms (a dead letter has none), in seconds.
    assert.equal(one(s, 'streamrec_latency_end_to_end_count'), 3);
    assert.ok(Math.abs(one(s, 'streamrec_latency_end_to_end_sum') - 0.845) < 1e-12);
    assert.equal(one(s, 'streamrec_latency_end_to_end_bucket', { le: '0.005' }), 1, 'le is inclusive');
    assert.equal(one(s, 'streamrec_latency_end_to_end_bucket', { le: '0.05' }), 2);
    assert.equal(one(s, 'streamrec_latency_end_to_end_bucket', { le: '0.5' }), 2);
    assert.equal(one(s, 'streamrec_latency_end_to_end_bucket', { le: '+Inf' }), 3);
    assert.equal(one(s, 'streamrec_batch_size_count'), 2);
    assert.equal(one(s, 'streamrec_batch_size_sum'), 6);
    assert.equal(one(s, 'streamrec_batch_wait_sum'), 0.006);
    for (const stage of STAGES.filter((x) => x !== 'store')) assert.equal(one(s, 'streamrec_stage_duration_count', { stage }), 2, stage);
    assert.equal(s.filter((x) => x.labels.stage === 'store').length, 0, 'a stage that is not measured has no series (no false zeros)');
    // Online quality: a's second click hit rank 2 of v1's list; b's unknown item missed v1's list.
    const v1 = { model_version: 'v1' };
    assert.equal(one(s, 'streamrec_online_targets_total', v1), 2);
    assert.equal(one(s, 'streamrec_online_hits_total', { ...v1, k: '20' }), 1);
    assert.equal(one(s, 'streamrec_online_reciprocal_rank_total', { ...v1, k: '5' }), 0.5);
    for (const window of ['cumulative', 'sliding']) {
      assert.equal(one(s, 'streamrec_online_recall', { ...v1, k: '20', window }), 0.5);
      assert.equal(one(s, 'streamrec_online_mrr', { ...v1, k: '10', window }), 0.25);
    }
    assert.equal(one(s, 'streamrec_online_recall', { ...v1, k: '20', window: 'cumulative' }), stats.online.version('v1')!.recall(20));
    assert.equal(s.filter((x) => x.name === 'streamrec_online_recall' && x.labels.model_version === 'v2').length, 0, 'v2 has emitted but has no targets yet');

    const t = parseExposition((await scrape(trainer)).text).samples;
    assert.equal(one(t, 'streamrec_trainer_loss'), 5.9);
    assert.equal(one(t, 'streamrec_trainer_events_total'), 2000);
    assert.equal(one(t, 'streamrec_gate_recall', { model: 'candidate' }), 0.5);
    assert.equal(one(t, 'streamrec_gate_mrr', { model: 'serving' }), 0.29);
    assert.equal(one(t, 'streamrec_trainer_promotions_total', { outcome: 'promoted' }), 1);
    assert.equal(one(t, 'streamrec_trainer_promotions_total', { outcome: 'rejected' }), 1);
    assert.equal(one(t, 'streamrec_catalogue_items', { state: 'active' }), 900);
    assert.equal(one(t, 'streamrec_catalogue_items', { state: 'pending' }), 30);
    assert.equal(one(t, 'streamrec_catalogue_admitted_total'), 12);
    assert.equal(one(t, 'streamrec_catalogue_expired_total'), 4);
  } finally {
    await serving.shutdown();
    await trainer.shutdown();
  }
});

test('label values are escaped by the exporter: a hostile model version or instance id cannot inject a metric line', async () => {
  const config = loadConfig(undefined, {});
  const events = new ServingEvents();
  const stats = attachStats(events, config);
  const instanceId = 'evil"} 1\nstreamrec_injected{x="y';
  const version = 'v1\\"} 0\n# TYPE pwned counter';
  const telemetry = createTelemetry({ serviceName: 'streamrec-serve', instanceId });
  instrumentServing(events, stats, telemetry.meter, { modelVersion: () => version });
  events.emit('batchCommitted', batch([click('a', 'x')], [list('x')], [1], version));
  events.emit('batchCommitted', batch([click('a', 'x')], [list('x')], [1], version));
  try {
    const { text, contentType } = await scrape(telemetry);
    assert.match(contentType ?? '', /^text\/plain/);
    assert.doesNotMatch(text, /^streamrec_injected/m);
    assert.doesNotMatch(text, /^# TYPE pwned/m);
    const { samples } = parseExposition(text);
    assert.equal(one(samples, 'streamrec_model_info', { model_version: version }), 1, 'the version round-trips through escaping');
    assert.equal(one(samples, 'streamrec_online_recall', { model_version: version, k: '20', window: 'cumulative' }), 1);
    assert.equal(one(samples, 'target_info', { service_instance_id: instanceId }), 1);
  } finally {
    await telemetry.shutdown();
  }
});
