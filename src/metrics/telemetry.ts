/**
 * The process's OpenTelemetry metrics pipeline: one MeterProvider (sdk-metrics) whose resource
 * names the service and the instance, a Prometheus exporter that is pulled on OUR HTTP server's
 * /metrics (preventServerStart: one port for metrics, probes and the status page), and, when
 * configured, a periodic OTLP/HTTP push beside it. Instruments are created on `meter` from the
 * catalogue (instruments.ts); the exposition text is the exporter's, none is written here.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Meter } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { type IMetricReader, MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_INSTANCE_ID, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { METER_NAME } from './instruments.ts';

export interface OtlpOptions {
  /** OTLP/HTTP metrics endpoint, e.g. http://collector:4318/v1/metrics. */
  endpoint: string;
  /** Push interval (ms). */
  intervalMs: number;
}

export interface TelemetryOptions {
  /** service.name: streamrec-serve, streamrec-trainer, streamrec-monitor. */
  serviceName: string;
  /** service.instance.id: the serving instance id (stable per process slot), or a host-pid for others. */
  instanceId: string;
  /** Push to an OTLP collector too; absent: Prometheus pull only. */
  otlp?: OtlpOptions;
}

export interface Telemetry {
  readonly meter: Meter;
  /** Answers GET /metrics with the Prometheus text of every instrument on `meter`. */
  readonly metricsHandler: (req: IncomingMessage, res: ServerResponse) => void;
  /** Flushes the OTLP push (if any) and stops collecting. */
  shutdown(): Promise<void>;
}

export function createTelemetry(o: TelemetryOptions): Telemetry {
  const resource = defaultResource().merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: o.serviceName, [ATTR_SERVICE_INSTANCE_ID]: o.instanceId }));
  const prometheus = new PrometheusExporter({ preventServerStart: true });
  const readers: IMetricReader[] = [prometheus];
  if (o.otlp) {
    readers.push(
      new PeriodicExportingMetricReader({
        exporter: new OTLPMetricExporter({ url: o.otlp.endpoint }),
        exportIntervalMillis: o.otlp.intervalMs,
        // A collector that does not answer must not hold a push past the next one.
        exportTimeoutMillis: Math.min(30_000, o.otlp.intervalMs),
      }),
    );
  }
  const provider = new MeterProvider({ resource, readers });
  let stopped: Promise<void> | null = null;
  return {
    meter: provider.getMeter(METER_NAME),
    metricsHandler: (req, res) => prometheus.getMetricsRequestHandler(req, res),
    shutdown: () => (stopped ??= provider.shutdown()),
  };
}
