import type { KafkaMessage, Message, TopicMessages } from 'kafkajs';
import type { DeadLetterKind } from '../errors/errors.ts';
import { decodeClickRecord, type IngestLimits } from '../ingest/click-decoder.ts';
import type { Codecs } from '../ingest/codec.ts';
import { buildDeadLetter, type DeadLetterMessage, packDeadLetters } from '../ingest/dead-letter.ts';
import { Rejection } from '../ingest/rejection.ts';
import { type ClickInput, isStateful, type Recommender, type RecommendOutcome } from './recommender.ts';
import { splitServedVersion } from './served-version.ts';

export interface PendingRecord {
  partition: number;
  message: KafkaMessage;
}

/**
 * Turns one micro-batch of consumed records into what it writes: decode (bad records become
 * dead letters), one batched recommender call, then the recommendation and dead-letter
 * messages. The changelog is drained apart (`changelog`), once per commit span rather than per
 * batch: one record per touched session per commit. Buffers are reused from batch to batch; the
 * result is valid until the next `begin`.
 */
export class BatchAssembler {
  readonly inputs: ClickInput[] = [];
  readonly outcomes: RecommendOutcome[] = [];
  latencyMs = new Float64Array(256);
  readonly deadLetterCounts = new Map<DeadLetterKind, number>();
  recommendations = 0;
  private readonly sources: PendingRecord[] = [];
  private readonly deadLetters: DeadLetterMessage[] = [];

  constructor(
    private readonly codecs: Codecs,
    private readonly recommender: Recommender,
    private readonly topics: { clicks: string; recommendations: string; deadLetter: string; changelog: string },
    private readonly limits: IngestLimits,
    /** The dead-letter topic's max.message.bytes: a produce batch of dead letters must fit it whole. */
    private readonly deadLetterTopicMaxBytes: number,
  ) {}

  /** Decodes the batch; nothing stateful happens here. */
  begin(records: readonly PendingRecord[], now: number): void {
    this.inputs.length = 0;
    this.sources.length = 0;
    this.deadLetters.length = 0;
    this.deadLetterCounts.clear();
    this.recommendations = 0;
    for (const p of records) {
      const m = p.message;
      // Bounded work per record whatever its bytes claim (size cap, Avro counts checked against
      // the bytes left, UTF-8, key = sessionId, plausible time); a rejection is a dead letter.
      const ev = decodeClickRecord(this.codecs, m.key, m.value, now, this.limits);
      if (ev instanceof Rejection) {
        this.addDeadLetter(p, ev.kind, ev.reason, now);
        continue;
      }
      this.inputs.push({ sessionId: ev.sessionId, itemId: ev.itemId, partition: p.partition, timestamp: ev.timestamp });
      this.sources.push(p);
    }
    this.outcomes.length = this.inputs.length;
  }

  /** The engine step: advances session state in place (the caller's lifecycle must be open). */
  async step(): Promise<void> {
    if (this.inputs.length > 0) await this.recommender.recommendBatch(this.inputs, this.outcomes);
  }

  /** Encodes the batch's recommendations and dead letters (fresh arrays: they may be sent after the next `begin`). */
  outputs(producedAt: number): TopicMessages[] {
    const recs: Message[] = [];
    // "v3+d5" (a snapshot with deltas applied, train.sync) is recorded as version v3, delta 5.
    const served = splitServedVersion(this.recommender.version);
    if (this.latencyMs.length < this.inputs.length) this.latencyMs = new Float64Array(Math.max(this.inputs.length, 2 * this.latencyMs.length));
    for (let i = 0; i < this.inputs.length; i++) {
      const o = this.outcomes[i];
      const src = this.sources[i];
      if (!o.ok) {
        this.latencyMs[i] = Number.NaN;
        this.addDeadLetter(src, o.kind, o.reason, producedAt);
        continue;
      }
      const latencyMs = producedAt - Number(src.message.timestamp);
      this.latencyMs[i] = latencyMs;
      const ev = this.inputs[i];
      recs.push({
        key: ev.sessionId,
        value: this.codecs.recommendation.encode({
          sessionId: ev.sessionId,
          sourceTopic: this.topics.clicks,
          sourcePartition: src.partition,
          sourceOffset: Number(src.message.offset),
          eventTimestamp: ev.timestamp,
          itemIds: o.itemIds,
          scores: o.scores,
          modelVersion: served.version,
          modelDelta: served.delta,
          producedAt,
          latencyMs,
        }),
        timestamp: String(producedAt),
      });
    }
    this.recommendations = recs.length;
    const messages: TopicMessages[] = [];
    if (recs.length > 0) messages.push({ topic: this.topics.recommendations, messages: recs });
    // kafkajs sends all of a partition's records of one request as one record batch, which the
    // broker checks against max.message.bytes as a whole: near-limit dead letters go in groups.
    if (this.deadLetters.length > 0)
      for (const group of packDeadLetters(this.deadLetters, this.deadLetterTopicMaxBytes)) messages.push({ topic: this.topics.deadLetter, messages: group });
    return messages;
  }

  /**
   * The changelog records of every session touched since the last drain (its state now), for
   * the commit of a span: call it between two engine steps, so the states are exactly those
   * after the span's last batch. Empty for a stateless recommender.
   */
  changelog(): { messages: TopicMessages[]; records: number } {
    const rec = this.recommender;
    if (!isStateful(rec)) return { messages: [], records: 0 };
    const changes = rec.drainChangelog();
    // A session id is never empty (validateClick); an empty key here would be a store bug
    // that compaction would turn into a shared record, so it is refused loudly.
    for (const c of changes) if (c.key === '') throw new Error(`changelog record without a session id for partition ${c.partition}`);
    if (changes.length === 0) return { messages: [], records: 0 };
    return { messages: [{ topic: this.topics.changelog, messages: changes.map((c) => ({ key: c.key, value: c.value, partition: c.partition })) }], records: changes.length };
  }

  private addDeadLetter(p: PendingRecord, kind: DeadLetterKind, reason: string, now: number): void {
    this.deadLetterCounts.set(kind, (this.deadLetterCounts.get(kind) ?? 0) + 1);
    // Always fits the dead-letter topic: an oversized original is trimmed, its size and SHA-256 kept.
    this.deadLetters.push(
      buildDeadLetter(
        this.codecs,
        { sourceTopic: this.topics.clicks, partition: p.partition, offset: Number(p.message.offset), key: p.message.key, value: p.message.value, kind, reason, failedAt: now },
        this.limits.maxDeadLetterBytes,
      ),
    );
  }
}
