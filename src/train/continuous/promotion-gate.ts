import type { SessionData } from '../../data/sessions.ts';
import { evaluate } from '../../eval/evaluate.ts';
import { Gru4RecScorer } from '../../eval/gru4rec-scorer.ts';
import type { Gru4Rec } from '../../model/gru4rec.ts';

export interface GateScores {
  recall: number;
  mrr: number;
}

export type { GateRecord } from '../../registry/model-registry.ts';
import type { GateRecord } from '../../registry/model-registry.ts';

export interface ScoredModel {
  model: Gru4Rec;
  /** Item id of each model row. */
  itemIds: readonly string[];
}

/**
 * The promotion gate: the candidate (trained up to the window before) and the serving version
 * are scored prequentially on the same held-out window, Recall@20 and MRR@20 by the offline
 * evaluator; the candidate passes when its Recall@20 ≥ serving's − margin, or when nothing is
 * serving yet. Both are scored on the same events: those whose item both models know (an item
 * admitted after the serving version was published cannot be a target for it, and dropping it
 * only for one side would compare different targets).
 */
export async function runGate(heldOut: SessionData, candidate: ScoredModel, serving: ScoredModel | null, margin: number): Promise<GateRecord> {
  const [forCandidate, forServing] = serving ? alignedWindows(heldOut, candidate.itemIds, serving.itemIds) : [heldOut, null];
  const c = await scoreOn(candidate.model, forCandidate);
  const s = forServing && serving ? await scoreOn(serving.model, forServing) : null;
  const passed = s === null || c.recall >= s.recall - margin;
  // `window` is the number of held-out targets both were scored on.
  return { window: c.targets, candidate: { recall: c.recall, mrr: c.mrr }, serving: s ? { recall: s.recall, mrr: s.mrr } : null, margin, passed };
}

async function scoreOn(model: Gru4Rec, data: SessionData): Promise<GateScores & { targets: number }> {
  const r = await evaluate(new Gru4RecScorer(model), data, { cutoffs: [20] });
  return { recall: r.recall[20], mrr: r.mrr[20], targets: r.events };
}

/**
 * The held-out window under each model's item indices, keeping only the events whose item both
 * know; `data.items` index `candidateIds`.
 */
export function alignedWindows(data: SessionData, candidateIds: readonly string[], servingIds: readonly string[]): [SessionData, SessionData] {
  const servingIndex = new Map<string, number>();
  servingIds.forEach((id, i) => servingIndex.set(id, i));
  const nS = data.offsets.length - 1;
  const a: number[] = [];
  const b: number[] = [];
  const offsets = new Int32Array(nS + 1);
  for (let s = 0; s < nS; s++) {
    for (let e = data.offsets[s]; e < data.offsets[s + 1]; e++) {
      const j = servingIndex.get(candidateIds[data.items[e]]);
      if (j === undefined) continue;
      a.push(data.items[e]);
      b.push(j);
    }
    offsets[s + 1] = a.length;
  }
  const times = Float64Array.from(a, (_, i) => i);
  return [
    { sessionIds: data.sessionIds, offsets, items: Int32Array.from(a), times },
    { sessionIds: data.sessionIds, offsets: offsets.slice(), items: Int32Array.from(b), times: times.slice() },
  ];
}
