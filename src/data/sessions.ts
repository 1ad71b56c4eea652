import { readFileSync } from 'node:fs';
import { DataFileError } from '../errors/errors.ts';
import { ItemIndex } from './item-index.ts';

/**
 * Events grouped by session in columnar form: session s owns events
 * [offsets[s], offsets[s+1]) in time order. Columnar typed arrays keep
 * 100k–10M events cheap to hold and to iterate session-parallel.
 */
export interface SessionData {
  /** External session ids, one per session. */
  sessionIds: string[];
  /** nSessions + 1 entries. */
  offsets: Int32Array;
  /** Item index per event (into the ItemIndex used to load). */
  items: Int32Array;
  /** Event time per event, Unix seconds (synthetic increasing order when the source has none). */
  times: Float64Array;
}

export function sessionCount(d: SessionData): number {
  return d.offsets.length - 1;
}

export function eventCount(d: SessionData): number {
  return d.items.length;
}

export interface LoadOptions {
  /** Item index to map ids through; created when absent. */
  index?: ItemIndex;
  /** What to do with items the index does not know: add them (training) or drop the event (test sets). */
  unknownItems?: 'add' | 'drop';
  /** Drop sessions shorter than this after filtering (the protocol drops length < 2 in test). */
  minSessionLength?: number;
}

function build(rows: ClickRow[], opts: LoadOptions): { data: SessionData; index: ItemIndex } {
  const index = opts.index ?? new ItemIndex();
  const mode = opts.unknownItems ?? 'add';
  const minLen = opts.minSessionLength ?? 1;
  const sessionIds: string[] = [];
  const offsets: number[] = [0];
  const items: number[] = [];
  const times: number[] = [];
  let i = 0;
  while (i < rows.length) {
    const sid = rows[i].session;
    const startLen = items.length;
    const pending: Array<[number, number]> = [];
    for (; i < rows.length && rows[i].session === sid; i++) {
      const r = rows[i];
      let idx = index.get(r.item);
      if (idx < 0) {
        if (mode === 'drop') continue;
        idx = index.add(r.item);
      }
      pending.push([idx, r.time]);
    }
    if (pending.length < minLen) continue;
    for (const [idx, t] of pending) {
      items.push(idx);
      times.push(t);
    }
    if (items.length > startLen) {
      sessionIds.push(sid);
      offsets.push(items.length);
    }
  }
  return {
    data: { sessionIds, offsets: Int32Array.from(offsets), items: Int32Array.from(items), times: Float64Array.from(times) },
    index,
  };
}

/**
 * RecSys Challenge 2015 TSV as prepared for GRU4Rec: header `SessionId\tItemId\tTime`,
 * rows grouped by session. Sessions are sorted by their first event time, as the
 * GRU4Rec data iterator expects, and events inside a session by time (stable).
 */
export function loadSessionTsv(path: string, opts: LoadOptions = {}): { data: SessionData; index: ItemIndex } {
  const text = readDataFile(path);
  const lines = text.split('\n');
  const header = lines[0].trim().split('\t');
  const cs = header.indexOf('SessionId');
  const ci = header.indexOf('ItemId');
  const ct = header.indexOf('Time');
  if (cs < 0 || ci < 0 || ct < 0) throw new DataFileError(path, `header must name SessionId, ItemId and Time, got "${lines[0].slice(0, 200)}"`);
  const rows: ClickRow[] = [];
  for (let n = 1; n < lines.length; n++) {
    const line = lines[n];
    if (line.length === 0) continue;
    const f = line.split('\t');
    const time = Number(f[ct]);
    if (f.length <= Math.max(cs, ci, ct) || !Number.isFinite(time)) throw new DataFileError(`${path}:${n + 1}`, `malformed row "${line.slice(0, 200)}"`);
    rows.push({ session: f[cs], item: f[ci], time });
  }
  return sessionsFromClicks(rows, opts);
}

export interface ClickRow {
  session: string;
  item: string;
  /** Any monotone clock (seconds in the datasets, ms on the wire). */
  time: number;
}

/**
 * Groups clicks in any order into sessions: events of a session by time (stable), sessions by
 * their first event, as the GRU4Rec data iterator expects.
 */
export function sessionsFromClicks(rows: Iterable<ClickRow>, opts: LoadOptions = {}): { data: SessionData; index: ItemIndex } {
  const bySession = new Map<string, ClickRow[]>();
  for (const row of rows) {
    let list = bySession.get(row.session);
    if (!list) bySession.set(row.session, (list = []));
    list.push(row);
  }
  const sessions = [...bySession.values()];
  for (const s of sessions) s.sort((a, b) => a.time - b.time);
  sessions.sort((a, b) => a[0].time - b[0].time);
  return build(sessions.flat(), opts);
}

/**
 * User sequences `userId itemId` per line in time order (amazon-video). No timestamps:
 * event times are the line number, which keeps order and nothing else.
 */
export function loadUserSequences(path: string, opts: LoadOptions = {}): { data: SessionData; index: ItemIndex } {
  const text = readDataFile(path);
  const rows: ClickRow[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line.length === 0) continue;
    const f = line.split(/\s+/);
    if (f.length < 2) throw new DataFileError(`${path}:${n + 1}`, `expected "userId itemId", got "${line.slice(0, 200)}"`);
    rows.push({ session: f[0], item: f[1], time: n });
  }
  return build(rows, opts);
}

/**
 * Leave-one-out split of user sequences: per user, the last item is the test target,
 * the one before it the validation target, everything earlier is training.
 * Returns index ranges (per user, into `data`): train = [start, end-2), valid target at end-2, test target at end-1.
 */
export function leaveOneOut(data: SessionData, minLength = 3): { users: Int32Array } {
  const users: number[] = [];
  for (let s = 0; s < sessionCount(data); s++) {
    if (data.offsets[s + 1] - data.offsets[s] >= minLength) users.push(s);
  }
  return { users: Int32Array.from(users) };
}

/** Sub-sequence view: the first `keep(s)` events of each session (sessions left empty are dropped). */
export function truncateSessions(data: SessionData, keep: (s: number, len: number) => number): SessionData {
  const sessionIds: string[] = [];
  const offsets: number[] = [0];
  const items: number[] = [];
  const times: number[] = [];
  for (let s = 0; s < sessionCount(data); s++) {
    const a = data.offsets[s];
    const len = data.offsets[s + 1] - a;
    const k = Math.max(0, Math.min(len, keep(s, len)));
    if (k === 0) continue;
    for (let e = a; e < a + k; e++) {
      items.push(data.items[e]);
      times.push(data.times[e]);
    }
    sessionIds.push(data.sessionIds[s]);
    offsets.push(items.length);
  }
  return { sessionIds, offsets: Int32Array.from(offsets), items: Int32Array.from(items), times: Float64Array.from(times) };
}

/** ../shared/data relative to the project root, or SHARED_DATA_DIR. */
export function sharedDataDir(): string {
  return process.env.SHARED_DATA_DIR ?? new URL('../../../shared/data/', import.meta.url).pathname;
}

/** A dataset file's text; a missing or unreadable file is a DataFileError naming it, not a stack trace. */
function readDataFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new DataFileError(path, code === 'ENOENT' ? 'no such file' : `cannot read: ${(e as Error).message}`, { missing: true });
  }
}
