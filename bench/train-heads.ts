/**
 * Training speed of the scoring heads and losses, side by side in one run: each preset trains a
 * fixed number of steps on rsc15-100k train_full from a fresh model, the presets alternating
 * round by round (so machine load hits them alike), several rounds; prints events/s per preset
 * as median [min–max] over the rounds and the load average at start and end.
 *
 *   node --import tsx bench/train-heads.ts [--presets rsc15-xe-fast,rsc15-mot-fast,rsc15-moc-fast,rsc15-bprmax-fast,rsc15-hinge-fast]
 *        [--steps 150] [--warmup 10] [--rounds 3] [--out results/train-heads.json]
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
import { Gru4RecTrainer } from '../src/train/trainer.ts';
import { SessionParallelIterator } from '../src/train/session-parallel.ts';

const { values: args } = parseArgs({
  options: {
    presets: { type: 'string', default: 'rsc15-xe-fast,rsc15-mot-fast,rsc15-moc-fast,rsc15-bprmax-fast,rsc15-hinge-fast' },
    steps: { type: 'string', default: '150' },
    warmup: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    out: { type: 'string' },
  },
});
const presets = args.presets!.split(',').map((p) => p.trim());
const steps = Number(args.steps);
const warmup = Number(args.warmup);
const rounds = Number(args.rounds);

const backend = await initBackend(undefined, () => {});
const { data, index } = loadSessionTsv(join(sharedDataDir(), 'rsc15-100k', 'train_full.tsv'));
const support = itemSupport(data, index.size);
const load0 = loadavg();

/** Events per second of `steps` steps after `warmup` untimed ones, from a fresh model. */
function measure(preset: string): number {
  const config = gru4recPreset(preset, { sampleCacheSize: 1_000_000 });
  const model = Gru4Rec.init(archOf(config, index.size), config.seed);
  const trainer = new Gru4RecTrainer(model, config, support);
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
  return events / seconds;
}

const results = new Map<string, number[]>(presets.map((p) => [p, []]));
for (let r = 0; r < rounds; r++) {
  for (const p of presets) {
    const eps = measure(p);
    results.get(p)!.push(eps);
    process.stderr.write(`round ${r + 1}/${rounds} ${p}: ${eps.toFixed(0)} events/s\n`);
  }
}
const load1 = loadavg();
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`training events/s on ${backend}, ${steps} steps after ${warmup} warm-up, ${rounds} alternating rounds; load average ${load0[0].toFixed(2)} → ${load1[0].toFixed(2)}`);
console.log('preset'.padEnd(20) + 'median'.padStart(9) + '   [min – max]');
for (const [p, xs] of results) console.log(p.padEnd(20) + median(xs).toFixed(0).padStart(9) + `   [${Math.min(...xs).toFixed(0)} – ${Math.max(...xs).toFixed(0)}]`);
if (args.out) writeFileSync(args.out, JSON.stringify({ backend, steps, warmup, rounds, loadavg: [load0[0], load1[0]], eventsPerSec: Object.fromEntries(results) }, null, 2));
