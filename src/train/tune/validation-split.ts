import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ItemIndex } from '../../data/item-index.ts';
import { loadSessionTsv, loadUserSequences, type SessionData, sessionCount } from '../../data/sessions.ts';
import { DataFileError, UsageError } from '../../errors/errors.ts';
import { type EvalResult, evaluate, itemCounts } from '../../eval/evaluate.ts';
import { evaluateLeaveOneOut, leaveOneOutSplit } from '../../eval/leave-one-out.ts';
import type { SessionScorer } from '../../eval/scorer.ts';

/** What every trial fits on and is scored on; the test set never enters. */
export interface ValidationSplit {
  /** One line on where the two parts came from (printed, and written into the best-config file). */
  description: string;
  train: SessionData;
  /** Training items; the validation part holds only these (unknown items are dropped, as the protocol does for test). */
  nItems: number;
  /** Targets the validation ranks (for the log). */
  validTargets: number;
  /** Recall@20 / MRR@20 (and the rest) of a fitted scorer on the validation part. */
  score(scorer: SessionScorer, onProgress?: (done: number, total: number) => void): Promise<EvalResult>;
}

/** Where the data comes from: a dataset directory or file (`--data`), or an explicit pair (`--train`/`--valid`). */
export type SplitSource = { data: string } | { train: string; valid: string };

/** The last day of a session-TSV file's sessions is its validation part, as GRU4Rec's preprocessing makes train_tr / train_valid. */
export const VALID_SECONDS = 86_400;
/** When the data spans under two days (synthetic streams), the most recently ended fifth of the sessions validates instead. */
export const VALID_FRACTION = 0.2;

/**
 * Resolves the validation split:
 *  - `--train F --valid F`: as given (session TSVs);
 *  - `--data DIR` with train_tr.tsv and train_valid.tsv (rsc15-100k): those;
 *  - `--data DIR` with sequences.txt, or `--data FILE` of user sequences (amazon-video): leave-one-out,
 *    fitted on everything but each user's last two items and scored on the second-to-last (the
 *    validation target), so the last (test) item is never seen;
 *  - `--data DIR` with train_full.tsv only, or `--data FILE.tsv`: split by time (splitByTime).
 */
export function loadValidationSplit(source: SplitSource): ValidationSplit {
  if ('train' in source) return sessionFiles(source.train, source.valid);
  const path = source.data;
  if (!existsSync(path)) throw new DataFileError(path, 'no such file or directory', { missing: true });
  if (statSync(path).isDirectory()) {
    const tr = join(path, 'train_tr.tsv');
    const va = join(path, 'train_valid.tsv');
    if (existsSync(tr) && existsSync(va)) return sessionFiles(tr, va);
    if (existsSync(join(path, 'sequences.txt'))) return userSequences(join(path, 'sequences.txt'));
    if (existsSync(join(path, 'train_full.tsv'))) return timeSplitFile(join(path, 'train_full.tsv'));
    throw new UsageError(`${path} has neither train_tr.tsv + train_valid.tsv, sequences.txt nor train_full.tsv; give --train and --valid`);
  }
  return path.endsWith('.tsv') ? timeSplitFile(path) : userSequences(path);
}

function sessionFiles(trainPath: string, validPath: string): ValidationSplit {
  const { data: train, index } = loadSessionTsv(trainPath);
  const { data: valid } = loadSessionTsv(validPath, { index, unknownItems: 'drop', minSessionLength: 2 });
  return sessionProtocol(`${trainPath} -> ${validPath}`, train, valid, index.size);
}

function userSequences(path: string): ValidationSplit {
  const { data, index } = loadUserSequences(path);
  const split = leaveOneOutSplit(data);
  const trainPopularity = itemCounts(split.train, index.size);
  return {
    description: `${path}, leave-one-out: fit on all but each user's last two items, score the second-to-last (validation) item`,
    train: split.train,
    nItems: index.size,
    validTargets: split.users.length,
    score: (scorer, onProgress) => evaluateLeaveOneOut(scorer, data, { target: 'valid', split, trainPopularity, cutoffs: [20], ...(onProgress ? { onProgress } : {}) }),
  };
}

function timeSplitFile(path: string): ValidationSplit {
  return timeSplit(loadSessionTsv(path).data, path);
}

/** The validation split of sessions already in memory (a topic's history, a synthetic stream), split by splitByTime. */
export function timeSplit(data: SessionData, what: string): ValidationSplit {
  const { train, valid, nItems, rule } = splitByTime(data);
  return sessionProtocol(`${what}, ${rule}`, train, valid, nItems);
}

function sessionProtocol(description: string, train: SessionData, valid: SessionData, nItems: number): ValidationSplit {
  const trainPopularity = itemCounts(train, nItems);
  let validTargets = 0;
  for (let s = 0; s < sessionCount(valid); s++) validTargets += valid.offsets[s + 1] - valid.offsets[s] - 1;
  return {
    description,
    train,
    nItems,
    validTargets,
    score: (scorer, onProgress) => evaluate(scorer, valid, { trainPopularity, cutoffs: [20], ...(onProgress ? { onProgress } : {}) }),
  };
}

/**
 * Sessions that end in the last day of the data validate, the rest train (GRU4Rec's own
 * train_tr / train_valid rule); data spanning under two days instead gives its most recently ended
 * fifth of the sessions to validation. Items are re-indexed over the training part; validation
 * events on other items are dropped, then validation sessions shorter than 2.
 */
export function splitByTime(data: SessionData): { train: SessionData; valid: SessionData; nItems: number; rule: string } {
  const n = sessionCount(data);
  const end = new Float64Array(n);
  let first = Infinity;
  let last = -Infinity;
  for (let s = 0; s < n; s++) {
    end[s] = -Infinity;
    for (let e = data.offsets[s]; e < data.offsets[s + 1]; e++) end[s] = Math.max(end[s], data.times[e]);
    if (data.offsets[s + 1] > data.offsets[s]) first = Math.min(first, data.times[data.offsets[s]]);
    last = Math.max(last, end[s]);
  }
  let isValid: (s: number) => boolean;
  let rule: string;
  if (last - first >= 2 * VALID_SECONDS) {
    isValid = (s) => end[s] > last - VALID_SECONDS;
    rule = 'sessions ending in the last day validate, the rest train';
  } else {
    const order = Int32Array.from({ length: n }, (_, s) => s).sort((a, b) => end[a] - end[b] || a - b);
    const nValid = Math.max(1, Math.round(VALID_FRACTION * n));
    const valid = new Uint8Array(n);
    for (let r = n - nValid; r < n; r++) valid[order[r]] = 1;
    isValid = (s) => valid[s] === 1;
    rule = `the data spans under two days: the last-ending ${Math.round(VALID_FRACTION * 100)}% of sessions validate, the rest train`;
  }
  const index = new ItemIndex();
  const train = selectSessions(data, (s) => !isValid(s), index, 'add', 1);
  const valid = selectSessions(data, isValid, index, 'drop', 2);
  return { train, valid, nItems: index.size, rule };
}

/** The chosen sessions, with items renumbered through `index` (added, or dropped when unknown). */
function selectSessions(data: SessionData, keep: (s: number) => boolean, index: ItemIndex, unknown: 'add' | 'drop', minLength: number): SessionData {
  const sessionIds: string[] = [];
  const offsets = [0];
  const items: number[] = [];
  const times: number[] = [];
  for (let s = 0; s < sessionCount(data); s++) {
    if (!keep(s)) continue;
    const kept: number[] = [];
    for (let e = data.offsets[s]; e < data.offsets[s + 1]; e++) {
      const id = String(data.items[e]);
      const idx = unknown === 'add' ? index.add(id) : index.get(id);
      if (idx >= 0) kept.push(e, idx);
    }
    if (kept.length / 2 < minLength) continue;
    for (let k = 0; k < kept.length; k += 2) {
      items.push(kept[k + 1]);
      times.push(data.times[kept[k]]);
    }
    sessionIds.push(data.sessionIds[s]);
    offsets.push(items.length);
  }
  return { sessionIds, offsets: Int32Array.from(offsets), items: Int32Array.from(items), times: Float64Array.from(times) };
}
