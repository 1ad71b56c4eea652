/**
 * The serving process: clicks → micro-batcher → decode (bad → dead-letter) → recommender
 * (batched engine step) → recommendations + changelog → commit, with offsets committed only
 * together with (exactly-once) or after (at-least-once) the outputs. An orchestrator: the
 * pieces live in their own modules (batch/micro-batcher, batch-assembler, batch-lifecycle,
 * committer, group-membership, state-restorer) and everything it does is told as events.
 *
 * Delivery modes:
 *  - exactly-once: every micro-batch is one Kafka transaction holding its recommendations, its
 *    dead letters, its changelog records and the consumer offsets. Any failure before the commit
 *    aborts it and restores the batch's partitions from the changelog, and nothing commits once
 *    this instance is no longer sure it owns the partitions (a rebalance, an eviction).
 *  - at-least-once: produce (acks=all), then commit offsets; after a crash the uncommitted tail
 *    is served again.
 */
import type { Admin, Consumer, Kafka, Producer } from 'kafkajs';
import { type Chunk, ChunkDroppedError, MicroBatcher } from '../batch/micro-batcher.ts';
import type { StreamrecConfig } from '../config/config.ts';
import { BrokerUnavailableError, describeError, StreamrecError } from '../errors/errors.ts';
import { makeCodecs } from '../ingest/codec.ts';
import { createKafka, ensureTopics } from '../kafka/client.ts';
import type { ServingStats } from '../metrics/serving-stats.ts';
import { BatchAssembler, type PendingRecord } from './batch-assembler.ts';
import { BatchLifecycle } from './batch-lifecycle.ts';
import { AtLeastOnceCommitter, type Committer, TransactionalCommitter } from './committer.ts';
import { consumerCrashError, fatalFormOf } from './fatal-errors.ts';
import { GroupMembership } from './group-membership.ts';
import { attachStats } from './instrumentation.ts';
import { STAGES } from '../metrics/instruments.ts';
import { Gru4RecRecommender, type SwappableModel, type SwapPolicy, type SwapReport } from './gru4rec-recommender.ts';
import { isStateful, type Recommender } from './recommender.ts';
import { ServingEvents } from './serving-events.ts';
import { resolveServingOptions, type ServingOptions } from './serving-options.ts';
import { StateRestorer } from './state-restorer.ts';

export interface ServingAppOptions {
  config: StreamrecConfig;
  recommender: Recommender;
  /** Stable per process slot: the transactional id derives from it, so a restarted instance fences its zombie. */
  instanceId: string;
  log?: (line: string) => void;
  /** Shorter consumer session timeouts for tests. */
  sessionTimeoutMs?: number;
  /** Called at every group (re)assignment with the partitions this instance now owns. */
  onAssignment?: (partitions: number[]) => void | Promise<void>;
}

/**
 * Idempotent producers retry retriable errors indefinitely (as the Java client does); anything
 * else fails the batch. Back-to-back transactions meet CONCURRENT_TRANSACTIONS while the broker
 * writes the previous commit markers (a few ms); kafkajs' default first retry of 300 ms would
 * dominate latency.
 */
const PRODUCER_RETRY = { initialRetryTime: 10, maxRetryTime: 1000, retries: Number.MAX_SAFE_INTEGER };
const TRANSACTION_TIMEOUT_MS = 15_000;

/** The batch that held a chunk was aborted (and its partitions' state restored): fetch it again. */
class BatchAbortedError extends Error {}

export class ServingApp {
  readonly events = new ServingEvents();
  readonly stats: ServingStats;
  private readonly o: ServingOptions;
  private readonly kafka: Kafka;
  private readonly membership = new GroupMembership();
  private readonly batcher: MicroBatcher<PendingRecord>;
  private readonly assembler: BatchAssembler;
  private restorer: StateRestorer | null = null;
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private committer: Committer | null = null;
  private consecutiveAborts = 0;
  private admin: Admin | null = null;
  /** Partitions whose first fetch since assignment was checked against the committed offset. */
  private readonly startChecked = new Set<number>();
  /** Newly assigned partitions whose restore is still to be checked against the committed offset. */
  private readonly restoreToVerify = new Set<number>();
  /** Per partition, the next offset this instance's own last commit recorded. */
  private readonly committedByMe = new Map<number, bigint>();
  /** Per partition, the committed offset noted when its last restore began. */
  private readonly committedAtRestore = new Map<number, string>();
  private fatalError: Error | null = null;
  // Timing capture for the stage / wait histograms (performance.now() ms). A partition has at
  // most one chunk queued or in flight, so one slot per partition holds that chunk's times.
  private readonly chunkFetchedAt = new Map<number, number>();
  private readonly chunkQueuedAt = new Map<number, number>();
  private readonly stageMs = new Float64Array(STAGES.length);
  private started = false;
  private stopping = false;

  constructor(private readonly opts: ServingAppOptions) {
    this.o = resolveServingOptions(opts.config, opts.instanceId, { sessionTimeoutMs: opts.sessionTimeoutMs });
    this.kafka = createKafka(opts.config, `-serving-${opts.instanceId}`);
    this.assembler = new BatchAssembler(makeCodecs(opts.config.wireFormat), opts.recommender, this.o.topics, this.o.ingest, this.o.deadLetterTopicMaxBytes);
    this.batcher = new MicroBatcher(this.o.maxBatch, (chunks) => this.processBatch(chunks));
    const log = opts.log ?? ((l) => process.stderr.write(`${l}\n`));
    this.events.on('log', log);
    this.stats = attachStats(this.events, opts.config);
  }

  get exactlyOnce(): boolean {
    return this.o.exactlyOnce;
  }

  /** Alive: the process can still serve (no fatal error). Ready: it is serving every partition it owns. */
  health(): { alive: boolean; ready: boolean; reason: string } {
    if (this.fatalError) return { alive: false, ready: false, reason: `fatal: ${describeError(this.fatalError)}` };
    if (!this.started || this.stopping) return { alive: true, ready: false, reason: this.stopping ? 'stopping' : 'starting' };
    if (this.restorer && this.restorer.restoring > 0) return { alive: true, ready: false, reason: `restoring ${this.restorer.restoring} partitions` };
    return { alive: true, ready: true, reason: `serving partitions [${this.membership.partitions}]` };
  }

  /** Resolves with the fatal error that stopped this instance (never resolves on a clean stop). */
  readonly fatal: Promise<Error> = new Promise((resolve) => this.events.once('fatal', ({ error }) => resolve(error)));

  async start(): Promise<void> {
    const { config } = this.opts;
    const admin = this.kafka.admin();
    try {
      await admin.connect();
    } catch (e) {
      throw new BrokerUnavailableError(`cannot reach Kafka at ${config.kafka.brokers.join(',')}: ${(e as Error).message}`, { cause: e });
    }
    this.admin = admin;
    await ensureTopics(admin, config);
    this.producer = this.kafka.producer(
      this.o.exactlyOnce
        ? {
            transactionalId: this.o.transactionalId,
            idempotent: true,
            maxInFlightRequests: 1,
            retry: PRODUCER_RETRY,
            // A crashed instance's open transaction blocks read_committed readers of its changelog
            // partitions until it times out, unless the same instance id comes back and fences it.
            transactionTimeout: TRANSACTION_TIMEOUT_MS,
          }
        : { idempotent: true, maxInFlightRequests: 1, retry: PRODUCER_RETRY },
    );
    await this.producer.connect();
    const consumer = this.kafka.consumer({
      groupId: this.o.groupId,
      readUncommitted: false,
      sessionTimeout: this.o.sessionTimeoutMs,
      heartbeatInterval: this.o.heartbeatIntervalMs,
      rebalanceTimeout: Math.max(this.o.sessionTimeoutMs, 10_000),
      maxWaitTimeInMs: this.o.maxWaitMs,
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    this.consumer = consumer;
    this.committer = this.o.exactlyOnce ? new TransactionalCommitter(this.producer, this.o.groupId) : new AtLeastOnceCommitter(this.producer, consumer);
    const rec = this.opts.recommender;
    if (isStateful(rec)) {
      this.restorer = new StateRestorer(this.kafka, this.o.topics.changelog, rec, {
        beforeRead: async (partitions) => {
          const committed = await this.committedOffsets();
          for (const p of partitions) this.committedAtRestore.set(p, committed.get(p) ?? '-1');
        },
        restored: (partitions, counts, reencoded, ms) => {
          const records = counts.restored + counts.reencodeNeeded + counts.dropped + counts.deleted + counts.invalid;
          this.events.emit('restored', { partitions, records, counts, reencoded, ms });
          if (records > 0) {
            const other = counts.reencodeNeeded + counts.dropped + counts.invalid;
            const detail =
              other > 0
                ? ` (${counts.reencodeNeeded} of another model re-encoded from history, ${counts.dropped} of another vocabulary dropped, ${counts.invalid} unreadable)`
                : '';
            this.log(`restored ${records} changelog records of partitions [${partitions}] in ${ms.toFixed(0)} ms${detail}`);
          }
        },
        failed: (partitions, error) => {
          this.log(`restoring partitions [${partitions}] failed: ${error.message}`);
          // Not served until assigned again: the failing batch restarts the consumer, which re-joins.
          for (const p of partitions) this.membership.disown(p);
          this.events.emit('restoreFailed', { partitions, error });
        },
      });
    }
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.onAssignment(e.payload.memberAssignment[this.o.topics.clicks] ?? []));
    consumer.on(consumer.events.REBALANCING, () => this.membership.markLost('the group is rebalancing'));
    consumer.on(consumer.events.CRASH, (e) => {
      if (!e.payload.restart && !this.stopping) this.fail(consumerCrashError(e.payload.error));
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.o.topics.clicks], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.o.clickPartitions,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const partition = batch.partition;
        const fetchedAt = performance.now();
        // A failed restore leaves the partition without state: ready() fails the batch so the
        // consumer restarts, re-joins and restores again, rather than serving from empty sessions.
        if (this.restorer) await this.restorer.ready(partition);
        if (!this.membership.owns(partition)) return;
        if (!this.startChecked.has(partition) && !(await this.restoredToCommitted(batch.topic, partition, batch.messages[0]?.offset))) return;
        // kafkajs heartbeats only when asked; a batch waiting behind a slow commit keeps the
        // membership alive, and a failed heartbeat (rebalance, eviction) stops the commit.
        const keepAlive = setInterval(() => {
          heartbeat().catch((e: Error) => this.membership.markLost(`heartbeat failed: ${e.message}`));
        }, this.o.heartbeatIntervalMs);
        try {
          for (let start = 0; start < batch.messages.length; start += this.o.maxBatch) {
            if (!isRunning() || isStale() || this.fatalError) return;
            const records = batch.messages.slice(start, start + this.o.maxBatch).map((message) => ({ partition, message }));
            this.chunkFetchedAt.set(partition, fetchedAt);
            this.chunkQueuedAt.set(partition, performance.now());
            try {
              await this.batcher.submit({ partition, records });
            } catch (e) {
              if (!(e instanceof BatchAbortedError || e instanceof ChunkDroppedError)) throw e;
              // Fetch the chunk again (after its partition's restore) if the partition is still ours.
              if (this.membership.owns(partition) && isRunning()) consumer.seek({ topic: batch.topic, partition, offset: records[0].message.offset });
              return;
            }
            const lastOffset = records[records.length - 1].message.offset;
            resolveOffset(lastOffset);
            this.events.emit('lag', { partition, records: Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(lastOffset) - 1n)) });
          }
        } finally {
          clearInterval(keepAlive);
        }
      },
    });
    this.started = true;
  }

  /**
   * The first fetch after a rejoin may start from a stale committed offset: kafkajs' offset fetch
   * does not wait for a pending transactional commit (no KIP-447 require_stable). A partition this
   * instance kept resumes after its own last commit, which it knows exactly. A newly assigned one
   * may also have been restored before the previous owner's last transaction: the committed offset
   * is noted before its changelog is read and read again here; if it moved, the partition is
   * restored again and resumes from the new offset. The loop ends once the previous owner has
   * stopped committing (it can only stop: it lost the partition). Returns whether to serve the batch.
   */
  private async restoredToCommitted(topic: string, partition: number, first: string | undefined): Promise<boolean> {
    if (first === undefined || !this.admin) return true;
    // What this instance committed itself is known exactly, stale fetch or not.
    const mine = this.committedByMe.get(partition);
    if (mine !== undefined && BigInt(first) < mine) {
      this.startChecked.add(partition);
      this.log(`partition ${partition}: fetched from ${first} after a rejoin, but this instance committed up to ${mine}; seeking forward`);
      this.consumer?.seek({ topic, partition, offset: String(mine) });
      return false;
    }
    const committed = (await this.committedOffsets()).get(partition) ?? '-1';
    const atRestore = this.committedAtRestore.get(partition);
    if (this.restorer && this.restoreToVerify.has(partition) && atRestore !== undefined && atRestore !== committed) {
      this.log(`partition ${partition}: committed offset moved ${atRestore} → ${committed} during its restore (the previous owner's last transaction); restoring again`);
      this.restorer.restore([partition]);
      this.consumer?.seek({ topic, partition, offset: committed });
      return false;
    }
    this.startChecked.add(partition);
    this.restoreToVerify.delete(partition);
    if (committed !== '-1' && BigInt(first) < BigInt(committed)) {
      this.log(`partition ${partition}: fetched from ${first} but ${committed} is committed; seeking forward`);
      this.consumer?.seek({ topic, partition, offset: committed });
      return false;
    }
    return true;
  }

  private async committedOffsets(): Promise<Map<number, string>> {
    const [t] = await this.admin!.fetchOffsets({ groupId: this.o.groupId, topics: [this.o.topics.clicks] });
    return new Map((t?.partitions ?? []).map((p) => [p.partition, p.offset]));
  }

  private onAssignment(partitions: number[]): void {
    const { revoked, added } = this.membership.assign(partitions);
    // After any rejoin kafkajs fetches committed offsets again, which can be stale (see
    // restoredToCommitted): every partition's next fetch is checked.
    this.startChecked.clear();
    for (const p of revoked) this.committedByMe.delete(p);
    for (const p of added) this.restoreToVerify.add(p);
    // Queued chunks of revoked partitions never reach the engine; an in-flight batch holding one
    // fails its membership check and aborts. State is dropped between batches only.
    if (revoked.length > 0) this.batcher.drop(new Set(revoked));
    const betweenBatches = this.batcher.idle();
    if (revoked.length > 0) void betweenBatches.then(() => this.opts.recommender.partitionsRevoked?.(revoked.filter((p) => !this.membership.owns(p))));
    this.restorer?.restore(added, betweenBatches);
    this.events.emit('assigned', { partitions: this.membership.partitions, revoked, added });
    void this.opts.onAssignment?.(this.membership.partitions);
  }

  private async processBatch(chunks: readonly Chunk<PendingRecord>[]): Promise<void> {
    const records = chunks.length === 1 ? chunks[0].records : chunks.flatMap((c) => c.records);
    const ticket = this.membership.ticket();
    const asm = this.assembler;
    const began = performance.now();
    asm.begin(records, Date.now());
    const decoded = performance.now();
    const partitions = asm.partitions();
    const modelVersion = this.opts.recommender.version;
    const lifecycle = new BatchLifecycle(() => this.rollback(partitions));
    try {
      await asm.step();
      const stepped = performance.now();
      lifecycle.advance('stepped');
      const producedAt = Date.now();
      const { messages, offsets } = asm.outputs(producedAt);
      lifecycle.advance('sent');
      let sent = Number.NaN;
      await this.committer!.commit(messages, offsets, () => {
        const why = this.membership.whyNotCommit(ticket, partitions);
        if (why) throw new BatchAbortedError(`not committing: ${why}`);
        sent = performance.now();
      });
      lifecycle.advance('committed');
      const committed = performance.now();
      this.timeStages(chunks, began, decoded, stepped, sent, committed);
      for (const t of offsets) for (const p of t.partitions) this.committedByMe.set(p.partition, BigInt(p.offset));
      this.consecutiveAborts = 0;
      this.events.emit('batchCommitted', {
        consumed: records.length,
        inputs: asm.inputs,
        outcomes: asm.outcomes,
        latencyMs: asm.latencyMs,
        recommendations: asm.recommendations,
        deadLetters: asm.deadLetterCounts,
        changelogRecords: asm.changelogRecords,
        modelVersion,
        stageMs: this.stageMs,
        waitMs: this.oldest(this.chunkFetchedAt, chunks, began),
      });
    } catch (e) {
      await lifecycle.abort(e);
      this.consecutiveAborts++;
      this.events.emit('batchAborted', { partitions, events: records.length, reason: describeError(e), error: e, consecutive: this.consecutiveAborts });
      const fatal = fatalFormOf(e);
      if (fatal) this.fail(fatal);
      else if (this.consecutiveAborts > this.o.maxConsecutiveAborts)
        this.fail(new StreamrecError('internal', `${this.consecutiveAborts} micro-batches in a row aborted; last: ${describeError(e)}`, { cause: e }));
      else this.log(`micro-batch of ${records.length} records on partitions [${partitions}] aborted: ${describeError(e)}`);
      throw new BatchAbortedError(describeError(e));
    }
  }

  /** Fills stageMs (indexed as STAGES) for a committed batch; `store` is not told apart from the recommender call (NaN). */
  private timeStages(chunks: readonly Chunk<PendingRecord>[], began: number, decoded: number, stepped: number, sent: number, committed: number): void {
    const t = this.stageMs;
    t[STAGES.indexOf('queue')] = this.oldest(this.chunkQueuedAt, chunks, began);
    t[STAGES.indexOf('decode')] = decoded - began;
    t[STAGES.indexOf('store')] = Number.NaN;
    t[STAGES.indexOf('engine')] = stepped - decoded;
    t[STAGES.indexOf('produce')] = sent - stepped;
    t[STAGES.indexOf('commit')] = committed - sent;
  }

  /** How long before `now` the earliest of the chunks' times (per partition) was. */
  private oldest(times: ReadonlyMap<number, number>, chunks: readonly Chunk<PendingRecord>[], now: number): number {
    let first = now;
    for (const c of chunks) first = Math.min(first, times.get(c.partition) ?? now);
    return now - first;
  }

  /**
   * Hot swap: `prepare` loads and warms the new model off the hot path (serving goes on); the
   * swap itself runs between two micro-batches, so every batch is served by one version.
   * A model that cannot be prepared or installed is refused and the current one keeps serving.
   */
  async swapModel(version: string, prepare: () => Promise<SwappableModel>, policy: SwapPolicy = 're-encode'): Promise<SwapReport | null> {
    const rec = this.opts.recommender;
    if (!(rec instanceof Gru4RecRecommender)) throw new Error(`model ${rec.version} cannot be hot-swapped`);
    let next: SwappableModel;
    try {
      next = await prepare();
    } catch (e) {
      this.refuseSwap(version, e);
      return null;
    }
    try {
      const report = await this.batcher.betweenBatches(() => rec.swapModel(next, policy));
      this.events.emit('modelSwapped', report);
      void this.trickleReencode(rec);
      this.log(
        `model ${report.from} → ${report.to}: ${report.sessions} live sessions ${policy === 're-encode' ? 're-encoded' : policy} in ${report.pauseMs.toFixed(0)} ms (+${report.itemsAdded} / −${report.itemsRemoved} items)`,
      );
      return report;
    } catch (e) {
      await next.engine.dispose().catch(() => undefined);
      this.refuseSwap(version, e);
      return null;
    }
  }

  /**
   * After a swap, sessions that have not clicked yet are re-encoded between micro-batches, at
   * most one batch's max wait of work at a time (sessions that click are re-encoded in their
   * batch), so a batch waits for re-encoding no longer than it may wait to fill.
   */
  private async trickleReencode(rec: Gru4RecRecommender): Promise<void> {
    while (rec.reencodePending > 0 && !this.stopping && !this.fatalError) {
      await this.batcher.betweenBatches(() => rec.reencodeFor(this.o.maxWaitMs));
    }
  }

  private refuseSwap(version: string, e: unknown): void {
    const reason = describeError(e);
    this.events.emit('swapRefused', { version, reason });
    this.log(`model ${version} refused, still serving ${this.opts.recommender.version}: ${reason}`);
  }

  /**
   * The batch will not commit: its changelog records are forgotten and its partitions lose their
   * in-memory state, which is restored from the changelog (the state after the last committed
   * batch) before their records are fetched again.
   */
  private rollback(partitions: number[]): void {
    const rec = this.opts.recommender;
    if (!isStateful(rec)) return;
    rec.discardChangelog();
    rec.partitionsRevoked(partitions);
    this.restorer?.restore(partitions.filter((p) => this.membership.owns(p)));
  }

  private fail(error: Error): void {
    if (this.fatalError) return;
    this.fatalError = error;
    this.log(`fatal: ${describeError(error)}`);
    // A process that can no longer serve must not write again either: its producer would keep
    // retrying (and could re-initialise its transactional id, fencing the instance that replaced it).
    void this.producer?.disconnect().catch(() => undefined);
    this.events.emit('fatal', { error });
  }

  private log(line: string): void {
    this.events.emit('log', `serving ${this.opts.instanceId}: ${line}`);
  }

  /** Graceful: the in-flight micro-batch finishes and commits (or aborts), then clients close. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.consumer?.disconnect();
    await this.batcher.idle();
    await this.producer?.disconnect();
    await this.admin?.disconnect();
    this.admin = null;
    await this.opts.recommender.close?.();
    this.consumer = null;
    this.producer = null;
  }
}
