/**
 * The Grafana dashboard asks only for what the processes export. Every query (panel targets and
 * the query variable) is parsed with the Prometheus project's PromQL grammar and checked three ways:
 *  1. against the metric catalogues (src/metrics/instruments.ts, src/monitor/monitor-instruments.ts):
 *     metric names and the labels matched or grouped by;
 *  2. against real scrapes of the serving, trainer and monitor instruments (the OpenTelemetry
 *     Prometheus exporter on the project's HTTP server, fed through the same registration code the
 *     processes run): the series exists in the scrape of the process its job names, with those
 *     labels and the label values matched;
 *  3. through a real Prometheus (Debian's package, installed if missing) scraping those three
 *     endpoints under deploy/prometheus.yml's job names: every query returns a non-empty vector.
 * Plus the dashboard's own wiring: data source uid, variables, panel ids and layout, coverage.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { serveHttp } from '../../src/metrics/http-server.ts';
import { INSTRUMENTS, type InstrumentSpec, prometheusSeries, STAGES } from '../../src/metrics/instruments.ts';
import { registerOnlineQualityInstruments } from '../../src/metrics/online-quality.ts';
import { ServingInstruments } from '../../src/metrics/serving-instruments.ts';
import { createServingStats } from '../../src/metrics/serving-stats.ts';
import { createTelemetry, type Telemetry } from '../../src/metrics/telemetry.ts';
import { createTrainerStats, recordWindow, registerTrainerInstruments } from '../../src/metrics/trainer-instruments.ts';
import { MONITOR_INSTRUMENTS } from '../../src/monitor/monitor-instruments.ts';
import { registerMonitorInstruments } from '../../src/monitor/monitor-instruments.ts';
import { OnlineQuality } from '../../src/metrics/online-quality.ts';
import { syncInstruments } from '../../src/metrics/sync-instruments.ts';
import {
  allPanels,
  expandVariables,
  GRAFANA_BUILTINS,
  type GrafanaDashboard,
  legendLabels,
  panelQueries,
  readPromQL,
  variableQueries,
  variablesUsed,
} from '../../scripts/deploy/dashboard-queries.ts';
import { ensurePrometheus, freePort, parseExposition, query } from '../support/prometheus.ts';

const root = new URL('../../', import.meta.url).pathname;
const dashboard = JSON.parse(readFileSync(join(root, 'deploy/grafana/streamrec-dashboard.json'), 'utf8')) as GrafanaDashboard & Record<string, any>;
const scrapeConfig = parseYaml(readFileSync(join(root, 'deploy/prometheus.yml'), 'utf8')) as {
  scrape_configs: Array<{ job_name: string; static_configs: Array<{ targets: string[] }> }>;
};
const JOBS = scrapeConfig.scrape_configs.map((c) => c.job_name);

/** Labels Prometheus itself puts on every scraped series. */
const TARGET_LABELS = ['job', 'instance'];

// ---- the catalogue: every series a streamrec process can export, with its labels -------------

interface CatalogueSeries {
  family: string;
  labels: Set<string>;
}
const catalogue = new Map<string, CatalogueSeries>();
const families: Array<{ name: string; family: string }> = [];
for (const s of Object.values(INSTRUMENTS) as InstrumentSpec[]) {
  families.push({ name: s.name, family: s.prometheus });
  for (const series of prometheusSeries(s)) catalogue.set(series, { family: s.prometheus, labels: new Set([...s.attributes, ...(series.endsWith('_bucket') ? ['le'] : [])]) });
}
for (const s of Object.values(MONITOR_INSTRUMENTS)) {
  families.push({ name: s.name, family: s.prometheus });
  catalogue.set(s.prometheus, { family: s.prometheus, labels: new Set(s.attributes) });
}

// ---- the dashboard's queries, with variables set to the values a viewer would pick ---------------

const variables: any[] = dashboard.templating?.list ?? [];
/** Each custom variable at its current value; the query variable at each value its query offers. */
const customValues: Record<string, string> = Object.fromEntries(variables.filter((v: any) => v.type === 'custom').map((v: any) => [v.name, String(v.current.value)]));
const sourceVariable = variables.find((v: any) => v.type === 'query');
/** The jobs `$source` may name: those exporting the online-quality series (serving and monitor). */
const SOURCE_JOBS = ['streamrec-serving', 'streamrec-monitor'];

interface ExpandedQuery {
  where: string;
  expr: string;
  legend?: string;
}
const queries: ExpandedQuery[] = panelQueries(dashboard).flatMap((q) => {
  const jobs = sourceVariable && variablesUsed(q.expr).includes(sourceVariable.name) ? SOURCE_JOBS : [null];
  return jobs.map((job) => ({
    where: job ? `${q.where} ($${sourceVariable!.name}=${job})` : q.where,
    expr: expandVariables(q.expr, { ...customValues, ...(job && sourceVariable ? { [sourceVariable.name]: job } : {}) }),
    ...(q.legend ? { legend: q.legend } : {}),
  }));
});

/** The job a selector is pinned to (job="x" or a job=~ regex naming exactly one), if any. */
function jobOf(matchers: ReadonlyArray<{ label: string; op: string; value: string }>): string | null {
  const m = matchers.find((x) => x.label === 'job');
  if (!m) return null;
  if (m.op === '=' || (m.op === '=~' && /^[\w-]+$/.test(m.value))) return m.value;
  return null;
}

test('dashboard: every query is valid PromQL naming catalogue metrics, their labels and a scrape job', () => {
  assert.ok(queries.length >= 20, `${queries.length} queries`);
  for (const q of queries) {
    const r = readPromQL(q.expr);
    assert.deepEqual(r.errors, [], `${q.where}: ${q.expr}`);
    assert.ok(r.selectors.length > 0, `${q.where} selects something`);
    const labels = new Set(TARGET_LABELS);
    for (const sel of r.selectors) {
      assert.ok(sel.metric, `${q.where}: every selector names its metric`);
      const known = catalogue.get(sel.metric);
      assert.ok(known, `${q.where}: ${sel.metric} is not an exported series (catalogue: src/metrics/instruments.ts, src/monitor/monitor-instruments.ts)`);
      for (const l of known.labels) labels.add(l);
      for (const m of sel.matchers) assert.ok(TARGET_LABELS.includes(m.label) || known.labels.has(m.label), `${q.where}: ${sel.metric} has no label ${m.label}`);
      const job = jobOf(sel.matchers);
      assert.ok(job !== null, `${q.where}: ${sel.metric} is pinned to one job (the panels of one process must not mix others in)`);
      assert.ok(JOBS.includes(job), `${q.where}: job ${job} is not scraped by deploy/prometheus.yml (${JOBS.join(', ')})`);
    }
    for (const g of r.groupingLabels) assert.ok(labels.has(g), `${q.where}: groups by ${g}, which none of its series has`);
    for (const l of legendLabels(q.legend)) assert.ok(labels.has(l), `${q.where}: legend names ${l}, which none of its series has`);
  }
});

test('dashboard: the query variable lists jobs by a label the series has', () => {
  const vqs = variableQueries(dashboard);
  assert.equal(vqs.length, 1, 'one query variable ($source)');
  for (const v of vqs) {
    const r = readPromQL(v.selector);
    assert.deepEqual(r.errors, [], v.where);
    assert.equal(r.selectors.length, 1, `${v.where}: one series selector`);
    assert.ok(catalogue.has(r.selectors[0].metric ?? ''), `${v.where}: ${r.selectors[0].metric} is exported`);
    assert.ok(TARGET_LABELS.includes(v.label) || catalogue.get(r.selectors[0].metric!)!.labels.has(v.label), `${v.where}: label ${v.label}`);
  }
  assert.ok(SOURCE_JOBS.includes(sourceVariable.current.value), `$source defaults to ${sourceVariable.current.value}`);
});

test('dashboard: every exported instrument is shown by some panel', () => {
  const shown = new Set(queries.flatMap((q) => readPromQL(q.expr).selectors.map((s) => catalogue.get(s.metric!)?.family)));
  const missing = families.filter((f) => !shown.has(f.family)).map((f) => `${f.name} (${f.family})`);
  assert.deepEqual(missing, [], 'instruments without a panel');
});

test('dashboard: data source, variables, panel ids, targets and layout are consistent', () => {
  const datasource = parseYaml(readFileSync(join(root, 'deploy/grafana/datasource.yml'), 'utf8')).datasources[0];
  const panels = allPanels(dashboard);
  const ids = panels.map((p: any) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  const defined = new Set([...variables.map((v: any) => v.name), ...Object.keys(GRAFANA_BUILTINS)]);
  const cells = new Map<string, string>();
  for (const p of panels as any[]) {
    const g = p.gridPos;
    assert.ok(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.h > 0 && g.y >= 0, `panel "${p.title}" fits the 24-column grid`);
    for (let x = g.x; x < g.x + g.w; x++)
      for (let y = g.y; y < g.y + g.h; y++) {
        const key = `${x},${y}`;
        assert.ok(!cells.has(key), `panel "${p.title}" overlaps "${cells.get(key)}"`);
        cells.set(key, p.title);
      }
    if (p.type === 'row') continue;
    assert.equal(p.datasource?.uid, datasource.uid, `panel "${p.title}" uses the provisioned data source`);
    assert.ok(p.targets?.length > 0, `panel "${p.title}" has queries`);
    const refIds = p.targets.map((t: any) => t.refId);
    assert.equal(new Set(refIds).size, refIds.length, `panel "${p.title}" refIds are unique`);
    for (const t of p.targets) {
      assert.equal(t.datasource?.uid, datasource.uid, `panel "${p.title}" target ${t.refId} data source`);
      for (const v of variablesUsed(t.expr)) assert.ok(defined.has(v), `panel "${p.title}": $${v} is defined`);
    }
  }
  for (const v of variables) if (v.datasource) assert.equal(v.datasource.uid, datasource.uid, `variable ${v.name} data source`);
  const titles = panels.map((p: any) => p.title).join(' | ');
  for (const needed of ['Recall@20', 'MRR@20', 'latency', 'lag', 'Dead letters', 'Swap', 'loss', 'gate', 'Events consumed'])
    assert.ok(titles.toLowerCase().includes(needed.toLowerCase()), `a panel about ${needed}`);
});

// ---- real scrapes of the three processes' instruments ------------------------------------------

interface ScrapedProcess {
  job: string;
  telemetry: Telemetry;
  server: Server;
  port: number;
}
const processes: ScrapedProcess[] = [];
/** job → series name → label → values seen. */
const scraped = new Map<string, Map<string, Map<string, Set<string>>>>();

async function serveProcess(job: string, serviceName: string, register: (t: Telemetry) => void): Promise<void> {
  const telemetry = createTelemetry({ serviceName, instanceId: `${job}-test` });
  register(telemetry);
  const server = await serveHttp({ metrics: telemetry.metricsHandler }, 0, '127.0.0.1');
  processes.push({ job, telemetry, server, port: (server.address() as { port: number }).port });
}

before(async () => {
  // Serving: the instruments `streamrec serve` registers, over stats with one model version that
  // has emitted lists and been judged, one lag reading, one batch with every stage, one swap.
  const stats = createServingStats({ slidingTargets: 100, maxSessions: 100, maxVersions: 4 });
  stats.eventsIn = 3;
  stats.recommendationsOut = 2;
  stats.deadLetters.UNKNOWN_ITEM = 1;
  stats.consumerLag.set(0, 7);
  stats.online.emitted('s1', 'v1', ['a', 'b', 'c']);
  stats.online.observe('s1', 'b');
  stats.online.emitted('s1', 'v1', ['d', 'e']);
  stats.online.observe('s1', 'z');
  await serveProcess('streamrec-serving', 'streamrec-serve', (t) => {
    const serving = new ServingInstruments(t.meter, stats, { modelVersion: () => 'v1', sessions: () => 1, sessionStoreBytes: () => 4096 });
    serving.recordBatch(
      2,
      3,
      STAGES.map((_, i) => i + 1),
      [12, 30],
      2,
    );
    serving.recordSwapPause(4);
    // Incremental sync: one applied delta's freshness, one automatic rollback.
    const sync = syncInstruments(t.meter);
    sync.freshness.record(3.5);
    sync.rollbacks.add(1, { trigger: 'automatic' });
  });
  // Trainer: two window reports, one gate passed against a serving version, one rejected.
  const trainer = createTrainerStats();
  const gate = (passed: boolean) => ({ candidate: { recall: 0.6, mrr: 0.3 }, serving: { recall: 0.58, mrr: 0.29 }, passed });
  recordWindow(trainer, { events: 100, loss: 4.2, catalogue: { active: 50, pending: 5, admitted: 50, expired: 0 }, gate: gate(true) });
  recordWindow(trainer, { events: 100, loss: 4.1, catalogue: { active: 52, pending: 4, admitted: 52, expired: 1 }, gate: gate(false) });
  await serveProcess('streamrec-trainer', 'streamrec-trainer', (t) => registerTrainerInstruments(t.meter, trainer));
  // Monitor: the same online-quality registration as serving, plus its join counters.
  const quality = new OnlineQuality({ slidingTargets: 100, maxSessions: 100, maxVersions: 4 });
  quality.emitted('s1', 'v1', ['a', 'b']);
  quality.observe('s1', 'a');
  const counts = {
    clicks: 3,
    clicksSkipped: 0,
    clicksDuplicate: 0,
    recommendations: 2,
    deadLetteredUnknownItem: 1,
    deadLetteredRejected: 0,
    missing: 1,
    missingOverflow: 0,
    answersUnmatched: 0,
  };
  await serveProcess('streamrec-monitor', 'streamrec-monitor', (t) => {
    registerOnlineQualityInstruments(t.meter, quality);
    registerMonitorInstruments(t.meter, { counts, pendingClicks: 1, pendingAnswers: 0 }, { recommendationsUndecodable: 0, deadLettersUndecodable: 0, answersForeign: 0 });
  });
  for (const p of processes) {
    const res = await fetch(`http://127.0.0.1:${p.port}/metrics`);
    assert.equal(res.status, 200, `${p.job} /metrics`);
    const series = new Map<string, Map<string, Set<string>>>();
    for (const s of parseExposition(await res.text()).samples) {
      const labels = series.get(s.name) ?? series.set(s.name, new Map()).get(s.name)!;
      for (const [k, v] of Object.entries(s.labels)) (labels.get(k) ?? labels.set(k, new Set()).get(k)!).add(v);
    }
    scraped.set(p.job, series);
  }
});

after(async () => {
  for (const p of processes) {
    await new Promise<void>((resolve) => p.server.close(() => resolve()));
    await p.telemetry.shutdown();
  }
});

test('dashboard vs real scrapes: each series is exported by the process its job names, with the labels and values matched', () => {
  assert.deepEqual([...scraped.keys()].sort(), [...JOBS].sort(), 'one scraped process per job of deploy/prometheus.yml');
  for (const q of queries) {
    const r = readPromQL(q.expr);
    for (const sel of r.selectors) {
      const job = jobOf(sel.matchers)!;
      const series = scraped.get(job)?.get(sel.metric!);
      assert.ok(series, `${q.where}: ${sel.metric} is not in a scrape of ${job} (it has ${[...(scraped.get(job)?.keys() ?? [])].join(', ')})`);
      for (const m of sel.matchers) {
        if (TARGET_LABELS.includes(m.label)) continue;
        const values = series.get(m.label);
        assert.ok(values, `${q.where}: ${sel.metric} in ${job}'s scrape has no label ${m.label}`);
        if (m.op === '=') assert.ok(values.has(m.value), `${q.where}: ${sel.metric}{${m.label}="${m.value}"} is never exported (values: ${[...values].join(', ')})`);
      }
    }
    for (const g of r.groupingLabels) {
      if (TARGET_LABELS.includes(g)) continue;
      assert.ok(
        r.selectors.some((sel) => scraped.get(jobOf(sel.matchers)!)?.get(sel.metric!)?.has(g)),
        `${q.where}: groups by ${g}, which no scraped series of the query carries`,
      );
    }
  }
});

// ---- through a real Prometheus, with deploy/prometheus.yml's jobs pointed at the processes -----

test('dashboard through Prometheus: deploy/prometheus.yml pointed at the three processes, every query returns data', async (t) => {
  const prom = ensurePrometheus((l) => t.diagnostic(l));
  if ('skip' in prom) {
    t.skip(prom.skip);
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-deploy-prometheus-'));
  // The committed scrape config, its jobs' targets moved to the processes on loopback and scraped every second.
  const config = structuredClone(parseYaml(readFileSync(join(root, 'deploy/prometheus.yml'), 'utf8')));
  config.global = { ...config.global, scrape_interval: '1s', scrape_timeout: '1s' };
  for (const job of config.scrape_configs) job.static_configs = [{ targets: [`127.0.0.1:${processes.find((p) => p.job === job.job_name)!.port}`] }];
  writeFileSync(join(dir, 'prometheus.yml'), stringifyYaml(config));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child: ChildProcess = spawn(
    prom.bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (d: Buffer) => (log = (log + d.toString('utf8')).slice(-4000)));
  try {
    // Ready, and every job scraped at least three times (rate() and increase() need two samples).
    const deadline = Date.now() + 60_000;
    for (;;) {
      assert.ok(Date.now() < deadline, `prometheus scraped the three jobs within 60 s; log: ${log}`);
      const up = await query(url, 'count_over_time(up[1m]) >= 3 and up == 1').catch(() => []);
      if (up.length === JOBS.length) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const sourceValues = (await (
      await fetch(`${url}/api/v1/label/${variableQueries(dashboard)[0].label}/values?match[]=${encodeURIComponent(variableQueries(dashboard)[0].selector)}`)
    ).json()) as {
      data: string[];
    };
    assert.deepEqual([...sourceValues.data].sort(), [...SOURCE_JOBS].sort(), '$source offers serving and monitor');
    for (const q of queries) {
      const result = await query(url, q.expr);
      assert.ok(result.length > 0, `${q.where} returns data: ${q.expr}`);
    }
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(null)));
    rmSync(dir, { recursive: true, force: true });
  }
});
