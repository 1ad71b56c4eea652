/**
 * npm run bench:serve — the serving topology end to end on a real Kafka broker, and everything it
 * is read against, from ONE run: GRU4Rec (synthetic weights, H=100, constrained embedding,
 * top-20) at catalogues of 3k / 30k / 300k items, at the topology's batch settings
 * (topologies/default.yaml). Per catalogue:
 *   - the GEMM-bound limit (the bare scoring product at the serving batch size, all cores) and the
 *     engine step alone (the engine serving creates), alternated;
 *   - serving, max throughput: a backlog served as fast as possible, events/s from the first
 *     committed batch to the commit of the last click; per client and delivery mode, exactly-once
 *     at commit intervals 0 (every micro-batch) and the topology's (serving.commit.intervalMs),
 *     at-least-once at interval 0 (the cadence of the bare at-least-once passthrough);
 *   - serving latency at half of each mode's max throughput: p50/p95/p99/p99.9 (HDR histograms) of
 *     click appended → recommendation produced, and → read by a read_committed consumer.
 * Once per run (they do not depend on the catalogue): the bare passthrough of each client at
 * serving's cadence (bench/passthrough.ts: one transaction per batch.maxSize records, one per
 * commit interval, at-least-once produce + commit per batch.maxSize records), every run checked
 * downstream, and the Kafka Streams EOS-v2 passthrough as the anchor (skipped with a message where
 * Java is missing). Rows of one kind run round-robin, `--repeats` times, after one untimed warm-up
 * round; medians with min–max. Then the ratios the issue's targets name.
 *
 * --scoring exact,ann adds, per catalogue, serving.scoring: ann (bench/serve-ann.ts): the index
 * built off the clock (its seconds recorded), the ANN engine step alone alternated with the exact
 * one, recall@20 of its lists against exact's on the same clicks, and serving max throughput and
 * latency exactly-once at the topology's commit interval with ANN scoring, round-robin with the
 * exact rows. The model then has the clustered catalogue of src/ann/synthetic-items.ts as its
 * output layer (clusteredWeights) for every row of the run. --ann M:efAdd:ef overrides the index
 * settings (default: the topology's serving.ann); --engine-only skips Kafka (engine rows only).
 *
 *   node --import tsx bench/serve.ts [--quick] [--catalogues 3000,30000,300000] [--repeats 3]
 *        [--events 100000] [--clients kafkajs,confluent] [--latency-seconds 6] [--out results/serve.json]
 *        [--scoring exact,ann] [--ann 16:128:128] [--engine-only]
 *
 * --events is the row length at 3k items; larger catalogues get events·√(3000/N) (serving them is
 * engine-bound and slower), so the default run fits ~25 minutes on 2 cores. --quick: 3k and 30k,
 * one repeat, 10k events, no warm-up round: a smoke run.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { UsageError } from '../src/errors/errors.ts';
import { loadConfig } from '../src/config/config.ts';
import { confluentAvailability } from '../src/kafka/confluent-client.ts';
import type { KafkaClientKind } from '../src/kafka/kafka-client.ts';
import { KAFKA_VERSION, removeDataDir, startLocalBroker } from '../scripts/kafka/local-broker.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';
import { buildAnnScoring, clusteredWeights, disposeAnnScoring, parseScorings } from './serve-ann.ts';
import { kafkaStreamsUnavailable } from './kstreams/kafka-streams-anchor.ts';
import { benchKafka, deleteTopic, kafkaStreamsRow, kafkajsIntervalRow, kafkajsRow, median, preloadClicks, type RowResult, type RowSpec, runRows } from './passthrough.ts';
import { annVsExact, type Catalogue, engineVsBound, type LatencyRun, modeId, type ServingMode, servingLatency, servingThroughput, type ThroughputRun } from './serve-runs.ts';
import { type AnnReport, type CatalogueReport, markdownReport, printCatalogue, type ServeReport, spread } from './serve-report.ts';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    catalogues: { type: 'string' },
    repeats: { type: 'string' },
    events: { type: 'string' },
    clients: { type: 'string' },
    'latency-seconds': { type: 'string' },
    out: { type: 'string', default: 'results/serve.json' },
    scoring: { type: 'string', default: 'exact' },
    ann: { type: 'string' },
    'engine-only': { type: 'boolean', default: false },
  },
});
const quick = args.quick!;
const H = 100;
const log = (s: string) => process.stderr.write(s + '\n');
const ints = (name: string, text: string): number[] => {
  const xs = text.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError(`--${name} takes positive integers, got ${text}`);
  return xs;
};
const catalogues = ints('catalogues', args.catalogues ?? (quick ? '3000,30000' : '3000,30000,300000'));
const [repeats] = ints('repeats', args.repeats ?? (quick ? '1' : '3'));
const [baseEvents] = ints('events', args.events ?? (quick ? '10000' : '100000'));
const [latencySeconds] = ints('latency-seconds', args['latency-seconds'] ?? (quick ? '3' : '6'));
const eventsFor = (nItems: number) => Math.round(baseEvents * Math.min(1, Math.sqrt(3000 / nItems)));
const scorings = parseScorings(args.scoring!);
const engineOnly = args['engine-only']!;

const topology = loadConfig();
const { maxSize, maxWaitMs } = topology.serving.batch;
const commitIntervalMs = topology.serving.commit.intervalMs;
const topK = topology.serving.topK;
const threads = os.availableParallelism();
const loadAvg = () => os.loadavg()[0];

/** The index settings of the ANN rows: --ann M:efAdd:ef over the topology's serving.ann. */
function annSettings(): NonNullable<typeof topology.serving.ann> {
  if (!args.ann) return topology.serving.ann ?? {};
  const [connectivity, expansionAdd, expansionSearch] = ints('ann', args.ann.replaceAll(':', ','));
  if (expansionSearch === undefined) throw new UsageError(`--ann takes M:efAdd:ef, got ${args.ann}`);
  return { ...topology.serving.ann, connectivity, expansionAdd, expansionSearch };
}

/** Clients whose passthrough runs (every one that loads here) and those serving runs with (default: the topology's). */
function clients(): { passthrough: KafkaClientKind[]; serving: KafkaClientKind[]; skipped: string[]; versions: Record<string, string> } {
  const skipped: string[] = [];
  const versions: Record<string, string> = {};
  const available: KafkaClientKind[] = ['kafkajs'];
  const c = confluentAvailability();
  if (c.available) {
    available.push('confluent');
    versions.librdkafka = c.librdkafka;
  } else skipped.push(`confluent client skipped: ${c.reason}`);
  const wanted = (args.clients?.split(',') ?? [topology.kafka.client]) as KafkaClientKind[];
  for (const w of wanted) if (w !== 'kafkajs' && w !== 'confluent') throw new UsageError(`--clients: unknown client ${w} (kafkajs, confluent)`);
  const serving = wanted.filter((w) => available.includes(w));
  for (const w of wanted) if (!available.includes(w)) skipped.push(`serving with ${w} skipped: not available here`);
  return { passthrough: args.clients ? serving : available, serving, skipped, versions };
}

/** The serving modes of one client: EOS at interval 0 and the topology's, ALO at 0 (the bare ALO passthrough's cadence). */
function modesOf(client: KafkaClientKind): ServingMode[] {
  const eos = [...new Set([0, commitIntervalMs])].map((i): ServingMode => ({ client, delivery: 'exactly-once', commitIntervalMs: i }));
  return [...eos, { client, delivery: 'at-least-once', commitIntervalMs: 0 }];
}

/** The modes of one client that --scoring asks for: modesOf's with exact scoring, EOS at the topology's interval with ann. */
function scoredModesOf(client: KafkaClientKind): ServingMode[] {
  const ann: ServingMode[] = scorings.includes('ann') ? [{ client, delivery: 'exactly-once', commitIntervalMs, scoring: 'ann' }] : [];
  return [...(scorings.includes('exact') ? modesOf(client) : []), ...ann];
}

/** The passthrough row at the same cadence and mode as a serving mode (ids as bench/passthrough.ts makes them). */
function passthroughRowFor(m: ServingMode): string {
  if (m.delivery === 'at-least-once') return kafkajsRow('at-least-once', maxSize, m.client).id;
  return m.commitIntervalMs === 0 ? kafkajsRow('exactly-once', maxSize, m.client).id : kafkajsIntervalRow(m.commitIntervalMs ?? commitIntervalMs, maxSize, m.client).id;
}

async function passthroughAnchors(brokers: string, passClients: KafkaClientKind[], skipped: string[]): Promise<RowResult[]> {
  const rows: RowSpec[] = [];
  const why = kafkaStreamsUnavailable();
  if (why) {
    skipped.push(why);
    log(why);
  } else rows.push(kafkaStreamsRow(100, log));
  for (const c of passClients) {
    rows.push(kafkajsRow('exactly-once', maxSize, c));
    if (commitIntervalMs > 0) rows.push(kafkajsIntervalRow(commitIntervalMs, maxSize, c));
    rows.push(kafkajsRow('at-least-once', maxSize, c));
  }
  const kafka = benchKafka(brokers);
  const tag = `sbench-${Date.now().toString(36)}`;
  const events = baseEvents;
  log(
    `passthrough anchors: ${rows.length} rows × ${repeats} runs of ${events.toLocaleString('en-US')} clicks (cadence of serving: ${maxSize} records, commit interval ${commitIntervalMs} ms)`,
  );
  if (!quick) {
    log('  warm-up round (not counted):');
    const warm = await preloadClicks(kafka, `${tag}-warmup-clicks`, Math.min(events, 20_000), 3);
    await runRows(kafka, brokers, warm, rows, 1, `${tag}-warmup`, log);
    await deleteTopic(kafka, warm.topic);
  }
  const input = await preloadClicks(kafka, `${tag}-clicks`, events, 3);
  const results = await runRows(kafka, brokers, input, rows, repeats, tag, log);
  await deleteTopic(kafka, input.topic);
  return results;
}

/** The ANN rows' index, engine step and recall for one catalogue (sets cat.ann, which the caller disposes). */
async function annRows(cat: Catalogue): Promise<AnnReport> {
  log(`  ann index: building (${threads} threads, off the clock; serving builds on cores − 1)`);
  const ann = await buildAnnScoring(cat.weights, annSettings(), threads);
  cat.ann = ann;
  const s = ann.settings;
  log(
    `  ann index: ${s.library} ${s.quantization} M=${s.connectivity} efAdd=${s.expansionAdd} ef=${s.expansionSearch}: built in ${ann.buildSeconds.toFixed(1)} s, ${ann.indexMB.toFixed(0)} MB`,
  );
  log(`  engine alone, ann vs exact scoring, ${repeats} × alternated; then recall@${topK}`);
  const r = await annVsExact(cat, repeats, quick ? 300 : 1000, quick ? 256 : 1024);
  const annSpread = spread(r.annEventsPerSec);
  const exactSpread = spread(r.exactEventsPerSec);
  log(`  ann ${n0(annSpread.median)} ev/s, exact ${n0(exactSpread.median)} ev/s, recall@${topK} ${r.recall.toFixed(4)} over ${r.recallLists} lists`);
  return {
    settings: {
      library: s.library,
      quantization: s.quantization,
      connectivity: s.connectivity,
      expansionAdd: s.expansionAdd,
      expansionSearch: s.expansionSearch,
      buildThreads: s.buildThreads,
      searchThreads: s.searchThreads,
    },
    buildSeconds: ann.buildSeconds,
    indexMB: ann.indexMB,
    engineOnly: annSpread,
    exactEngineOnly: exactSpread,
    encodeOnly: spread(r.encodeEventsPerSec),
    vsExact: annSpread.median / exactSpread.median,
    k: topK,
    recallAtK: r.recall,
    recallLists: r.recallLists,
  };
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US');

async function catalogueRows(brokers: string, nItems: number, servingClients: KafkaClientKind[], passthrough: RowResult[]): Promise<CatalogueReport> {
  const withAnn = scorings.includes('ann');
  const cat: Catalogue = {
    nItems,
    // The ANN rows need a catalogue with structure (bench/serve-ann.ts); the default run keeps its weights.
    weights: withAnn ? clusteredWeights(nItems, H, 11) : syntheticWeights({ nItems, embeddingDim: H, hiddenSizes: [H], constrainedEmbedding: true, useBias: true }, 11),
    itemIds: Array.from({ length: nItems }, (_, i) => `i${i}`),
  };
  try {
    return await catalogueRowsOf(brokers, cat, servingClients, passthrough);
  } finally {
    if (cat.ann) disposeAnnScoring(cat.ann);
  }
}

async function catalogueRowsOf(brokers: string, cat: Catalogue, servingClients: KafkaClientKind[], passthrough: RowResult[]): Promise<CatalogueReport> {
  const { nItems } = cat;
  const weights = scorings.includes('ann') ? 'clustered' : 'synthetic';
  const events = eventsFor(nItems);
  log(`\n${nItems.toLocaleString('en-US')} items: engine alone vs the GEMM-bound limit (batch ${maxSize}, ${threads} threads), ${repeats} × alternated`);
  const ev = await engineVsBound(cat, topK, maxSize, threads, repeats, quick ? 300 : 1000);
  const ann = scorings.includes('ann') ? await annRows(cat) : undefined;
  const bound = spread(ev.boundEventsPerSec);
  const engine = spread(ev.engineEventsPerSec);
  const base = { nItems, weights, events, batch: maxSize, gemmBound: bound, engineOnly: engine, engineVsGemmBound: engine.median / bound.median, ann } as const;
  if (engineOnly) return { ...base, serving: [] };
  const modes = servingClients.flatMap(scoredModesOf);
  if (!quick) {
    log('  serving warm-up (not counted)');
    await servingThroughput(brokers, cat, modes[0], Math.min(events, 5_000), `w${nItems}`, loadAvg);
  }
  log(`  serving a backlog of ${events.toLocaleString('en-US')} clicks: ${modes.length} modes × ${repeats} runs, round-robin`);
  const runs = new Map<string, ThroughputRun[]>(modes.map((m) => [modeId(m), []]));
  for (let r = 1; r <= repeats; r++) {
    for (const m of modes) {
      const run = await servingThroughput(brokers, cat, m, events, `t${nItems}-${modeId(m)}-r${r}`, loadAvg);
      runs.get(modeId(m))!.push(run);
      log(
        `    ${modeId(m).padEnd(34)} run ${r}/${repeats}: ${Math.round(run.eventsPerSec).toLocaleString('en-US').padStart(8)} ev/s (${run.seconds.toFixed(2)} s, mean batch ${run.meanBatch.toFixed(0)}, load ${run.loadAvg1m.toFixed(2)})`,
      );
    }
  }
  const latency = new Map<string, LatencyRun>();
  for (const m of modes) {
    const rate = Math.max(50, Math.round(0.5 * median(runs.get(modeId(m))!.map((x) => x.eventsPerSec))));
    const l = await servingLatency(brokers, cat, m, rate, latencySeconds, `l${nItems}-${modeId(m)}`);
    latency.set(modeId(m), l);
    log(`    ${modeId(m).padEnd(34)} latency at ${rate} ev/s: visible p50 ${l.visible.p50.toFixed(1)} p99 ${l.visible.p99.toFixed(1)} p99.9 ${l.visible.p999.toFixed(1)} ms`);
  }
  const kstreams = passthrough.find((p) => p.id.startsWith('kstreams'));
  const serving = modes.map((m) => {
    const s = spread(runs.get(modeId(m))!.map((x) => x.eventsPerSec));
    const pass = passthrough.find((p) => p.id === passthroughRowFor(m));
    // An ANN row is read against the same mode with exact scoring (when that ran).
    const exact = m.scoring === 'ann' ? runs.get(modeId({ ...m, scoring: undefined })) : undefined;
    return {
      id: modeId(m),
      mode: m,
      events,
      throughput: s,
      runs: runs.get(modeId(m))!,
      meanBatch: median(runs.get(modeId(m))!.map((x) => x.meanBatch)),
      latency: latency.get(modeId(m))!,
      passthroughRow: pass?.id ?? null,
      vsPassthrough: pass ? s.median / pass.medianEventsPerSec : null,
      vsKafkaStreams: kstreams && m.delivery === 'exactly-once' ? s.median / kstreams.medianEventsPerSec : null,
      vsGemmBound: s.median / bound.median,
      vsExactScoring: exact ? s.median / median(exact.map((x) => x.eventsPerSec)) : null,
    };
  });
  return { ...base, serving };
}

async function main(): Promise<void> {
  const { passthrough: passClients, serving: servingClients, skipped, versions } = clients();
  for (const s of skipped) log(s);
  const loadAvgBefore = os.loadavg();
  const started = Date.now();
  let broker = null;
  let brokers = process.env.KAFKA_BROKERS ?? '';
  if (!brokers && !engineOnly) {
    broker = await startLocalBroker({ log });
    brokers = broker.brokers;
  }
  log(
    `bench:serve: ${threads} cores (${os.cpus()[0]?.model}), broker ${brokers || 'none'}; H=${H}, top-${topK}, batch ${maxSize} / ${maxWaitMs} ms, commit interval ${commitIntervalMs} ms, 3 partitions; load ${loadAvgBefore.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const reports: CatalogueReport[] = [];
  let passthrough: RowResult[] = [];
  try {
    if (!engineOnly) passthrough = await passthroughAnchors(brokers, passClients, skipped);
    for (const nItems of catalogues) {
      const r = await catalogueRows(brokers, nItems, servingClients, passthrough);
      reports.push(r);
      printCatalogue(r, passthrough, log);
    }
  } finally {
    if (broker) {
      await broker.stop();
      removeDataDir(broker.dataDir);
    }
  }
  const report: ServeReport = {
    bench: 'serve',
    date: new Date(started).toISOString(),
    minutes: (Date.now() - started) / 60_000,
    quick,
    cpu: { model: os.cpus()[0]?.model ?? 'unknown', cores: threads },
    loadAvgBefore,
    loadAvgAfter: os.loadavg(),
    node: process.version,
    broker: engineOnly ? 'none (--engine-only)' : `Apache Kafka ${KAFKA_VERSION} (KRaft, single node${broker ? ', started by the bench' : `, ${brokers}`})`,
    clients: { ...versions },
    config: { hidden: H, topK, partitions: 3, batch: { maxSize, maxWaitMs }, commitIntervalMs, repeats, baseEvents, latencySeconds, scorings, engineOnly },
    skipped,
    passthrough,
    catalogues: reports,
  };
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(args.out!, JSON.stringify(report, null, 2) + '\n');
  log(`wrote ${args.out} (${report.minutes.toFixed(1)} min)`);
  process.stdout.write(markdownReport(report) + '\n');
}

await main();
