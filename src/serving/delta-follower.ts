/**
 * Serving's side of incremental sync (train.sync): follows the registry's snapshot (CURRENT) and
 * the chain of deltas written for it (src/registry/delta-store.ts), and applies each delta at a
 * micro-batch boundary, in order, skipping none.
 *
 *  - Applying a delta: the snapshot's weights with the chain so far (kept in memory) get the
 *    delta's rows; a new engine is prepared off the hot path (prepareModel: the ORT engine bakes
 *    weights into its graph) and installed between two batches by ServingApp.swapModel with the
 *    'keep' policy: live session states stay (the delta is a small step of the same model;
 *    re-encoding every session every few seconds would cost more than the delta is worth).
 *  - Ordering: the next delta must be seq + 1 of the base serving follows. A gap, a delta that is
 *    of another base, or one that does not decode is refused; serving reloads the snapshot with
 *    the chain up to the refusal and waits for the next snapshot (a chain with a hole cannot go on).
 *  - A new CURRENT (a snapshot the gate published, or an operator's promote) is loaded with its
 *    chain and swapped in with re-encoding, as ModelFollower does for full versions: with sync on,
 *    this follower is the one owner of the served model.
 *  - Rollback on live quality (RollbackGuard): a drop of online Recall@20 beyond the margin swaps
 *    the snapshot back in and pauses deltas of that base (log line, metric, rollbacks.jsonl).
 *  - Freshness: at each applied delta, now − the append time of the newest click it trained on.
 */
import type { Meter } from '@opentelemetry/api';
import type { StreamrecConfig } from '../config/config.ts';
import { describeError } from '../errors/errors.ts';
import { OnlineQuality } from '../metrics/online-quality.ts';
import { type SyncInstruments, syncInstruments } from '../metrics/sync-instruments.ts';
import { DeltaStore, type SyncControl } from '../registry/delta-store.ts';
import { applyDelta, type ModelDelta, type ModelState } from '../registry/model-delta.ts';
import { vocabularyHash } from '../registry/model-identity.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { type ModelStamp, modelStamp } from '../session/session-codec.ts';
import { buildGru4RecRecommender, prepareModel, registryVersionName } from './create-recommender.ts';
import type { Gru4RecRecommender, SwapPolicy } from './gru4rec-recommender.ts';
import type { RecommendOutcome } from './recommender.ts';
import { servedVersionName, splitServedVersion } from './served-version.ts';
import type { ServingApp } from './serving-app.ts';

/** Where serving is in a chain: base version and the last delta applied (0: the snapshot alone). */
export interface ChainPosition {
  base: number;
  seq: number;
}

export type DeltaStep = { kind: 'wait' } | { kind: 'apply'; seq: number } | { kind: 'gap'; missing: number; found: number };

/**
 * What to do next on the chain of `at.base`, given the delta numbers present there: apply
 * seq + 1 when it is there, wait when nothing newer is, and a gap when a newer delta is there
 * but seq + 1 is not (it will not come: a chain is written in order, once).
 */
export function nextDeltaStep(at: ChainPosition, present: readonly number[]): DeltaStep {
  let next = Number.POSITIVE_INFINITY;
  for (const s of present) if (s > at.seq && s < next) next = s;
  if (next === Number.POSITIVE_INFINITY) return { kind: 'wait' };
  if (next === at.seq + 1) return { kind: 'apply', seq: next };
  return { kind: 'gap', missing: at.seq + 1, found: next };
}

/** A rollback verdict: the two windows' Recall@20 and how many targets each holds. */
export interface RollbackVerdict {
  snapshotRecall: number;
  deltaRecall: number;
  snapshotTargets: number;
  deltaTargets: number;
}

/**
 * Online Recall@20 of the lists emitted with deltas against the lists emitted by the snapshot
 * alone, each over a sliding window of the last `windowTargets` targets (OnlineQuality, keyed by
 * "snapshot" and by the chain's trial). The fair baseline once deltas serve is the snapshot's
 * own window measured while it served alone (before the first delta of its base, or after a
 * rollback), carried across snapshots: a new snapshot is the previous chain's weights, so the
 * lineage's snapshot-alone window is what "without deltas" means. It is older traffic than the
 * deltas' window; on a drifting stream that favours the deltas, never the wrecked ones by more
 * than the drift. Not armed until both windows are full: a process that starts straight onto a
 * chain (snapshot + deltas at once) has no snapshot-alone window until its next snapshot or
 * rollback, and says so.
 */
export class RollbackGuard {
  private readonly quality: OnlineQuality;
  private trial = 1;

  constructor(
    private readonly windowTargets: number,
    private readonly margin: number,
    maxSessions: number,
  ) {
    this.quality = new OnlineQuality({ slidingTargets: windowTargets, maxSessions, maxVersions: 4, cutoffs: [20] });
  }

  /** One committed batch, as serving saw it (the same join as serving's own online metric). */
  observe(inputs: readonly { sessionId: string; itemId: string }[], outcomes: readonly RecommendOutcome[], servedVersion: string): void {
    const key = splitServedVersion(servedVersion).delta > 0 ? `deltas#${this.trial}` : 'snapshot';
    for (let i = 0; i < inputs.length; i++) {
      this.quality.observe(inputs[i].sessionId, inputs[i].itemId);
      const o = outcomes[i];
      if (o?.ok) this.quality.emitted(inputs[i].sessionId, key, o.itemIds);
    }
  }

  /** Deltas start afresh (a new base, a rollback, a resume): their window is emptied. */
  resetTrial(): void {
    this.trial++;
  }

  /** Both windows full and the deltas' below the snapshot's by more than the margin: roll back. */
  verdict(): RollbackVerdict | null {
    const s = this.quality.version('snapshot');
    const d = this.quality.version(`deltas#${this.trial}`);
    if (!s || !d || s.windowTargets < this.windowTargets || d.windowTargets < this.windowTargets) return null;
    const v = { snapshotRecall: s.recall(20, 'sliding'), deltaRecall: d.recall(20, 'sliding'), snapshotTargets: s.windowTargets, deltaTargets: d.windowTargets };
    return v.deltaRecall < v.snapshotRecall - this.margin ? v : null;
  }

  /** Whether a snapshot-alone window is full (the guard can judge deltas). */
  get armed(): boolean {
    return (this.quality.version('snapshot')?.windowTargets ?? 0) >= this.windowTargets;
  }
}

export interface DeltaFollowerEvents {
  applied?: (d: ModelDelta, freshnessMs: number | null, pauseMs: number) => void;
  reloaded?: (reason: string, at: ChainPosition) => void;
  rolledBack?: (trigger: 'automatic' | 'manual', from: ChainPosition, verdict: RollbackVerdict | null) => void;
}

export interface DeltaFollowerOptions {
  app: ServingApp;
  registry: ModelRegistry;
  config: StreamrecConfig;
  /** Named in rollbacks.jsonl. */
  instanceId: string;
  log?: (line: string) => void;
  /** The freshness histogram and rollback counter are registered on it (src/metrics/instruments.ts). */
  meter?: Meter;
  on?: DeltaFollowerEvents;
}

/** A chain loaded from the registry: the weights serving would have there. */
interface LoadedChain extends ChainPosition {
  state: ModelState;
  snapshot: ModelState;
  stamp: ModelStamp;
  newestClickAt: number | null;
}

export class DeltaFollower {
  readonly store: DeltaStore;
  readonly guard: RollbackGuard;
  private chain: LoadedChain | null = null;
  /** A refused delta (gap, foreign base, corrupt): nothing more on this base until a new snapshot. */
  private stuck: ChainPosition | null = null;
  private control: SyncControl = { paused: false, reason: '', at: 0 };
  private handledRollbackAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private work: Promise<void> = Promise.resolve();
  private busy = false;
  private rollbackPending = false;
  private readonly log: (line: string) => void;
  private readonly instruments: SyncInstruments | null;
  /** Freshness of every applied delta, ms (the bench and tests read it; the histogram exports it). */
  readonly freshnessMs: number[] = [];
  /** Reloads by reason, and deltas applied (tests, the status line). */
  readonly reloads: string[] = [];
  applied = 0;

  constructor(private readonly o: DeltaFollowerOptions) {
    this.store = new DeltaStore(o.registry);
    const s = o.config.train.sync;
    this.guard = new RollbackGuard(s.rollbackWindowEvents, s.rollbackMargin, o.config.serving.sessions.maxSessions);
    this.log = o.log ?? (() => undefined);
    this.instruments = o.meter ? syncInstruments(o.meter) : null;
    o.app.events.on('batchCommitted', (b) => {
      this.guard.observe(b.inputs, b.outcomes, b.modelVersion);
      if (this.rollbackPending || !this.chain || this.chain.seq === 0) return;
      const verdict = this.guard.verdict();
      if (verdict) {
        this.rollbackPending = true;
        void this.serialized(() => this.rollBack('automatic', verdict));
      }
    });
  }

  /**
   * The recommender a serving process starts with: the registry's CURRENT snapshot with every
   * delta of its chain applied, built once (not the snapshot then a swap). Null when the
   * registry has no current version.
   */
  static async loadChain(registry: ModelRegistry): Promise<LoadedChain | null> {
    const base = await registry.current();
    if (base === null) return null;
    return loadChain(new DeltaStore(registry), base);
  }

  /** Builds the starting recommender from `chain` (see loadChain). */
  static async recommenderFor(config: StreamrecConfig, chain: LoadedChain, log?: (line: string) => void): Promise<Gru4RecRecommender> {
    return buildGru4RecRecommender(config, chain.state.weights, chain.state.itemIds, nameOf(chain), log, chain.stamp);
  }

  /** Where serving is now. */
  get position(): ChainPosition | null {
    return this.chain ? { base: this.chain.base, seq: this.chain.seq } : null;
  }

  /** Starts polling; `started` is the chain the recommender was built from (recommenderFor). */
  async start(started: LoadedChain): Promise<void> {
    this.chain = started;
    this.control = await this.store.control();
    this.handledRollbackAt = this.control.rollbackAt ?? 0;
    if (started.seq > 0) this.log(`sync: serving ${nameOf(started)}; the rollback guard arms once the snapshot alone has a full window (after the next snapshot or rollback)`);
    this.timer = setInterval(() => {
      if (this.busy) return;
      void this.serialized(() => this.tick());
    }, this.o.config.train.sync.pollMs);
    this.timer.unref?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.work;
  }

  /** One poll: the operator's switch, a new snapshot, then as many deltas as are in order. */
  async tick(): Promise<void> {
    const chain = this.chain;
    if (!chain) return;
    this.control = await this.store.control();
    if (this.control.rollbackAt !== undefined && this.control.rollbackAt > this.handledRollbackAt) {
      this.handledRollbackAt = this.control.rollbackAt;
      if (chain.seq > 0) await this.rollBack('manual', null);
      return;
    }
    const current = await this.o.registry.current();
    if (current !== null && current !== chain.base) {
      await this.reload('snapshot', current);
      return;
    }
    if (this.paused(chain.base) || (this.stuck && this.stuck.base === chain.base)) return;
    // Every delta that is there now, in order, is applied to the weights, then ONE engine is
    // prepared for the last: a new engine costs ~0.5 s at 30k items and ~5 s at 300k
    // (bench/freshness.ts --prepare), so a backlog is caught up in one swap, not one per delta.
    let at = this.chain!;
    const present = await this.store.seqs(at.base);
    const deltas: ModelDelta[] = [];
    for (;;) {
      const step = nextDeltaStep(at, present);
      if (step.kind === 'wait') break;
      if (step.kind === 'gap') {
        this.log(`sync: delta ${at.base}.${step.missing} is missing but ${at.base}.${step.found} is there: refused, reloading the snapshot and its chain`);
        await this.reload('gap', at.base, step.missing - 1);
        this.stuck = { base: at.base, seq: this.chain!.seq };
        return;
      }
      let d: ModelDelta;
      let next: ModelState;
      try {
        d = await this.store.read(at.base, step.seq);
        next = applyDelta(at.state, d, this.store.pathOf(at.base, step.seq));
      } catch (e) {
        this.log(`sync: ${describeError(e)}; reloading the snapshot and its chain up to ${at.base}.${step.seq - 1}`);
        await this.reload('refused', at.base, step.seq - 1);
        this.stuck = { base: at.base, seq: this.chain!.seq };
        return;
      }
      at = { ...at, seq: step.seq, state: next, newestClickAt: d.newestClickAt ?? at.newestClickAt, stamp: stampOf(at, next) };
      deltas.push(d);
    }
    if (deltas.length > 0) await this.install(at, 'keep', deltas);
  }

  private paused(base: number): boolean {
    return this.control.paused && (this.control.base === undefined || this.control.base === base);
  }

  /** Loads `base` with its chain (up to untilSeq) and swaps it in; new bases re-encode live sessions. */
  private async reload(reason: string, base: number, untilSeq?: number): Promise<void> {
    const previous = this.chain;
    let loaded: LoadedChain;
    try {
      loaded = await loadChain(this.store, base, untilSeq);
    } catch (e) {
      this.log(`sync: cannot load version ${base} with its deltas, still serving ${previous ? nameOf(previous) : 'nothing'}: ${describeError(e)}`);
      return;
    }
    const policy: SwapPolicy = previous && previous.base === base ? 'keep' : 're-encode';
    if (await this.install(loaded, policy, [])) {
      this.reloads.push(reason);
      if (!previous || previous.base !== base) {
        this.stuck = null;
        this.guard.resetTrial();
      }
      this.o.on?.reloaded?.(reason, { base: loaded.base, seq: loaded.seq });
      this.log(`sync: reloaded (${reason}) version ${base} with deltas 1..${loaded.seq}`);
    }
  }

  /** Swaps `next` in between two batches; true when it is serving. */
  private async install(next: LoadedChain, policy: SwapPolicy, deltas: readonly ModelDelta[]): Promise<boolean> {
    const name = nameOf(next);
    const report = await this.o.app.swapModel(name, () => prepareModel(this.o.config, next.state.weights, next.state.itemIds, name, this.log, next.stamp), policy);
    if (!report) return false;
    this.chain = next;
    const delta = deltas.at(-1);
    if (delta) {
      this.applied += deltas.length;
      // The newest click of the newest delta: the weights now serving trained on it.
      const freshnessMs = delta.newestClickAt === null ? null : Date.now() - delta.newestClickAt;
      if (freshnessMs !== null) {
        this.freshnessMs.push(freshnessMs);
        if (this.freshnessMs.length > 100_000) this.freshnessMs.splice(0, 50_000);
        this.instruments?.freshness.record(freshnessMs / 1000);
      }
      this.o.on?.applied?.(delta, freshnessMs, report.pauseMs);
    }
    return true;
  }

  /** Back to the snapshot of the chain serving follows, deltas of that base paused. */
  private async rollBack(trigger: 'automatic' | 'manual', verdict: RollbackVerdict | null): Promise<void> {
    const chain = this.chain;
    try {
      if (!chain || chain.seq === 0) return;
      const from = { base: chain.base, seq: chain.seq };
      const snapshot: LoadedChain = { base: chain.base, seq: 0, state: chain.snapshot, snapshot: chain.snapshot, stamp: chain.stamp, newestClickAt: null };
      // The wrecked weights' states mean nothing to the snapshot: re-encode, as for a full version.
      if (!(await this.install(snapshot, 're-encode', []))) return;
      this.guard.resetTrial();
      const reason =
        trigger === 'automatic'
          ? `online Recall@20 ${verdict!.deltaRecall.toFixed(4)} with deltas vs ${verdict!.snapshotRecall.toFixed(4)} for the snapshot over ${verdict!.deltaTargets} targets (margin ${this.o.config.train.sync.rollbackMargin})`
          : 'manual rollback (streamrec sync rollback)';
      if (trigger === 'automatic') {
        this.control = { ...this.control, paused: true, reason, at: Date.now(), base: chain.base };
        await this.store.setControl(this.control);
        await this.store.recordRollback({
          at: new Date().toISOString(),
          trigger,
          base: chain.base,
          fromSeq: from.seq,
          snapshotRecall: verdict!.snapshotRecall,
          deltaRecall: verdict!.deltaRecall,
          windowTargets: verdict!.deltaTargets,
          instance: this.o.instanceId,
        });
      }
      this.instruments?.rollbacks.add(1, { trigger });
      this.log(
        `sync: ROLLBACK (${trigger}) ${servedVersionName(registryVersionName(from.base), from.seq)} → ${registryVersionName(from.base)}: ${reason}; deltas of version ${from.base} paused`,
      );
      this.o.on?.rolledBack?.(trigger, from, verdict);
    } finally {
      this.rollbackPending = false;
    }
  }

  /** Runs `fn` after everything queued before it (polls, rollbacks never overlap). */
  private serialized(fn: () => Promise<void>): Promise<void> {
    const run = this.work.then(async () => {
      this.busy = true;
      try {
        await fn();
      } catch (e) {
        this.log(`sync: ${describeError(e)}`);
      } finally {
        this.busy = false;
      }
    });
    this.work = run;
    return run;
  }
}

function nameOf(c: ChainPosition): string {
  return servedVersionName(registryVersionName(c.base), c.seq);
}

async function loadChain(store: DeltaStore, base: number, untilSeq?: number): Promise<LoadedChain> {
  const { state, seq, newestClickAt, snapshot: m } = await store.chainState(base, untilSeq);
  const stamp = modelStamp(m);
  const snapshot = { weights: m.weights, itemIds: m.itemIds };
  return { base, seq, state, snapshot, stamp: state.itemIds === m.itemIds ? stamp : withVocabulary(stamp, state.itemIds), newestClickAt };
}

/**
 * Changelog stamp of a chain state: the base's layout and weights stamp (a delta is the same
 * model a few seconds on, so changelog states written under it restore as its own), but the
 * vocabulary of the rows it now has, so states of another vocabulary are not read as this one's.
 */
function stampOf(at: LoadedChain, next: ModelState): ModelStamp {
  return next.itemIds === at.state.itemIds ? at.stamp : withVocabulary(at.stamp, next.itemIds);
}

function withVocabulary(stamp: ModelStamp, itemIds: readonly string[]): ModelStamp {
  const hex = vocabularyHash(itemIds);
  return { ...stamp, vocabulary: Uint8Array.from(Buffer.from(hex.slice(0, 2 * stamp.vocabulary.length), 'hex')) };
}
