/**
 * Training speed side by side in one run: each case (a preset, optionally at other sizes, on one
 * step kernel) trains a fixed number of steps on rsc15-100k train_full from a fresh model, the
 * cases alternating round by round (so machine load hits them alike), several rounds; prints
 * events/s per case as median [min–max] over the rounds and the load average at start and end.
 *
 *   npm run bench:train-speed -- [--presets rsc15-xe-fast,rsc15-mot-fast,rsc15-moc-fast,rsc15-bprmax-fast,rsc15-hinge-fast]
 *        [--sizes 100x32,1000x64]   hidden units x batch size, overriding the presets' (default: as the preset)
 *        [--kernels auto,tfjs]      the trainer's outputKernel: tfjs = everything on tfjs (the code before
 *                                   the onnxruntime kernels), auto = onnxruntime where the model allows
 *        [--steps 150] [--warmup 10] [--rounds 3] [--out results/train-speed.json]
 */
import { loadavg } from 'node:os';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadSessionTsv, sharedDataDir } from '../src/data/sessions.ts';
import { initBackend } from '../src/model/backend.ts';
import { Gru4Rec } from '../src/model/gru4rec.ts';
import { archOf, gru4recPreset } from '../src/model/gru4rec-config.ts';
import { itemSupport } from '../src/train/fit.ts';
import type { OutputKernelChoice } from '../src/train/ort-sampled-output.ts';
import { Gru4RecTrainer } from '../src/train/trainer.ts';
import { SessionParallelIterator } from '../src/train/session-parallel.ts';

const { values: args } = parseArgs({
  options: {
    presets: { type: 'string', default: 'rsc15-xe-fast,rsc15-mot-fast,rsc15-moc-fast,rsc15-bprmax-fast,rsc15-hinge-fast' },
    steps: { type: 'string', default: '150' },
    warmup: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    sizes: { type: 'string' },
    kernels: { type: 'string', default: 'auto' },
    out: { type: 'string' },
  },
});
const presets = args.presets!.split(',').map((p) => p.trim());
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const rounds = Number(args.rounds);
const sizes = args.sizes ? args.sizes.split(',').map((s) => s.trim().split('x').map(Number) as [number, number]) : [null];
const kernels = args.kernels!.split(',').map((k) => k.trim() as OutputKernelChoice);

interface Case {
  name: string;
  preset: string;
  size: [number, number] | null;
  kernel: OutputKernelChoice;
}
const cases: Case[] = presets.flatMap((preset) =>
  sizes.flatMap((size) => kernels.map((kernel) => ({ name: `${preset}${size ? ` ${size[0]}x${size[1]}` : ''} ${kernel}`, preset, size, kernel }))),
);

const backend = await initBackend(undefined, () => {});
const { data, index } = loadSessionTsv(join(sharedDataDir(), 'rsc15-100k', 'train_full.tsv'));
const support = itemSupport(data, index.size);
const load0 = loadavg();

/** Events per second of `steps` steps after `warmup` untimed ones, from a fresh model; and which kernel ran. */
function measure(c: Case): { eventsPerSec: number; engine: string } {
  const sized = c.size ? { layers: [c.size[0]], batchSize: c.size[1] } : {};
  const config = gru4recPreset(c.preset, { sampleCacheSize: 1_000_000, ...sized });
  const model = Gru4Rec.init(archOf(config, index.size), config.seed);
  const trainer = new Gru4RecTrainer(model, config, support, { outputKernel: c.kernel });
  const engine = trainer.kernel.engine;
  const it = new SessionParallelIterator(data, config.batchSize);
  let events = 0;
  let start = 0;
  for (let s = 0; s < warmup + steps; s++) {
    if (s === warmup) start = performance.now();
    const b = it.next();
    if (!b) throw new Error('the data ran out before the steps did');
    trainer.step(b);
    if (s >= warmup) events += b.n;
  }
  const seconds = (performance.now() - start) / 1000;
  trainer.dispose();
  model.dispose();
  return { eventsPerSec: events / seconds, engine };
}

const results = new Map<string, number[]>(cases.map((c) => [c.name, []]));
const engines = new Map<string, string>();
for (let r = 0; r < rounds; r++) {
  for (const c of cases) {
    const { eventsPerSec: eps, engine } = measure(c);
    results.get(c.name)!.push(eps);
    engines.set(c.name, engine);
    process.stderr.write(`round ${r + 1}/${rounds} ${c.name} (${engine}): ${eps.toFixed(0)} events/s\n`);
  }
}
const load1 = loadavg();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`training events/s on ${backend}, ${steps} steps after ${warmup} warm-up, ${rounds} alternating rounds; load average ${load0[0].toFixed(2)} → ${load1[0].toFixed(2)}`);
console.log('case'.padEnd(34) + 'ran on'.padEnd(12) + 'median'.padStart(9) + '   [min – max]');
for (const [name, xs] of results)
  console.log(name.padEnd(34) + engines.get(name)!.padEnd(12) + median(xs).toFixed(0).padStart(9) + `   [${Math.min(...xs).toFixed(0)} – ${Math.max(...xs).toFixed(0)}]`);
if (args.out)
  writeFileSync(
    args.out,
    JSON.stringify(
      {
        bench: 'train-speed',
        date: new Date().toISOString(),
        backend,
        steps,
        warmup,
        rounds,
        loadavg: [load0[0], load1[0]],
        engines: Object.fromEntries(engines),
        eventsPerSec: Object.fromEntries(results),
      },
      null,
      2,
    ),
  );
