/**
 * Training throughput of GRU4Rec presets on rsc15-100k train_full (one epoch each by default):
 *   npm run bench:train -- [--backend wasm|tensorflow|cpu] [--epochs N] [--eval] [--profile] preset...
 * Prints events/s, CPU seconds, and where the step time went (JS preparation / tf compute / loss
 * read-back); --profile adds the heaviest tf kernels of 20 profiled steps per preset. The trainer
 * runs its step on onnxruntime where the model allows (README: Trainer speed), which tf.profile does
 * not see; STREAMREC_TRAIN_KERNEL=tfjs profiles the all-tfjs step.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BackendPreference } from '../src/model/backend.ts';
import { Gru4Rec } from '../src/model/gru4rec.ts';
import { Gru4RecScorer } from '../src/eval/gru4rec-scorer.ts';
import { loadSessionTsv, sharedDataDir, type SessionData } from '../src/data/sessions.ts';
import { evaluate } from '../src/eval/evaluate.ts';
import { archOf, GRU4REC_PRESETS, gru4recPreset, type Gru4RecConfig } from '../src/model/gru4rec-config.ts';
import { SessionParallelIterator } from '../src/train/session-parallel.ts';
import { Gru4RecTrainer, itemSupport, trainGru4Rec, type TrainStats } from '../src/train/trainer.ts';

export interface ThroughputResult {
  preset: string;
  stats: TrainStats;
  msPerStep: number;
  /** Process CPU time (all threads) over wall time while training: > 1 means several cores were busy. */
  cpuSeconds: number;
  recall20?: number;
  mrr20?: number;
}

export async function measureThroughput(
  presets: string[],
  opts: { epochs?: number; evaluate?: boolean; profile?: boolean; log?: (line: string) => void } = {},
): Promise<ThroughputResult[]> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const dir = `${sharedDataDir()}rsc15-100k/`;
  if (!existsSync(`${dir}train_full.tsv`)) throw new Error(`rsc15-100k not found under ${dir} (set SHARED_DATA_DIR)`);
  const { data: train, index } = loadSessionTsv(`${dir}train_full.tsv`);
  const test = opts.evaluate ? loadSessionTsv(`${dir}test.tsv`, { index, unknownItems: 'drop', minSessionLength: 2 }).data : null;
  const results: ThroughputResult[] = [];
  for (const preset of presets) {
    const config = gru4recPreset(preset, { nEpochs: opts.epochs ?? 1 });
    const cpu0 = process.cpuUsage();
    const { model, stats } = await trainGru4Rec(train, index.size, config);
    const cpu = process.cpuUsage(cpu0);
    const t = stats.timing;
    const r: ThroughputResult = { preset, stats, msPerStep: (t.prepareMs + t.computeMs + t.syncMs) / t.steps, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
    if (test) {
      const e = await evaluate(new Gru4RecScorer(model), test, { cutoffs: [20] });
      r.recall20 = e.recall[20];
      r.mrr20 = e.mrr[20];
    }
    model.dispose();
    results.push(r);
    log(
      `${preset.padEnd(18)} layers ${JSON.stringify(config.layers).padEnd(6)} batch ${String(config.batchSize).padEnd(4)} ${config.loss.padEnd(13)} ` +
        `${stats.eventsPerSec.toFixed(0).padStart(6)} events/s  ${r.msPerStep.toFixed(2)} ms/step ` +
        `(prepare ${(t.prepareMs / t.steps).toFixed(2)}, compute ${(t.computeMs / t.steps).toFixed(2)}, sync ${(t.syncMs / t.steps).toFixed(2)})  ` +
        `${stats.seconds.toFixed(1)} s (${r.cpuSeconds.toFixed(1)} CPU s) for ${stats.epochs} epoch(s), loss ${stats.lossHistory.map((l) => l.toFixed(4)).join(' ')}` +
        (r.recall20 !== undefined ? `  recall@20 ${r.recall20.toFixed(4)} mrr@20 ${r.mrr20!.toFixed(4)}` : ''),
    );
    if (opts.profile) for (const line of await profileKernels(train, index.size, config)) log(`    ${line}`);
  }
  return results;
}

/** The heaviest kernels of `steps` training steps (after a warm-up), by total kernel time per step. */
export async function profileKernels(train: SessionData, nItems: number, config: Gru4RecConfig, steps = 20, top = 12): Promise<string[]> {
  const model = Gru4Rec.init(archOf(config, nItems), config.seed);
  const trainer = new Gru4RecTrainer(model, config, itemSupport(train, nItems));
  const it = new SessionParallelIterator(train, config.batchSize);
  for (let i = 0; i < 20; i++) trainer.step(it.next()!);
  const byKernel = new Map<string, { ms: number; calls: number }>();
  let calls = 0;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) {
    const info = await tf.profile(() => {
      trainer.step(it.next()!);
    });
    for (const k of info.kernels) {
      // Custom-gradient wrappers report their inner kernels again; count only real kernels.
      if (k.name === 'forward') continue;
      const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
      const e = byKernel.get(key) ?? { ms: 0, calls: 0 };
      e.ms += k.kernelTimeMs as number;
      e.calls++;
      calls++;
      byKernel.set(key, e);
    }
  }
  const wall = (performance.now() - t0) / steps;
  trainer.dispose();
  model.dispose();
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = rows.reduce((a, [, v]) => a + v.ms, 0) / steps;
  return [
    `profile: ${(calls / steps).toFixed(0)} kernels/step, ${kernelMs.toFixed(2)} ms kernel time of ${wall.toFixed(2)} ms/step (profiling adds overhead)`,
    ...rows.slice(0, top).map(([k, v]) => `${(v.ms / steps).toFixed(3).padStart(8)} ms  ${String(v.calls / steps).padStart(4)}x  ${k}`),
  ];
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const args = process.argv.slice(2);
  let backend: BackendPreference | undefined;
  let epochs = 1;
  let evalToo = false;
  let profile = false;
  let out = 'results/train.json';
  const presets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--backend') backend = args[++i] as BackendPreference;
    else if (args[i] === '--epochs') epochs = Number(args[++i]);
    else if (args[i] === '--eval') evalToo = true;
    else if (args[i] === '--profile') profile = true;
    else if (args[i] === '--out') out = args[++i];
    else presets.push(args[i]);
  }
  const name = await initBackend(backend);
  console.log(`backend ${name}, rsc15-100k train_full, ${epochs} epoch(s)`);
  const results = await measureThroughput(presets.length ? presets : Object.keys(GRU4REC_PRESETS), { epochs, evaluate: evalToo, profile });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify(
      {
        bench: 'train',
        date: new Date().toISOString(),
        backend: name,
        epochs,
        results: results.map(({ stats, ...r }) => ({ ...r, eventsPerSec: stats.eventsPerSec, seconds: stats.seconds, events: stats.events })),
      },
      null,
      2,
    ),
  );
  console.log(`wrote ${out}`);
}
