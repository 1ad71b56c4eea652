/**
 * npm run bench:passthrough — the Kafka anchors of bench:serve: how fast records can merely be
 * copied from the clicks topic to an output topic on this machine and broker, with no engine in
 * between. Rows (each repeated, runs interleaved so load drift hits every row alike):
 *   - Kafka Streams, stateless passthrough, exactly_once_v2, commit.interval.ms 100, 1 thread;
 *   - bare kafkajs consume→produce, exactly-once: one transaction per chunk (256 / 1,024 records
 *     of one partition's fetched batch): send, sendOffsets, commit; read_committed;
 *   - bare kafkajs, exactly-once, one transaction spanning chunks and partitions, committed every
 *     commit.interval.ms (100) like Kafka Streams: the cadence of the issue's commit-interval serving;
 *   - bare kafkajs, at-least-once: per chunk, produce (acks=all) then commit the offsets.
 * The kafkajs client is set up as serving sets it up (src/kafka createKafka, idempotent producer
 * with one request in flight, 4 MiB per partition fetches, 10 ms fetch wait), so serving can be
 * read against the passthrough of its own client at the same cadence.
 *
 * Every run reads all N preloaded clicks from a fresh group into a fresh output topic; the time
 * runs from the first record handed to the passthrough to the commit of the last offset. Then the
 * output is read back read_committed and decoded: exactly-once rows must hold every click exactly
 * once, at-least-once rows every click at least once (duplicates are reported).
 *
 *   node --import tsx bench/passthrough.ts [--events 1000000] [--repeats 3] [--chunks 1024,256]
 *        [--commit-interval-ms 100] [--rows kstreams,kafkajs-eos,kafkajs-eos-interval,kafkajs-alo] [--warmup-events 100000]
 *        [--out results/passthrough.json]
 *
 * The row runners are exported for bench:serve; importing this file runs nothing.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Kafka, KafkaMessage, Message } from 'kafkajs';
import { StreamrecError, UsageError } from '../src/errors/errors.ts';
import { makeCodecs, Rejection } from '../src/ingest/codec.ts';
import type { ClickEvent } from '../src/ingest/records.ts';
import { createKafka } from '../src/kafka/client.ts';
import { confluentAvailability } from '../src/kafka/confluent-client.ts';
import { createKafkaClient } from '../src/kafka/create-client.ts';
import type { ClientTransaction, KafkaClient, KafkaClientKind } from '../src/kafka/kafka-client.ts';
import { KafkajsClient } from '../src/kafka/kafkajs-client.ts';
import { readTopicToEnd } from '../src/kafka/read-to-end.ts';
import { KAFKA_VERSION, removeDataDir, startLocalBroker } from '../scripts/kafka/local-broker.ts';
import { kafkaStreamsUnavailable, runKafkaStreamsPassthrough } from './kstreams/kafka-streams-anchor.ts';

export type Guarantee = 'exactly-once' | 'at-least-once';
type Log = (s: string) => void;
const stderrLog: Log = (s) => process.stderr.write(s + '\n');

/** A kafkajs client with serving's settings (retries, log routing) for `brokers`. */
export function benchKafka(brokers: string, clientId = 'kbench'): Kafka {
  return createKafka({ kafka: { brokers: brokers.split(','), clientId, security: { protocol: 'plaintext' } } });
}

/**
 * serving's producer settings (src/serving/serving-app.ts): idempotent, one request in flight,
 * and a 10 ms first retry, which matters here: the broker answers CONCURRENT_TRANSACTIONS while
 * the previous transaction's markers are written, and kafkajs waits a retry before trying again.
 */
const SERVING_PRODUCER = { idempotent: true, maxInFlightRequests: 1, retry: { initialRetryTime: 10, maxRetryTime: 1000, retries: Number.MAX_SAFE_INTEGER } };

// ---------------------------------------------------------------------------------------------
// Input: real click records

const EVENTS_PER_SESSION = 5;
const clickCodec = makeCodecs('plain').click;

/**
 * Click `i` of a preloaded stream: a 16-hex-digit session id (five clicks each), a logged-in
 * user, a 9-digit item id as in RSC15 and a referrer; 60 bytes of plain Avro. The timestamp is
 * `baseMs + i`, which is how the downstream check tells the clicks apart.
 */
export function passthroughClick(i: number, baseMs: number): ClickEvent {
  const session = Math.floor(i / EVENTS_PER_SESSION);
  // A multiplicative hash spreads consecutive sessions over the key space like real session ids.
  const sessionId = ((Math.imul(session + 1, 0x9e3779b1) >>> 0).toString(16).padStart(8, '0') + session.toString(16).padStart(8, '0')).slice(0, 16);
  return {
    sessionId,
    userId: `u${(1_000_000 + (session % 9_000_000)).toString()}`,
    itemId: (214_500_000 + ((i * 7_919) % 60_000)).toString(),
    eventType: 'CLICK',
    timestamp: baseMs + i,
    context: { ref: 'homepage' },
  };
}

export interface Preloaded {
  topic: string;
  events: number;
  baseMs: number;
  meanValueBytes: number;
}

/** Creates `topic` with `partitions` partitions (replication 1) unless it exists. */
export async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic] });
  } finally {
    await admin.disconnect();
  }
}

/** Writes `events` clicks (keyed by session id, so the default partitioner spreads them) into a new topic. */
export async function preloadClicks(kafka: Kafka, topic: string, events: number, partitions = 3): Promise<Preloaded> {
  await createTopic(kafka, topic, partitions);
  const baseMs = Date.now() - events;
  const producer = kafka.producer(SERVING_PRODUCER);
  await producer.connect();
  let bytes = 0;
  try {
    const chunk = 5_000;
    for (let from = 0; from < events; from += chunk) {
      const messages: Message[] = [];
      for (let i = from; i < Math.min(events, from + chunk); i++) {
        const c = passthroughClick(i, baseMs);
        const value = clickCodec.encode(c);
        bytes += value.length;
        messages.push({ key: c.sessionId, value });
      }
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
  return { topic, events, baseMs, meanValueBytes: events > 0 ? bytes / events : 0 };
}

// ---------------------------------------------------------------------------------------------
// Output: the downstream check

export interface DownstreamCheck {
  /** Records read back read_committed. */
  received: number;
  /** Preloaded clicks found at least once. */
  distinct: number;
  duplicates: number;
  missing: number;
  /** Records that are not clicks of the preloaded stream (must be 0). */
  foreign: number;
}

/** Reads `topic` back read_committed and accounts for every preloaded click. */
export async function checkDownstream(kafka: Kafka, topic: string, input: Preloaded): Promise<DownstreamCheck> {
  const seen = new Uint8Array(input.events);
  let received = 0;
  let foreign = 0;
  const account = (messages: KafkaMessage[]) => {
    for (const m of messages) {
      received++;
      const c = clickCodec.tryDecode(m.value);
      const i = c instanceof Rejection ? -1 : c.timestamp - input.baseMs;
      if (i < 0 || i >= input.events || m.key?.toString() !== (c as ClickEvent).sessionId) foreign++;
      else if (seen[i] < 255) seen[i]++;
    }
  };
  await readTopicToEnd(kafka, topic, (_p, messages) => account(messages), { timeoutMs: 300_000 });
  let distinct = 0;
  let duplicates = 0;
  for (const s of seen) {
    if (s > 0) distinct++;
    if (s > 1) duplicates += s - 1;
  }
  return { received, distinct, duplicates, missing: input.events - distinct, foreign };
}

/** Throws unless the downstream holds what the guarantee promises. */
export function assertDelivered(row: string, guarantee: Guarantee, check: DownstreamCheck, events: number): void {
  const exact = check.received === events && check.duplicates === 0;
  if (check.missing > 0 || check.foreign > 0 || (guarantee === 'exactly-once' && !exact))
    throw new StreamrecError('internal', `${row}: downstream holds ${check.received} records for ${events} clicks (${JSON.stringify(check)}), which ${guarantee} does not allow`);
}

// ---------------------------------------------------------------------------------------------
// Rows

export interface PassthroughTiming {
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** Transactions (exactly-once) or offset commits (at-least-once) the run made. */
  commits: number;
}

export interface KafkajsPassthroughOptions {
  input: Preloaded;
  output: string;
  groupId: string;
  guarantee: Guarantee;
  /** Records per transaction (exactly-once) or per produce + offset commit (at-least-once); with commitIntervalMs, records per send. */
  chunk: number;
  /**
   * Exactly-once only: keep one transaction open across chunks and commit it (with the offsets of
   * every partition it covers) once it is this old, as Kafka Streams' commit.interval.ms does.
   */
  commitIntervalMs?: number;
  /** Fetch wait: serving.batch.maxWaitMs. */
  maxWaitMs?: number;
  timeoutMs?: number;
}

/** The client library of a bare passthrough row, as the rows and the report name it. */
const CLIENT_NAMES: Record<KafkaClientKind, string> = { kafkajs: 'kafkajs', confluent: '@confluentinc/kafka-javascript' };

/** A seam client of `kind` with serving's settings for `brokers`. */
export function benchClient(brokers: string, kind: KafkaClientKind, clientId = 'kbench'): KafkaClient {
  return createKafkaClient({ kafka: { brokers: brokers.split(','), clientId, security: { protocol: 'plaintext' } } }, '', kind);
}

/** The kafkajs passthrough (the seam's kafkajs client over `kafka`); see runClientPassthrough. */
export function runKafkajsPassthrough(kafka: Kafka, o: KafkajsPassthroughOptions): Promise<PassthroughTiming> {
  return runClientPassthrough(new KafkajsClient(kafka), o);
}

/**
 * Bare consume→produce through the client seam (src/kafka/kafka-client.ts), so each client runs
 * the same loop serving runs: each partition's fetched batch is cut into chunks; a chunk is
 * written and its offsets committed before the next (one transaction in flight), as serving does.
 * With commitIntervalMs the transaction spans chunks and partitions and commits on the interval
 * (checked after each chunk, and at the last record), which is what the issue's commit-interval
 * serving would do.
 */
export async function runClientPassthrough(client: KafkaClient, o: KafkajsPassthroughOptions): Promise<PassthroughTiming> {
  const exactlyOnce = o.guarantee === 'exactly-once';
  if (o.commitIntervalMs !== undefined && !exactlyOnce) throw new UsageError('commitIntervalMs applies to the exactly-once passthrough only');
  const interval = o.commitIntervalMs ?? 0;
  let tx: ClientTransaction | null = null;
  let txOpenedAt = 0;
  // Next offset per partition of what the open transaction holds.
  const pending = new Map<number, string>();
  const producer = client.producer({ ...SERVING_PRODUCER, ...(exactlyOnce ? { transactionalId: `${o.groupId}-tx`, transactionTimeoutMs: 15_000 } : {}) });
  let crashed: (e: Error) => void = () => undefined;
  const consumer = client.consumer({
    groupId: o.groupId,
    readUncommitted: false,
    fromBeginning: true,
    maxWaitTimeInMs: o.maxWaitMs ?? 10,
    maxBytesPerPartition: 4 * 1024 * 1024,
    // librdkafka's client-side batches (32 records by default) would cut every chunk short.
    maxBatchRecords: Math.max(1024, o.chunk),
    onCrash: (e) => crashed(e),
  });
  let done = 0;
  let commits = 0;
  let firstAt = 0;
  let lastAt = 0;
  let settle!: (e?: Error) => void;
  const finished = new Promise<void>((resolve, reject) => (settle = (e) => (e ? reject(e) : resolve())));
  const timer = setTimeout(
    () => settle(new StreamrecError('internal', `${o.groupId}: ${done} of ${o.input.events} records passed within ${o.timeoutMs ?? 300_000} ms`)),
    o.timeoutMs ?? 300_000,
  );
  crashed = (e) => settle(e);
  await producer.connect();
  await consumer.connect();
  try {
    await consumer.subscribe([o.input.topic]);
    await consumer.run({
      autoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        if (firstAt === 0) firstAt = performance.now();
        for (let from = 0; from < batch.messages.length; from += o.chunk) {
          if (!isRunning() || isStale()) return;
          const part = batch.messages.slice(from, from + o.chunk);
          const last = part[part.length - 1].offset;
          const next = (BigInt(last) + 1n).toString();
          const messages = part.map((m) => ({ key: m.key, value: m.value }));
          done += part.length;
          if (exactlyOnce) {
            if (tx === null) {
              tx = await producer.transaction();
              txOpenedAt = performance.now();
            }
            try {
              await tx.sendBatch([{ topic: o.output, messages }]);
              pending.set(batch.partition, next);
              if (performance.now() - txOpenedAt >= interval || done >= o.input.events) {
                const partitions = [...pending].map(([partition, offset]) => ({ partition, offset }));
                await tx.sendOffsets(consumer, [{ topic: batch.topic, partitions }]);
                await tx.commit();
                tx = null;
                pending.clear();
                commits++;
              }
            } catch (e) {
              await tx?.abort();
              tx = null;
              throw e;
            }
          } else {
            await producer.sendBatch([{ topic: o.output, messages }]);
            await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
            commits++;
          }
          resolveOffset(last);
          if (done >= o.input.events && lastAt === 0) {
            lastAt = performance.now();
            settle();
          }
          await heartbeat();
        }
      },
    });
    await finished;
  } finally {
    clearTimeout(timer);
    await consumer.disconnect();
    // Only a failed run leaves a transaction open; abort it rather than let it block readers until it times out.
    await (tx as ClientTransaction | null)?.abort().catch(() => undefined);
    await producer.disconnect();
  }
  const seconds = (lastAt - firstAt) / 1000;
  return { events: done, seconds, eventsPerSec: done / seconds, commits };
}

export interface RowSpec {
  /** Stable key in results/passthrough.json. */
  id: string;
  system: string;
  guarantee: Guarantee;
  /** How often it commits: "1,024-record chunks", "commit.interval.ms 100". */
  cadence: string;
  /** The timing; fields beyond it (Kafka Streams' start-up, versions) are kept as the run's detail. */
  run(kafka: Kafka, brokers: string, input: Preloaded, output: string, runTag: string): Promise<PassthroughTiming>;
}

export function kafkaStreamsRow(commitIntervalMs: number, log: Log = stderrLog): RowSpec {
  return {
    id: `kstreams-eos-v2-${commitIntervalMs}ms`,
    system: 'Kafka Streams, stateless passthrough, 1 thread',
    guarantee: 'exactly-once',
    cadence: `commit.interval.ms ${commitIntervalMs}`,
    run: (_kafka, brokers, input, output, runTag) => runKafkaStreamsPassthrough({ brokers, input: input.topic, output, applicationId: runTag, commitIntervalMs, log }),
  };
}

export function kafkajsRow(guarantee: Guarantee, chunk: number, kind: KafkaClientKind = 'kafkajs'): RowSpec {
  return {
    id: `${kind}-${guarantee === 'exactly-once' ? 'eos' : 'alo'}-${chunk}`,
    system: `bare ${CLIENT_NAMES[kind]} consume→produce`,
    guarantee,
    cadence: `${guarantee === 'exactly-once' ? 'one transaction' : 'produce + commit'} per ${chunk.toLocaleString('en-US')} records`,
    run: (kafka, brokers, input, output, runTag) =>
      runClientPassthrough(kind === 'kafkajs' ? new KafkajsClient(kafka) : benchClient(brokers, kind), { input, output, groupId: runTag, guarantee, chunk }),
  };
}

/** Exactly-once with one transaction spanning chunks, committed every `commitIntervalMs`. */
export function kafkajsIntervalRow(commitIntervalMs: number, chunk: number, kind: KafkaClientKind = 'kafkajs'): RowSpec {
  return {
    id: `${kind}-eos-interval-${commitIntervalMs}ms`,
    system: `bare ${CLIENT_NAMES[kind]} consume→produce`,
    guarantee: 'exactly-once',
    cadence: `one transaction per ${commitIntervalMs} ms (sends of ${chunk.toLocaleString('en-US')})`,
    run: (kafka, brokers, input, output, runTag) =>
      runClientPassthrough(kind === 'kafkajs' ? new KafkajsClient(kafka) : benchClient(brokers, kind), {
        input,
        output,
        groupId: runTag,
        guarantee: 'exactly-once',
        chunk,
        commitIntervalMs,
      }),
  };
}

export interface RunRecord extends PassthroughTiming {
  repeat: number;
  loadAvg1m: number;
  downstream: DownstreamCheck;
  detail: Record<string, unknown>;
}

export interface RowResult {
  id: string;
  system: string;
  guarantee: Guarantee;
  cadence: string;
  runs: RunRecord[];
  medianEventsPerSec: number;
  minEventsPerSec: number;
  maxEventsPerSec: number;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** One run of a row: fresh output topic and group, the timed passthrough, then the downstream check. */
export async function runRowOnce(kafka: Kafka, brokers: string, input: Preloaded, row: RowSpec, repeat: number, tag: string): Promise<RunRecord> {
  const runTag = `${tag}-${row.id}-r${repeat}`;
  const output = `${runTag}-out`;
  await createTopic(kafka, output, 3);
  const loadAvg1m = os.loadavg()[0];
  try {
    const { events, seconds, eventsPerSec, commits, ...detail } = await row.run(kafka, brokers, input, output, runTag);
    const downstream = await checkDownstream(kafka, output, input);
    assertDelivered(`${row.id} run ${repeat}`, row.guarantee, downstream, input.events);
    return { repeat, events, seconds, eventsPerSec, commits, loadAvg1m, downstream, detail };
  } finally {
    await deleteTopic(kafka, output);
  }
}

/** Every row `repeats` times, round-robin, so a change of machine load spreads over all rows. */
export async function runRows(kafka: Kafka, brokers: string, input: Preloaded, rows: RowSpec[], repeats: number, tag: string, log: Log = stderrLog): Promise<RowResult[]> {
  const runs = new Map<string, RunRecord[]>(rows.map((r) => [r.id, []]));
  for (let repeat = 1; repeat <= repeats; repeat++) {
    for (const row of rows) {
      const r = await runRowOnce(kafka, brokers, input, row, repeat, tag);
      runs.get(row.id)!.push(r);
      log(
        `  ${row.id.padEnd(26)} run ${repeat}/${repeats}: ${Math.round(r.eventsPerSec).toLocaleString('en-US').padStart(8)} ev/s  (${r.seconds.toFixed(2)} s, ` +
          `${r.commits} commits, downstream ${r.downstream.received.toLocaleString('en-US')}, dup ${r.downstream.duplicates}, load ${r.loadAvg1m.toFixed(2)})`,
      );
    }
  }
  return rows.map((row) => {
    const rs = runs.get(row.id)!;
    const rates = rs.map((r) => r.eventsPerSec);
    return {
      id: row.id,
      system: row.system,
      guarantee: row.guarantee,
      cadence: row.cadence,
      runs: rs,
      medianEventsPerSec: median(rates),
      minEventsPerSec: Math.min(...rates),
      maxEventsPerSec: Math.max(...rates),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');

export interface PassthroughReport {
  bench: 'passthrough';
  date: string;
  cpu: { model: string; cores: number };
  loadAvgBefore: number[];
  loadAvgAfter: number[];
  node: string;
  broker: string;
  clients: Record<string, string>;
  events: number;
  partitions: number;
  meanValueBytes: number;
  repeats: number;
  /** Clicks per row in the untimed warm-up round (0: none). */
  warmupEvents: number;
  skipped: string[];
  rows: RowResult[];
}

export function markdownTable(r: PassthroughReport): string {
  const lines = [
    `${r.date.slice(0, 10)}; ${r.cpu.model}, ${r.cpu.cores} cores; load average ${r.loadAvgBefore.map((x) => x.toFixed(2)).join(' / ')} before, ` +
      `${r.loadAvgAfter.map((x) => x.toFixed(2)).join(' / ')} after (1 / 5 / 15 min); broker ${r.broker}; ` +
      `${Object.entries(r.clients)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}; Node ${r.node}.`,
    `${fmt(r.events)} clicks (${r.meanValueBytes.toFixed(0)}-byte values), ${r.partitions} partitions, ${r.repeats} runs per row, interleaved, ` +
      `after ${r.warmupEvents > 0 ? `an untimed warm-up round of ${fmt(r.warmupEvents)} clicks per row` : 'no warm-up round'}; events/s from the first record handed over to the commit of the last offset.`,
    '',
    '| system | guarantee | commits | records per commit | median ev/s | min–max | runs | downstream (read_committed) |',
    '|---|---|---|---|---|---|---|---|',
    ...r.rows.map((row) => {
      const dup = row.runs.reduce((s, x) => s + x.downstream.duplicates, 0);
      const check =
        row.guarantee === 'exactly-once' ? `each click exactly once, ${row.runs.length}/${row.runs.length} runs` : `every click, ${dup} duplicates over ${row.runs.length} runs`;
      const perCommit = median(row.runs.map((x) => x.events / Math.max(1, x.commits)));
      return `| ${row.system} | ${row.guarantee} | ${row.cadence} | ${fmt(perCommit)} | ${fmt(row.medianEventsPerSec)} | ${fmt(row.minEventsPerSec)}–${fmt(row.maxEventsPerSec)} | ${row.runs.map((x) => fmt(x.eventsPerSec)).join(', ')} | ${check} |`;
    }),
    ...r.skipped.map((s) => `\n${s}`),
  ];
  return lines.join('\n');
}

function kafkajsVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../node_modules/kafkajs/package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function confluentVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../node_modules/@confluentinc/kafka-javascript/package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function positiveInts(name: string, text: string): number[] {
  const xs = text.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 1)) throw new UsageError(`--${name} takes positive integers, got ${text}`);
  return xs;
}

async function main(): Promise<void> {
  const { values: a } = parseArgs({
    options: {
      // 200k (the issue's setting) is too short for Kafka Streams: about 1 s of work, most of it its
      // ramp-up, gave half the 1M-event figure in the same sitting (93k vs 178k events/s).
      events: { type: 'string', default: '1000000' },
      repeats: { type: 'string', default: '3' },
      chunks: { type: 'string', default: '1024,256' },
      'commit-interval-ms': { type: 'string', default: '100' },
      rows: { type: 'string', default: 'kstreams,kafkajs-eos,kafkajs-eos-interval,kafkajs-alo,confluent-eos,confluent-eos-interval,confluent-alo' },
      'warmup-events': { type: 'string', default: '100000' },
      out: { type: 'string', default: 'results/passthrough.json' },
    },
  });
  const [events] = positiveInts('events', a.events!);
  const [repeats] = positiveInts('repeats', a.repeats!);
  const chunks = positiveInts('chunks', a.chunks!);
  const [commitIntervalMs] = positiveInts('commit-interval-ms', a['commit-interval-ms']!);
  const warmupEvents = a['warmup-events'] === '0' ? 0 : positiveInts('warmup-events', a['warmup-events']!)[0];
  const wanted = new Set(a.rows!.split(','));
  const known = ['kstreams', 'kafkajs-eos', 'kafkajs-eos-interval', 'kafkajs-alo', 'confluent-eos', 'confluent-eos-interval', 'confluent-alo'];
  for (const w of wanted) if (!known.includes(w)) throw new UsageError(`--rows: unknown row ${w} (${known.join(', ')})`);

  const log = stderrLog;
  const skipped: string[] = [];
  const rows: RowSpec[] = [];
  const clients: Record<string, string> = { kafkajs: kafkajsVersion() };
  if (wanted.has('kstreams')) {
    const why = kafkaStreamsUnavailable();
    if (why) {
      skipped.push(why);
      log(why);
    } else rows.push(kafkaStreamsRow(commitIntervalMs, log));
  }
  if (wanted.has('kafkajs-eos')) rows.push(...chunks.map((c) => kafkajsRow('exactly-once', c)));
  if (wanted.has('kafkajs-eos-interval')) rows.push(kafkajsIntervalRow(commitIntervalMs, Math.max(...chunks)));
  if (wanted.has('kafkajs-alo')) rows.push(...chunks.map((c) => kafkajsRow('at-least-once', c)));
  if (['confluent-eos', 'confluent-eos-interval', 'confluent-alo'].some((r) => wanted.has(r))) {
    const confluent = confluentAvailability();
    if (!confluent.available) {
      const why = `confluent rows skipped: ${confluent.reason}`;
      skipped.push(why);
      log(why);
    } else {
      clients[CLIENT_NAMES.confluent] = `${confluentVersion()} (librdkafka ${confluent.librdkafka})`;
      if (wanted.has('confluent-eos')) rows.push(...chunks.map((c) => kafkajsRow('exactly-once', c, 'confluent')));
      if (wanted.has('confluent-eos-interval')) rows.push(kafkajsIntervalRow(commitIntervalMs, Math.max(...chunks), 'confluent'));
      if (wanted.has('confluent-alo')) rows.push(...chunks.map((c) => kafkajsRow('at-least-once', c, 'confluent')));
    }
  }

  const loadAvgBefore = os.loadavg();
  let broker = null;
  let brokers = process.env.KAFKA_BROKERS;
  if (!brokers) {
    broker = await startLocalBroker({ log });
    brokers = broker.brokers;
  }
  const date = new Date().toISOString();
  let results: RowResult[];
  let input: Preloaded;
  try {
    const kafka = benchKafka(brokers);
    const tag = `kbench-${Date.now().toString(36)}`;
    log(`bench:passthrough: broker ${brokers}, preloading ${fmt(events)} clicks…`);
    input = await preloadClicks(kafka, `${tag}-clicks`, events, 3);
    log(`  ${fmt(events)} clicks, mean value ${input.meanValueBytes.toFixed(1)} bytes; ${rows.length} rows × ${repeats} runs`);
    if (warmupEvents > 0) {
      // On a fresh broker JVM the first round of the exactly-once rows ran 15–32% slower (first of
      // three 1M-click rounds); one untimed round, checked like the others, takes that out.
      log(`  warm-up round (${fmt(warmupEvents)} clicks per row, not counted):`);
      const warmInput = await preloadClicks(kafka, `${tag}-warmup-clicks`, warmupEvents, 3);
      await runRows(kafka, brokers, warmInput, rows, 1, `${tag}-warmup`, log);
      await deleteTopic(kafka, warmInput.topic);
    }
    results = await runRows(kafka, brokers, input, rows, repeats, tag, log);
    await deleteTopic(kafka, input.topic);
  } finally {
    if (broker) {
      await broker.stop();
      removeDataDir(broker.dataDir);
    }
  }
  const kstreams = results.find((r) => r.id.startsWith('kstreams'))?.runs[0]?.detail;
  if (kstreams) {
    clients['Kafka Streams'] = String(kstreams.kafkaStreamsVersion);
    clients.Java = String(kstreams.javaVersion);
  }
  const report: PassthroughReport = {
    bench: 'passthrough',
    date,
    cpu: { model: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length },
    loadAvgBefore,
    loadAvgAfter: os.loadavg(),
    node: process.version,
    broker: `Apache Kafka ${KAFKA_VERSION} (KRaft, single node, 127.0.0.1${broker ? ', started by the bench' : `, ${brokers}`})`,
    clients,
    events,
    partitions: 3,
    meanValueBytes: input.meanValueBytes,
    repeats,
    warmupEvents,
    skipped,
    rows: results,
  };
  mkdirSync(dirname(a.out!), { recursive: true });
  writeFileSync(a.out!, JSON.stringify(report, null, 2) + '\n');
  log(`wrote ${a.out}`);
  process.stdout.write(markdownTable(report) + '\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
