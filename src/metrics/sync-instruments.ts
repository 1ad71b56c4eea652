import type { Counter, Histogram, Meter } from '@opentelemetry/api';
import { histogramSpec, INSTRUMENTS, syncCounterSpec } from './instruments.ts';

/** Incremental sync's serving instruments (src/serving/delta-follower.ts records them as things happen). */
export interface SyncInstruments {
  /** Seconds from the newest trained click's append to serving with the delta's weights. */
  freshness: Histogram;
  /** Rollbacks to the snapshot, attribute trigger: automatic | manual. */
  rollbacks: Counter;
}

export function syncInstruments(meter: Meter): SyncInstruments {
  return { freshness: histogramSpec(meter, INSTRUMENTS.syncFreshness), rollbacks: syncCounterSpec(meter, INSTRUMENTS.syncRollbacks) };
}
