/**
 * The serving topology: clicks → decode (bad → dead-letter) → recommender (batched) →
 * recommendations, with offsets committed only once the output is acknowledged.
 *
 * Delivery modes:
 *  - exactly-once: every micro-batch is one Kafka transaction holding its recommendations, its
 *    dead letters and the consumer offsets (consume-transform-produce). Downstream consumers with
 *    read_committed see each input's output exactly once, even across crashes.
 *  - at-least-once: produce (acks=all), then commit offsets. Lower latency per batch (no
 *    transaction round trips); after a crash, outputs of the uncommitted tail are produced again.
 */
import type { Consumer, Kafka, KafkaMessage, Producer, Message } from 'kafkajs';
import type { StreamrecConfig } from '../config/config.ts';
import { createKafka, ensureTopics } from '../kafka/client.ts';
import { DecodeError, makeCodecs, validateClick, type Codecs, type DeadLetterKind } from '../ingest/codec.ts';
import { isStateful, type ClickInput, type Recommender, type RecommendOutcome } from './recommender.ts';
import { readTopicToEnd } from '../kafka/read-to-end.ts';
import { createServingStats, type ServingStats } from '../metrics/serving-stats.ts';

export interface ServingAppOptions {
  config: StreamrecConfig;
  recommender: Recommender;
  /** Stable per process slot: the transactional id derives from it, so a restarted instance fences its zombie. */
  instanceId: string;
  log?: (line: string) => void;
  /** Extra kafkajs consumer settings for tests (e.g. shorter session timeouts). */
  sessionTimeoutMs?: number;
  /** Called at every group (re)assignment with the partitions this instance now owns. */
  onAssignment?: (partitions: number[]) => void | Promise<void>;
}

/**
 * Idempotent producers retry retriable errors indefinitely (as the Java client does); anything
 * else fails the batch.
 * Back-to-back transactions meet CONCURRENT_TRANSACTIONS while the broker writes the previous
 * commit markers (a few ms); kafkajs' default first retry of 300 ms would dominate latency.
 */
const PRODUCER_RETRY = { initialRetryTime: 10, maxRetryTime: 1000, retries: Number.MAX_SAFE_INTEGER };

const TRANSACTION_TIMEOUT_MS = 15_000;

interface Pending {
  partition: number;
  message: KafkaMessage;
}

export class ServingApp {
  readonly stats: ServingStats;
  private readonly kafka: Kafka;
  private readonly codecs: Codecs;
  private consumer: Consumer | null = null;
  private producer: Producer | null = null;
  private owned = new Set<number>();
  /** Partitions whose session state is being restored from the changelog; served only after. */
  private readonly restoring = new Map<number, Promise<void>>();
  private readonly queue: Array<{ topic: string; chunk: Pending[]; resolve: () => void; reject: (e: Error) => void }> = [];
  private pumping = false;
  private readonly log: (line: string) => void;
  private readonly inputs: ClickInput[] = [];
  private readonly outcomes: RecommendOutcome[] = [];

  constructor(private readonly opts: ServingAppOptions) {
    this.kafka = createKafka(opts.config, `-serving-${opts.instanceId}`);
    this.codecs = makeCodecs(opts.config.wireFormat);
    this.log = opts.log ?? ((l) => process.stderr.write(l + '\n'));
    this.stats = createServingStats(opts.config.serving.topK);
  }

  get exactlyOnce(): boolean {
    return this.opts.config.serving.delivery === 'exactly-once';
  }

  async start(): Promise<void> {
    const { config } = this.opts;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, config);
    } finally {
      await admin.disconnect();
    }
    this.producer = this.kafka.producer(
      this.exactlyOnce
        ? {
            transactionalId: `${config.groups.serving}-${this.opts.instanceId}`,
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
    const sessionTimeout = this.opts.sessionTimeoutMs ?? 30_000;
    this.consumer = this.kafka.consumer({
      groupId: config.groups.serving,
      readUncommitted: false,
      sessionTimeout,
      heartbeatInterval: Math.max(100, Math.floor(sessionTimeout / 10)),
      rebalanceTimeout: Math.max(sessionTimeout, 10_000),
      maxWaitTimeInMs: Math.max(1, config.serving.batch.maxWaitMs),
      maxBytesPerPartition: 4 * 1024 * 1024,
    });
    this.consumer.on(this.consumer.events.GROUP_JOIN, (e) => {
      const assigned = new Set(e.payload.memberAssignment[config.topics.clicks.name] ?? []);
      const revoked = [...this.owned].filter((p) => !assigned.has(p));
      if (revoked.length > 0) this.opts.recommender.partitionsRevoked?.(revoked);
      const added = [...assigned].filter((p) => !this.owned.has(p));
      this.owned = assigned;
      if (added.length > 0) this.restore(added);
      void this.opts.onAssignment?.([...assigned].sort((a, b) => a - b));
    });
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [config.topics.clicks.name], fromBeginning: true });
    await this.consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: config.topics.clicks.partitions,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        await this.restoring.get(batch.partition);
        // A failed restore leaves the partition without state: fail the batch so the consumer
        // restarts, re-joins and restores again, rather than serving from empty sessions.
        if (isStateful(this.opts.recommender) && !this.owned.has(batch.partition)) throw new Error(`partition ${batch.partition}: session state not restored`);
        const max = config.serving.batch.maxSize;
        for (let start = 0; start < batch.messages.length; start += max) {
          if (!isRunning() || isStale()) return;
          const chunk = batch.messages.slice(start, start + max).map((message) => ({ partition: batch.partition, message }));
          await this.enqueue(batch.topic, chunk);
          resolveOffset(chunk[chunk.length - 1].message.offset);
          await heartbeat();
        }
      },
    });
  }

  /**
   * Restores the session state of newly owned partitions from the changelog (stateful models
   * only). The state there was committed in the same transactions as the consumer offsets, so
   * it is exactly the state after the last committed input.
   */
  private restore(partitions: number[]): void {
    const rec = this.opts.recommender;
    if (!isStateful(rec)) return;
    const topic = this.opts.config.topics.sessionChangelog.name;
    const started = performance.now();
    const job = readTopicToEnd(
      this.kafka,
      topic,
      (partition, messages) => {
        this.stats.restoredRecords += rec.restorePartition(messages.map((m) => ({ key: m.key, value: m.value, partition })));
      },
      { partitions },
    ).then(
      (n) => {
        if (n > 0) this.log(`serving ${this.opts.instanceId}: restored ${n} changelog records of partitions [${partitions}] in ${(performance.now() - started).toFixed(0)} ms`);
      },
      (e: Error) => {
        this.log(`serving ${this.opts.instanceId}: restoring partitions [${partitions}] failed: ${e.message}`);
        // Not owned as far as state goes: the consumer's restart re-joins and restores them again.
        for (const p of partitions) {
          this.owned.delete(p);
          this.restoring.delete(p);
        }
        throw e;
      },
    );
    // Partitions without traffic never await their restore; its failure is handled above.
    job.catch(() => undefined);
    for (const p of partitions) this.restoring.set(p, job);
  }

  /**
   * The micro-batcher across partitions: partitions fetch concurrently and each waits for its
   * chunk; whatever chunks are queued when the engine frees up are merged (up to maxSize events)
   * into one engine pass and one transaction. One transaction at a time per producer. A session
   * lives in one partition and a partition has at most one chunk queued, so per-session order holds.
   */
  private enqueue(topic: string, chunk: Pending[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ topic, chunk, resolve, reject });
      void this.pump();
    });
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      const max = this.opts.config.serving.batch.maxSize;
      while (this.queue.length > 0) {
        const group = [this.queue.shift()!];
        let size = group[0].chunk.length;
        while (this.queue.length > 0 && size + this.queue[0].chunk.length <= max) {
          size += this.queue[0].chunk.length;
          group.push(this.queue.shift()!);
        }
        const merged = group.length === 1 ? group[0].chunk : group.flatMap((g) => g.chunk);
        try {
          await this.processChunk(group[0].topic, merged);
          for (const g of group) g.resolve();
        } catch (e) {
          for (const g of group) g.reject(e as Error);
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  private async processChunk(topic: string, chunk: Pending[]): Promise<void> {
    const { config } = this.opts;
    const deadLetters: Message[] = [];
    const inputs = this.inputs;
    const sources: Pending[] = [];
    inputs.length = 0;
    const now = Date.now();
    for (const p of chunk) {
      const m = p.message;
      try {
        const ev = this.codecs.click.decode(m.value);
        const bad = validateClick(ev, m.key);
        if (bad) throw new DecodeError(bad.kind, bad.reason);
        inputs.push({ sessionId: ev.sessionId, itemId: ev.itemId, partition: p.partition, timestamp: ev.timestamp });
        sources.push(p);
      } catch (e) {
        const kind: DeadLetterKind = e instanceof DecodeError ? e.deadLetterKind : 'MALFORMED';
        deadLetters.push(this.deadLetter(topic, p, kind, (e as Error).message, now));
      }
    }
    const outcomes = this.outcomes;
    outcomes.length = inputs.length;
    if (inputs.length > 0) await this.opts.recommender.recommendBatch(inputs, outcomes);
    const producedAt = Date.now();
    const recs: Message[] = [];
    for (let i = 0; i < inputs.length; i++) {
      const o = outcomes[i];
      const src = sources[i];
      if (!o.ok) {
        deadLetters.push(this.deadLetter(topic, src, o.kind, o.reason, producedAt));
        continue;
      }
      const appended = Number(src.message.timestamp);
      const latencyMs = producedAt - appended;
      const ev = inputs[i];
      recs.push({
        key: ev.sessionId,
        value: this.codecs.recommendation.encode({
          sessionId: ev.sessionId,
          sourceTopic: topic,
          sourcePartition: src.partition,
          sourceOffset: Number(src.message.offset),
          eventTimestamp: ev.timestamp,
          itemIds: o.itemIds,
          scores: o.scores,
          modelVersion: this.opts.recommender.version,
          producedAt,
          latencyMs,
        }),
        timestamp: String(producedAt),
      });
    }
    const topicMessages = [];
    if (recs.length > 0) topicMessages.push({ topic: config.topics.recommendations.name, messages: recs });
    if (deadLetters.length > 0) topicMessages.push({ topic: config.topics.deadLetter.name, messages: deadLetters });
    const rec = this.opts.recommender;
    if (isStateful(rec)) {
      const changes = rec.drainChangelog();
      if (changes.length > 0) {
        topicMessages.push({
          topic: config.topics.sessionChangelog.name,
          messages: changes.map((c) => ({ key: c.key, value: c.value, partition: c.partition })),
        });
        this.stats.changelogRecordsOut += changes.length;
      }
    }
    const offsets = this.nextOffsets(topic, chunk);
    const producer = this.producer!;
    if (this.exactlyOnce) {
      const tx = await producer.transaction();
      try {
        if (topicMessages.length > 0) await tx.sendBatch({ topicMessages, acks: -1 });
        await tx.sendOffsets({ consumerGroupId: config.groups.serving, topics: offsets });
        await tx.commit();
      } catch (e) {
        this.stats.transactionsAborted++;
        await tx.abort().catch(() => undefined);
        // The recommender already advanced these sessions; their state is now ahead of the
        // committed offsets: drop it and restore the committed state before the events come again.
        const partitions = [...new Set(chunk.map((p) => p.partition))];
        if (isStateful(rec)) rec.discardChangelog();
        rec.partitionsRevoked?.(partitions);
        this.restore(partitions);
        throw e;
      }
    } else {
      if (topicMessages.length > 0) await producer.sendBatch({ topicMessages, acks: -1 });
      await this.consumer!.commitOffsets(offsets.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, ...p }))));
    }
    // Only now is the batch's output durable: account for it.
    for (let i = 0; i < inputs.length; i++) {
      const o = outcomes[i];
      if (!o.ok) continue;
      this.stats.quality.observe(inputs[i].sessionId, inputs[i].itemId);
      this.stats.quality.emitted(inputs[i].sessionId, o.itemIds);
      const ms = producedAt - Number(sources[i].message.timestamp);
      this.stats.latency.record(ms);
      this.stats.recentLatency.record(ms);
    }
    this.stats.eventsIn += chunk.length;
    this.stats.recommendationsOut += recs.length;
    this.stats.batches++;
  }

  private nextOffsets(topic: string, chunk: Pending[]) {
    const last = new Map<number, bigint>();
    for (const p of chunk) {
      const o = BigInt(p.message.offset);
      const prev = last.get(p.partition);
      if (prev === undefined || o > prev) last.set(p.partition, o);
    }
    return [{ topic, partitions: [...last].map(([partition, o]) => ({ partition, offset: String(o + 1n) })) }];
  }

  private deadLetter(topic: string, p: Pending, kind: DeadLetterKind, reason: string, now: number): Message {
    this.stats.deadLetters[kind]++;
    return {
      key: p.message.key,
      value: this.codecs.deadLetter.encode({
        sourceTopic: topic,
        sourcePartition: p.partition,
        sourceOffset: Number(p.message.offset),
        key: p.message.key,
        value: p.message.value,
        errorKind: kind,
        reason,
        failedAt: now,
      }),
    };
  }

  /** Graceful: the in-flight micro-batch finishes and commits, then clients close. */
  async stop(): Promise<void> {
    await this.consumer?.disconnect();
    while (this.pumping) await new Promise((r) => setTimeout(r, 5));
    await this.producer?.disconnect();
    await this.opts.recommender.close?.();
    this.consumer = null;
    this.producer = null;
  }
}
