import type { StreamrecConfig } from '../config/config.ts';
import { ServingApp } from '../serving/serving-app.ts';
import { createRecommender } from '../serving/create-recommender.ts';
import { Gru4RecRecommender } from '../serving/gru4rec-recommender.ts';
import { createKafka } from '../kafka/client.ts';
import { serveMetrics } from '../metrics/prometheus.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { ModelUpdatesFollower } from '../registry/model-updates.ts';
import { ModelFollower } from '../serving/model-follower.ts';

/** `streamrec serve`: runs until SIGINT/SIGTERM, then finishes the in-flight batch, commits and closes. */
export async function runServe(config: StreamrecConfig, instanceId: string): Promise<void> {
  const recommender = await createRecommender(config);
  const app = new ServingApp({ config, recommender, instanceId });
  // The probes answer from the start: /readyz says "starting" until the consumer has joined.
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
            healthy: () => app.health().alive,
            ready: () => app.health().ready,
            reason: () => app.health().reason,
          },
          config.metrics.port,
          config.metrics.host,
        )
      : null;
  if (metrics) process.stderr.write(`serve: Prometheus metrics on http://${config.metrics.host}:${config.metrics.port}/metrics, probes /healthz /readyz\n`);
  await app.start();
  // model.kind registry: every promotion announced on topics.modelUpdates is hot-swapped in.
  const follower = config.model.kind === 'registry' ? await followRegistry(config, app, () => recommender.version) : null;
  process.stderr.write(
    `serve: instance ${instanceId} consuming ${config.topics.clicks.name} → ${config.topics.recommendations.name} (${config.serving.delivery}, model ${recommender.version})\n`,
  );
  const ticker = setInterval(() => {
    const s = app.stats;
    process.stderr.write(
      `serve: in ${s.eventsIn} out ${s.recommendationsOut} batches ${s.batches} Recall@20 ${s.quality.recall.toFixed(3)} MRR@20 ${s.quality.mrr.toFixed(3)} p99 ${s.latency.quantile(0.99).toFixed(1)} ms\n`,
    );
  }, 5000);
  // Runs until a signal (graceful stop) or a fatal error (fenced, broker gone for good, an
  // unwritable topic): then it stops and exits non-zero, so its supervisor restarts it.
  const fatal = await Promise.race([
    new Promise<null>((resolve) => {
      process.once('SIGINT', () => resolve(null));
      process.once('SIGTERM', () => resolve(null));
    }),
    app.fatal,
  ]);
  clearInterval(ticker);
  metrics?.close();
  await follower?.stop().catch(() => undefined);
  await Promise.race([app.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
  if (fatal) throw fatal;
  process.stderr.write('serve: stopped cleanly\n');
}

async function followRegistry(config: StreamrecConfig, app: ServingApp, currentVersion: () => string): Promise<ModelFollower> {
  const log = (l: string) => process.stderr.write(`serve: ${l}\n`);
  const updates = new ModelUpdatesFollower(createKafka(config, '-model-updates'), config.topics.modelUpdates.name, log);
  const follower = new ModelFollower(app, new ModelRegistry(config.registry.path), updates, config, currentVersion, 're-encode', log);
  await follower.start();
  return follower;
}
