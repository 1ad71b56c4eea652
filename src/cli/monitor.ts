import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { StreamrecConfig } from '../config/config.ts';
import { serveHttp } from '../metrics/http-server.ts';
import { registerOnlineQualityInstruments } from '../metrics/online-quality.ts';
import { statusRoutes } from '../metrics/status/status-routes.ts';
import { StatusTimeline } from '../metrics/status/status-timeline.ts';
import { createTelemetry } from '../metrics/telemetry.ts';
import { MonitorApp } from '../monitor/monitor-app.ts';
import { registerMonitorInstruments } from '../monitor/monitor-instruments.ts';
import { monitorStatusSource } from '../monitor/monitor-status-source.ts';

export interface MonitorCommandOptions {
  /** --metrics-port: overrides monitor.metricsPort (0: no HTTP endpoints). */
  metricsPort?: number;
}

/**
 * `streamrec monitor`: joins clicks with the recommendations (and dead letters) written for them
 * and exports online Recall@k / MRR@k per model version under the same series as serving, plus
 * the join's own counters; /healthz, /readyz and the status page on the same port. Runs until
 * SIGINT / SIGTERM, or until the consumer gives up (exit 69, for its supervisor to restart it).
 */
export async function runMonitor(config: StreamrecConfig, o: MonitorCommandOptions = {}): Promise<void> {
  const app = new MonitorApp({ config });
  const telemetry = createTelemetry({
    serviceName: 'streamrec-monitor',
    instanceId: `${hostname()}-${process.pid}`,
    ...(config.metrics.otlp ? { otlp: config.metrics.otlp } : {}),
  });
  const detachQuality = registerOnlineQualityInstruments(telemetry.meter, app.quality);
  const detachJoin = registerMonitorInstruments(telemetry.meter, app.join, app.records.counts);
  const timeline = new StatusTimeline(monitorStatusSource(app));
  const port = o.metricsPort ?? config.monitor.metricsPort;
  let server: Server | null = null;
  if (port > 0) {
    server = await serveHttp(
      {
        metrics: telemetry.metricsHandler,
        healthy: () => app.health().alive,
        ready: () => app.health().ready,
        reason: () => app.health().reason,
        routes: statusRoutes(timeline),
      },
      port,
      config.metrics.host,
    );
    timeline.start();
    process.stderr.write(`monitor: metrics on http://${config.metrics.host}:${port}/metrics, probes /healthz /readyz, status page /status\n`);
  }
  const ticker = setInterval(() => process.stderr.write(`monitor: ${liveLine(app)}\n`), 5000);
  try {
    await app.start();
    const fatal = await Promise.race([
      new Promise<null>((resolve) => {
        process.once('SIGINT', () => resolve(null));
        process.once('SIGTERM', () => resolve(null));
      }),
      app.fatal,
    ]);
    if (fatal) throw fatal;
    process.stderr.write(`monitor: stopped cleanly; ${liveLine(app)}\n`);
  } finally {
    clearInterval(ticker);
    timeline.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    detachJoin();
    detachQuality();
    await telemetry.shutdown();
    await Promise.race([app.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }
}

/** One line for the log: what was joined, what is missing, and Recall@20 / MRR@20 per emitting version. */
export function liveLine(app: MonitorApp): string {
  const c = app.join.counts;
  const versions = app.quality
    .versions()
    .map((v) => `${v.version} Recall@20 ${v.recall(20).toFixed(4)} MRR@20 ${v.mrr(20).toFixed(4)} (${v.targets} targets)`)
    .join('; ');
  return (
    `clicks ${c.clicks} lists ${c.recommendations} dead-lettered ${c.deadLetteredUnknownItem + c.deadLetteredRejected} missing ${c.missing} ` +
    `pending ${app.join.pendingClicks}/${app.join.pendingAnswers}${versions ? `; ${versions}` : ''}`
  );
}
