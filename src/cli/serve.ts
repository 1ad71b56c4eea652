import type { StreamrecConfig } from '../config/config.ts';
import { ServingApp } from '../pipeline/serving-app.ts';
import { createRecommender } from '../pipeline/create-recommender.ts';

/** `streamrec serve`: runs until SIGINT/SIGTERM, then finishes the in-flight batch, commits and closes. */
export async function runServe(config: StreamrecConfig, instanceId: string): Promise<void> {
  const recommender = await createRecommender(config);
  const app = new ServingApp({ config, recommender, instanceId });
  await app.start();
  process.stderr.write(`serve: instance ${instanceId} consuming ${config.topics.clicks.name} → ${config.topics.recommendations.name} (${config.serving.delivery}, model ${recommender.version})\n`);
  const ticker = setInterval(() => {
    const s = app.stats;
    process.stderr.write(
      `serve: in ${s.eventsIn} out ${s.recommendationsOut} batches ${s.batches} Recall@20 ${s.quality.recall.toFixed(3)} MRR@20 ${s.quality.mrr.toFixed(3)} p99 ${s.latency.quantile(0.99).toFixed(1)} ms\n`,
    );
  }, 5000);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  clearInterval(ticker);
  await app.stop();
  process.stderr.write('serve: stopped cleanly\n');
}
