import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { INSTRUMENTS } from '../../src/metrics/instruments.ts';
import { createTelemetry } from '../../src/metrics/telemetry.ts';
import { createTrainerStats, recordWindow, registerTrainerInstruments } from '../../src/metrics/trainer-instruments.ts';

interface OtlpAttribute {
  key: string;
  value: { stringValue?: string };
}

/** The parts of an OTLP/HTTP JSON ExportMetricsServiceRequest the test reads. */
interface OtlpRequest {
  resourceMetrics: Array<{
    resource: { attributes: OtlpAttribute[] };
    scopeMetrics: Array<{ scope: { name: string }; metrics: Array<{ name: string; unit: string; sum?: { dataPoints: Array<{ asDouble?: number; asInt?: number }> } }> }>;
  }>;
}

function body(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (s += d));
    req.on('end', () => resolve(s));
    req.on('error', reject);
  });
}

test('metrics.otlp pushes the same instruments to an OTLP/HTTP collector, with the service resource', async () => {
  const received: OtlpRequest[] = [];
  const collector = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/v1/metrics') received.push(JSON.parse(await body(req)) as OtlpRequest);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/metrics`;
  const telemetry = createTelemetry({ serviceName: 'streamrec-trainer', instanceId: 'trainer-7', otlp: { endpoint, intervalMs: 1000 } });
  const stats = createTrainerStats();
  registerTrainerInstruments(telemetry.meter, stats);
  recordWindow(stats, { events: 1234, loss: 6.5, catalogue: { active: 10, pending: 2, admitted: 1, expired: 0 }, gate: null });
  try {
    const deadline = Date.now() + 10_000;
    while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.ok(received.length > 0, 'a push within 10 s at a 1 s interval');
    const rm = received[0].resourceMetrics[0];
    const attr = (k: string) => rm.resource.attributes.find((a) => a.key === k)?.value.stringValue;
    assert.equal(attr('service.name'), 'streamrec-trainer');
    assert.equal(attr('service.instance.id'), 'trainer-7');
    const metrics = rm.scopeMetrics.find((s) => s.scope.name === 'streamrec')!.metrics;
    const events = metrics.find((m) => m.name === INSTRUMENTS.trainerEvents.name)!;
    assert.equal(events.unit, '{event}');
    const point = events.sum!.dataPoints[0];
    assert.equal(point.asDouble ?? point.asInt, 1234);
    assert.ok(metrics.some((m) => m.name === INSTRUMENTS.trainerLoss.name));
  } finally {
    await telemetry.shutdown();
    collector.close();
  }
});
