/**
 * A serving process for the crash/rebalance integration tests: GRU4Rec with seeded synthetic
 * weights, topology from env overrides (STREAMREC_TOPICS__CLICKS__NAME, …). Prints "ready" once
 * consuming and "served N" as it goes; SIGTERM stops it gracefully, SIGKILL is the crash under test.
 */
import { loadConfig } from '../../src/config/config.ts';
import { ServingApp } from '../../src/serving/serving-app.ts';
import { buildGru4RecRecommender } from '../../src/serving/create-recommender.ts';
import { syntheticWeights } from './synthetic-weights.ts';

export const TEST_ARCH = { nItems: 200, embeddingDim: 0, hiddenSizes: [32], constrainedEmbedding: false, useBias: true };
export const testItemIds = Array.from({ length: TEST_ARCH.nItems }, (_, i) => `i${i}`);

if (process.argv[1]?.endsWith('serve-child.ts')) {
  const config = loadConfig();
  const instance = process.env.SERVE_INSTANCE ?? '0';
  // SERVE_N_ITEMS / SERVE_HIDDEN size the model for benchmarks (bench/scale-out.ts); tests use TEST_ARCH.
  const nItems = Number(process.env.SERVE_N_ITEMS ?? TEST_ARCH.nItems);
  const hidden = Number(process.env.SERVE_HIDDEN ?? TEST_ARCH.hiddenSizes[0]);
  const arch = nItems === TEST_ARCH.nItems && hidden === TEST_ARCH.hiddenSizes[0] ? TEST_ARCH : { ...TEST_ARCH, nItems, hiddenSizes: [hidden] };
  const itemIds = arch === TEST_ARCH ? testItemIds : Array.from({ length: nItems }, (_, i) => `i${i}`);
  const rec = await buildGru4RecRecommender(config, syntheticWeights(arch, 3), itemIds, 'synthetic-v1', () => undefined);
  const app = new ServingApp({
    config,
    recommender: rec,
    instanceId: instance,
    sessionTimeoutMs: 6000,
    log: (l) => process.stdout.write(`${l}\n`),
  });
  await app.start();
  process.stdout.write('ready\n');
  let last = -1;
  const t = setInterval(() => {
    if (app.stats.eventsIn !== last) process.stdout.write(`served ${(last = app.stats.eventsIn)}\n`);
  }, 100);
  process.once('SIGTERM', () => {
    clearInterval(t);
    void app.stop().then(() => process.exit(0));
  });
}
