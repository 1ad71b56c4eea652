import { type SessionData, sessionCount } from '../../data/sessions.ts';
import type { SessionScorer } from '../scorer.ts';
import { TopK } from '../../model/topk.ts';

/** Weight of the current session's item at position p (1-based) of L. */
export type PositionWeighting = 'linear' | 'div' | 'same';

export interface SessionKnnOptions {
  /** Neighbour sessions that vote. Default 100. */
  k?: number;
  /** Candidate sessions: the most recent ones containing any item of the current session. 0 = all. Default 500. */
  sampleSize?: number;
  /**
   * 'linear' (default): 1 for the last item, 0.1 less per step back, 0 from ten steps back (the
   * decay V-SKNN describes; session-rec's `linear` has an inverted position check, not copied);
   * 'div': p / L (session-rec's default); 'same': 1.
   */
  weighting?: PositionWeighting;
  /**
   * 'cosine' (default): weighted overlap / (||w|| * sqrt(|neighbour|)) — long neighbour sessions
   * do not win by size; 'vec': weighted overlap / number of distinct current items (session-rec's vec).
   */
  similarity?: 'cosine' | 'vec';
  /**
   * 'none' (default): an item scores the sum of the similarities of the neighbours containing it.
   * 'div': a neighbour's vote is divided by how many steps back its most recent shared item is
   * (session-rec's weighting_score='div').
   */
  scoreDecay?: 'none' | 'div';
  name?: string;
}

interface SlotHistory {
  items: Int32Array;
  len: number;
}

/**
 * V-SKNN (Jannach & Ludewig; session-rec's VMContextKNN without its experimental options):
 * candidate neighbours are the sampleSize most recent training sessions that share an item with
 * the current session, they are compared with the position-weighted current session, and the k most
 * similar vote for their items. Training sessions are stored by recency rank, so "most recent
 * candidates" is a k-way merge of the per-item session lists, which stops after sampleSize.
 */
export class SessionKnnScorer implements SessionScorer {
  readonly name: string;
  readonly k: number;
  readonly sampleSize: number;
  readonly weighting: PositionWeighting;
  readonly similarity: 'cosine' | 'vec';
  readonly scoreDecay: 'none' | 'div';
  nItems = 0;

  /** Distinct items of training session r (r = recency rank, 0 = the most recently ended). */
  private sessPtr = new Int32Array(1);
  private sessItems = new Int32Array(0);
  /** Recency ranks of the training sessions containing item i, ascending (most recent first). */
  private itemPtr = new Int32Array(1);
  private itemSess = new Int32Array(0);
  private invSqrtLen = new Float64Array(0);

  private readonly slots = new Map<number, SlotHistory>();
  // Scratch reused by every step.
  private weightOf = new Float64Array(0);
  private lastPosOf = new Int32Array(0);
  private distinct = new Int32Array(0);
  private stamp = new Int32Array(0);
  private query = 0;
  private heapRank = new Int32Array(0);
  private heapItem = new Int32Array(0);
  private heapPos = new Int32Array(0);
  private candRank = new Int32Array(0);
  private candDecay = new Float64Array(0);
  private readonly top: TopK;

  constructor(opts: SessionKnnOptions = {}) {
    this.k = opts.k ?? 100;
    this.sampleSize = opts.sampleSize ?? 500;
    this.weighting = opts.weighting ?? 'linear';
    this.similarity = opts.similarity ?? 'cosine';
    this.scoreDecay = opts.scoreDecay ?? 'none';
    this.name = opts.name ?? 'session-kNN';
    if (!Number.isInteger(this.k) || this.k < 1) throw new RangeError(`k must be a positive integer, got ${this.k}`);
    if (!Number.isInteger(this.sampleSize) || this.sampleSize < 0) throw new RangeError(`sampleSize must be a non-negative integer, got ${this.sampleSize}`);
    this.top = new TopK(this.k);
  }

  fit(train: SessionData, nItems: number): this {
    this.nItems = nItems;
    const nSessions = sessionCount(train);
    const { offsets, items, times } = train;
    // Recency: later end time first; among equal times the later session in the file.
    const endTime = new Float64Array(nSessions);
    for (let s = 0; s < nSessions; s++) {
      let t = -Infinity;
      for (let e = offsets[s]; e < offsets[s + 1]; e++) if (times[e] > t) t = times[e];
      endTime[s] = t;
    }
    const order = Int32Array.from({ length: nSessions }, (_, s) => s).sort((a, b) => endTime[b] - endTime[a] || b - a);

    const seen = new Int32Array(nItems).fill(-1);
    const sessPtr = new Int32Array(nSessions + 1);
    const sessItems = new Int32Array(items.length);
    const itemCount = new Int32Array(nItems);
    let n = 0;
    for (let r = 0; r < nSessions; r++) {
      const s = order[r];
      for (let e = offsets[s]; e < offsets[s + 1]; e++) {
        const it = items[e];
        if (seen[it] === r) continue;
        seen[it] = r;
        sessItems[n++] = it;
        itemCount[it]++;
      }
      sessPtr[r + 1] = n;
    }
    const itemPtr = new Int32Array(nItems + 1);
    for (let i = 0; i < nItems; i++) itemPtr[i + 1] = itemPtr[i] + itemCount[i];
    const fill = itemPtr.slice(0, nItems);
    const itemSess = new Int32Array(n);
    for (let r = 0; r < nSessions; r++) {
      for (let p = sessPtr[r]; p < sessPtr[r + 1]; p++) itemSess[fill[sessItems[p]]++] = r;
    }
    const invSqrtLen = new Float64Array(nSessions);
    for (let r = 0; r < nSessions; r++) invSqrtLen[r] = 1 / Math.sqrt(sessPtr[r + 1] - sessPtr[r]);

    this.sessPtr = sessPtr;
    this.sessItems = sessItems.slice(0, n);
    this.itemPtr = itemPtr;
    this.itemSess = itemSess;
    this.invSqrtLen = invSqrtLen;
    this.weightOf = new Float64Array(nItems);
    this.lastPosOf = new Int32Array(nItems);
    this.distinct = new Int32Array(nItems);
    this.heapRank = new Int32Array(nItems);
    this.heapItem = new Int32Array(nItems);
    this.heapPos = new Int32Array(nItems);
    this.stamp = new Int32Array(nSessions);
    this.query = 0;
    const maxCand = this.sampleSize > 0 ? Math.min(this.sampleSize, nSessions) : nSessions;
    this.candRank = new Int32Array(maxCand);
    this.candDecay = new Float64Array(maxCand);
    this.slots.clear();
    return this;
  }

  reset(slots: Int32Array): void {
    for (let i = 0; i < slots.length; i++) {
      const h = this.slots.get(slots[i]);
      if (h) h.len = 0;
    }
  }

  step(n: number, slots: Int32Array, items: Int32Array, out: Float32Array): void {
    for (let b = 0; b < n; b++) {
      const h = this.append(slots[b], items[b]);
      this.scoreSession(h, out, b * this.nItems);
    }
  }

  private append(slot: number, item: number): SlotHistory {
    let h = this.slots.get(slot);
    if (!h) this.slots.set(slot, (h = { items: new Int32Array(16), len: 0 }));
    if (h.len === h.items.length) {
      const grown = new Int32Array(h.items.length * 2);
      grown.set(h.items);
      h.items = grown;
    }
    h.items[h.len++] = item;
    return h;
  }

  private positionWeight(p: number, len: number): number {
    if (this.weighting === 'linear') return Math.max(0, 1 - 0.1 * (len - p));
    if (this.weighting === 'div') return p / len;
    return 1;
  }

  private scoreSession(h: SlotHistory, out: Float32Array, base: number): void {
    const nItems = this.nItems;
    out.fill(0, base, base + nItems);
    const { weightOf, lastPosOf, distinct } = this;

    // Position weights of the current session; a repeated item keeps its latest position.
    const len = h.len;
    let nDistinct = 0;
    for (let p = 1; p <= len; p++) {
      const it = h.items[p - 1];
      if (it < 0 || it >= nItems) continue;
      if (lastPosOf[it] === 0) distinct[nDistinct++] = it;
      lastPosOf[it] = p;
      weightOf[it] = this.positionWeight(p, len);
    }
    let wNorm2 = 0;
    for (let d = 0; d < nDistinct; d++) wNorm2 += weightOf[distinct[d]] * weightOf[distinct[d]];
    const simScale = this.similarity === 'cosine' ? (wNorm2 > 0 ? 1 / Math.sqrt(wNorm2) : 0) : nDistinct > 0 ? 1 / nDistinct : 0;

    const nCand = this.sampleCandidates(nDistinct);

    const top = this.top;
    top.clear();
    for (let c = 0; c < nCand; c++) {
      const r = this.candRank[c];
      let dot = 0;
      let recent = 0;
      for (let p = this.sessPtr[r]; p < this.sessPtr[r + 1]; p++) {
        const it = this.sessItems[p];
        dot += weightOf[it];
        if (lastPosOf[it] > recent) recent = lastPosOf[it];
      }
      const sim = dot * simScale * (this.similarity === 'cosine' ? this.invSqrtLen[r] : 1);
      if (sim > 0) {
        this.candDecay[c] = this.scoreDecay === 'div' ? 1 / (len - recent + 1) : 1;
        top.offer(sim, c);
      }
    }
    for (let t = 0; t < top.size; t++) {
      const c = top.indices[t];
      const r = this.candRank[c];
      const vote = top.values[t] * this.candDecay[c];
      for (let p = this.sessPtr[r]; p < this.sessPtr[r + 1]; p++) out[base + this.sessItems[p]] += vote;
    }

    for (let d = 0; d < nDistinct; d++) {
      weightOf[distinct[d]] = 0;
      lastPosOf[distinct[d]] = 0;
    }
  }

  /**
   * Writes the recency ranks of the most recent sessions that contain any of the distinct current
   * items into candRank (a k-way merge of the items' ascending rank lists); returns their number.
   */
  private sampleCandidates(nDistinct: number): number {
    const { heapRank, heapItem, heapPos, itemPtr, itemSess, stamp, candRank } = this;
    const q = ++this.query;
    const limit = candRank.length;
    let size = 0;
    for (let d = 0; d < nDistinct; d++) {
      const it = this.distinct[d];
      if (itemPtr[it] === itemPtr[it + 1]) continue;
      // sift up
      let i = size++;
      const rank = itemSess[itemPtr[it]];
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (heapRank[parent] <= rank) break;
        heapRank[i] = heapRank[parent];
        heapItem[i] = heapItem[parent];
        heapPos[i] = heapPos[parent];
        i = parent;
      }
      heapRank[i] = rank;
      heapItem[i] = it;
      heapPos[i] = itemPtr[it];
    }
    let nCand = 0;
    while (size > 0 && nCand < limit) {
      const rank = heapRank[0];
      if (stamp[rank] !== q) {
        stamp[rank] = q;
        candRank[nCand++] = rank;
      }
      const it = heapItem[0];
      const pos = heapPos[0] + 1;
      let nr: number, ni: number, np: number;
      if (pos < itemPtr[it + 1]) {
        nr = itemSess[pos];
        ni = it;
        np = pos;
      } else {
        size--;
        if (size === 0) break;
        nr = heapRank[size];
        ni = heapItem[size];
        np = heapPos[size];
      }
      // sift the replacement down from the root
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= size) break;
        const rr = l + 1;
        const c = rr < size && heapRank[rr] < heapRank[l] ? rr : l;
        if (heapRank[c] >= nr) break;
        heapRank[i] = heapRank[c];
        heapItem[i] = heapItem[c];
        heapPos[i] = heapPos[c];
        i = c;
      }
      heapRank[i] = nr;
      heapItem[i] = ni;
      heapPos[i] = np;
    }
    return nCand;
  }
}
