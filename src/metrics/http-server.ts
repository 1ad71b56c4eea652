/**
 * The one HTTP port of a streamrec process: GET /metrics (the OpenTelemetry Prometheus
 * exporter's handler), the liveness / readiness probes GET /healthz and GET /readyz, and any
 * extra GET routes a process registers (the status page). Loopback by default: exposing it
 * beyond the host is a deployment decision (metrics.host).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpEndpoints {
  /** GET /metrics; omitted: 404. */
  metrics?: RouteHandler;
  /** Liveness for GET /healthz: false when the process should be restarted. Omitted: always healthy. */
  healthy?: () => boolean;
  /** Readiness for GET /readyz: false until it serves (or while it cannot). Omitted: always ready. */
  ready?: () => boolean;
  /** Why the process is unhealthy or not ready; becomes the body of a 503 (one line). */
  reason?: () => string;
  /** Extra GET (and HEAD) paths, matched exactly (no query string); cannot shadow the three above. */
  routes?: ReadonlyMap<string, RouteHandler>;
}

export const DEFAULT_METRICS_HOST = '127.0.0.1';

const RESERVED = new Set(['/metrics', '/healthz', '/readyz']);

function probe(res: ServerResponse, check: (() => boolean) | undefined, endpoints: HttpEndpoints, failure: string): void {
  let ok: boolean;
  let why = failure;
  try {
    ok = check === undefined || check();
    if (!ok && endpoints.reason) why = endpoints.reason();
  } catch (e) {
    // A probe that throws is a failing probe, not a crashed server.
    ok = false;
    why = `${failure}: ${e instanceof Error ? e.message : String(e)}`;
  }
  res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(ok ? 'ok\n' : `${why.replace(/[\r\n]+/g, ' ').trim() || failure}\n`);
}

/** Runs a handler; one that throws answers 500 (if it has not started answering) instead of taking the server down. */
function guarded(handler: RouteHandler, req: IncomingMessage, res: ServerResponse): void {
  try {
    handler(req, res);
  } catch (e) {
    if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
    res.end(`${(e instanceof Error ? e.message : String(e)).replace(/[\r\n]+/g, ' ')}\n`);
  }
}

function route(endpoints: HttpEndpoints, req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  const path = (req.url ?? '/').split('?', 1)[0];
  if (path === '/healthz') probe(res, endpoints.healthy, endpoints, 'unhealthy');
  else if (path === '/readyz') probe(res, endpoints.ready, endpoints, 'not ready');
  else {
    const handler = path === '/metrics' ? endpoints.metrics : endpoints.routes?.get(path);
    if (handler) guarded(handler, req, res);
    else res.writeHead(404).end();
  }
}

/** Serves the endpoints on host:port (port 0: any free port, see server.address()). */
export function serveHttp(endpoints: HttpEndpoints, port: number, host = DEFAULT_METRICS_HOST): Promise<Server> {
  for (const path of endpoints.routes?.keys() ?? []) {
    if (RESERVED.has(path)) throw new Error(`route ${path} is served by the HTTP server itself`);
    if (!path.startsWith('/')) throw new Error(`route ${JSON.stringify(path)} must start with /`);
  }
  const server = createServer((req, res) => route(endpoints, req, res));
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
