/**
 * Serving GRU4Rec: per-session hidden states in the SessionStore, one batched engine step per
 * "wave" of a micro-batch (each session at most once per wave, so its events stay in order),
 * exact top-K from the engine, and a changelog record per touched session at the batch boundary.
 * No per-event typed-array allocation: every buffer is sized for the engine's maxBatch once.
 */
import { ItemIndex } from '../data/item-index.ts';
import type { InferenceEngine, StepOutput, ExcludeLists } from '../engine/engine.ts';
import type { ModelStamp, RecordMode } from '../session/session-codec.ts';
import { SessionStore } from '../session/session-store.ts';
import { ChangelogWriter, restoreFromRecords, type ChangelogInput, type ChangelogRecord } from '../session/changelog.ts';
import { StepPlanner } from '../batch/step-planner.ts';
import type { ClickInput, RecommendOutcome, RestoreCounts, StatefulRecommender } from './recommender.ts';

/** Serving options; the model itself (engine, catalogue, version, stamp) is a SwappableModel. */
export interface Gru4RecRecommenderOptions {
  topK: number;
  excludeSeen: boolean;
  historyLength: number;
  maxSessions: number;
  ttlMs: number;
  unknownItems: 'dead-letter' | 'cold-start';
  /** serving.sessions.changelogRecord: what a changelog record carries (SessionStore.encodeSession); 'full' when omitted. */
  changelogRecord?: RecordMode;
}

/** What a hot swap installs: a loaded, warmed engine and the model's catalogue. */
export interface SwappableModel {
  engine: InferenceEngine;
  itemIds: readonly string[];
  version: string;
  /** Items ranked for sessions whose click names an item the model does not know (cold-start). */
  fallbackRanking?: Int32Array;
  /** Identity of the model, stamped on changelog records so a restore can tell whose state it reads. */
  stamp?: ModelStamp;
}

/**
 * What live sessions keep across a swap: re-encode (default) replays each session's stored
 * history through the new weights; reset starts every session afresh; keep leaves the old
 * states in place (only meaningful for a fine-tuned model of the same layout, and falls back to
 * reset when the layout changes).
 */
export type SwapPolicy = 're-encode' | 'keep' | 'reset';

export interface SwapReport {
  from: string;
  to: string;
  sessions: number;
  /** Time the swap held serving (history remap + re-encode), ms. */
  pauseMs: number;
  /** Items of the old catalogue no longer in the new one (dropped from histories). */
  itemsRemoved: number;
  itemsAdded: number;
}

export class Gru4RecRecommender implements StatefulRecommender {
  version!: string;
  readonly store: SessionStore;
  private readonly changelog: ChangelogWriter;
  private index!: ItemIndex;
  private readonly planner: StepPlanner;
  private engine!: InferenceEngine;
  private maxBatch = 0;
  // Per micro-batch (grown if a batch is larger than the engine's maxBatch; it is then stepped in pieces).
  private slots = new Int32Array(0);
  private itemOf = new Int32Array(0);
  private positions = new Int32Array(0);
  private perm = new Int32Array(0);
  private stepStart = new Int32Array(0);
  // Per engine step (maxBatch rows), sized by the installed engine.
  private rowSlots = new Int32Array(0);
  private rowItems = new Int32Array(0);
  private hidden: Float32Array[] = [];
  private out: StepOutput = { topIdx: new Int32Array(0), topScore: new Float32Array(0) };
  private exclude: ExcludeLists | undefined;
  private fallback: { itemIds: string[]; scores: number[] } | null = null;
  private lock: Promise<void> = Promise.resolve();
  private reencodeBuf = new Int32Array(0);

  constructor(
    model: SwappableModel,
    private readonly o: Gru4RecRecommenderOptions,
  ) {
    this.store = new SessionStore({
      hiddenSizes: model.engine.hiddenSizes,
      historyLength: o.historyLength,
      maxSessions: o.maxSessions,
      ttlMs: o.ttlMs,
      stamp: model.stamp,
      recordMode: o.changelogRecord ?? 'full',
    });
    this.changelog = new ChangelogWriter(this.store);
    this.planner = new StepPlanner(this.store.capacity);
    this.install(model);
  }

  /** Makes `m` the serving model: checks it against the serving options, sizes the step buffers. */
  private install(m: SwappableModel): void {
    const { engine, itemIds } = m;
    const o = this.o;
    if (itemIds.length !== engine.nItems) throw new Error(`model has ${engine.nItems} items but its item id map holds ${itemIds.length}`);
    if (engine.topK < o.topK) throw new Error(`engine returns ${engine.topK} items, serving.topK is ${o.topK}`);
    if (o.excludeSeen && engine.maxExclude < o.historyLength) throw new Error(`engine excludes at most ${engine.maxExclude} items per row, history holds ${o.historyLength}`);
    this.engine = engine;
    this.version = m.version;
    this.index = ItemIndex.fromIds(itemIds);
    this.maxBatch = engine.maxBatch;
    this.rowSlots = new Int32Array(this.maxBatch);
    this.rowItems = new Int32Array(this.maxBatch);
    this.hidden = engine.hiddenSizes.map((h) => new Float32Array(this.maxBatch * h));
    this.out = { topIdx: new Int32Array(this.maxBatch * engine.topK), topScore: new Float32Array(this.maxBatch * engine.topK) };
    this.exclude = o.excludeSeen ? { offsets: new Int32Array(this.maxBatch + 1), items: new Int32Array(this.maxBatch * o.historyLength) } : undefined;
    const ranking = m.fallbackRanking;
    this.fallback = ranking ? { itemIds: Array.from(ranking.subarray(0, o.topK), (i) => this.index.idOf(i)), scores: Array.from(ranking.subarray(0, o.topK), (_, r) => -r) } : null;
  }

  /**
   * Hot swap, between two micro-batches (it takes the same lock as recommendBatch, and the
   * serving loop runs it between batches): installs the new model, maps every session's history
   * onto the new catalogue, and re-encodes (or resets, or keeps) the live states. The old engine
   * is disposed afterwards. A model that does not fit the serving options is refused before
   * anything changes.
   */
  swapModel(next: SwappableModel, policy: SwapPolicy = 're-encode'): Promise<SwapReport> {
    return this.exclusive(async () => {
      const started = performance.now();
      const from = this.version;
      const oldIndex = this.index;
      const oldEngine = this.engine;
      const sameLayout = next.engine.hiddenSizes.length === oldEngine.hiddenSizes.length && next.engine.hiddenSizes.every((h, l) => h === oldEngine.hiddenSizes[l]);
      this.install(next);
      const map = new Int32Array(oldIndex.size);
      let itemsRemoved = 0;
      for (let i = 0; i < oldIndex.size; i++) {
        map[i] = this.index.get(oldIndex.idOf(i));
        if (map[i] < 0) itemsRemoved++;
      }
      const itemsAdded = Math.max(0, this.index.size - (oldIndex.size - itemsRemoved));
      this.store.remapHistories(map);
      const live = new Int32Array(this.store.size);
      const n = this.store.liveSlots(live);
      if (policy === 'keep' && sameLayout) {
        this.store.resetStampOnly(next.stamp);
        this.changelog.markDirtySlots(live, n);
      } else {
        this.store.resetHiddenStates(next.engine.hiddenSizes, next.stamp ?? this.store.stamp);
        // Re-encoding is lazy: a session's history is replayed when its next click arrives (in
        // that batch, before its step) or by reencodeSome between batches, whichever comes
        // first, so the swap itself holds serving for O(sessions) bookkeeping, not O(history) steps.
        if (policy === 're-encode') this.store.markAllForReencode();
        else this.changelog.markDirtySlots(live, n);
      }
      if (oldEngine !== next.engine) await oldEngine.dispose();
      return { from, to: next.version, sessions: n, pauseMs: performance.now() - started, itemsRemoved, itemsAdded };
    });
  }

  private ensureBatchCapacity(n: number): void {
    if (this.slots.length >= n) return;
    const cap = Math.max(n, 2 * this.slots.length, 64);
    this.slots = new Int32Array(cap);
    this.itemOf = new Int32Array(cap);
    this.positions = new Int32Array(cap);
    this.perm = new Int32Array(cap);
    this.stepStart = new Int32Array(cap + 1);
  }

  recommendBatch(events: readonly ClickInput[], out: RecommendOutcome[]): Promise<void> {
    return this.exclusive(() => this.recommendExclusive(events, out));
  }

  private async recommendExclusive(events: readonly ClickInput[], out: RecommendOutcome[]): Promise<void> {
    const store = this.store;
    const now = Date.now();
    store.expire(now, 1000);
    store.beginBatch();
    this.ensureBatchCapacity(events.length);
    let n = 0;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      const item = this.index.get(ev.itemId);
      if (item < 0) {
        out[i] =
          this.o.unknownItems === 'cold-start' && this.fallback
            ? { ok: true, itemIds: this.fallback.itemIds, scores: this.fallback.scores }
            : { ok: false, kind: 'UNKNOWN_ITEM', reason: `item "${ev.itemId.slice(0, 64)}" is not in the catalogue of model ${this.version}` };
        continue;
      }
      this.slots[n] = store.acquire(ev.sessionId, ev.partition, now);
      this.itemOf[n] = item;
      this.positions[n] = i;
      n++;
    }
    if (n === 0) return;
    if (store.reencodePending > 0) await this.reencodeTouched(n);
    const steps = this.planner.plan(this.slots, n, this.perm, this.stepStart);
    for (let s = 0; s < steps; s++) {
      for (let a = this.stepStart[s]; a < this.stepStart[s + 1]; a += this.maxBatch) {
        await this.runStep(out, a, Math.min(this.stepStart[s + 1], a + this.maxBatch));
      }
    }
  }

  /** One engine call for batch positions perm[from..to): distinct sessions by construction. */
  private async runStep(out: RecommendOutcome[], from: number, to: number): Promise<void> {
    const rows = to - from;
    const store = this.store;
    for (let r = 0; r < rows; r++) {
      const j = this.perm[from + r];
      this.rowSlots[r] = this.slots[j];
      this.rowItems[r] = this.itemOf[j];
      store.pushItem(this.slots[j], this.itemOf[j]);
    }
    for (let l = 0; l < this.hidden.length; l++) store.gather(l, this.rowSlots, rows, this.hidden[l]);
    if (this.exclude) {
      let at = 0;
      for (let r = 0; r < rows; r++) {
        this.exclude.offsets[r] = at;
        at += store.history(this.rowSlots[r], this.exclude.items, at);
      }
      this.exclude.offsets[rows] = at;
    }
    await this.engine.step(rows, this.rowItems, this.hidden, this.out, this.exclude);
    for (let l = 0; l < this.hidden.length; l++) store.scatter(l, this.rowSlots, rows, this.hidden[l]);
    this.changelog.markDirtySlots(this.rowSlots, rows);
    const K = this.engine.topK;
    for (let r = 0; r < rows; r++) {
      const itemIds: string[] = [];
      const scores: number[] = [];
      for (let k = 0; k < this.o.topK; k++) {
        const idx = this.out.topIdx[r * K + k];
        if (idx < 0) break;
        itemIds.push(this.index.idOf(idx));
        scores.push(this.out.topScore[r * K + k]);
      }
      out[this.positions[this.perm[from + r]]] = { ok: true, itemIds, scores };
    }
  }

  /**
   * Recomputes every live session's hidden state from its stored item history (the last
   * `historyLength` items): what a model swap needs, since states of the old weights mean nothing
   * to new ones. Sessions advance together, position by position, in engine-sized batches; every
   * session is marked for the changelog. Returns the number of sessions rebuilt.
   */
  async rebuildStates(): Promise<number> {
    return this.exclusive(async () => {
      const live = new Int32Array(this.store.size);
      const n = this.store.liveSlots(live);
      const histories = this.readHistories(live, n);
      this.store.resetHiddenStates();
      await this.replay(live, n, histories);
      return n;
    });
  }

  /**
   * Re-encodes the sessions a restore took from another model's changelog records (same
   * vocabulary, other weights or layout: the store kept their history and zeroed their state).
   */
  async completeRestore(): Promise<number> {
    return this.exclusive(async () => {
      const slots = new Int32Array(this.store.reencodePending);
      const n = this.store.takeReencodeSlots(slots);
      if (n > 0) await this.replay(slots, n, this.readHistories(slots, n));
      return n;
    });
  }

  /** Sessions of this batch still waiting for re-encoding get it now, before their step (their history excludes this batch). */
  private async reencodeTouched(n: number): Promise<void> {
    const store = this.store;
    let m = 0;
    const pending = this.reencodeBuf.length >= n ? this.reencodeBuf : (this.reencodeBuf = new Int32Array(Math.max(n, 2 * this.reencodeBuf.length)));
    for (let j = 0; j < n; j++) {
      const slot = this.slots[j];
      if (!store.needsReencode(slot)) continue;
      store.clearReencode(slot);
      pending[m++] = slot;
    }
    if (m > 0) await this.replay(pending, m, this.readHistories(pending, m));
  }

  /** Re-encodes up to `limit` sessions still waiting after a swap; returns how many remain. */
  reencodeSome(limit: number): Promise<number> {
    return this.exclusive(async () => {
      const slots = new Int32Array(Math.min(limit, this.store.reencodePending));
      const n = this.store.takeReencodeSlots(slots, limit);
      if (n > 0) await this.replay(slots, n, this.readHistories(slots, n));
      return this.store.reencodePending;
    });
  }

  /**
   * Re-encodes waiting sessions in chunks of `chunk` until `budgetMs` has passed or none wait;
   * returns how many remain. A time budget, not a count: how long a session takes depends on its
   * history and the machine, and what must stay bounded is how long the next batch waits.
   */
  reencodeFor(budgetMs: number, chunk = 64): Promise<number> {
    return this.exclusive(async () => {
      const started = performance.now();
      const slots = new Int32Array(chunk);
      while (this.store.reencodePending > 0) {
        const n = this.store.takeReencodeSlots(slots, chunk);
        if (n > 0) await this.replay(slots, n, this.readHistories(slots, n));
        if (performance.now() - started >= budgetMs) break;
      }
      return this.store.reencodePending;
    });
  }

  get reencodePending(): number {
    return this.store.reencodePending;
  }

  private readHistories(slots: Int32Array, n: number): { items: Int32Array; lengths: Int32Array; longest: number } {
    const H = this.o.historyLength;
    const items = new Int32Array(n * H);
    const lengths = new Int32Array(n);
    let longest = 0;
    for (let i = 0; i < n; i++) {
      lengths[i] = this.store.history(slots[i], items, i * H);
      longest = Math.max(longest, lengths[i]);
    }
    return { items, lengths, longest };
  }

  /** Runs each session's history through the engine from a zero state; marks them for the changelog. */
  private async replay(slots: Int32Array, n: number, h: { items: Int32Array; lengths: Int32Array; longest: number }): Promise<void> {
    const store = this.store;
    const H = this.o.historyLength;
    for (let t = 0; t < h.longest; t++) {
      let rows = 0;
      const flush = async () => {
        for (let l = 0; l < this.hidden.length; l++) store.gather(l, this.rowSlots, rows, this.hidden[l]);
        // States only: a ranking at every history position would be thrown away.
        await this.engine.encode(rows, this.rowItems, this.hidden);
        for (let l = 0; l < this.hidden.length; l++) store.scatter(l, this.rowSlots, rows, this.hidden[l]);
        rows = 0;
      };
      for (let i = 0; i < n; i++) {
        if (h.lengths[i] <= t) continue;
        this.rowSlots[rows] = slots[i];
        this.rowItems[rows] = h.items[i * H + t];
        if (++rows === this.maxBatch) await flush();
      }
      if (rows > 0) await flush();
    }
    // Changelog: each state is now its history's encoding from zero, so a history-only record restores it exactly.
    store.markEncodedFromHistory(slots, n);
    this.changelog.markDirtySlots(slots, n);
  }

  /**
   * The engine buffers and the store are shared by batches, restores and re-encoding, which the
   * serving loop runs concurrently (a partition restores while others serve): one at a time.
   */
  private exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.lock.then(fn);
    this.lock = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Changelog: one record per session touched since the last drain (its state now), so a drain
   * per commit, not per batch, gives one record per session per transaction however many
   * micro-batches it spans. Call it once per transaction, right before its commit.
   */
  drainChangelog(): ChangelogRecord[] {
    return this.changelog.drain();
  }

  /** The transaction failed: the pending records of all its batches are forgotten (the caller restores the partitions). */
  discardChangelog(): void {
    this.changelog.discard();
  }

  restorePartition(records: Iterable<ChangelogInput>): Promise<RestoreCounts> {
    // Records that cannot be read are counted (and their sessions forgotten), never retried.
    return this.exclusive(() => restoreFromRecords(this.store, records));
  }

  partitionsRevoked(partitions: number[]): void {
    for (const p of partitions) this.store.dropPartition(p);
  }

  async close(): Promise<void> {
    await this.lock;
    this.changelog.close();
    await this.engine.dispose();
  }
}
