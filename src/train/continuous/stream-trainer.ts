import type { SessionData } from '../../data/sessions.ts';
import { Gru4Rec } from '../../model/gru4rec.ts';
import { gru4recPreset, headConfigOf, type Gru4RecConfig } from '../../model/gru4rec-config.ts';
import type { Gru4RecArch, Gru4RecWeights } from '../../model/weights.ts';
import { trainSteps } from '../fit.ts';
import { Gru4RecTrainer } from '../gru4rec-trainer.ts';
import { SessionParallelIterator, type SessionBatch } from '../session-parallel.ts';
import { growCatalogue } from './catalogue-growth.ts';
import type { OptimizerState } from '../optimizer.ts';
import { optimizerStateFits, type SavedOptimizer } from '../optimizer-file.ts';
import { type TrainerCheckpoint, writeCheckpoint } from './checkpoint-file.ts';
import type { TrainerSync } from './delta-sync.ts';
import type { FollowOptions } from './follow-options.ts';
import { type GateRecord, runGate, type ScoredModel } from './promotion-gate.ts';
import { type CatalogueCounts, StreamCatalogue } from './stream-catalogue.ts';
import { WindowSessions } from './window-sessions.ts';

/** A candidate that passed the gate, as the registry publishes it. */
export interface PassedCandidate {
  weights: Gru4RecWeights;
  itemIds: readonly string[];
  config: Gru4RecConfig;
  parent: number | null;
  gate: GateRecord;
  /** Positions of the clicks topic up to which the candidate was trained. */
  trainingOffsets: Record<string, string>;
  /** The optimizer state that goes with the weights, so whoever fine-tunes this version next goes on from it. */
  optimizer: SavedOptimizer;
}

/** The registry as the trainer uses it: the promoted version to beat, and where a passed candidate goes. */
export interface PromotionTarget {
  /** The promoted version, loaded; null when none is. */
  serving(): Promise<(ScoredModel & { version: number }) | null>;
  /** Publish, promote and announce; returns the new version. */
  publish(candidate: PassedCandidate): Promise<number>;
}

export interface WindowReport {
  window: number;
  phase: 'train' | 'gate';
  /** Stream events in the window, and the training pairs made of them. */
  events: number;
  pairs: number;
  /** Events whose item was still pending (no row yet), not trained on. */
  pendingEvents: number;
  loss: number;
  /** Window events per second of training (gate scoring excluded). */
  eventsPerSec: number;
  seconds: number;
  nItems: number;
  catalogue: CatalogueCounts;
  gate: GateRecord | null;
  /** Version published by this window's gate, if it passed. */
  published: number | null;
  checkpoint: string | null;
}

/** Where a trainer without a checkpoint starts: a model, its registry lineage, and how far into the stream it was trained. */
export interface StartingModel {
  weights: Gru4RecWeights;
  itemIds: readonly string[];
  parent: number | null;
  /**
   * Per clicks partition, the next offset the weights were NOT trained on (a registry version's
   * trainingOffsets). The trainer reads from there, so the history the model already learnt is
   * not trained on a second time; a partition absent here is read from its beginning.
   */
  offsets?: Record<string, string>;
  /** The optimizer state the weights were trained with (absent: the optimizer starts from zeros). */
  savedOptimizer?: SavedOptimizer;
}

export interface StreamTrainerOptions {
  options: FollowOptions;
  checkpointDir: string;
  /** Null: no registry, every gate is scored against nothing and nothing is published. */
  target: PromotionTarget | null;
  onWindow?: (r: WindowReport) => void;
  /**
   * Incremental sync (train.sync.enabled): training windows also close every sync.intervalMs and
   * each trained window is handed to sync as a delta; a gate window (and its snapshot) comes
   * only when sync says one is due, not after every training window.
   */
  sync?: TrainerSync;
}

/** The fine-tuning config of a model: the preset's loss, optimizer and sampling, the model's architecture, one pass. */
export function followConfig(preset: string, arch: Gru4RecArch, seed?: number): Gru4RecConfig {
  return gru4recPreset(preset, {
    layers: [...arch.hiddenSizes],
    embedding: arch.constrainedEmbedding ? 0 : arch.embeddingDim,
    constrainedEmbedding: arch.constrainedEmbedding,
    useBias: arch.useBias,
    ...(arch.cell ? { cell: arch.cell } : {}),
    // The head is architecture too: a mixture-head model fine-tunes as one, not as a dot head.
    ...headConfigOf(arch),
    nEpochs: 1,
    ...(seed === undefined ? {} : { seed }),
  });
}

/**
 * The continuous trainer, without Kafka: fed decoded clicks in stream order (event), it buffers
 * windows, alternating a training window of windowEvents and a held-out gate window of
 * gateWindowEvents. A training window fine-tunes the model one pass; a gate window first scores
 * the model so far (the candidate) against the serving version on it, publishes the candidate if
 * it passes, then trains on it too. Catalogue admissions are applied at window boundaries;
 * checkpoints are taken at the first window boundary past checkpointEveryEvents.
 */
export class StreamTrainer {
  private model: Gru4Rec;
  private trainer: Gru4RecTrainer;
  private readonly config: Gru4RecConfig;
  private readonly o: StreamTrainerOptions;
  private readonly catalogue: StreamCatalogue;
  private readonly window: WindowSessions;
  private readonly positions = new Map<number, number>();
  private candidateOffsets: Record<string, string> = {};
  private parent: number | null;
  private phase: 'train' | 'gate';
  private events: number;
  private rejected: number;
  private windows: number;
  private windowEvents = 0;
  private pendingEvents = 0;
  private sinceCheckpoint = 0;
  private supportBuf: Float64Array;
  /** Wall time of the last delta, and the append times of the clicks of the window being filled (sync only). */
  private lastSyncAt = 0;
  private newestAppend: number | null = null;
  private oldestAppend: number | null = null;
  /** How the optimizer started: resumed, from the starting model's state, or fresh (and why). */
  readonly optimizerStart: string;

  /** A trainer starting from a model (at its training offsets, if it has them), or resuming a checkpoint. */
  constructor(o: StreamTrainerOptions, start: StartingModel | TrainerCheckpoint) {
    this.o = o;
    if (o.sync) this.lastSyncAt = o.sync.now();
    const { options } = o;
    const catalogueOptions = { minItemCount: options.minItemCount, itemTtlEvents: options.itemTtlEvents, halfLifeEvents: 10 * options.windowEvents };
    this.window = new WindowSessions(Math.max(options.windowEvents, options.gateWindowEvents), 2 * options.windowEvents);
    if ('optimizer' in start) {
      this.config = start.config;
      this.catalogue = new StreamCatalogue(catalogueOptions, start.catalogue);
      this.window.restoreCarry(start.carry);
      for (const [p, off] of Object.entries(start.offsets)) this.positions.set(Number(p), Number(off));
      this.candidateOffsets = { ...start.offsets };
      this.parent = start.parent;
      this.phase = start.phase;
      this.events = start.events;
      this.rejected = start.rejected;
      this.windows = start.windows;
    } else {
      this.config = followConfig(options.preset, start.weights.arch);
      this.catalogue = StreamCatalogue.ofModel(start.itemIds, catalogueOptions);
      for (const [p, off] of Object.entries(start.offsets ?? {})) this.positions.set(Number(p), Number(off));
      // Until a window is trained, the model is what it started as: trained up to these offsets.
      this.candidateOffsets = this.offsets();
      this.parent = start.parent;
      this.phase = 'train';
      this.events = 0;
      this.rejected = 0;
      this.windows = 0;
    }
    this.model = Gru4Rec.fromWeights(start.weights);
    this.supportBuf = this.catalogue.support();
    const { state, why } = startingOptimizer(start, this.config);
    let trainer: Gru4RecTrainer;
    let optimizerStart = why;
    try {
      trainer = new Gru4RecTrainer(this.model, this.config, this.supportBuf, state ? { optimizerState: state } : {});
    } catch (e) {
      // A checkpoint's state is the trainer's own and must fit; a starting model's may have been
      // saved for other shapes (another architecture with the same optimizer): start from zeros.
      if (!state || 'optimizer' in start) throw e;
      trainer = new Gru4RecTrainer(this.model, this.config, this.supportBuf);
      optimizerStart = `fresh optimizer (the starting model's saved state does not fit: ${(e as Error).message})`;
    }
    this.trainer = trainer;
    this.optimizerStart = optimizerStart;
  }

  /** Per partition, the next offset to read (what a checkpoint records). */
  offsets(): Record<string, string> {
    return Object.fromEntries([...this.positions].sort((a, b) => a[0] - b[0]).map(([p, o]) => [String(p), String(o)]));
  }

  /** Next offset to read on `partition` (0 when it was never read). */
  positionOf(partition: number): number {
    return this.positions.get(partition) ?? 0;
  }

  get eventCount(): number {
    return this.events;
  }

  get rejectedCount(): number {
    return this.rejected;
  }

  /**
   * One decoded click at (partition, offset), appended to the clicks topic at `appendedAt`
   * (epoch ms; what deltas report freshness from). Closes the window when it is full, or, with
   * sync, when a training window has been open sync.intervalMs.
   */
  async event(session: string, itemId: string, partition: number, offset: number, appendedAt?: number): Promise<WindowReport | null> {
    this.positions.set(partition, offset + 1);
    this.events++;
    this.windowEvents++;
    const item = this.catalogue.observe(itemId, this.events);
    if (item < 0) this.pendingEvents++;
    else this.window.add(session, item);
    if (appendedAt !== undefined && Number.isFinite(appendedAt)) {
      if (this.newestAppend === null || appendedAt > this.newestAppend) this.newestAppend = appendedAt;
      if (this.oldestAppend === null || appendedAt < this.oldestAppend) this.oldestAppend = appendedAt;
    }
    const target = this.phase === 'train' ? this.o.options.windowEvents : this.o.options.gateWindowEvents;
    const syncDue = this.o.sync !== undefined && this.phase === 'train' && this.o.sync.now() - this.lastSyncAt >= this.o.sync.intervalMs;
    return this.windowEvents >= target || syncDue ? this.closeWindow() : null;
  }

  /**
   * With sync, closes the training window when its interval is up even though no click came to
   * close it (a quiet stream): the clicks it holds reach serving now, not at the next click.
   * Never call it while an event() is in progress.
   */
  async closeDueWindow(): Promise<WindowReport | null> {
    const sync = this.o.sync;
    if (!sync || this.phase !== 'train' || this.windowEvents === 0 || sync.now() - this.lastSyncAt < sync.intervalMs) return null;
    return this.closeWindow();
  }

  /** Interval of the sync windows in ms, or null without sync. */
  get syncIntervalMs(): number | null {
    return this.o.sync?.intervalMs ?? null;
  }

  /** A record that did not decode: counted, and the position moves past it. */
  reject(partition: number, offset: number): void {
    this.positions.set(partition, offset + 1);
    this.rejected++;
  }

  /** Graceful stop: trains the partial window (no gate on a partial one) and checkpoints. */
  async finish(): Promise<WindowReport | null> {
    const r = this.windowEvents > 0 ? await this.closeWindow(true) : null;
    if (r?.checkpoint) return r;
    await this.checkpoint();
    return r;
  }

  /** The model as it is now (weights and its item ids). */
  snapshot(): { weights: Gru4RecWeights; itemIds: string[] } {
    return { weights: this.model.toWeights(), itemIds: [...this.catalogue.ids] };
  }

  dispose(): void {
    this.trainer.dispose();
    this.model.dispose();
  }

  private async closeWindow(final = false): Promise<WindowReport> {
    const windowIndex = this.windows++;
    const phase = this.phase;
    const events = this.windowEvents;
    const pendingEvents = this.pendingEvents;
    this.windowEvents = 0;
    this.pendingEvents = 0;
    this.catalogue.advance(this.events, events);
    this.applyCatalogueChanges();
    const data = this.window.take(this.events);
    let gate: WindowReport['gate'] = null;
    let published: number | null = null;
    if (phase === 'gate' && !final) {
      const serving = this.o.target ? await this.o.target.serving() : null;
      gate = await runGate(data, { model: this.model, itemIds: this.catalogue.ids }, serving, this.o.options.gateMargin);
      if (gate.passed && this.o.target) {
        const optimizer = { optimizer: this.config.optimizer, momentum: this.config.momentum, state: this.trainer.optimizerState() };
        const candidate = this.snapshot();
        published = await this.o.target.publish({ ...candidate, config: this.config, parent: this.parent, gate, trainingOffsets: this.candidateOffsets, optimizer });
        this.parent = published;
        // The snapshot's deltas start from exactly the weights it was published with.
        await this.o.sync?.snapshotted(published, candidate);
      }
    }
    const t0 = performance.now();
    const fit = this.train(data);
    const seconds = (performance.now() - t0) / 1000;
    if (this.o.sync) await this.syncDelta();
    // With sync, snapshots (gates) come when due; in between, every window trains and ships a delta.
    this.phase = phase === 'train' && (!this.o.sync || this.o.sync.snapshotDue()) ? 'gate' : 'train';
    // The next gate's candidate is the model as it is now: trained through this window.
    if (this.phase === 'gate') this.candidateOffsets = this.offsets();
    this.sinceCheckpoint += events;
    let checkpoint: string | null = null;
    if (final || this.sinceCheckpoint >= this.o.options.checkpointEveryEvents) checkpoint = await this.checkpoint();
    const report: WindowReport = {
      window: windowIndex,
      phase,
      events,
      pairs: fit.events,
      pendingEvents,
      loss: fit.meanLoss,
      eventsPerSec: events / Math.max(seconds, 1e-9),
      seconds,
      nItems: this.catalogue.nItems,
      catalogue: this.catalogue.summary(),
      gate,
      published,
      checkpoint,
    };
    this.o.onWindow?.(report);
    return report;
  }

  /** The trained window as a delta: the weights now, stamped with the append times of the clicks it trained on. */
  private async syncDelta(): Promise<void> {
    const stamp = { newestClickAt: this.newestAppend, oldestClickAt: this.oldestAppend, trainingOffsets: this.offsets() };
    this.newestAppend = null;
    this.oldestAppend = null;
    this.lastSyncAt = this.o.sync!.now();
    await this.o.sync!.trained(this.snapshot(), stamp);
  }

  /** One pass over the window's sessions, from fresh hidden states (rows are laid out anew per window). */
  private train(data: SessionData): { events: number; meanLoss: number } {
    this.supportBuf = this.catalogue.support(this.supportBuf.length === this.catalogue.nItems ? this.supportBuf : undefined);
    this.trainer.setSupport(this.supportBuf);
    this.trainer.resetState();
    const iterator = new SessionParallelIterator(data, this.config.batchSize);
    return trainSteps(this.trainer, batchesOf(iterator));
  }

  /** Admitted items get rows: the model and its optimizer state are grown (or rows recycled) and the trainer rebuilt. */
  private applyCatalogueChanges(): void {
    const changes = this.catalogue.takeChanges();
    if (changes.nItems === this.model.arch.nItems && changes.recycled.length === 0) return;
    const grown = growCatalogue(this.model.toWeights(), this.trainer.optimizerState(), changes.nItems, changes.recycled, this.config.seed + this.windows);
    this.trainer.dispose();
    this.model.dispose();
    this.window.dropCarriedItems(new Set(changes.recycled));
    this.model = Gru4Rec.fromWeights(grown.weights);
    this.supportBuf = this.catalogue.support();
    this.trainer = new Gru4RecTrainer(this.model, this.config, this.supportBuf, { optimizerState: grown.state });
  }

  private async checkpoint(): Promise<string> {
    this.sinceCheckpoint = 0;
    return writeCheckpoint(this.o.checkpointDir, {
      offsets: this.offsets(),
      events: this.events,
      rejected: this.rejected,
      windows: this.windows,
      phase: this.phase,
      parent: this.parent,
      config: this.config,
      weights: this.model.toWeights(),
      optimizer: this.trainer.optimizerState(),
      catalogue: this.catalogue.state(),
      carry: this.window.carryState(),
      createdAt: new Date().toISOString(),
    });
  }
}

/**
 * The optimizer state a trainer starts with: a checkpoint's own; a starting model's saved state
 * when it was made by the same optimizer for weights of the same shapes; else none (zeros).
 */
function startingOptimizer(start: StartingModel | TrainerCheckpoint, config: Gru4RecConfig): { state: OptimizerState | null; why: string } {
  if ('optimizer' in start) return { state: start.optimizer, why: 'optimizer state resumed from the checkpoint' };
  if (!start.savedOptimizer) return { state: null, why: 'fresh optimizer (the starting model has no saved optimizer state)' };
  const misfit = optimizerStateFits(start.savedOptimizer, config);
  if (misfit) return { state: null, why: `fresh optimizer (the starting model's saved state does not fit: ${misfit})` };
  return { state: start.savedOptimizer.state, why: "optimizer state from the starting model (its training's accumulators)" };
}

function* batchesOf(iterator: SessionParallelIterator): Generator<SessionBatch> {
  for (let b = iterator.next(); b; b = iterator.next()) yield b;
}
