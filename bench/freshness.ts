/**
 * Freshness and bytes shipped: incremental sync (train.sync, deltas + snapshots) vs full versions
 * only, with the real processes on a real broker:
 *
 *   node --import tsx bench/freshness.ts [--items 30000] [--rate 500] [--seconds 120]
 *        [--mode both|deltas|full] [--prepare 30000,300000] [--out results/freshness.json]
 *
 * Per mode: a registry with an untrained version 1 of rsc15-xe-fast's shape over --items items,
 * `streamrec train --follow` in its own process (the topology defaults: windows of 20k events,
 * gate 5k; with deltas: train.sync defaults, intervalMs 2000, snapshot every 30 deltas), serving
 * in this process (ServingApp + DeltaFollower, or + ModelFollower for full versions), and a
 * producer at --rate clicks/s for --seconds.
 *
 * Freshness, the same definition for both modes: when serving starts scoring with new weights,
 * now − the append time (the record timestamp, set at send) of the NEWEST click those weights
 * trained on. For a delta that click's time is stamped in the delta; for a full version it is
 * looked up from version.json's trainingOffsets in the producer's own (partition, offset) → time
 * log. The oldest click of a window waits up to one interval more (deltas) or one window more
 * (full versions).
 *
 * Bytes shipped: what the trainer wrote for serving to read, per minute of the run: delta files
 * + snapshot version directories (deltas) vs version directories (full): every file serving's
 * registry.load reads and verifies (weights, ONNX export, optimizer state, manifest).
 *
 * --prepare: what applying one delta costs serving off the hot path at those catalogue sizes:
 * prepareModel (the ORT engine bakes weights into its graph, so a delta means a new engine),
 * 3 repeats each, min / median / max.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalBroker } from '../scripts/kafka/local-broker.ts';
import type { StreamrecConfig } from '../src/config/config.ts';
import { createKafka } from '../src/kafka/client.ts';
import { initBackend } from '../src/model/backend.ts';
import { Gru4Rec } from '../src/model/gru4rec.ts';
import { archOf } from '../src/model/gru4rec-config.ts';
import { ModelRegistry } from '../src/registry/model-registry.ts';
import { ModelUpdatesFollower } from '../src/registry/model-updates.ts';
import { createRecommender, prepareModel } from '../src/serving/create-recommender.ts';
import { DeltaFollower } from '../src/serving/delta-follower.ts';
import { ModelFollower } from '../src/serving/model-follower.ts';
import { ServingApp } from '../src/serving/serving-app.ts';
import { followConfig } from '../src/train/continuous/stream-trainer.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';
import { clickMessages, freshBenchConfig } from './serving-load.ts';

const { values: args } = parseArgs({
  options: {
    items: { type: 'string', default: '30000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '120' },
    mode: { type: 'string', default: 'both' },
    prepare: { type: 'string', default: '' },
    out: { type: 'string', default: 'results/freshness.json' },
  },
});
const root = new URL('../', import.meta.url).pathname;
const log = (l: string) => process.stderr.write(`${l}\n`);
const quiet = () => undefined;

function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)];
}

function dirBytes(path: string): number {
  let n = 0;
  for (const e of readdirSync(path, { withFileTypes: true })) n += e.isDirectory() ? dirBytes(join(path, e.name)) : statSync(join(path, e.name)).size;
  return n;
}

/** Per partition, the send time of each slice from its base offset on: the append time of any offset. */
class SendLog {
  private readonly slices = new Map<number, Array<[number, number]>>();
  add(partition: number, baseOffset: number, at: number): void {
    let list = this.slices.get(partition);
    if (!list) this.slices.set(partition, (list = []));
    list.push([baseOffset, at]);
  }
  timeOf(partition: number, offset: number): number | null {
    const list = this.slices.get(partition) ?? [];
    let found: number | null = null;
    for (const [base, at] of list) if (base <= offset) found = at;
    return found;
  }
}

interface ModeResult {
  mode: 'deltas' | 'full';
  seconds: number;
  clicks: number;
  updates: number;
  freshnessMs: { p50: number; p90: number; min: number; max: number; samples: number };
  bytes: { total: number; perMinute: number; deltaFiles: number; versions: number };
}

async function runMode(brokers: string, mode: 'deltas' | 'full', nItems: number, rate: number, seconds: number): Promise<ModeResult> {
  const dir = mkdtempSync(join(tmpdir(), `streamrec-fresh-${mode}-`));
  const cfg: StreamrecConfig = await freshBenchConfig(brokers, `fresh-${mode}`, { batch: { maxSize: 256, maxWaitMs: 5 } });
  cfg.model = { ...cfg.model, kind: 'registry' };
  cfg.registry = { path: join(dir, 'registry') };
  cfg.train = { ...cfg.train, sync: { ...cfg.train.sync, enabled: mode === 'deltas' } };
  const itemIds = Array.from({ length: nItems }, (_, i) => `i${i}`);
  const config = followConfig(cfg.train.preset, { nItems, embeddingDim: 0, hiddenSizes: [100], constrainedEmbedding: true, useBias: true });
  const model = Gru4Rec.init(archOf(config, nItems), 1);
  const registry = new ModelRegistry(cfg.registry.path);
  const v1 = await registry.publish({ weights: model.toWeights(), itemIds, config, parent: null });
  model.dispose();
  await registry.promote(v1.version);
  const sendLog = new SendLog();
  const freshness: number[] = [];
  let follower: { stop(): Promise<void> };
  let app: ServingApp;
  if (mode === 'deltas') {
    const chain = (await DeltaFollower.loadChain(registry))!;
    const rec = await DeltaFollower.recommenderFor(cfg, chain, quiet);
    app = new ServingApp({ config: cfg, recommender: rec, instanceId: 'fresh', log: quiet });
    await app.start();
    const f = new DeltaFollower({ app, registry, config: cfg, instanceId: 'fresh', log, on: { applied: (_d, ms) => ms !== null && freshness.push(ms) } });
    await f.start(chain);
    follower = f;
  } else {
    const rec = await createRecommender(cfg, quiet);
    app = new ServingApp({ config: cfg, recommender: rec, instanceId: 'fresh', log: quiet });
    await app.start();
    app.events.on('modelSwapped', (r) => {
      const version = Number(r.to.slice(1));
      void registry.load(version).then((m) => {
        let newest: number | null = null;
        for (const [p, next] of Object.entries(m.info.trainingOffsets ?? {})) {
          const t = sendLog.timeOf(Number(p), Number(next) - 1);
          if (t !== null && (newest === null || t > newest)) newest = t;
        }
        if (newest !== null) freshness.push(Date.now() - newest);
      });
    });
    const f = new ModelFollower(
      app,
      registry,
      new ModelUpdatesFollower(createKafka(cfg, '-fresh-updates'), cfg.topics.modelUpdates.name, quiet),
      cfg,
      () => rec.version,
      're-encode',
      log,
    );
    await f.start();
    follower = f;
  }
  const env = {
    ...process.env,
    KAFKA_BROKERS: brokers,
    STREAMREC_TOPICS__CLICKS__NAME: cfg.topics.clicks.name,
    STREAMREC_TOPICS__MODEL_UPDATES__NAME: cfg.topics.modelUpdates.name,
    STREAMREC_GROUPS__TRAINER: cfg.groups.trainer,
    STREAMREC_REGISTRY__PATH: cfg.registry.path,
    STREAMREC_TRAIN__METRICS_PORT: '0',
    STREAMREC_TRAIN__GATE_MARGIN: '1',
    STREAMREC_TRAIN__SYNC__ENABLED: String(mode === 'deltas'),
  };
  const script = `import('./src/cli/train.ts').then((m) => m.runTrainFollow({ checkpoint: ${JSON.stringify(join(dir, 'ckpt'))} })).then(() => process.exit(0), (e) => { console.error(e); process.exit(1); })`;
  const trainer = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let trainerLog = '';
  trainer.stderr!.on('data', (d: Buffer) => {
    trainerLog += d.toString();
    if (trainerLog.length > 200_000) trainerLog = trainerLog.slice(-100_000);
  });
  // Wait for the trainer to follow the topic before the clock starts.
  for (let i = 0; i < 1200 && !/following /.test(trainerLog); i++) await new Promise((r) => setTimeout(r, 100));
  const msgs = clickMessages(cfg, nItems, rate * seconds, 7);
  const producer = createKafka(cfg, '-fresh-producer').producer();
  await producer.connect();
  const per = Math.max(1, Math.round(rate / 10));
  const t0 = performance.now();
  for (let i = 0; i < msgs.length; i += per) {
    const at = Date.now();
    const res = await producer.send({ topic: cfg.topics.clicks.name, messages: msgs.slice(i, i + per), acks: 1 });
    for (const m of res) sendLog.add(m.partition, Number(m.baseOffset), at);
    const wait = t0 + ((i + per) / rate) * 1000 - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const ran = (performance.now() - t0) / 1000;
  await producer.disconnect();
  trainer.kill('SIGTERM');
  await new Promise((r) => trainer.once('exit', r));
  await follower.stop();
  await app.stop();
  const deltasDir = join(cfg.registry.path, 'deltas');
  let deltaFiles = 0;
  let deltaBytes = 0;
  try {
    deltaBytes = dirBytes(deltasDir);
    for (const b of readdirSync(deltasDir)) deltaFiles += readdirSync(join(deltasDir, b)).length;
  } catch {
    // no deltas written (full mode)
  }
  const versions = (await registry.list()).filter((v) => v.version > v1.version);
  const versionBytes = versions.reduce((n, v) => n + dirBytes(v.dir), 0);
  const total = deltaBytes + versionBytes;
  const r: ModeResult = {
    mode,
    seconds: ran,
    clicks: msgs.length,
    updates: freshness.length,
    freshnessMs: { p50: quantile(freshness, 0.5), p90: quantile(freshness, 0.9), min: Math.min(...freshness), max: Math.max(...freshness), samples: freshness.length },
    bytes: { total, perMinute: total / (ran / 60), deltaFiles, versions: versions.length },
  };
  log(
    `${mode}: ${r.clicks} clicks in ${ran.toFixed(0)} s; ${r.updates} weight updates served, freshness p50 ${(r.freshnessMs.p50 / 1000).toFixed(2)} s, p90 ${(r.freshnessMs.p90 / 1000).toFixed(2)} s; ` +
      `${(total / 1e6).toFixed(1)} MB shipped (${deltaFiles} delta files, ${versions.length} versions) = ${(r.bytes.perMinute / 1e6).toFixed(2)} MB/min`,
  );
  if (r.updates === 0) log(`  trainer log tail:\n${trainerLog.slice(-1500)}`);
  return r;
}

async function prepareCost(nItems: number): Promise<{ nItems: number; ms: number[] }> {
  const { loadConfig } = await import('../src/config/config.ts');
  const cfg = loadConfig(undefined, {});
  const w = syntheticWeights({ nItems, embeddingDim: 0, hiddenSizes: [100], constrainedEmbedding: true, useBias: true }, 3);
  const ids = Array.from({ length: nItems }, (_, i) => `i${i}`);
  const ms: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t = performance.now();
    const m = await prepareModel(cfg, w, ids, 'p', quiet);
    ms.push(performance.now() - t);
    await m.engine.dispose();
  }
  log(`prepare (a delta's new engine) at ${nItems} items: min ${Math.min(...ms).toFixed(0)} / median ${quantile(ms, 0.5).toFixed(0)} / max ${Math.max(...ms).toFixed(0)} ms`);
  return { nItems, ms };
}

async function main(): Promise<void> {
  const load0 = (await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim();
  await initBackend(undefined, quiet);
  const prepare = [];
  for (const n of args.prepare!.split(',').filter(Boolean)) prepare.push(await prepareCost(Number(n)));
  const modes = args.mode === 'both' ? (['deltas', 'full'] as const) : ([args.mode as 'deltas' | 'full'] as const);
  const results: ModeResult[] = [];
  if (modes.length > 0 && Number(args.seconds) > 0) {
    let brokers = process.env.KAFKA_BROKERS;
    const broker = brokers ? null : await startLocalBroker({ log });
    brokers ??= broker!.brokers;
    try {
      for (const m of modes) results.push(await runMode(brokers, m, Number(args.items), Number(args.rate), Number(args.seconds)));
    } finally {
      await broker?.stop();
    }
  }
  const load1 = (await import('node:fs')).readFileSync('/proc/loadavg', 'utf8').trim();
  mkdirSync(dirname(args.out!), { recursive: true });
  writeFileSync(
    args.out!,
    `${JSON.stringify({ command: process.argv.slice(2).join(' '), createdAt: new Date().toISOString(), loadavg: [load0, load1], prepare, results }, null, 2)}\n`,
  );
  log(`loadavg before ${load0}, after ${load1}; wrote ${args.out}`);
}

main().catch((e) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : e);
  process.exitCode = 1;
});
