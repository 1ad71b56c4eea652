import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { escapeLabelValue, renderMetrics, serveMetrics, type MetricsSource } from '../../src/metrics/prometheus.ts';
import { createServingStats } from '../../src/metrics/serving-stats.ts';

/** One line of the text format: a comment, or name{label="value",...} number, values escaped. */
const SAMPLE_LINE = /^(# (HELP|TYPE) \w+ .+|\w+\{(\w+="(?:[^"\\\n]|\\["\\n])*",?)*\} ([-+\d.e]+|NaN))$/;

test('label values are escaped: a hostile instance id or model version cannot inject a metric line', () => {
  const instanceId = 'evil"} 1\nstreamrec_injected{x="y';
  const version = 'v1\\"} 0\n# TYPE pwned counter';
  const text = renderMetrics({ stats: createServingStats(20), instanceId, modelVersion: () => version });
  for (const line of text.trim().split('\n')) assert.match(line, SAMPLE_LINE);
  assert.doesNotMatch(text, /^streamrec_injected/m);
  assert.doesNotMatch(text, /^# TYPE pwned/m);
  const info = text.split('\n').find((line) => line.startsWith('streamrec_model_info'))!;
  assert.equal(info, 'streamrec_model_info{instance="evil\\"} 1\\nstreamrec_injected{x=\\"y",version="v1\\\\\\"} 0\\n# TYPE pwned counter"} 1');
});

test('escapeLabelValue escapes backslash, double quote and line feed only', () => {
  assert.equal(escapeLabelValue('plain-0.1_x y'), 'plain-0.1_x y');
  assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
});

async function listen(over: Partial<MetricsSource>, host?: string) {
  const server = await serveMetrics({ stats: createServingStats(20), instanceId: 'i', modelVersion: () => 'v', ...over }, 0, host);
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
  const { server, url } = await listen({
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
    assert.match(await m.text(), /^streamrec_batches_total\{instance="i"\} 0$/m);
  } finally {
    server.close();
  }
});
