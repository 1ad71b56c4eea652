import type { StreamrecConfig } from '../config/config.ts';
import { ServingApp } from '../serving/serving-app.ts';
import { createRecommender } from '../serving/create-recommender.ts';
import { Gru4RecRecommender } from '../serving/gru4rec-recommender.ts';
import { createKafkaClient } from '../kafka/create-client.ts';
import type { Server } from 'node:http';
import { serveHttp, type RouteHandler } from '../metrics/http-server.ts';
import { formatPercentiles } from '../metrics/latency-histogram.ts';
import { servingStatusSource } from '../metrics/status/serving-status-source.ts';
import { statusRoutes } from '../metrics/status/status-routes.ts';
import { StatusTimeline } from '../metrics/status/status-timeline.ts';
import { createTelemetry, type Telemetry } from '../metrics/telemetry.ts';
import { instrumentServing } from '../serving/instrumentation.ts';
import type { Recommender } from '../serving/recommender.ts';
import { ModelRegistry } from '../registry/model-registry.ts';
import { ModelUpdatesFollower } from '../registry/model-updates.ts';
import { ModelFollower } from '../serving/model-follower.ts';
import { DeltaFollower } from '../serving/delta-follower.ts';

/** `streamrec serve`: runs until SIGINT/SIGTERM, then finishes the in-flight batch, commits and closes. */
export async function runServe(config: StreamrecConfig, instanceId: string): Promise<void> {
  // train.sync: the registry's snapshot with its deltas applied, built once, then followed delta by delta.
  const chain = config.model.kind === 'registry' && config.train.sync.enabled ? await DeltaFollower.loadChain(new ModelRegistry(config.registry.path)) : null;
  const recommender = chain ? await DeltaFollower.recommenderFor(config, chain) : await createRecommender(config);
  const app = new ServingApp({ config, recommender, instanceId });
  // The status page samples the same stats the metrics export; its routes share the metrics port.
  const timeline = new StatusTimeline(servingStatusSource(app.stats, instanceId, () => recommender.version));
  app.events.on('modelSwapped', (r) => timeline.modelSwapped(r.to, r.pauseMs));
  // The probes answer from the start: /readyz says "starting" until the consumer has joined.
  const endpoints = await serveEndpoints(app, recommender, config, instanceId, config.metrics.port > 0 ? statusRoutes(timeline) : undefined);
  if (endpoints.server) {
    timeline.start();
    const base = `http://${config.metrics.host}:${config.metrics.port}`;
    process.stderr.write(`serve: metrics on ${base}/metrics, status page ${base}/status, probes /healthz /readyz\n`);
  }
  await app.start();
  // model.kind registry: every promotion announced on topics.modelUpdates is hot-swapped in.
  const follower = chain
    ? await followDeltas(config, app, instanceId, endpoints.telemetry, chain)
    : config.model.kind === 'registry'
      ? await followRegistry(config, app, () => recommender.version)
      : null;
  process.stderr.write(
    `serve: instance ${instanceId} consuming ${config.topics.clicks.name} → ${config.topics.recommendations.name} (${config.serving.delivery}, model ${recommender.version})\n`,
  );
  const ticker = setInterval(() => {
    const s = app.stats;
    process.stderr.write(
      `serve: in ${s.eventsIn} out ${s.recommendationsOut} batches ${s.batches} Recall@20 ${s.quality.recall.toFixed(3)} MRR@20 ${s.quality.mrr.toFixed(3)} latency ${formatPercentiles(s.latency)}\n`,
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
  timeline.stop();
  await endpoints.close();
  await follower?.stop().catch(() => undefined);
  await Promise.race([app.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
  if (fatal) throw fatal;
  process.stderr.write('serve: stopped cleanly\n');
}

export interface ServingEndpoints {
  telemetry: Telemetry;
  /** The HTTP server (/metrics, /healthz, /readyz, extra routes); null when metrics.port is 0. */
  server: Server | null;
  close(): Promise<void>;
}

/**
 * The serving process's telemetry (OpenTelemetry meter with the Prometheus exporter, OTLP push
 * when metrics.otlp is set) and its one HTTP port. `routes` are extra GET paths on that port
 * (the status page). metrics.port 0 serves no HTTP; an OTLP push still runs if configured.
 */
export async function serveEndpoints(
  app: ServingApp,
  recommender: Recommender,
  config: StreamrecConfig,
  instanceId: string,
  routes?: ReadonlyMap<string, RouteHandler>,
): Promise<ServingEndpoints> {
  const telemetry = createTelemetry({ serviceName: 'streamrec-serve', instanceId, ...(config.metrics.otlp ? { otlp: config.metrics.otlp } : {}) });
  const store = recommender instanceof Gru4RecRecommender ? recommender.store : null;
  const detach = instrumentServing(app.events, app.stats, telemetry.meter, {
    modelVersion: () => recommender.version,
    ...(store ? { sessions: () => store.size, sessionStoreBytes: () => store.memoryBytes() } : {}),
  });
  let server: Server | null = null;
  try {
    if (config.metrics.port > 0)
      server = await serveHttp(
        {
          metrics: telemetry.metricsHandler,
          healthy: () => app.health().alive,
          ready: () => app.health().ready,
          reason: () => app.health().reason,
          ...(routes ? { routes } : {}),
        },
        config.metrics.port,
        config.metrics.host,
      );
  } catch (e) {
    detach();
    await telemetry.shutdown();
    throw e;
  }
  return {
    telemetry,
    server,
    close: async () => {
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      detach();
      await telemetry.shutdown();
    },
  };
}

async function followRegistry(config: StreamrecConfig, app: ServingApp, currentVersion: () => string): Promise<ModelFollower> {
  const log = (l: string) => process.stderr.write(`serve: ${l}\n`);
  const updates = new ModelUpdatesFollower(createKafkaClient(config, '-model-updates'), config.topics.modelUpdates.name, log);
  const follower = new ModelFollower(app, new ModelRegistry(config.registry.path), updates, config, currentVersion, 're-encode', log);
  await follower.start();
  return follower;
}

/** With train.sync on, the delta follower owns the served model: new snapshots (CURRENT) and their deltas. */
async function followDeltas(
  config: StreamrecConfig,
  app: ServingApp,
  instanceId: string,
  telemetry: Telemetry,
  chain: NonNullable<Awaited<ReturnType<typeof DeltaFollower.loadChain>>>,
): Promise<DeltaFollower> {
  const log = (l: string) => process.stderr.write(`serve: ${l}\n`);
  const follower = new DeltaFollower({ app, registry: new ModelRegistry(config.registry.path), config, instanceId, log, meter: telemetry.meter });
  await follower.start(chain);
  return follower;
}
