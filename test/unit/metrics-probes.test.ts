import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { type HttpEndpoints, type RouteHandler, serveHttp } from '../../src/metrics/http-server.ts';
import { createTelemetry } from '../../src/metrics/telemetry.ts';

async function listen(endpoints: HttpEndpoints, host?: string) {
  const server = await serveHttp(endpoints, 0, host);
  const addr = server.address() as AddressInfo;
  return { server, addr, url: (path: string) => `http://127.0.0.1:${addr.port}${path}` };
}

test('binds to loopback unless a host is given', async () => {
  const { server, addr } = await listen({});
  try {
    assert.equal(addr.address, '127.0.0.1');
  } finally {
    server.close();
  }
});

test('GET /healthz and /readyz answer 200 ok, or 503 with a one-line reason', async () => {
  let healthy = true;
  let ready = false;
  let why = 'restoring partitions 0, 2\nfrom the changelog';
  const { server, url } = await listen({ healthy: () => healthy, ready: () => ready, reason: () => why });
  try {
    const h = await fetch(url('/healthz'));
    assert.equal(h.status, 200);
    assert.equal(await h.text(), 'ok\n');
    const r = await fetch(url('/readyz'));
    assert.equal(r.status, 503);
    assert.equal(await r.text(), 'restoring partitions 0, 2 from the changelog\n');
    ready = true;
    const r2 = await fetch(url('/readyz?verbose=1'));
    assert.equal(r2.status, 200);
    assert.equal(await r2.text(), 'ok\n');
    healthy = false;
    why = '';
    const h2 = await fetch(url('/healthz'));
    assert.equal(h2.status, 503);
    assert.equal(await h2.text(), 'unhealthy\n', 'an empty reason falls back to a generic one');
  } finally {
    server.close();
  }
});

test('probes without callbacks are up; a throwing callback is a failing probe; other methods are refused', async () => {
  const telemetry = createTelemetry({ serviceName: 'streamrec-test', instanceId: 'i' });
  telemetry.meter.createObservableGauge('streamrec.test.value').addCallback((r) => r.observe(7));
  const { server, url } = await listen({
    metrics: telemetry.metricsHandler,
    ready: () => {
      throw new Error('engine gone');
    },
  });
  try {
    assert.equal((await fetch(url('/healthz'))).status, 200);
    const r = await fetch(url('/readyz'));
    assert.equal(r.status, 503);
    assert.equal(await r.text(), 'not ready: engine gone\n');
    const post = await fetch(url('/metrics'), { method: 'POST', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    const m = await fetch(url('/metrics'));
    assert.equal(m.status, 200);
    assert.match(await m.text(), /^streamrec_test_value\{otel_scope_name="streamrec"\} 7$/m, 'the exporter’s handler answers /metrics');
    assert.equal((await fetch(url('/nothing'))).status, 404);
  } finally {
    server.close();
    await telemetry.shutdown();
  }
});

test('extra routes are served on the same port; a throwing route answers 500; the three built-in paths cannot be shadowed', async () => {
  const status: RouteHandler = (_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>status</h1>');
  const broken: RouteHandler = () => {
    throw new Error('page\nbroke');
  };
  const { server, url } = await listen({
    routes: new Map([
      ['/status', status],
      ['/broken', broken],
    ]),
  });
  try {
    const s = await fetch(url('/status?x=1'));
    assert.equal(s.status, 200);
    assert.equal(await s.text(), '<h1>status</h1>');
    const b = await fetch(url('/broken'));
    assert.equal(b.status, 500);
    assert.equal(await b.text(), 'page broke\n');
    assert.equal((await fetch(url('/metrics'))).status, 404, 'no metrics handler given');
  } finally {
    server.close();
  }
  assert.throws(() => serveHttp({ routes: new Map([['/readyz', status]]) }, 0), /served by the HTTP server itself/);
  assert.throws(() => serveHttp({ routes: new Map([['status', status]]) }, 0), /must start with \//);
});
