/**
 * bench:serve's results and how they are shown: the JSON report's shape, the per-catalogue table
 * on stderr while the run goes on, and one markdown table of the whole run for the README.
 */
import type { RowResult } from './passthrough.ts';
import type { LatencyRun, ServingMode, ThroughputRun } from './serve-runs.ts';

/** Median and range of repeated figures. */
export interface Spread {
  median: number;
  min: number;
  max: number;
  values: number[];
}

export function spread(values: number[]): Spread {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return { median: s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2, min: s[0], max: s[s.length - 1], values };
}

export interface ServingRow {
  id: string;
  mode: ServingMode;
  events: number;
  throughput: Spread;
  runs: ThroughputRun[];
  meanBatch: number;
  latency: LatencyRun;
  /** The bare passthrough row at the same client, mode and cadence (null: none measured). */
  passthroughRow: string | null;
  vsPassthrough: number | null;
  /** Exactly-once rows: against the Kafka Streams EOS-v2 passthrough. */
  vsKafkaStreams: number | null;
  vsGemmBound: number;
  /** ANN rows: against the same mode with exact scoring (null: not run). */
  vsExactScoring?: number | null;
}

/** --scoring ann: the index, the ANN engine step alone beside the exact one (alternated), and recall against exact. */
export interface AnnReport {
  settings: {
    library: string;
    quantization: string;
    connectivity: number;
    expansionAdd: number;
    expansionSearch: number;
    buildThreads: number;
    searchThreads: number;
  };
  buildSeconds: number;
  indexMB: number;
  engineOnly: Spread;
  exactEngineOnly: Spread;
  /** The GRU update alone (encode(), no scoring): the ANN step's limit as search gets cheaper. Absent in runs before it was timed. */
  encodeOnly?: Spread;
  vsExact: number;
  /** recall@k (k: serving's top-K) of the ANN engine's lists against the exact engine's on the same clicks. */
  k: number;
  recallAtK: number;
  recallLists: number;
}

export interface CatalogueReport {
  nItems: number;
  /** synthetic: test/support/synthetic-weights.ts; clustered: its output layer from src/ann/synthetic-items.ts (bench/serve-ann.ts). */
  weights?: 'synthetic' | 'clustered';
  events: number;
  batch: number;
  gemmBound: Spread;
  engineOnly: Spread;
  engineVsGemmBound: number;
  ann?: AnnReport;
  serving: ServingRow[];
}

export interface ServeReport {
  bench: 'serve';
  date: string;
  minutes: number;
  quick: boolean;
  cpu: { model: string; cores: number };
  loadAvgBefore: number[];
  loadAvgAfter: number[];
  node: string;
  broker: string;
  clients: Record<string, string>;
  config: {
    hidden: number;
    topK: number;
    partitions: number;
    batch: { maxSize: number; maxWaitMs: number };
    commitIntervalMs: number;
    repeats: number;
    baseEvents: number;
    latencySeconds: number;
    scorings?: string[];
    engineOnly?: boolean;
  };
  skipped: string[];
  /** Measured once per run: they do not depend on the catalogue. */
  passthrough: RowResult[];
  catalogues: CatalogueReport[];
}

const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const pct = (x: number | null) => (x === null ? '–' : `${Math.round(100 * x)}%`);
const range = (s: { min: number; max: number }) => `${n0(s.min)}–${n0(s.max)}`;
const ms = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '–');
const times = (x: number) => `${x.toFixed(2)}×`;

/** The ANN engine rows' labels and notes (both tables). */
function annLines(a: AnnReport): { label: string; s: Spread; note: string }[] {
  const g = a.settings;
  return [
    { label: 'engine step alone, exact scoring (alternated with ANN)', s: a.exactEngineOnly, note: '' },
    {
      label: `engine step alone, ANN scoring (${g.library} ${g.quantization}, M=${g.connectivity}, efAdd=${g.expansionAdd}, ef=${g.expansionSearch})`,
      s: a.engineOnly,
      note: `× exact ${times(a.vsExact)}${a.encodeOnly ? `, encode ${(100 * (a.engineOnly.median / a.encodeOnly.median)).toFixed(1)}% of its step` : ''}, recall@${a.k} ${a.recallAtK.toFixed(4)} (${n0(a.recallLists)} lists), index built in ${a.buildSeconds.toFixed(0)} s on ${g.buildThreads} threads, ${n0(a.indexMB)} MB`,
    },
    ...(a.encodeOnly ? [{ label: 'encode alone (GRU update, no scoring; alternated with the above)', s: a.encodeOnly, note: '' }] : []),
  ];
}

export function modeLabel(m: ServingMode): string {
  return `${m.client} ${m.delivery}${m.commitIntervalMs === null ? '' : `, commit ${m.commitIntervalMs === 0 ? 'every batch' : `every ${m.commitIntervalMs} ms`}`}${m.scoring === 'ann' ? ', ANN scoring' : ''}`;
}

/** A passthrough row's system without the words every row shares ("kafkajs", "Kafka Streams (1 thread)"). */
const shortSystem = (system: string): string =>
  system
    .replace(/^bare /, '')
    .replace(/ consume→produce$/, '')
    .replace(/, stateless passthrough, 1 thread$/, ' (1 thread)');

/** The catalogue's rows as a plain table (stderr, while the run goes on). */
export function printCatalogue(r: CatalogueReport, passthrough: RowResult[], log: (s: string) => void): void {
  const line = (label: string, median: number, rng: string, note = '') => log(`  ${label.padEnd(84)} ${n0(median).padStart(9)}  ${rng.padEnd(17)} ${note}`);
  log(`\n${`${n0(r.nItems)} items, batch ${r.batch}, ${n0(r.events)} clicks per serving run`.padEnd(86)} ev/s (median)  min–max`);
  line('GEMM-bound limit (scoring product alone)', r.gemmBound.median, range(r.gemmBound));
  line('engine step alone', r.engineOnly.median, range(r.engineOnly), `engine/GEMM ${pct(r.engineVsGemmBound)}`);
  if (r.ann) for (const a of annLines(r.ann)) line(a.label, a.s.median, range(a.s), a.note);
  for (const p of passthrough)
    line(`passthrough ${shortSystem(p.system)}, ${p.guarantee}, ${p.cadence}`, p.medianEventsPerSec, `${n0(p.minEventsPerSec)}–${n0(p.maxEventsPerSec)}`);
  for (const s of r.serving) {
    line(
      `serving: ${modeLabel(s.mode)}`,
      s.throughput.median,
      range(s.throughput),
      `vs passthrough ${pct(s.vsPassthrough)}, vs Kafka Streams ${pct(s.vsKafkaStreams)}, end-to-end/GEMM ${pct(s.vsGemmBound)}${s.vsExactScoring ? `, × exact scoring ${times(s.vsExactScoring)}` : ''}`,
    );
  }
  for (const s of r.serving) {
    const l = s.latency;
    log(
      `  latency ${modeLabel(s.mode)} at ${n0(l.rate)} ev/s (batch ${l.meanBatch.toFixed(0)}): produced p50/p95/p99/p99.9 ${ms(l.produced.p50)}/${ms(l.produced.p95)}/${ms(l.produced.p99)}/${ms(l.produced.p999)} ms, ` +
        `visible ${ms(l.visible.p50)}/${ms(l.visible.p95)}/${ms(l.visible.p99)}/${ms(l.visible.p999)} ms`,
    );
  }
}

/** One markdown table of the run (the README's Performance section), with its conditions. */
export function markdownReport(r: ServeReport): string {
  const c = r.config;
  const out = [
    `${r.date.slice(0, 10)}; ${r.cpu.model}, ${r.cpu.cores} cores; load average ${r.loadAvgBefore.map((x) => x.toFixed(2)).join(' / ')} before, ${r.loadAvgAfter.map((x) => x.toFixed(2)).join(' / ')} after; ` +
      `${r.broker}; Node ${r.node}${
        Object.keys(r.clients).length
          ? `; ${Object.entries(r.clients)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ')}`
          : ''
      }; ${r.minutes.toFixed(1)} min${r.quick ? ' (--quick: not for the README)' : ''}.`,
    `GRU4Rec H=${c.hidden}, top-${c.topK}, ${c.partitions} partitions, batch ${c.batch.maxSize} / ${c.batch.maxWaitMs} ms; ${c.repeats} runs per row (median, min–max); ${n0(c.baseEvents)} clicks per row at 3k items, fewer at larger catalogues; ` +
      `latency at half of each mode's median throughput for ${c.latencySeconds} s, HDR percentiles; "visible" = read by a read_committed consumer.`,
    '',
    '| items | row | events/s (median) | min–max | ratio | latency p50 / p95 / p99 / p99.9 ms (visible) |',
    '|---|---|---|---|---|---|',
  ];
  for (const cat of r.catalogues) {
    const items = n0(cat.nItems);
    out.push(`| ${items} | GEMM-bound limit (batch ${cat.batch}) | ${n0(cat.gemmBound.median)} | ${range(cat.gemmBound)} | | |`);
    out.push(`| ${items} | engine step alone | ${n0(cat.engineOnly.median)} | ${range(cat.engineOnly)} | engine/GEMM ${pct(cat.engineVsGemmBound)} | |`);
    if (cat.ann) for (const a of annLines(cat.ann)) out.push(`| ${items} | ${a.label} | ${n0(a.s.median)} | ${range(a.s)} | ${a.note} | |`);
    for (const s of cat.serving) {
      const l = s.latency.visible;
      const ratios = [
        `÷ passthrough ${pct(s.vsPassthrough)}`,
        ...(s.vsKafkaStreams === null ? [] : [`÷ Kafka Streams ${pct(s.vsKafkaStreams)}`]),
        `end-to-end/GEMM ${pct(s.vsGemmBound)}`,
        ...(s.vsExactScoring ? [`× exact scoring ${times(s.vsExactScoring)}`] : []),
      ].join(', ');
      out.push(
        `| ${items} | serving, ${modeLabel(s.mode)} | ${n0(s.throughput.median)} | ${range(s.throughput)} | ${ratios} | ${n0(s.latency.rate)}/s → ${ms(l.p50)} / ${ms(l.p95)} / ${ms(l.p99)} / ${ms(l.p999)} |`,
      );
    }
  }
  if (r.catalogues.some((cat) => cat.weights === 'clustered'))
    out.push('', 'Weights: GRU4Rec synthetic, output layer from the clustered, popularity-biased catalogue of src/ann/synthetic-items.ts (bench/serve-ann.ts), for every row.');
  if (r.passthrough.length) out.push('', '| passthrough (once per run, no engine) | guarantee | cadence | events/s (median) | min–max |', '|---|---|---|---|---|');
  for (const p of r.passthrough) out.push(`| ${p.system} | ${p.guarantee} | ${p.cadence} | ${n0(p.medianEventsPerSec)} | ${n0(p.minEventsPerSec)}–${n0(p.maxEventsPerSec)} |`);
  for (const s of r.skipped) out.push('', s);
  return out.join('\n');
}
