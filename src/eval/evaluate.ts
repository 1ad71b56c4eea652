import type { SessionScorer } from './scorer.ts';
import { type SessionData, sessionCount } from '../data/sessions.ts';
import { TopK } from '../model/topk.ts';

/**
 * How a target that ties with other items is ranked — the `mode` of GRU4Rec's official batch_eval:
 *  - 'conservative' (the official default): rank = number of items scoring >= the target, so a tie
 *    counts against the model. Sparse scorers (the kNN baselines give most items exactly 0) and
 *    degenerate models (constant scores) cannot get hits out of ties.
 *  - 'standard': rank = 1 + number of items scoring > the target; ties count in the model's favour.
 *    With it, a kNN model whose 5 neighbours all miss would still rank the target 6th.
 *  - 'median': the middle of the tied block, 1 + greater + (equal - 1) / 2.
 */
export type TieMode = 'conservative' | 'standard' | 'median';

export interface EvaluateOptions {
  /** Cut-offs for Recall@k / MRR@k. Default [1, 5, 10, 20]. */
  cutoffs?: number[];
  /** Concurrent sessions (slots) per scorer.step call. Default 512, the official batch_eval default. */
  batchSize?: number;
  /** Training event count per item; enables the popularity-bias metric. */
  trainPopularity?: Float32Array | Float64Array | Int32Array;
  /** Called after every batch step with the number of targets ranked so far and in total. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Only events e with targetMask[e] !== 0 are ranked as targets; every event before a session's
   * last target is still fed. Indexed like test.items. Used by the leave-one-out protocol.
   */
  targetMask?: Uint8Array;
  /** Default 'conservative' (see TieMode). */
  tieMode?: TieMode;
  /** Length of the recommendation list behind coverage and popularity bias. Default 20. */
  listLength?: number;
}

export interface EvalResult {
  model: string;
  tieMode: TieMode;
  cutoffs: number[];
  /** Recall@k (= HitRate@k: one target per event) for every k in cutoffs. */
  recall: Record<number, number>;
  /** MRR@k for every k in cutoffs (1/rank, 0 beyond k). */
  mrr: Record<number, number>;
  /** Recall@k for k = 1..max(20, cutoffs); entry k-1. */
  recallCurve: number[];
  listLength: number;
  /** Share of the catalogue that appears in at least one top-listLength list. */
  coverage: number;
  /**
   * Mean training popularity (count / max count) of the items in the top-listLength lists;
   * null when no trainPopularity was given.
   */
  popularityBias: number | null;
  /** Ranked targets. */
  events: number;
  /** Sessions that contributed at least one target. */
  sessions: number;
  /** Wall time of the whole replay, scorer included. */
  seconds: number;
  /** Ranked targets per second of that wall time (prefix-only events of leave-one-out are not counted). */
  eventsPerSec: number;
  /** Targets the scorer gave NaN; counted as misses (rank = nItems). A healthy model has 0. */
  nanTargets: number;
}

const DEFAULT_CUTOFFS = [1, 5, 10, 20];
const CURVE_LENGTH = 20;

/**
 * The GRU4Rec evaluation protocol: test sessions run session-parallel through the scorer (a slot is
 * reset whenever a new session enters it); after each event but the last of a session, all items are
 * ranked for the next event. The first event of a session is input only.
 */
export async function evaluate(scorer: SessionScorer, test: SessionData, opts: EvaluateOptions = {}): Promise<EvalResult> {
  const nItems = scorer.nItems;
  const cutoffs = [...(opts.cutoffs ?? DEFAULT_CUTOFFS)].sort((a, b) => a - b);
  if (cutoffs.length === 0 || cutoffs.some((k) => !Number.isInteger(k) || k < 1)) throw new RangeError(`cutoffs must be positive integers, got ${JSON.stringify(opts.cutoffs)}`);
  const tieMode = opts.tieMode ?? 'conservative';
  const listLength = opts.listLength ?? 20;
  const mask = opts.targetMask;
  if (mask && mask.length !== test.items.length) throw new RangeError(`targetMask has ${mask.length} entries, test has ${test.items.length} events`);
  for (let e = 0; e < test.items.length; e++) {
    const it = test.items[e];
    if (it < 0 || it >= nItems)
      throw new RangeError(
        `test event ${e} has item index ${it}, outside the scorer's catalogue [0, ${nItems}); load test data through the training ItemIndex with unknownItems: 'drop'`,
      );
  }
  const popNorm = opts.trainPopularity ? normalisedPopularity(opts.trainPopularity, nItems) : null;

  // Each session is fed from its first event up to (not including) its last target.
  const nSessions = sessionCount(test);
  const lastTarget = new Int32Array(nSessions).fill(-1);
  let totalTargets = 0;
  for (let s = 0; s < nSessions; s++) {
    for (let e = test.offsets[s] + 1; e < test.offsets[s + 1]; e++) {
      if (mask?.[e] !== 0) {
        lastTarget[s] = e;
        totalTargets++;
      }
    }
  }

  const batchSize = opts.batchSize ?? 512;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${opts.batchSize}`);
  const nSlots = Math.max(1, Math.min(batchSize, nSessions));
  const slotPos = new Int32Array(nSlots);
  const slotEnd = new Int32Array(nSlots);
  const rowSlot = new Int32Array(nSlots);
  const rowItem = new Int32Array(nSlots);
  const resetBuf = new Int32Array(nSlots);
  const out = new Float32Array(nSlots * nItems);

  const maxK = Math.max(CURVE_LENGTH, cutoffs[cutoffs.length - 1]);
  const hitsAt = new Float64Array(maxK + 1);
  const rrAt = new Float64Array(maxK + 1);
  const covered = new Uint8Array(nItems);
  const top = new TopK(listLength);
  let popSum = 0;
  let listed = 0;
  let ranked = 0;
  let nanTargets = 0;
  let sessionsUsed = 0;

  let nextSession = 0;
  /** Puts the next session that has a target into `slot`; false when none is left. */
  const assign = (slot: number): boolean => {
    while (nextSession < nSessions && lastTarget[nextSession] < 0) nextSession++;
    if (nextSession >= nSessions) return false;
    slotPos[slot] = test.offsets[nextSession];
    slotEnd[slot] = lastTarget[nextSession];
    nextSession++;
    sessionsUsed++;
    return true;
  };

  let nActive = 0;
  for (let slot = 0; slot < nSlots && assign(slot); slot++) rowSlot[nActive++] = slot;
  if (nActive > 0) scorer.reset(rowSlot.subarray(0, nActive));

  const t0 = performance.now();
  while (nActive > 0) {
    for (let r = 0; r < nActive; r++) rowItem[r] = test.items[slotPos[rowSlot[r]]];
    await scorer.step(nActive, rowSlot, rowItem, out);

    let nReset = 0;
    let kept = 0;
    for (let r = 0; r < nActive; r++) {
      const slot = rowSlot[r];
      const t = slotPos[slot] + 1;
      if (mask?.[t] !== 0) {
        const base = r * nItems;
        const target = test.items[t];
        const ts = out[base + target];
        let rank: number;
        top.clear();
        let thr = -Infinity;
        if (Number.isNaN(ts)) {
          nanTargets++;
          rank = nItems;
          for (let j = 0; j < nItems; j++) {
            const v = out[base + j];
            if (v > thr) {
              top.offer(v, j);
              thr = top.threshold;
            }
          }
        } else {
          let gt = 0;
          let eq = 0;
          for (let j = 0; j < nItems; j++) {
            const v = out[base + j];
            if (v > ts) gt++;
            else if (v === ts) eq++;
            if (v > thr) {
              top.offer(v, j);
              thr = top.threshold;
            }
          }
          rank = tieMode === 'conservative' ? gt + eq : tieMode === 'standard' ? gt + 1 : gt + 1 + (eq - 1) / 2;
        }
        if (rank <= maxK) {
          const bucket = Math.ceil(rank);
          hitsAt[bucket]++;
          rrAt[bucket] += 1 / rank;
        }
        for (let i = 0; i < top.size; i++) {
          const item = top.indices[i];
          covered[item] = 1;
          if (popNorm) popSum += popNorm[item];
        }
        listed += top.size;
        ranked++;
      }
      slotPos[slot] = t;
      if (t >= slotEnd[slot]) {
        if (!assign(slot)) continue;
        resetBuf[nReset++] = slot;
      }
      rowSlot[kept++] = slot;
    }
    nActive = kept;
    if (nReset > 0) scorer.reset(resetBuf.subarray(0, nReset));
    opts.onProgress?.(ranked, totalTargets);
  }
  const seconds = (performance.now() - t0) / 1000;

  const recall: Record<number, number> = {};
  const mrr: Record<number, number> = {};
  const recallCurve: number[] = [];
  const denom = Math.max(ranked, 1);
  let hits = 0;
  let rr = 0;
  for (let k = 1; k <= maxK; k++) {
    hits += hitsAt[k];
    rr += rrAt[k];
    recallCurve.push(hits / denom);
    if (cutoffs.includes(k)) {
      recall[k] = hits / denom;
      mrr[k] = rr / denom;
    }
  }
  let nCovered = 0;
  for (let i = 0; i < nItems; i++) nCovered += covered[i];
  return {
    model: scorer.name,
    tieMode,
    cutoffs,
    recall,
    mrr,
    recallCurve,
    listLength,
    coverage: nCovered / nItems,
    popularityBias: popNorm ? (listed > 0 ? popSum / listed : 0) : null,
    events: ranked,
    sessions: sessionsUsed,
    seconds,
    eventsPerSec: seconds > 0 ? ranked / seconds : 0,
    nanTargets,
  };
}

/** Event count per item index (the popularity that the popularity-bias metric and PopularityScorer use). */
export function itemCounts(data: SessionData, nItems: number): Float64Array {
  const counts = new Float64Array(nItems);
  for (let e = 0; e < data.items.length; e++) {
    const it = data.items[e];
    if (it >= 0 && it < nItems) counts[it]++;
  }
  return counts;
}

function normalisedPopularity(pop: ArrayLike<number>, nItems: number): Float64Array {
  if (pop.length < nItems) throw new RangeError(`trainPopularity has ${pop.length} entries, the scorer scores ${nItems} items`);
  let max = 0;
  for (let i = 0; i < nItems; i++) if (pop[i] > max) max = pop[i];
  const norm = new Float64Array(nItems);
  if (max > 0) for (let i = 0; i < nItems; i++) norm[i] = pop[i] / max;
  return norm;
}
