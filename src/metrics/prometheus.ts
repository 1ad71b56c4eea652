/**
 * Prometheus text exposition (format 0.0.4) of the serving stats on GET /metrics. Hand-rolled
 * because it is a page of text; names follow Prometheus conventions (base units, _total counters).
 */
import { createServer, type Server } from 'node:http';
import { LatencyHistogram } from './online-metrics.ts';
import type { ServingStats } from './serving-stats.ts';

export interface MetricsSource {
  stats: ServingStats;
  instanceId: string;
  modelVersion: () => string;
  /** Bytes held by session state, when the model keeps any. */
  sessionStoreBytes?: () => number;
  sessions?: () => number;
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
  const l = `instance="${src.instanceId}"`;
  const out: string[] = [];
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number, labels = l) =>
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name}{${labels}} ${value}`);
  metric('streamrec_events_consumed_total', 'counter', 'Click records consumed and committed.', s.eventsIn);
  metric('streamrec_recommendations_produced_total', 'counter', 'Recommendations committed to the output topic.', s.recommendationsOut);
  out.push('# HELP streamrec_dead_letters_total Records sent to the dead-letter topic, by kind.', '# TYPE streamrec_dead_letters_total counter');
  for (const [kind, n] of Object.entries(s.deadLetters)) out.push(`streamrec_dead_letters_total{${l},kind="${kind}"} ${n}`);
  metric('streamrec_batches_total', 'counter', 'Micro-batches committed.', s.batches);
  metric('streamrec_transactions_aborted_total', 'counter', 'Micro-batch transactions aborted.', s.transactionsAborted);
  metric('streamrec_changelog_records_total', 'counter', 'Session changelog records produced.', s.changelogRecordsOut);
  metric('streamrec_online_recall_at_20', 'gauge', 'Prequential Recall@20 since start.', s.quality.recall);
  metric('streamrec_online_mrr_at_20', 'gauge', 'Prequential MRR@20 since start.', s.quality.mrr);
  metric('streamrec_online_targets_total', 'counter', 'Next-click targets measured online.', s.quality.targets);
  out.push('# HELP streamrec_model_info Model version being served.', '# TYPE streamrec_model_info gauge', `streamrec_model_info{${l},version="${src.modelVersion()}"} 1`);
  if (src.sessionStoreBytes) metric('streamrec_session_store_bytes', 'gauge', 'Memory held by session state.', src.sessionStoreBytes());
  if (src.sessions) metric('streamrec_sessions', 'gauge', 'Live sessions in the store.', src.sessions());
  out.push(...histogram('streamrec_end_to_end_latency_seconds', 'Click appended to recommendation produced.', s.latency, l, 1 / 1000));
  return out.join('\n') + '\n';
}

export function serveMetrics(src: MetricsSource, port: number, host = '0.0.0.0'): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(renderMetrics(src));
    } else {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
