import type { SessionData } from '../../src/data/sessions.ts';

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
