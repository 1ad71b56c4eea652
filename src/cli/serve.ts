import type { StreamrecConfig } from '../config/config.ts';
import { ServingApp } from '../serving/serving-app.ts';
import { createRecommender } from '../serving/create-recommender.ts';
import { Gru4RecRecommender } from '../serving/gru4rec-recommender.ts';
import { serveMetrics } from '../metrics/prometheus.ts';

/** `streamrec serve`: runs until SIGINT/SIGTERM, then finishes the in-flight batch, commits and closes. */
export async function runServe(config: StreamrecConfig, instanceId: string): Promise<void> {
  const recommender = await createRecommender(config);
  const app = new ServingApp({ config, recommender, instanceId });
  await app.start();
  const store = recommender instanceof Gru4RecRecommender ? recommender.store : null;
  const metrics =
    config.metrics.port > 0
      ? await serveMetrics(
          {
            stats: app.stats,
            instanceId,
            modelVersion: () => recommender.version,
            sessionStoreBytes: store ? () => store.memoryBytes() : undefined,
            sessions: store ? () => store.size : undefined,
          },
          config.metrics.port,
        )
      : null;
  if (metrics) process.stderr.write(`serve: Prometheus metrics on :${config.metrics.port}/metrics\n`);
  process.stderr.write(
    `serve: instance ${instanceId} consuming ${config.topics.clicks.name} → ${config.topics.recommendations.name} (${config.serving.delivery}, model ${recommender.version})\n`,
  );
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
  metrics?.close();
  await app.stop();
  process.stderr.write('serve: stopped cleanly\n');
}
