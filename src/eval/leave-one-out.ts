import { type SessionData, leaveOneOut, sessionCount, truncateSessions } from '../data/sessions.ts';
import type { SessionScorer } from './scorer.ts';
import { type EvalResult, type EvaluateOptions, evaluate } from './evaluate.ts';

/**
 * Leave-one-out split of user sequences. Users with fewer than minLength events have no held-out
 * targets and go to training whole (as the usual SASRec-style preprocessing does).
 */
export interface LeaveOneOutSplit {
  /** Session indices (into the full data) of users that have validation and test targets. */
  users: Int32Array;
  /** Everything but the last two items of each eligible user; short users whole. */
  train: SessionData;
  /** Eligible users' first len-1 items: the last one is the validation target, the rest its prefix. */
  valid: SessionData;
  /** Eligible users' full sequences: the last item is the test target, the rest its prefix. */
  test: SessionData;
}

export function leaveOneOutSplit(data: SessionData, minLength = 3): LeaveOneOutSplit {
  const { users } = leaveOneOut(data, minLength);
  const eligible = new Uint8Array(sessionCount(data));
  for (const u of users) eligible[u] = 1;
  return {
    users,
    train: truncateSessions(data, (s, len) => (eligible[s] ? len - 2 : len)),
    valid: truncateSessions(data, (s, len) => (eligible[s] ? len - 1 : 0)),
    test: truncateSessions(data, (s, len) => (eligible[s] ? len : 0)),
  };
}

/** Marks the last event of every session: the only target of a leave-one-out view. */
export function lastEventMask(view: SessionData): Uint8Array {
  const mask = new Uint8Array(view.items.length);
  for (let s = 0; s < sessionCount(view); s++) {
    if (view.offsets[s + 1] - view.offsets[s] >= 2) mask[view.offsets[s + 1] - 1] = 1;
  }
  return mask;
}

export interface LeaveOneOutOptions extends Omit<EvaluateOptions, 'targetMask'> {
  /** 'test': rank for the last item; 'valid': for the one before it. */
  target: 'test' | 'valid';
  /** A split computed earlier from the same data, to avoid recomputing it per model. */
  split?: LeaveOneOutSplit;
}

/**
 * Feeds each eligible user's prefix through the scorer and ranks all items for the held-out target
 * only. `data` holds the full user sequences; train models on leaveOneOutSplit(data).train.
 */
export function evaluateLeaveOneOut(scorer: SessionScorer, data: SessionData, opts: LeaveOneOutOptions): Promise<EvalResult> {
  const { target, split: given, ...rest } = opts;
  const split = given ?? leaveOneOutSplit(data);
  const view = target === 'test' ? split.test : split.valid;
  return evaluate(scorer, view, { ...rest, targetMask: lastEventMask(view) });
}
