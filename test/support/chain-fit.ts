import type { SessionData } from '../../src/data/sessions.ts';
import type { Gru4Rec } from '../../src/model/gru4rec.ts';
import type { Gru4RecTrainer } from '../../src/train/gru4rec-trainer.ts';
import { SessionParallelIterator } from '../../src/train/session-parallel.ts';

/**
 * Sessions that walk items start, start+1, … (mod nItems), of lengths 3–8 with starts 7 apart: the
 * next item is a function of the current one, so a model that learns anything ranks it first.
 */
export function chainSessions(nSessions: number, nItems: number): SessionData {
  const items: number[] = [];
  const offsets = [0];
  for (let s = 0; s < nSessions; s++) {
    const len = 3 + (s % 6);
    const start = (s * 7) % nItems;
    for (let k = 0; k < len; k++) items.push((start + k) % nItems);
    offsets.push(items.length);
  }
  return { sessionIds: offsets.slice(1).map((_, s) => `s${s}`), offsets: Int32Array.from(offsets), items: Int32Array.from(items), times: Float64Array.from(items, (_, e) => e) };
}

/** `epochs` passes of session-parallel steps over `data` (state reset per pass); the mean step loss of each. */
export function lossPerEpoch(trainer: Gru4RecTrainer, data: SessionData, epochs: number): number[] {
  const losses: number[] = [];
  for (let epoch = 0; epoch < epochs; epoch++) {
    trainer.resetState();
    let sum = 0;
    let steps = 0;
    const it = new SessionParallelIterator(data, trainer.config.batchSize);
    for (let batch = it.next(); batch; batch = it.next()) {
      const l = trainer.step(batch);
      if (l !== null) {
        sum += l;
        steps++;
      }
    }
    losses.push(sum / steps);
  }
  return losses;
}

/** Sessions i, i+1 (one per item) whose top-scored next item is i+2: what a chain-trained model gets right. */
export function chainHits(model: Gru4Rec, nItems: number): number {
  const h = model.stateSizes.map((s) => new Float32Array(nItems * s));
  const first = model.step(
    h,
    Int32Array.from({ length: nItems }, (_, i) => i),
  );
  const second = model.step(
    first.hidden,
    Int32Array.from({ length: nItems }, (_, i) => (i + 1) % nItems),
  );
  let hits = 0;
  for (let i = 0; i < nItems; i++) {
    const row = second.scores.subarray(i * nItems, (i + 1) * nItems);
    let best = 0;
    for (let j = 1; j < nItems; j++) if (row[j] > row[best]) best = j;
    if (best === (i + 2) % nItems) hits++;
  }
  return hits;
}
