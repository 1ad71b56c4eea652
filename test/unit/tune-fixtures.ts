import { sessionsFromClicks } from '../../src/data/sessions.ts';
import { syntheticClicks } from '../../src/data/synthetic.ts';
import { timeSplit, type ValidationSplit } from '../../src/train/tune/validation-split.ts';

/**
 * A small clickstream with sequential structure (each item has a few likely successors), split
 * like any dataset without a validation file: the last-ending fifth of the sessions validates.
 * Small enough that a GRU4Rec trial takes about a second on two shared cores.
 */
export function syntheticSplit(o: { nItems?: number; nSessions?: number; seed?: number } = {}): ValidationSplit {
  const clicks = syntheticClicks({ nItems: o.nItems ?? 120, nSessions: o.nSessions ?? 1200, meanSessionLength: 6, sequentialP: 0.85, seed: o.seed ?? 7 });
  const rows = [...clicks].map((c) => ({ session: c.sessionId, item: c.itemId, time: c.time }));
  return timeSplit(sessionsFromClicks(rows).data, 'synthetic');
}
