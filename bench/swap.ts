/**
 * bench:swap — what a hot swap costs serving, in process (no Kafka): a GRU4Rec recommender with
 * `--items` items (ORT engine, H=100) and `--sessions` live sessions serves micro-batches of
 * `--batch` clicks on random live sessions. Per batch the time a click waits is measured: the
 * engine step, plus any re-encoding chunk run between batches in front of it (as the serving
 * loop's trickle does) — steady state before the swap, and after it until every session is
 * re-encoded. Writes results/swap.json.
 *
 *   node --import tsx bench/swap.ts [--items 30000] [--sessions 100000] [--batch 256] [--events 3]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config/config.ts';
import { seededRandom } from '../src/random/rng.ts';
import { buildGru4RecRecommender, prepareModel } from '../src/serving/create-recommender.ts';
import type { ClickInput, RecommendOutcome } from '../src/serving/recommender.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';

const { values: a } = parseArgs({
  options: {
    items: { type: 'string', default: '30000' },
    sessions: { type: 'string', default: '100000' },
    batch: { type: 'string', default: '256' },
    events: { type: 'string', default: '3' },
  },
});
const nItems = Number(a.items);
const nSessions = Number(a.sessions);
const B = Number(a.batch);
const arch = { nItems, embeddingDim: 0, hiddenSizes: [100], constrainedEmbedding: true, useBias: true };
const itemIds = Array.from({ length: nItems }, (_, i) => `i${i}`);
const cfg = loadConfig(undefined, {});
cfg.serving.batch.maxSize = B;
cfg.serving.sessions.maxSessions = nSessions + 1000;
const quiet = () => undefined;
const rec = await buildGru4RecRecommender(cfg, syntheticWeights(arch, 1), itemIds, 'v1', quiet);
const rnd = seededRandom(7);
const out: RecommendOutcome[] = [];
const click = (s: number): ClickInput => ({ sessionId: `s${s}`, itemId: itemIds[Math.floor(rnd() * nItems)], partition: 0, timestamp: 0 });
const batchOf = (pick: (k: number) => number) => Array.from({ length: B }, (_, k) => click(pick(k)));

process.stderr.write(`swap bench: ${nItems} items, ${nSessions} sessions × ${a.events} events warm-up, batches of ${B}\n`);
for (let e = 0; e < Number(a.events); e++)
  for (let s = 0; s < nSessions; s += B)
    await rec.recommendBatch(
      batchOf((k) => Math.min(nSessions - 1, s + k)),
      out,
    );
rec.drainChangelog();

const percentile = (xs: number[], q: number) => [...xs].sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const randomSession = () => Math.floor(rnd() * nSessions);
const steady: number[] = [];
for (let i = 0; i < 200; i++) {
  const t = performance.now();
  await rec.recommendBatch(batchOf(randomSession), out);
  steady.push(performance.now() - t);
}
const next = await prepareModel(cfg, syntheticWeights(arch, 2), itemIds, 'v2', quiet);
const report = await rec.swapModel(next);
const after: number[] = [];
const t0 = performance.now();
let batches = 0;
while (rec.reencodePending > 0 || batches < 200) {
  const t = performance.now();
  if (rec.reencodePending > 0) await rec.reencodeFor(cfg.serving.batch.maxWaitMs);
  await rec.recommendBatch(batchOf(randomSession), out);
  after.push(performance.now() - t);
  batches++;
  rec.drainChangelog();
}
const reencodeMs = performance.now() - t0;
const result = {
  items: nItems,
  sessions: nSessions,
  batch: B,
  swapPauseMs: report.pauseMs,
  steady: { p50: percentile(steady, 0.5), p99: percentile(steady, 0.99) },
  afterSwap: { batches: after.length, p50: percentile(after, 0.5), p99: percentile(after, 0.99), max: Math.max(...after) },
  reencodeAllMs: reencodeMs,
};
process.stdout.write(
  `| items | sessions | batch | swap pause | steady p50 / p99 per batch | after swap p50 / p99 / max (until all re-encoded, ${after.length} batches) | all re-encoded in |\n|---|---|---|---|---|---|---|\n| ${nItems} | ${nSessions} | ${B} | ${report.pauseMs.toFixed(0)} ms | ${result.steady.p50.toFixed(1)} / ${result.steady.p99.toFixed(1)} ms | ${result.afterSwap.p50.toFixed(1)} / ${result.afterSwap.p99.toFixed(1)} / ${result.afterSwap.max.toFixed(1)} ms | ${(reencodeMs / 1000).toFixed(1)} s |\n`,
);
mkdirSync('results', { recursive: true });
writeFileSync('results/swap.json', JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2));
await rec.close();
