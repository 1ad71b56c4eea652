import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { StreamrecError } from '../../errors/errors.ts';
import { statusJson } from './status-json.ts';
import { STATUS_PAGE_CSS, STATUS_PAGE_HTML } from './status-page.ts';
import { STATUS_PAGE_SCRIPT } from './status-page-script.ts';
import type { StatusTimeline } from './status-timeline.ts';

export type StatusRoute = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Only this page's own files, from this origin: even if some value slipped through as markup,
 * no inline script or handler could run and nothing could be sent elsewhere.
 */
const PAGE_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const COMMON_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

/** uPlot's browser build and stylesheet, read once from the installed package: the page needs no network beyond this process. */
function readUplot(): { script: Buffer; css: Buffer } {
  const require = createRequire(import.meta.url);
  try {
    return {
      script: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js')),
      css: readFileSync(require.resolve('uplot/dist/uPlot.min.css')),
    };
  } catch (e) {
    throw new StreamrecError(
      'internal',
      `status page: cannot read the uplot package's browser files (is the uplot dependency installed?): ${e instanceof Error ? e.message : String(e)}`,
      {
        cause: e,
      },
    );
  }
}

function answer(res: ServerResponse, head: boolean, type: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  res.writeHead(200, { 'content-type': type, 'content-length': String(bytes.length), ...COMMON_HEADERS, ...headers });
  res.end(head ? undefined : bytes);
}

/** A route that answers GET and HEAD with `respond`, and 405 to anything else. */
function getOnly(respond: (res: ServerResponse, head: boolean) => void): StatusRoute {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    respond(res, req.method === 'HEAD');
  };
}

/**
 * The status page's routes, by path, for the metrics HTTP server of serving or the monitor:
 * /status (the page), /status.json (the timeline's snapshot, polled every second), and the
 * page's script, style and uPlot files under /status/. Reads uPlot once, here.
 */
export function statusRoutes(timeline: StatusTimeline): Map<string, StatusRoute> {
  const uplot = readUplot();
  // The page's own files change with the process (no-cache: always revalidated); uPlot's only with the package.
  const own = { 'cache-control': 'no-cache' };
  const asset = { 'cache-control': 'max-age=3600' };
  return new Map<string, StatusRoute>([
    ['/status', getOnly((res, head) => answer(res, head, 'text/html; charset=utf-8', STATUS_PAGE_HTML, { 'content-security-policy': PAGE_POLICY, 'cache-control': 'no-cache' }))],
    [
      '/status.json',
      getOnly((res, head) => {
        let body: string;
        try {
          body = statusJson(timeline.snapshot());
        } catch (e) {
          res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8', ...COMMON_HEADERS }).end(`status: ${e instanceof Error ? e.message : String(e)}\n`);
          return;
        }
        answer(res, head, 'application/json; charset=utf-8', body, { 'cache-control': 'no-store' });
      }),
    ],
    ['/status/page.js', getOnly((res, head) => answer(res, head, 'text/javascript; charset=utf-8', STATUS_PAGE_SCRIPT, own))],
    ['/status/page.css', getOnly((res, head) => answer(res, head, 'text/css; charset=utf-8', STATUS_PAGE_CSS, own))],
    ['/status/uplot.js', getOnly((res, head) => answer(res, head, 'text/javascript; charset=utf-8', uplot.script, asset))],
    ['/status/uplot.css', getOnly((res, head) => answer(res, head, 'text/css; charset=utf-8', uplot.css, asset))],
  ]);
}
