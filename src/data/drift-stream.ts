import { ConfigError } from '../errors/errors.ts';
import { seededRandom } from '../random/rng.ts';
import type { SyntheticClick } from './synthetic.ts';

/**
 * A synthetic clickstream whose catalogue and popularity drift, for measuring what continuous
 * training buys over a frozen model. Like syntheticClicks (synthetic.ts) it interleaves a pool of
 * concurrently active sessions and gives every item a few fixed successors (sequential structure a
 * model can learn); unlike it, what is popular changes while the stream runs:
 *
 * - Popularity draws come from a HEAD of `headSize` slots with probability `headShare` (Zipf over
 *   the slot rank), else uniformly from the whole catalogue (the tail).
 * - Every `rotateEveryEvents` events, `rotateFraction` of the head slots are given to random
 *   catalogue items (an old item becomes popular again, a head item falls back to the tail).
 * - Every `newItemEveryEvents` events a NEW item (an id never seen before) is created and put into
 *   a random head slot, so new items are clicked soon after they appear, as in news or retail.
 *
 * A head slot is thus displaced at a rate of rotateFraction/rotateEveryEvents +
 * 1/(headSize·newItemEveryEvents) per event; the defaults keep an item in the head for ~50k events,
 * long enough that a trainer publishing every few ten thousand events can still catch it.
 * Item ids are `i<n>`: items 0..initialItems-1 exist from the start, item initialItems+k is created
 * at event (k+1)·newItemEveryEvents. Deterministic for a given seed.
 */
export interface DriftStreamOptions {
  /** Clicks in the stream. */
  events: number;
  /** Catalogue at event 0. */
  initialItems: number;
  headSize: number;
  /** Probability that a popularity draw comes from the head (else uniform over the catalogue). */
  headShare: number;
  /** Zipf exponent over the head's slot ranks. */
  zipf: number;
  rotateEveryEvents: number;
  /** Share of head slots re-assigned at each rotation, in [0, 1]. */
  rotateFraction: number;
  /** One new item every this many events; 0 = the catalogue never grows. */
  newItemEveryEvents: number;
  /** Successors per item (each item's sequential continuations, fixed at its creation). */
  successors: number;
  /** Probability that a session's next click follows one of its current item's successors. */
  sequentialP: number;
  meanSessionLength: number;
  /** Sessions active at once (interleaved in the stream). */
  activeSessions: number;
  /** Seconds between consecutive clicks (the stream's clock). */
  secondsPerEvent: number;
  seed: number;
}

export const DEFAULT_DRIFT_OPTIONS: Readonly<DriftStreamOptions> = Object.freeze({
  events: 200_000,
  initialItems: 3_000,
  headSize: 100,
  headShare: 0.8,
  zipf: 1.0,
  rotateEveryEvents: 10_000,
  rotateFraction: 0.1,
  newItemEveryEvents: 1_000,
  successors: 3,
  sequentialP: 0.5,
  meanSessionLength: 6,
  activeSessions: 64,
  secondsPerEvent: 0.05,
  seed: 42,
});

/** Defaults overridden by `overrides`, each checked; throws ConfigError naming the option. */
export function driftStreamOptions(overrides: Partial<DriftStreamOptions> = {}): DriftStreamOptions {
  const o = { ...DEFAULT_DRIFT_OPTIONS, ...overrides };
  const int = (field: keyof DriftStreamOptions, min: number) => {
    const v = o[field];
    if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(`drift.${field}`, `expected an integer ≥ ${min}, got ${String(v)}`);
  };
  const unit = (field: keyof DriftStreamOptions) => {
    const v = o[field];
    if (!(v >= 0 && v <= 1)) throw new ConfigError(`drift.${field}`, `expected a number in [0, 1], got ${String(v)}`);
  };
  int('events', 0);
  int('initialItems', 1);
  int('headSize', 1);
  int('rotateEveryEvents', 1);
  int('newItemEveryEvents', 0);
  int('successors', 1);
  int('activeSessions', 1);
  int('seed', 0);
  unit('headShare');
  unit('rotateFraction');
  unit('sequentialP');
  if (o.headSize > o.initialItems) throw new ConfigError('drift.headSize', `expected at most initialItems (${o.initialItems}), got ${o.headSize}`);
  if (!(o.zipf >= 0 && Number.isFinite(o.zipf))) throw new ConfigError('drift.zipf', `expected a finite number ≥ 0, got ${String(o.zipf)}`);
  if (!(o.meanSessionLength >= 2)) throw new ConfigError('drift.meanSessionLength', `expected a number ≥ 2, got ${String(o.meanSessionLength)}`);
  if (!(o.secondsPerEvent > 0)) throw new ConfigError('drift.secondsPerEvent', `expected a number > 0, got ${String(o.secondsPerEvent)}`);
  return o;
}

/** Number of items created after event 0 in a stream of these options (the ids i<initialItems>…). */
export function driftNewItemCount(o: DriftStreamOptions): number {
  return o.newItemEveryEvents === 0 || o.events === 0 ? 0 : Math.floor((o.events - 1) / o.newItemEveryEvents);
}

/** Yields the stream's clicks in time order. */
export function* driftClicks(overrides: Partial<DriftStreamOptions> = {}): Generator<SyntheticClick> {
  const o = driftStreamOptions(overrides);
  const rnd = seededRandom(o.seed);
  const capacity = o.initialItems + driftNewItemCount(o);
  const successorOf = new Int32Array(capacity * o.successors);
  let nItems = o.initialItems;

  const headCdf = new Float64Array(o.headSize);
  let acc = 0;
  for (let r = 0; r < o.headSize; r++) headCdf[r] = acc += 1 / (r + 1) ** o.zipf;
  // Slot r of the head holds item head[r]; initially the first headSize items.
  const head = Int32Array.from({ length: o.headSize }, (_, r) => r);
  const drawHeadSlot = () => {
    const u = rnd() * acc;
    let lo = 0;
    let hi = o.headSize - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (headCdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const drawPopular = () => (rnd() < o.headShare ? head[drawHeadSlot()] : Math.floor(rnd() * nItems));
  // Successors point at what is popular when the item appears: transitions a model can learn.
  const assignSuccessors = (item: number) => {
    for (let k = 0; k < o.successors; k++) successorOf[item * o.successors + k] = drawPopular();
  };
  for (let i = 0; i < o.initialItems; i++) assignSuccessors(i);

  const rotateSlots = Math.round(o.rotateFraction * o.headSize);
  const pool: Array<{ id: number; left: number; item: number }> = [];
  let nextSession = 0;
  const startSession = () => ({ id: nextSession++, left: 2 + Math.floor(-Math.log(1 - rnd()) * (o.meanSessionLength - 2)), item: drawPopular() });
  while (pool.length < o.activeSessions) pool.push(startSession());

  for (let e = 0; e < o.events; e++) {
    if (e > 0 && e % o.rotateEveryEvents === 0) {
      for (let k = 0; k < rotateSlots; k++) head[Math.floor(rnd() * o.headSize)] = Math.floor(rnd() * nItems);
    }
    if (o.newItemEveryEvents > 0 && e > 0 && e % o.newItemEveryEvents === 0) {
      const item = nItems++;
      assignSuccessors(item);
      head[Math.floor(rnd() * o.headSize)] = item;
    }
    const slot = Math.floor(rnd() * pool.length);
    const s = pool[slot];
    yield { sessionId: `d${s.id}`, itemId: `i${s.item}`, time: e * o.secondsPerEvent };
    if (--s.left <= 0) pool[slot] = startSession();
    else s.item = rnd() < o.sequentialP ? successorOf[s.item * o.successors + Math.floor(rnd() * o.successors)] : drawPopular();
  }
}
