import { writeFileSync } from 'node:fs';
import type { SessionData } from '../../src/data/sessions.ts';
import { type SyntheticOptions, syntheticClicks } from '../../src/data/synthetic.ts';

/** SessionData from item-index lists, one per session; ids `${prefix}0`, `${prefix}1`, …; times = event index. */
export function sessions(list: number[][], prefix = 's'): SessionData {
  const offsets = [0];
  const items: number[] = [];
  for (const s of list) {
    items.push(...s);
    offsets.push(items.length);
  }
  return {
    sessionIds: list.map((_, i) => `${prefix}${i}`),
    offsets: Int32Array.from(offsets),
    items: Int32Array.from(items),
    times: Float64Array.from(items.map((_, i) => i)),
  };
}

/**
 * A session TSV (SessionId, ItemId, Time) of synthetic clicks at `path`, sessions in one block
 * each: what the train CLI tests read (60 sessions over 30 items, mostly sequential, by default).
 */
export function writeSyntheticSessionTsv(path: string, opts: Partial<SyntheticOptions> = {}): void {
  const bySession = new Map<string, string[]>();
  for (const c of syntheticClicks({ nItems: 30, nSessions: 60, meanSessionLength: 5, sequentialP: 0.85, seed: 2, ...opts })) {
    if (!bySession.has(c.sessionId)) bySession.set(c.sessionId, []);
    bySession.get(c.sessionId)!.push(`${c.sessionId}\t${c.itemId}\t${c.time.toFixed(2)}`);
  }
  writeFileSync(path, ['SessionId\tItemId\tTime', ...[...bySession.values()].flat()].join('\n') + '\n');
}
