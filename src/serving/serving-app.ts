/**
 * The serving process: clicks → micro-batcher → decode (bad → dead-letter) → recommender
 * (batched engine step) → recommendations + changelog → commit, with offsets committed only
 * together with (exactly-once) or after (at-least-once) the outputs. An orchestrator: the
 * pieces live in their own modules (batch/micro-batcher, batch-assembler, batch-lifecycle,
 * committer, group-membership, state-restorer) and everything it does is told as events.
 *
 * Commit spans (src/serving/commit-span.ts): one transaction or offset commit holds several
 * micro-batches. Each batch's outputs are sent as soon as it is scored (the send overlaps the
 * next batch's engine step); the span commits once serving.commit.intervalMs has passed since it
 * opened, once it holds serving.commit.maxRecords input records, or as soon as no input is
 * waiting (at low load every batch, at high load every interval); intervalMs 0 commits every
 * micro-batch. The changelog is drained once per commit: one record per touched session.
 *
 * Delivery modes:
 *  - exactly-once: a span is one Kafka transaction holding its recommendations, dead letters,
 *    changelog records and the consumer offsets. Any failure before the commit aborts the whole
 *    span: every partition any of its batches touched is restored from the changelog and
 *    fetched again from the span's first offset. Nothing commits once this instance is no
 *    longer sure it owns the partitions (a rebalance, an eviction): a rebalance while a span is
 *    open costs up to one interval of work, served again. Outputs become visible at the commit.
 *  - at-least-once: every batch is produced (acks=all) as soon as it is scored; the span's
 *    offsets are committed after all of them; after a crash the uncommitted tail is served again.
 *
 * A fetch (kafkajs eachBatch) hands its records over chunk by chunk and then waits for the span
 * holding its last chunk: kafkajs moves past a record (resolveOffset, next fetch) only once it
 * is committed, so an aborted span's records are always fetched again (heartbeats go on meanwhile).
 */
import type { ClientAdmin, ClientConsumer, ClientProducer, KafkaClient } from '../kafka/kafka-client.ts';
import { type Chunk, ChunkDroppedError, MicroBatcher } from '../batch/micro-batcher.ts';
import type { StreamrecConfig } from '../config/config.ts';
import { BrokerUnavailableError, describeError, StreamrecError } from '../errors/errors.ts';
import { makeCodecs } from '../ingest/codec.ts';
import { ensureTopics } from '../kafka/client.ts';
import { createKafkaClient } from '../kafka/create-client.ts';
import type { ServingStats } from '../metrics/serving-stats.ts';
import { BatchAssembler, type PendingRecord } from './batch-assembler.ts';
import { CommitSpan, type SpanLimits } from './commit-span.ts';
import { AtLeastOnceCommitter, type Committer, TransactionalCommitter } from './committer.ts';
import { consumerCrashError, fatalFormOf } from './fatal-errors.ts';
import { GroupMembership } from './group-membership.ts';
import { attachStats } from './instrumentation.ts';
import { STAGES } from '../metrics/instruments.ts';
import { Gru4RecRecommender, type SwappableModel, type SwapPolicy, type SwapReport } from './gru4rec-recommender.ts';
import { isStateful, type Recommender } from './recommender.ts';
import { type BatchCommitted, ServingEvents } from './serving-events.ts';
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

/** The span that held a chunk was aborted (and its partitions' state restored): fetch it again. */
class BatchAbortedError extends Error {}

/** A batch of the open span: what it tells once the span commits, and when its outputs were scored and acknowledged. */
interface SpanBatch {
  event: BatchCommitted;
  stepped: number;
  sent: number;
}

export class ServingApp {
  readonly events = new ServingEvents();
  readonly stats: ServingStats;
  private readonly o: ServingOptions;
  private readonly kafka: KafkaClient;
  private readonly membership = new GroupMembership();
  private readonly batcher: MicroBatcher<PendingRecord, CommitSpan<SpanBatch>>;
  /** The open commit span, null between spans; only the batcher's loop opens, commits or aborts it. */
  private span: CommitSpan<SpanBatch> | null = null;
  private readonly spanLimits: SpanLimits;
  private readonly assembler: BatchAssembler;
  private restorer: StateRestorer | null = null;
  private consumer: ClientConsumer | null = null;
  private producer: ClientProducer | null = null;
  private committer: Committer | null = null;
  private consecutiveAborts = 0;
  private admin: ClientAdmin | null = null;
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
  private started = false;
  private stopping = false;

  constructor(private readonly opts: ServingAppOptions) {
    this.o = resolveServingOptions(opts.config, opts.instanceId, { sessionTimeoutMs: opts.sessionTimeoutMs });
    this.kafka = createKafkaClient(opts.config, `-serving-${opts.instanceId}`);
    this.assembler = new BatchAssembler(makeCodecs(opts.config.wireFormat), opts.recommender, this.o.topics, this.o.ingest, this.o.deadLetterTopicMaxBytes);
    this.spanLimits = { intervalMs: this.o.commitIntervalMs, maxRecords: this.o.commitMaxRecords };
    // No input waiting: nothing more can join the open span before its fetches move on, which
    // they do only once it has committed, so it commits now rather than at its interval.
    this.batcher = new MicroBatcher(
      this.o.maxBatch,
      (chunks) => this.processBatch(chunks),
      () => this.commitOpenSpan(),
    );
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
            transactionTimeoutMs: TRANSACTION_TIMEOUT_MS,
          }
        : { idempotent: true, maxInFlightRequests: 1, retry: PRODUCER_RETRY },
    );
    await this.producer.connect();
    const consumer = this.kafka.consumer({
      groupId: this.o.groupId,
      readUncommitted: false,
      fromBeginning: true,
      sessionTimeoutMs: this.o.sessionTimeoutMs,
      heartbeatIntervalMs: this.o.heartbeatIntervalMs,
      rebalanceTimeoutMs: Math.max(this.o.sessionTimeoutMs, 10_000),
      maxWaitTimeInMs: this.o.maxWaitMs,
      maxBytesPerPartition: 4 * 1024 * 1024,
      // librdkafka builds eachBatch batches client-side (32 records by default): one chunk's worth.
      maxBatchRecords: this.o.maxBatch,
      onAssigned: (assignment) => this.onAssignment(assignment[this.o.topics.clicks] ?? []),
      onRebalancing: () => this.membership.markLost('the group is rebalancing'),
      onCrash: (error) => {
        if (!this.stopping) this.fail(consumerCrashError(error));
      },
    });
    this.consumer = consumer;
    this.committer = this.o.exactlyOnce ? new TransactionalCommitter(this.producer, consumer) : new AtLeastOnceCommitter(this.producer, consumer);
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
    await consumer.connect();
    await consumer.subscribe([this.o.topics.clicks]);
    await consumer.run({
      autoResolve: false,
      partitionsConsumedConcurrently: this.o.clickPartitions,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const partition = batch.partition;
        const fetchedAt = performance.now();
        // A failed restore leaves the partition without state: ready() fails the batch so the
        // consumer restarts, re-joins and restores again, rather than serving from empty sessions.
        if (this.restorer) await this.restorer.ready(partition);
        if (!this.membership.owns(partition)) return;
        if (!this.startChecked.has(partition) && !(await this.restoredToCommitted(batch.topic, partition, batch.messages[0]?.offset))) return;
        // kafkajs heartbeats only when asked; a fetch waiting for its span's commit keeps the
        // membership alive, and a failed heartbeat (rebalance, eviction) stops the commit.
        const keepAlive = setInterval(() => {
          heartbeat().catch((e: Error) => this.membership.markLost(`heartbeat failed: ${e.message}`));
        }, this.o.heartbeatIntervalMs);
        // This fetch's chunks whose span has not committed yet, oldest first: kafkajs may move
        // past a record only once its span has committed, and after an abort the partition is
        // fetched again from the first of them (the span's first offset of this partition).
        const held: Array<{ span: CommitSpan<SpanBatch>; first: string; last: string }> = [];
        const settle = () => {
          while (held.length > 0 && held[0].span.committed) {
            const { last } = held.shift()!;
            resolveOffset(last);
            this.events.emit('lag', { partition, records: Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(last) - 1n)) });
          }
        };
        const fetchAgain = (from: string) => {
          // After its partition's restore, if the partition is still ours.
          if (this.membership.owns(partition) && isRunning()) consumer.seek(batch.topic, partition, from);
        };
        try {
          for (let start = 0; start < batch.messages.length; start += this.o.maxBatch) {
            if (!isRunning() || isStale() || this.fatalError) break;
            const records = batch.messages.slice(start, start + this.o.maxBatch).map((message) => ({ partition, message }));
            this.chunkFetchedAt.set(partition, fetchedAt);
            this.chunkQueuedAt.set(partition, performance.now());
            let span: CommitSpan<SpanBatch>;
            try {
              span = await this.batcher.submit({ partition, records });
            } catch (e) {
              if (!(e instanceof BatchAbortedError || e instanceof ChunkDroppedError)) throw e;
              settle();
              fetchAgain(held[0]?.first ?? records[0].message.offset);
              return;
            }
            held.push({ span, first: records[0].message.offset, last: records[records.length - 1].message.offset });
            settle();
          }
          // Spans commit in order: once the one holding the last chunk has, all have.
          const last = held.at(-1);
          if (last) {
            try {
              await last.span.settled;
            } catch {
              settle();
              if (held.length > 0) fetchAgain(held[0].first);
              return;
            }
            settle();
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
      this.consumer?.seek(topic, partition, String(mine));
      return false;
    }
    const committed = (await this.committedOffsets()).get(partition) ?? '-1';
    const atRestore = this.committedAtRestore.get(partition);
    if (this.restorer && this.restoreToVerify.has(partition) && atRestore !== undefined && atRestore !== committed) {
      this.log(`partition ${partition}: committed offset moved ${atRestore} → ${committed} during its restore (the previous owner's last transaction); restoring again`);
      this.restorer.restore([partition]);
      this.consumer?.seek(topic, partition, committed);
      return false;
    }
    this.startChecked.add(partition);
    this.restoreToVerify.delete(partition);
    if (committed !== '-1' && BigInt(first) < BigInt(committed)) {
      this.log(`partition ${partition}: fetched from ${first} but ${committed} is committed; seeking forward`);
      this.consumer?.seek(topic, partition, committed);
      return false;
    }
    return true;
  }

  private async committedOffsets(): Promise<Map<number, string>> {
    const partitions = await this.admin!.fetchOffsets(this.o.groupId, this.o.topics.clicks);
    return new Map(partitions.map((p) => [p.partition, p.offset]));
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

  /**
   * One micro-batch into the open span (opened by it if none is): decode, engine step, outputs
   * handed to the span's send chain; the span commits here if it is due. Resolves with the span,
   * whose commit the chunks' fetches wait for. Any failure aborts the whole span.
   */
  private async processBatch(chunks: readonly Chunk<PendingRecord>[]): Promise<CommitSpan<SpanBatch>> {
    const open = this.span;
    const doomed = open && this.membership.whyNotCommit(open.ticket, open.partitions);
    if (open && doomed) {
      // It can no longer commit: abort it now rather than add work to it. This batch's chunks
      // are fetched again (after the span's partitions are restored); no state changed for them.
      await this.abortSpan(open, new BatchAbortedError(`not committing: ${doomed}`));
      throw new BatchAbortedError(`not committing: ${doomed}`);
    }
    const records = chunks.length === 1 ? chunks[0].records : chunks.flatMap((c) => c.records);
    const began = performance.now();
    const span = open ?? this.openSpan(began);
    // Before the step: from here on an abort rolls these partitions back.
    for (const c of chunks) span.addChunk(c.partition, c.records[0].message.offset, c.records[c.records.length - 1].message.offset, c.records.length);
    const asm = this.assembler;
    asm.begin(records, Date.now());
    const decoded = performance.now();
    const modelVersion = this.opts.recommender.version;
    try {
      await asm.step();
      const stepped = performance.now();
      span.lifecycle.advance('stepped');
      const messages = asm.outputs(Date.now());
      const entry: SpanBatch = { event: this.served(chunks, records.length, modelVersion, began, decoded, stepped), stepped, sent: stepped };
      span.batches.push(entry);
      // Not awaited: the broker acknowledges while the next batch is stepped (flushed before the commit).
      span.send(async () => {
        if (messages.length > 0) await this.committer!.send(messages);
        entry.sent = performance.now();
      });
      span.lifecycle.advance('sent');
      if (span.due(performance.now(), this.spanLimits)) await this.commitSpan(span);
      return span;
    } catch (e) {
      // A span that committed stays committed (a failing event listener); the consumer restarts.
      if (span.committed) throw e;
      await this.abortSpan(span, e);
      throw new BatchAbortedError(describeError(e));
    }
  }

  private openSpan(now: number): CommitSpan<SpanBatch> {
    const span = new CommitSpan<SpanBatch>(this.membership.ticket(), now, (partitions) => this.rollback(partitions));
    span.send(() => this.committer!.begin());
    this.span = span;
    return span;
  }

  /** What a batch tells once its span has committed: copies, since the assembler's buffers serve the next batch. */
  private served(chunks: readonly Chunk<PendingRecord>[], consumed: number, modelVersion: string, began: number, decoded: number, stepped: number): BatchCommitted {
    const asm = this.assembler;
    const stageMs = new Float64Array(STAGES.length);
    stageMs[STAGES.indexOf('queue')] = this.oldest(this.chunkQueuedAt, chunks, began);
    stageMs[STAGES.indexOf('decode')] = decoded - began;
    // `store` is not told apart from the recommender call; produce and commit are filled at the commit.
    stageMs[STAGES.indexOf('store')] = Number.NaN;
    stageMs[STAGES.indexOf('engine')] = stepped - decoded;
    return {
      consumed,
      inputs: asm.inputs.slice(),
      outcomes: asm.outcomes.slice(),
      latencyMs: asm.latencyMs.slice(0, asm.inputs.length),
      recommendations: asm.recommendations,
      deadLetters: new Map(asm.deadLetterCounts),
      changelogRecords: 0,
      modelVersion,
      stageMs,
      waitMs: this.oldest(this.chunkFetchedAt, chunks, began),
    };
  }

  /**
   * Commits the span: its changelog (drained now, between two engine steps: the state after its
   * last batch, one record per session), then, once every send of it is acknowledged, its
   * offsets and the commit point, if this instance still owns its partitions in the generation
   * it opened in. Throws (the caller aborts the span) otherwise.
   */
  private async commitSpan(span: CommitSpan<SpanBatch>): Promise<void> {
    const changelog = this.assembler.changelog();
    const flushFrom = performance.now();
    await span.flush();
    const flushed = performance.now();
    const offsets = span.nextOffsets();
    await this.committer!.commit(changelog.messages, [{ topic: this.o.topics.clicks, partitions: offsets }], () => {
      const why = this.membership.whyNotCommit(span.ticket, span.partitions);
      if (why) throw new BatchAbortedError(`not committing: ${why}`);
    });
    span.markCommitted();
    if (this.span === span) this.span = null;
    const committed = performance.now();
    for (const o of offsets) this.committedByMe.set(o.partition, BigInt(o.offset));
    this.consecutiveAborts = 0;
    const produce = STAGES.indexOf('produce');
    const commit = STAGES.indexOf('commit');
    for (let i = 0; i < span.batches.length; i++) {
      const b = span.batches[i];
      b.event.stageMs[produce] = b.sent - b.stepped;
      b.event.stageMs[commit] = committed - b.sent;
      if (i === span.batches.length - 1) b.event.changelogRecords = changelog.records;
      this.events.emit('batchCommitted', b.event);
    }
    this.events.emit('spanCommitted', {
      batches: span.batches.length,
      records: span.records,
      changelogRecords: changelog.records,
      partitions: span.partitions,
      spanMs: committed - span.openedAt,
      flushMs: flushed - flushFrom,
      commitMs: committed - flushed,
    });
  }

  /** The batcher ran dry: the open span (if any) commits now; a failure aborts it. Never rejects. */
  private async commitOpenSpan(): Promise<void> {
    const span = this.span;
    if (!span) return;
    try {
      await this.commitSpan(span);
    } catch (e) {
      if (!span.committed) await this.abortSpan(span, e);
      else this.fail(new StreamrecError('internal', `after a commit: ${describeError(e)}`, { cause: e }));
    }
  }

  /**
   * Aborts the whole span: the transaction (once its sends have finished), then the rollback of
   * every partition any of its batches touched (restored from the changelog), the queued chunks
   * of those partitions (their records come after the span's and are fetched again with it), and
   * the fetches waiting for it. Never rejects: a failure here is reported, or fatal.
   */
  private async abortSpan(span: CommitSpan<SpanBatch>, e: unknown): Promise<void> {
    if (this.span === span) this.span = null;
    if (span.committed || span.aborted) return;
    let cause = e;
    await span.quiesce();
    try {
      await this.committer!.abort(e);
    } catch (abortError) {
      cause = abortError;
    }
    await span.abort(cause);
    const partitions = span.partitions;
    this.batcher.drop(new Set(partitions));
    this.consecutiveAborts++;
    this.events.emit('batchAborted', { partitions, events: span.records, reason: describeError(cause), error: cause, consecutive: this.consecutiveAborts });
    const fatal = fatalFormOf(cause);
    if (fatal) this.fail(fatal);
    else if (this.consecutiveAborts > this.o.maxConsecutiveAborts)
      this.fail(new StreamrecError('internal', `${this.consecutiveAborts} commit spans in a row aborted; last: ${describeError(cause)}`, { cause }));
    else this.log(`commit span of ${span.batches.length} micro-batches, ${span.records} records on partitions [${partitions}] aborted: ${describeError(cause)}`);
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
   * The span will not commit: its changelog records are forgotten and the partitions of all its
   * batches lose their in-memory state, which is restored from the changelog (the state after
   * the last committed span) before their records are fetched again.
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

  /** Graceful: the in-flight micro-batch finishes and its span commits (or aborts), then clients close. */
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
