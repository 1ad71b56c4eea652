import { seededRandom } from '../random/rng.ts';

/**
 * Synthetic clickstreams for throughput and scale tests (100k–1M items): power-law item
 * popularity and sessions with sequential structure (each item has a few likely successors),
 * so that a sequence model has something to learn and a cache has realistic skew.
 * Deterministic for a given seed.
 */
export interface SyntheticOptions {
  nItems: number;
  nSessions: number;
  /** Zipf exponent of item popularity. */
  zipf?: number;
  meanSessionLength?: number;
  /** Probability that the next click follows the current item's successor list. */
  sequentialP?: number;
  seed?: number;
}

export interface SyntheticClick {
  sessionId: string;
  itemId: string;
  /** Seconds from the start of the stream. */
  time: number;
}

/** Yields clicks session-interleaved (a pool of concurrently active sessions), like a live site. */
export function* syntheticClicks(o: SyntheticOptions): Generator<SyntheticClick> {
  const rnd = seededRandom(o.seed ?? 42);
  const zipf = o.zipf ?? 1.05;
  const meanLen = o.meanSessionLength ?? 5;
  const seqP = o.sequentialP ?? 0.6;
  const cdf = new Float64Array(o.nItems);
  let acc = 0;
  for (let i = 0; i < o.nItems; i++) cdf[i] = acc += 1 / (i + 1) ** zipf;
  const drawPopular = () => {
    const u = rnd() * acc;
    let lo = 0;
    let hi = o.nItems - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // Successors are a deterministic hash of the item: no O(nItems) table for 1M items.
  const successor = (item: number, k: number) => (Math.imul(item + 1, 2654435761) + k * 40503) >>> 0;
  const active = 64;
  const pool: Array<{ id: number; left: number; item: number }> = [];
  let nextSession = 0;
  let t = 0;
  const startSession = () => ({ id: nextSession++, left: 2 + Math.floor(-Math.log(1 - rnd()) * (meanLen - 2)), item: drawPopular() });
  while (pool.length < active && nextSession < o.nSessions) pool.push(startSession());
  while (pool.length > 0) {
    const slot = Math.floor(rnd() * pool.length);
    const s = pool[slot];
    t += 0.01;
    yield { sessionId: `s${s.id}`, itemId: `i${s.item}`, time: t };
    s.left--;
    if (s.left <= 0) {
      if (nextSession < o.nSessions) pool[slot] = startSession();
      else pool.splice(slot, 1);
    } else {
      s.item = rnd() < seqP ? successor(s.item, Math.floor(rnd() * 3)) % o.nItems : drawPopular();
    }
  }
}
