/**
 * The status page end to end: statusRoutes on the process's HTTP server on loopback, a real
 * StatusTimeline over real prequential metrics of a click stream answered by two real models,
 * and the page itself in headless Chromium (Debian's package, driven by playwright-core).
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Script } from 'node:vm';
import type { Page } from 'playwright-core';
import { QualityByVersion } from '../../src/cli/demo-version-quality.ts';
import { serveHttp } from '../../src/metrics/http-server.ts';
import { LatencyHistogram, PrequentialMetrics } from '../../src/metrics/online-metrics.ts';
import { statusJson } from '../../src/metrics/status/status-json.ts';
import { formatQuality, VERSION_COLORS } from '../../src/metrics/status/status-page-script.ts';
import { statusRoutes, type StatusRoute } from '../../src/metrics/status/status-routes.ts';
import type { StatusSource } from '../../src/metrics/status/status-source.ts';
import { StatusTimeline, type StatusSnapshot } from '../../src/metrics/status/status-timeline.ts';
import { Rng } from '../../src/random/rng.ts';
import { CooccurrenceRecommender } from '../../src/serving/cooccurrence-recommender.ts';
import type { ClickInput, RecommendOutcome } from '../../src/serving/recommender.ts';
import { ensureChromium, launchChromium } from '../support/chromium.ts';

const root = new URL('../../', import.meta.url).pathname;

/** Why the browser tests cannot run, or null. Found (and Chromium installed if need be) once, in a hook without a timeout: apt-get may take minutes. */
let chromiumMissing: string | null = null;
before(() => {
  chromiumMissing = ensureChromium();
});

/** statusRoutes mounted on the process's HTTP server (src/metrics/http-server.ts), on loopback, any free port. */
async function serveRoutes(routes: ReadonlyMap<string, StatusRoute>): Promise<{ server: Server; url: (path: string) => string }> {
  const server = await serveHttp({ routes }, 0, '127.0.0.1');
  const { port } = server.address() as AddressInfo;
  return { server, url: (path) => `http://127.0.0.1:${port}${path}` };
}

/**
 * A served click stream and what serving would count for it: overall and per-version
 * prequential quality (each target credited to the version whose list it is checked against),
 * throughput and latency. v1 answers with the most popular items so far; v2 is the online
 * co-occurrence model, which learns from every click from the start (as a candidate trained
 * beside serving would) and answers once swapped in.
 */
class ServedStream {
  eventsIn = 0;
  eventsOut = 0;
  readonly latency = new LatencyHistogram();
  readonly overall = new PrequentialMetrics(20);
  readonly byVersion = new QualityByVersion(20);
  version = 'v1';
  private readonly popularity = new Map<string, number>();
  private readonly cooccurrence = new CooccurrenceRecommender(20);
  private readonly out: RecommendOutcome[] = [];

  constructor(readonly instanceId: string) {}

  async serve(clicks: readonly ClickInput[]): Promise<void> {
    const started = performance.now();
    await this.cooccurrence.recommendBatch(clicks, this.out);
    for (let i = 0; i < clicks.length; i++) {
      const { sessionId, itemId } = clicks[i];
      this.popularity.set(itemId, (this.popularity.get(itemId) ?? 0) + 1);
      const o = this.out[i];
      const list = this.version === 'v1' ? this.mostPopular() : o.ok ? o.itemIds : [];
      this.overall.observe(sessionId, itemId);
      this.overall.emitted(sessionId, list);
      this.byVersion.record(this.version, sessionId, itemId, list);
    }
    const perEvent = (performance.now() - started) / clicks.length;
    for (let i = 0; i < clicks.length; i++) this.latency.record(perEvent);
    this.eventsIn += clicks.length;
    this.eventsOut += clicks.length;
  }

  private mostPopular(): string[] {
    return [...this.popularity.entries()]
      .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
      .slice(0, 20)
      .map(([id]) => id);
  }

  source(): StatusSource {
    return {
      instanceId: this.instanceId,
      eventsIn: () => this.eventsIn,
      eventsOut: () => this.eventsOut,
      latency: () => this.latency,
      quality: () => ({ recall20: this.overall.recall, mrr20: this.overall.mrr, targets: this.overall.targets }),
      qualityByVersion: () => this.byVersion.rows().map((r) => ({ version: r.version, recall20: r.recall, mrr20: r.mrr, targets: r.targets })),
      currentVersion: () => this.version,
      consumerLag: () => 0,
    };
  }
}

/**
 * Sessions over 60 items that mostly walk to a neighbouring item (so the next click is
 * predictable from the current one, and a transition model beats popularity), with a
 * popularity skew towards low ids. Seeded, so every run clicks the same stream.
 */
function clickStream(sessions: number, seed: number): ClickInput[] {
  const rng = new Rng(seed);
  const clicks: ClickInput[] = [];
  for (let s = 0; s < sessions; s++) {
    let item = Math.floor(60 * rng.next() ** 2);
    const length = 3 + Math.floor(6 * rng.next());
    for (let e = 0; e < length; e++) {
      clicks.push({ sessionId: `session-${seed}-${s}`, itemId: `item-${item}`, partition: 0, timestamp: clicks.length });
      item = rng.next() < 0.8 ? (item + 1 + Math.floor(3 * rng.next())) % 60 : Math.floor(60 * rng.next());
    }
  }
  return clicks;
}

/** Points a snapshot's quality chart has to draw: every non-null value of every version's two series. */
function qualityPoints(s: StatusSnapshot): number {
  let n = 0;
  for (const v of s.series.byVersion) for (const y of [...v.recall20, ...v.mrr20]) if (y !== null) n++;
  return n;
}

/** Pixels of the quality chart's canvas close to a colour: what the browser actually painted. */
function paintedPixels(page: Page, hex: string): Promise<number> {
  return page.evaluate((color) => {
    const canvas = document.querySelector<HTMLCanvasElement>('#quality-chart canvas');
    if (!canvas) return -1;
    const { data } = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16));
    let n = 0;
    for (let p = 0; p < data.length; p += 4) if (Math.abs(data[p] - r) + Math.abs(data[p + 1] - g) + Math.abs(data[p + 2] - b) < 60 && data[p + 3] > 200) n++;
    return n;
  }, hex);
}

/** Console errors and uncaught exceptions of the page (a CSP violation is a console error). */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

test('status.json is the timeline snapshot, written so that no value can end a script or form markup', () => {
  const stream = new ServedStream('<script>alert("instance")</script>');
  stream.version = '</td></tr><img src=x onerror=alert(1)>&amp;\u2028';
  const timeline = new StatusTimeline(stream.source());
  timeline.sample();
  const snapshot = timeline.snapshot();
  const json = statusJson(snapshot);
  assert.doesNotMatch(json, /[<>&\u2028\u2029]/);
  const back = JSON.parse(json) as StatusSnapshot;
  assert.equal(back.instanceId, stream.instanceId);
  assert.equal(back.current!.version, stream.version);
  assert.equal(back.versions[0].version, stream.version);
  assert.deepEqual(back, JSON.parse(JSON.stringify(snapshot)), 'the escapes change the text, not the value');
});

test('routes: the page with a strict CSP, the JSON, uPlot from node_modules; HEAD has no body, other methods get 405', async () => {
  const stream = new ServedStream('serving-0');
  await stream.serve(clickStream(30, 1));
  const timeline = new StatusTimeline(stream.source());
  timeline.sample();
  const routes = statusRoutes(timeline);
  assert.deepEqual([...routes.keys()].sort(), ['/status', '/status.json', '/status/page.css', '/status/page.js', '/status/uplot.css', '/status/uplot.js']);
  const { server, url } = await serveRoutes(routes);
  try {
    const page = await fetch(url('/status'));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /^text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /script-src 'self';/);
    assert.doesNotMatch(page.headers.get('content-security-policy')!, /unsafe-inline/);
    assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    const html = await page.text();
    assert.match(html, /id="recall20"/);
    assert.doesNotMatch(html, /<script>|\son\w+=/, 'no inline script or handler for the policy to have to allow');

    const data = await fetch(url('/status.json'));
    assert.equal(data.headers.get('cache-control'), 'no-store');
    const snapshot = (await data.json()) as StatusSnapshot;
    assert.equal(snapshot.current!.recall20, stream.overall.recall);
    assert.equal(snapshot.current!.targets, stream.overall.targets);
    assert.ok(stream.overall.targets > 0);

    const require = createRequire(import.meta.url);
    const uplot = Buffer.from(await (await fetch(url('/status/uplot.js'))).arrayBuffer());
    assert.ok(uplot.equals(readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'))), 'the installed package, byte for byte');
    assert.match(await (await fetch(url('/status/uplot.css'))).text(), /\.uplot/);
    const script = await (await fetch(url('/status/page.js'))).text();
    assert.doesNotThrow(() => new Script(script, { filename: 'page.js' }), 'the page script parses');

    const head = await fetch(url('/status.json'), { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
    const post = await fetch(url('/status.json'), { method: 'POST', body: '{}' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
  } finally {
    server.close();
  }
});

test('headless Chromium: the chart draws a series per version and #recall20 shows the online Recall@20, live', { timeout: 180_000 }, async (t) => {
  if (chromiumMissing) {
    t.skip(chromiumMissing);
    return;
  }
  const stream = new ServedStream('serving-0');
  let now = Date.now() - 60_000;
  const timeline = new StatusTimeline(stream.source(), { now: () => now });
  const clicks = clickStream(400, 7);
  const chunk = Math.ceil(clicks.length / 8);
  for (let i = 0; i < 6; i++) {
    if (i === 3) {
      const swapStarted = performance.now();
      stream.version = 'v2';
      timeline.modelSwapped('v2', performance.now() - swapStarted);
    }
    await stream.serve(clicks.slice(i * chunk, (i + 1) * chunk));
    now += 1000;
    timeline.sample();
  }
  const rows = stream.byVersion.rows();
  assert.deepEqual(
    rows.map((r) => r.version),
    ['v1', 'v2'],
  );
  assert.ok(rows[1].recall > rows[0].recall, `the transition model beats popularity (${rows[1].recall} vs ${rows[0].recall})`);

  const { server, url } = await serveRoutes(statusRoutes(timeline));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const errors = collectErrors(page);
    await page.goto(url('/status'));
    const expected = qualityPoints(timeline.snapshot());
    assert.ok(expected >= 12, `${expected} points to draw`);
    await page.waitForFunction((n) => document.querySelector<HTMLElement>('#quality-chart')?.dataset.drawnPoints === String(n), expected, { timeout: 20_000 });
    assert.ok((await paintedPixels(page, VERSION_COLORS[0])) > 100, 'v1 is painted on the canvas');
    assert.ok((await paintedPixels(page, VERSION_COLORS[1])) > 100, 'v2 is painted on the canvas');

    assert.equal(await page.textContent('#recall20'), formatQuality(stream.overall.recall));
    assert.equal(await page.textContent('#mrr20'), formatQuality(stream.overall.mrr));
    assert.equal(await page.textContent('#version'), 'v2');
    assert.equal(await page.textContent('#events-in'), chunk.toLocaleString('en-US'));
    const table = await page.$$eval('#versions tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    assert.deepEqual(
      table.map((r) => [r[0], r[3], r[4], r[5]]),
      rows.map((r) => [r.version, r.targets.toLocaleString('en-US'), formatQuality(r.recall), formatQuality(r.mrr)]),
    );
    assert.equal(table[0][2], '–', 'v1 was not swapped in');
    assert.match(table[1][2]!, / ms$/, 'v2 shows its swap pause');
    const legend = await page.$$eval('#quality-chart .u-legend .u-label', (els) => els.map((e) => e.textContent));
    assert.deepEqual(legend.slice(1), ['v1 Recall@20', 'v1 MRR@20', 'v2 Recall@20', 'v2 MRR@20']);

    // Live: the page polls; what the next samples add shows up without a reload.
    const before = await page.textContent('#recall20');
    for (let i = 6; i < 8; i++) {
      await stream.serve(clicks.slice(i * chunk, (i + 1) * chunk));
      now += 1000;
      timeline.sample();
    }
    const after = formatQuality(stream.overall.recall);
    assert.notEqual(after, before, 'the stream moved the metric');
    await page.waitForFunction((text) => document.querySelector('#recall20')?.textContent === text, after, { timeout: 10_000 });
    await page.waitForFunction((n) => document.querySelector<HTMLElement>('#quality-chart')?.dataset.drawnPoints === String(n), qualityPoints(timeline.snapshot()), {
      timeout: 10_000,
    });
    assert.equal(await page.getAttribute('#state', 'data-state'), 'live');
    const shot = join(mkdtempSync(join(tmpdir(), 'streamrec-status-')), 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    t.diagnostic(`screenshot: ${shot}`);
    assert.ok(readFileSync(shot).subarray(1, 4).toString() === 'PNG');
    assert.deepEqual(errors, [], 'no script error and no CSP violation');
  } finally {
    await browser.close();
    server.close();
  }
});

test('headless Chromium: versions and instance ids render as text, never as markup', { timeout: 120_000 }, async (t) => {
  if (chromiumMissing) {
    t.skip(chromiumMissing);
    return;
  }
  const hostileInstance = '<img src=x onerror="window.__pwned=1">';
  const hostileVersion = '</td><script>window.__pwned=2</script><b>v9</b>';
  const stream = new ServedStream(hostileInstance);
  stream.version = hostileVersion;
  let now = Date.now() - 10_000;
  const timeline = new StatusTimeline(stream.source(), { now: () => now });
  const clicks = clickStream(40, 3);
  for (let i = 0; i < 2; i++) {
    await stream.serve(clicks.slice(i * 80, (i + 1) * 80));
    now += 1000;
    timeline.sample();
  }
  const { server, url } = await serveRoutes(statusRoutes(timeline));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    const errors = collectErrors(page);
    await page.goto(url('/status'));
    await page.waitForFunction(() => Number(document.querySelector<HTMLElement>('#quality-chart')?.dataset.drawnPoints) > 0, undefined, { timeout: 20_000 });
    assert.equal(await page.textContent('#instance'), hostileInstance);
    assert.equal(await page.textContent('#version'), hostileVersion);
    assert.equal(await page.textContent('#versions tbody td'), hostileVersion);
    const legend = await page.$$eval('#quality-chart .u-legend .u-label', (els) => els.map((e) => e.textContent));
    assert.equal(legend[1], `${hostileVersion} Recall@20`);
    assert.equal(await page.evaluate(() => document.querySelectorAll('img').length), 0, 'no element came from the data');
    assert.equal(await page.evaluate(() => document.querySelectorAll('b').length), 2, "only the page's own two");
    assert.equal(await page.evaluate(() => document.scripts.length), 2, 'only uplot.js and page.js');
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned), undefined);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    server.close();
  }
});

/**
 * docs/status-page.png, from realistic data: GRU4Rec v1 (one epoch of rsc15-xe-fast on the
 * rsc15-100k training days) serves the test day in real time through the serving recommender
 * and engine (no Kafka: clicks arrive on a schedule of REPLAY_RATE per second, latency is
 * arrival → list, lag is arrived but not yet served); part-way, v2 (two epochs) is hot-swapped
 * in with Gru4RecRecommender.swapModel, whose measured pause the page shows. Opt-in, since it
 * trains three epochs first (about 2 minutes on 2 cores).
 */
const REPLAY_RATE = 500;
const REPLAY_BATCH_MS = 50;
const SWAP_AT = 0.4;

test('docs/status-page.png: GRU4Rec v1 hot-swapped to v2 on the rsc15-100k test day, the page live in Chromium', {
  skip: process.env.STREAMREC_SCREENSHOT === '1' ? false : 'set STREAMREC_SCREENSHOT=1 to regenerate docs/status-page.png',
  timeout: 1_200_000,
}, async (t) => {
  if (chromiumMissing) {
    t.skip(chromiumMissing);
    return;
  }
  const { sharedDataDir, loadSessionTsv } = await import('../../src/data/sessions.ts');
  const dir = join(sharedDataDir(), 'rsc15-100k');
  if (!existsSync(join(dir, 'train_full.tsv'))) {
    t.skip(`shared data not found at ${dir} (set SHARED_DATA_DIR to the folder holding rsc15-100k/)`);
    return;
  }
  const { initBackend } = await import('../../src/model/backend.ts');
  const { gru4recPreset } = await import('../../src/model/gru4rec-config.ts');
  const { trainGru4Rec } = await import('../../src/train/trainer.ts');
  const { loadConfig } = await import('../../src/config/config.ts');
  const { buildGru4RecRecommender, prepareModel } = await import('../../src/serving/create-recommender.ts');
  const { clicksInTimeOrder } = await import('../../src/ingest/replay.ts');
  const log = (line: string) => t.diagnostic(line);

  const train = loadSessionTsv(join(dir, 'train_full.tsv'));
  const day = loadSessionTsv(join(dir, 'test.tsv'), { index: train.index });
  await initBackend(undefined, log);
  const gru = gru4recPreset('rsc15-xe-fast', { nEpochs: 1 });
  const weightsAfter = async (nEpochs: number) => {
    const { model, stats } = await trainGru4Rec(train.data, train.index.size, { ...gru, nEpochs });
    log(`trained ${nEpochs} epoch(s) in ${stats.seconds.toFixed(1)} s`);
    const w = model.toWeights();
    model.dispose();
    return w;
  };
  const w1 = await weightsAfter(1);
  const w2 = await weightsAfter(2);
  const config = loadConfig(undefined, {});
  const recommender = await buildGru4RecRecommender(config, w1, train.index.ids, 'v1', log);

  // What serving counts (src/serving/instrumentation.ts), per version as the demo keeps it.
  const overall = new PrequentialMetrics(20);
  const byVersion = new QualityByVersion(20);
  const latency = new LatencyHistogram();
  let served = 0;
  let arrived = 0;
  const clicks: ClickInput[] = [...clicksInTimeOrder(day.data, train.index)].map((c) => ({ sessionId: c.sessionId, itemId: c.itemId, partition: 0, timestamp: c.timestamp }));
  const timeline = new StatusTimeline({
    instanceId: 'serving-0',
    eventsIn: () => served,
    eventsOut: () => served,
    latency: () => latency,
    quality: () => ({ recall20: overall.recall, mrr20: overall.mrr, targets: overall.targets }),
    qualityByVersion: () => byVersion.rows().map((r) => ({ version: r.version, recall20: r.recall, mrr20: r.mrr, targets: r.targets })),
    currentVersion: () => recommender.version,
    consumerLag: () => arrived - served,
  });
  const { server, url } = await serveRoutes(statusRoutes(timeline));
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, deviceScaleFactor: 1 });
    const errors = collectErrors(page);
    timeline.start();
    await page.goto(url('/status'));
    const out: RecommendOutcome[] = [];
    const start = performance.now();
    let swapped = false;
    while (served < clicks.length) {
      const elapsed = performance.now() - start;
      arrived = Math.min(clicks.length, Math.floor((elapsed * REPLAY_RATE) / 1000));
      if (arrived === served) {
        await new Promise((r) => setTimeout(r, REPLAY_BATCH_MS));
        continue;
      }
      if (!swapped && served >= SWAP_AT * clicks.length) {
        swapped = true;
        const report = await recommender.swapModel(await prepareModel(config, w2, train.index.ids, 'v2', log));
        timeline.modelSwapped(report.to, report.pauseMs);
        log(`swapped ${report.from} → ${report.to}: ${report.pauseMs.toFixed(1)} ms, ${report.sessions} sessions re-encoded`);
      }
      const batch = clicks.slice(served, arrived);
      await recommender.recommendBatch(batch, out);
      recommender.drainChangelog();
      const done = performance.now();
      const version = recommender.version;
      for (let i = 0; i < batch.length; i++) {
        const o = out[i];
        overall.observe(batch[i].sessionId, batch[i].itemId);
        if (!o.ok) continue;
        overall.emitted(batch[i].sessionId, o.itemIds);
        byVersion.record(version, batch[i].sessionId, batch[i].itemId, o.itemIds);
        const arrival = start + ((served + i) * 1000) / REPLAY_RATE;
        latency.record(done - arrival);
      }
      served = arrived;
    }
    // The last sample covers the replay's last interval, so the tiles show it live, not an idle second after it.
    timeline.stop();
    timeline.sample();
    await page.waitForFunction((text) => document.querySelector('#recall20')?.textContent === text, formatQuality(overall.recall), { timeout: 10_000 });
    mkdirSync(join(root, 'docs'), { recursive: true });
    const shot = join(root, 'docs', 'status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    log(
      `${clicks.length} clicks; online Recall@20 ${formatQuality(overall.recall)}, MRR@20 ${formatQuality(overall.mrr)}; latency p50 ${latency.quantile(0.5).toFixed(1)} ms p99 ${latency.quantile(0.99).toFixed(1)} ms → ${shot}`,
    );
    for (const r of byVersion.rows()) log(`  ${r.version}: ${r.targets} targets, Recall@20 ${formatQuality(r.recall)}, MRR@20 ${formatQuality(r.mrr)}`);
    assert.equal(byVersion.rows().length, 2);
    assert.deepEqual(errors, []);
  } finally {
    timeline.stop();
    await browser.close();
    server.close();
    await recommender.close?.();
  }
});
