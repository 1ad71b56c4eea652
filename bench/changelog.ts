/**
 * The session changelog, full records (v2: hidden state + history) against history records (v3
 * where exact, v2 beyond historyLength): bytes per record and per event, and restore time at
 * 100k and 1M sessions.
 *
 *   npm run bench:changelog -- [--sessions 100000,1000000] [--repeats 3] [--items 3000] [--hidden 100] [--history 20] [--batch 256]
 *
 * Sessions: lengths drawn from the rsc15-100k training sessions (SHARED_DATA_DIR or ../shared/data),
 * geometric with mean 4 where that file is missing; items uniform. The writer store is filled
 * directly (push the items, random states), not by serving every event: restore cost depends on
 * record sizes and history lengths, not on the state values.
 *
 * Restore is measured in process, from encoded records handed to the serving recommender in
 * fetch-sized chunks (restorePartition, then completeRestore's batched encode() for the history
 * records), as StateRestorer does after its Kafka read. The Kafka read itself is NOT in these
 * figures: it adds the time to fetch the compacted topic, which scales with its bytes (the
 * "changelog MB" column).
 *
 * Bytes per event: each event's record as it would be written if every event were in its own
 * commit (the upper bound; a commit spanning several events of a session writes one record for them).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config.ts';
import { seededRandom } from '../src/random/rng.ts';
import { prepareModel } from '../src/serving/create-recommender.ts';
import { Gru4RecRecommender } from '../src/serving/gru4rec-recommender.ts';
import type { ChangelogInput } from '../src/session/changelog.ts';
import { headerBytes, recordBytes, type RecordMode } from '../src/session/session-codec.ts';
import { SessionStore } from '../src/session/session-store.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';

const { values: a } = parseArgs({
  options: {
    sessions: { type: 'string', default: '100000,1000000' },
    repeats: { type: 'string', default: '3' },
    items: { type: 'string', default: '3000' },
    hidden: { type: 'string', default: '100' },
    history: { type: 'string', default: '20' },
    batch: { type: 'string', default: '256' },
    out: { type: 'string', default: 'results/changelog.json' },
  },
});
const sessionCounts = a.sessions.split(',').map(Number);
const repeats = Number(a.repeats);
const nItems = Number(a.items);
const H = Number(a.hidden);
const historyLength = Number(a.history);
const batch = Number(a.batch);
/** Records per restorePartition call: about one kafkajs fetch of ~1 MB of full records. */
const FETCH_RECORDS = 2000;
const PARTITIONS = 3;

const rnd = seededRandom(11);
const { lengths: sourceLengths, source } = sessionLengths();
const itemIds = Array.from({ length: nItems }, (_, i) => `i${i}`);
const weights = syntheticWeights({ nItems, embeddingDim: 0, hiddenSizes: [H], constrainedEmbedding: true, useBias: true }, 1);
const cfg = loadConfig(undefined, {});
cfg.serving.batch.maxSize = batch;
const quiet = () => undefined;

function sessionLengths(): { lengths: Int32Array; source: string } {
  const dir = process.env.SHARED_DATA_DIR ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
  const file = join(dir, 'rsc15-100k', 'train_full.tsv');
  try {
    const counts = new Map<string, number>();
    const lines = readFileSync(file, 'utf8').split('\n');
    for (let i = 1; i < lines.length; i++) {
      const tab = lines[i].indexOf('\t');
      if (tab > 0) {
        const id = lines[i].slice(0, tab);
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
    }
    return { lengths: Int32Array.from(counts.values()), source: `rsc15-100k train_full (${counts.size} sessions)` };
  } catch {
    // Geometric, mean 4, at least 1 click.
    return { lengths: Int32Array.from({ length: 10_000 }, () => 1 + Math.floor(Math.log(1 - rnd()) / Math.log(0.75))), source: 'geometric, mean 4' };
  }
}

/** The compacted changelog of `n` sessions as written in `mode`: one record per session. */
function writeChangelog(n: number, mode: RecordMode, lengths: Int32Array): ChangelogInput[] {
  const store = new SessionStore({ hiddenSizes: [H], historyLength, maxSessions: n, ttlMs: Infinity, recordMode: mode });
  const out: ChangelogInput[] = new Array(n);
  const r = seededRandom(5);
  for (let s = 0; s < n; s++) {
    const id = `session-${s}`;
    const slot = store.acquire(id, s % PARTITIONS, 1_700_000_000_000 + s);
    for (let e = 0; e < lengths[s]; e++) store.pushItem(slot, Math.floor(r() * nItems));
    const h = store.hiddenView(0, slot);
    for (let k = 0; k < H; k++) h[k] = r() * 2 - 1;
    out[s] = { key: id, value: store.encodeSession(slot), partition: s % PARTITIONS };
  }
  return out;
}

/** Bytes of the record an event at 1-based position k of its session produces, in each mode. */
function eventRecordBytes(k: number, mode: RecordMode): number {
  const n = Math.min(k, historyLength);
  return mode === 'history' && k <= historyLength ? recordBytes([H], n, 3) : recordBytes([H], n);
}

interface RestoreRun {
  totalMs: number;
  applyMs: number;
  reencodeMs: number;
  reencoded: number;
}

async function restoreOnce(records: ChangelogInput[], mode: RecordMode, n: number): Promise<RestoreRun> {
  const rec = new Gru4RecRecommender(await prepareModel(cfg, weights, itemIds, 'v1', quiet), {
    topK: 20,
    excludeSeen: false,
    historyLength,
    maxSessions: n,
    ttlMs: 3_600_000,
    unknownItems: 'dead-letter',
    changelogRecord: mode,
  });
  const t0 = performance.now();
  for (let i = 0; i < records.length; i += FETCH_RECORDS) await rec.restorePartition(records.slice(i, i + FETCH_RECORDS));
  const t1 = performance.now();
  const reencoded = await rec.completeRestore();
  const t2 = performance.now();
  if (rec.store.size !== n) throw new Error(`restored ${rec.store.size} of ${n} sessions`);
  await rec.close();
  return { totalMs: t2 - t0, applyMs: t1 - t0, reencodeMs: t2 - t1, reencoded };
}

const stats = (xs: number[]) => {
  const s = [...xs].sort((x, y) => x - y);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1], runs: xs };
};

process.stderr.write(
  `changelog bench: H=${H}, historyLength ${historyLength}, ${nItems} items, encode batch ${batch}, lengths from ${source}; ${cpus().length} CPUs, load ${loadavg()
    .map((x) => x.toFixed(1))
    .join(' ')}\n`,
);
const rows: Record<string, unknown>[] = [];
for (const n of sessionCounts) {
  const lengths = Int32Array.from({ length: n }, () => sourceLengths[Math.floor(rnd() * sourceLengths.length)]);
  let events = 0;
  for (const l of lengths) events += l;
  for (const mode of ['full', 'history'] as const) {
    const records = writeChangelog(n, mode, lengths);
    let bytes = 0;
    let v3 = 0;
    for (const r of records) {
      const v = r.value as Buffer;
      bytes += v.length;
      if (v[0] === 3) v3++;
    }
    let eventBytes = 0;
    for (const l of lengths) for (let k = 1; k <= l; k++) eventBytes += eventRecordBytes(k, mode);
    const runs: RestoreRun[] = [];
    for (let r = 0; r < repeats; r++) runs.push(await restoreOnce(records, mode, n));
    const row = {
      sessions: n,
      mode,
      events,
      historyOnlyRecords: v3,
      changelogBytes: bytes,
      bytesPerRecord: bytes / n,
      bytesPerEvent: eventBytes / events,
      restoreMs: stats(runs.map((x) => x.totalMs)),
      applyMs: stats(runs.map((x) => x.applyMs)),
      reencodeMs: stats(runs.map((x) => x.reencodeMs)),
      reencoded: runs[0].reencoded,
      sessionsPerSecond: n / (stats(runs.map((x) => x.totalMs)).median / 1000),
    };
    rows.push(row);
    process.stderr.write(
      `  ${n} sessions, ${mode}: ${(bytes / 1e6).toFixed(1)} MB, restore ${row.restoreMs.median.toFixed(0)} ms (${runs.map((x) => x.totalMs.toFixed(0)).join(', ')})\n`,
    );
  }
}

const result = {
  date: new Date().toISOString(),
  cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
  loadAverageAtEnd: loadavg(),
  node: process.version,
  engine: cfg.model.engine,
  hiddenSize: H,
  historyLength,
  items: nItems,
  encodeBatch: batch,
  headerBytes: headerBytes(1),
  sessionLengths: source,
  restoreSource: 'in process: encoded records in chunks of 2,000 through restorePartition + completeRestore; the Kafka read is not included',
  repeats,
  rows,
};
mkdirSync('results', { recursive: true });
writeFileSync(a.out, `${JSON.stringify(result, null, 2)}\n`);

const pad = (s: string, w: number) => s.padStart(w);
console.log(`| sessions | record | history-only | changelog MB | B/record | B/event (≤) | restore ms median [min–max] | of which re-encode ms | sessions/s |`);
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|');
for (const r of rows as Array<{
  sessions: number;
  mode: string;
  historyOnlyRecords: number;
  changelogBytes: number;
  bytesPerRecord: number;
  bytesPerEvent: number;
  restoreMs: { median: number; min: number; max: number };
  reencodeMs: { median: number };
  sessionsPerSecond: number;
}>)
  console.log(
    `| ${r.sessions.toLocaleString('en')} | ${r.mode} | ${pad(((100 * r.historyOnlyRecords) / r.sessions).toFixed(1), 5)}% | ${(r.changelogBytes / 1e6).toFixed(1)} | ${r.bytesPerRecord.toFixed(0)} | ${r.bytesPerEvent.toFixed(0)} | ${r.restoreMs.median.toFixed(0)} [${r.restoreMs.min.toFixed(0)}–${r.restoreMs.max.toFixed(0)}] | ${r.reencodeMs.median.toFixed(0)} | ${Math.round(r.sessionsPerSecond).toLocaleString('en')} |`,
  );
console.log(`\nwritten ${a.out}; restore measured in process (no Kafka read), load average ${loadavg()[0].toFixed(1)} at the end`);
