import { ConfigError } from '../../errors/errors.ts';

/**
 * The knobs of `streamrec train --follow`, under the names `config.train` gives them. Counts are
 * in stream events (decoded clicks), not wall time, so a replay behaves like the live stream.
 */
export interface FollowOptions {
  /** Events per training window: each is trained on once, in stream order, then the next is read. */
  windowEvents: number;
  /** Sightings after which an item the model does not know is admitted to the catalogue. */
  minItemCount: number;
  /** Events after which an item not seen again expires (its index may be recycled). */
  itemTtlEvents: number;
  /** Events of the held-out window that scores a candidate against the serving version. */
  gateWindowEvents: number;
  /** A candidate is promoted when its Recall@20 ≥ serving's − gateMargin (so a negative margin demands an improvement). */
  gateMargin: number;
  /** Events between checkpoints (taken at the first window boundary past it). */
  checkpointEveryEvents: number;
  /** GRU4Rec preset whose loss and optimizer fine-tune the model. */
  preset: string;
}

export const DEFAULT_FOLLOW_OPTIONS: Readonly<FollowOptions> = Object.freeze({
  windowEvents: 20_000,
  minItemCount: 3,
  itemTtlEvents: 2_000_000,
  gateWindowEvents: 5_000,
  gateMargin: 0,
  checkpointEveryEvents: 20_000,
  preset: 'rsc15-xe-fast',
});

/** Defaults overridden by `overrides` (e.g. `config.train`), each checked; throws ConfigError naming the field. */
export function followOptions(overrides: Partial<FollowOptions> = {}): FollowOptions {
  const o = { ...DEFAULT_FOLLOW_OPTIONS, ...overrides };
  const int = (field: keyof FollowOptions, min: number) => {
    const v = o[field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw new ConfigError(`train.${field}`, `expected an integer ≥ ${min}, got ${String(v)}`);
  };
  int('windowEvents', 2);
  int('minItemCount', 1);
  int('itemTtlEvents', 1);
  int('gateWindowEvents', 2);
  int('checkpointEveryEvents', 1);
  if (typeof o.gateMargin !== 'number' || !Number.isFinite(o.gateMargin) || o.gateMargin < -1 || o.gateMargin > 1)
    throw new ConfigError('train.gateMargin', `expected a number in [-1, 1], got ${String(o.gateMargin)}`);
  if (typeof o.preset !== 'string' || o.preset === '') throw new ConfigError('train.preset', `expected a preset name, got ${String(o.preset)}`);
  return o;
}
