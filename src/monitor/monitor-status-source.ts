import { readingsAt20, type StatusSource } from '../metrics/status/status-source.ts';
import type { MonitorApp } from './monitor-app.ts';

/**
 * The monitor as the status page reads it: clicks read in, lists joined out, the latency the
 * recommendations report, and the online quality per emitting version. It serves no version
 * itself, so the page's current version stays empty.
 */
export function monitorStatusSource(app: MonitorApp): StatusSource {
  const j = app.join.counts;
  return {
    instanceId: app.options.groupId,
    eventsIn: () => j.clicks + j.clicksSkipped,
    eventsOut: () => j.recommendations,
    latency: () => app.records.latency,
    quality: () => {
      const overall = app.quality.overall;
      return { recall20: overall.recall, mrr20: overall.mrr, targets: overall.targets };
    },
    qualityByVersion: () => readingsAt20(app.quality.versions()),
  };
}
