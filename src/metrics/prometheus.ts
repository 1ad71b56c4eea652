/**
 * Prometheus text exposition (format 0.0.4) of the serving stats on GET /metrics, and the
 * liveness / readiness probes (GET /healthz, GET /readyz) on the same small HTTP server.
 * Hand-rolled because it is a page of text; names follow Prometheus conventions (base units,
 * _total counters).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { LatencyHistogram } from './online-metrics.ts';
import type { ServingStats } from './serving-stats.ts';

export interface MetricsSource {
  stats: ServingStats;
  instanceId: string;
  modelVersion: () => string;
  /** Bytes held by session state, when the model keeps any. */
  sessionStoreBytes?: () => number;
  sessions?: () => number;
  /** Liveness for GET /healthz: false when the process should be restarted. Omitted: always healthy. */
  healthy?: () => boolean;
  /** Readiness for GET /readyz: false until it serves (or while it cannot). Omitted: always ready. */
  ready?: () => boolean;
  /** Why the process is unhealthy or not ready; becomes the body of a 503 (one line). */
  reason?: () => string;
}

/**
 * A label value in the text format: backslash, double quote and line feed escaped. Values come
 * from the command line (--instance) and model metadata; unescaped, a crafted one could close
 * the label set and inject whole metric lines.
 */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`));
}

const LE_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000];

function histogram(name: string, help: string, h: LatencyHistogram, labels: string, scale: number): string[] {
  // Our histogram keeps log-spaced buckets; re-bin into fixed `le` edges from bucket upper bounds.
  const lines = [`# HELP ${name} ${help}`, `# TYPE ${name} histogram`];
  const uppers = Array.from({ length: LatencyHistogram.BUCKETS }, (_, b) => 0.1 * 1.122 ** (b + 1));
  for (const le of LE_MS) {
    let c = 0;
    for (let b = 0; b < LatencyHistogram.BUCKETS; b++) if (uppers[b] <= le) c += h.counts[b];
    lines.push(`${name}_bucket{${labels},le="${le * scale}"} ${c}`);
  }
  lines.push(`${name}_bucket{${labels},le="+Inf"} ${h.count}`, `${name}_sum{${labels}} ${h.sum * scale}`, `${name}_count{${labels}} ${h.count}`);
  return lines;
}

export function renderMetrics(src: MetricsSource): string {
  const s = src.stats;
  const l = `instance="${escapeLabelValue(src.instanceId)}"`;
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number, labels = l) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${labels}} ${value}`);
  metric('streamrec_events_consumed_total', 'counter', 'Click records consumed and committed.', s.eventsIn);
  metric('streamrec_recommendations_produced_total', 'counter', 'Recommendations committed to the output topic.', s.recommendationsOut);
  out.push('# HELP streamrec_dead_letters_total Records sent to the dead-letter topic, by kind.', '# TYPE streamrec_dead_letters_total counter');
  for (const [kind, n] of Object.entries(s.deadLetters)) out.push(`streamrec_dead_letters_total{${l},kind="${escapeLabelValue(kind)}"} ${n}`);
  metric('streamrec_batches_total', 'counter', 'Micro-batches committed.', s.batches);
  metric('streamrec_transactions_aborted_total', 'counter', 'Micro-batch transactions aborted.', s.transactionsAborted);
  metric('streamrec_changelog_records_total', 'counter', 'Session changelog records produced.', s.changelogRecordsOut);
  metric('streamrec_online_recall_at_20', 'gauge', 'Prequential Recall@20 since start.', s.quality.recall);
  metric('streamrec_online_mrr_at_20', 'gauge', 'Prequential MRR@20 since start.', s.quality.mrr);
  metric('streamrec_online_targets_total', 'counter', 'Next-click targets measured online.', s.quality.targets);
  out.push(
    '# HELP streamrec_model_info Model version being served.',
    '# TYPE streamrec_model_info gauge',
    `streamrec_model_info{${l},version="${escapeLabelValue(src.modelVersion())}"} 1`,
  );
  if (src.sessionStoreBytes) metric('streamrec_session_store_bytes', 'gauge', 'Memory held by session state.', src.sessionStoreBytes());
  if (src.sessions) metric('streamrec_sessions', 'gauge', 'Live sessions in the store.', src.sessions());
  out.push(...histogram('streamrec_end_to_end_latency_seconds', 'Click appended to recommendation produced.', s.latency, l, 1 / 1000));
  return out.join('\n') + '\n';
}

/** Loopback by default: exposing the endpoint beyond the host is a deployment decision (metrics.host). */
export const DEFAULT_METRICS_HOST = '127.0.0.1';

function probe(res: ServerResponse, check: (() => boolean) | undefined, src: MetricsSource, failure: string): void {
  let ok: boolean;
  let why = failure;
  try {
    ok = check === undefined || check();
    if (!ok && src.reason) why = src.reason();
  } catch (e) {
    // A probe that throws is a failing probe, not a crashed server.
    ok = false;
    why = `${failure}: ${e instanceof Error ? e.message : String(e)}`;
  }
  res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(ok ? 'ok\n' : `${why.replace(/[\r\n]+/g, ' ').trim() || failure}\n`);
}

function route(src: MetricsSource, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === '/metrics') {
    let body: string;
    try {
      body = renderMetrics(src);
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics: ${e instanceof Error ? e.message : String(e)}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(body);
  } else if (path === '/healthz') {
    probe(res, src.healthy, src, 'unhealthy');
  } else if (path === '/readyz') {
    probe(res, src.ready, src, 'not ready');
  } else {
    res.writeHead(404).end();
  }
}

/** Serves /metrics, /healthz and /readyz on host:port (port 0: any free port, see server.address()). */
export function serveMetrics(src: MetricsSource, port: number, host = DEFAULT_METRICS_HOST): Promise<Server> {
  const server = createServer((req, res) => route(src, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
