import { decodeClickRecord, type IngestLimits } from '../ingest/click-decoder.ts';
import type { Codecs } from '../ingest/codec.ts';
import { Rejection } from '../ingest/rejection.ts';
import { LatencyHistogram } from '../metrics/online-metrics.ts';
import type { PrequentialJoin } from './prequential-join.ts';

/** The part of a consumed Kafka record the monitor reads (a kafkajs KafkaMessage fits). */
export interface MonitorRecord {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset: string;
  readonly timestamp: string;
}

/** Records the monitor could not use, by topic (the join counts everything it was handed). */
export interface RecordCounts {
  /** Recommendation records that did not decode. */
  recommendationsUndecodable: number;
  /** Dead-letter records that did not decode. */
  deadLettersUndecodable: number;
  /** Recommendations and dead letters whose source topic is not the clicks topic this monitor reads. */
  answersForeign: number;
}

/**
 * Decodes the three topics' records and hands them to the join: clicks with the project's
 * decoder (the checks serving makes, so an undecodable click is skipped where serving
 * dead-letters it), recommendations and dead letters with their Avro codecs, each joined by the
 * source partition and offset it names.
 */
export class MonitorRecords {
  readonly counts: RecordCounts = { recommendationsUndecodable: 0, deadLettersUndecodable: 0, answersForeign: 0 };
  /** The latency each recommendation reports (click appended → list produced), cumulative: the status page's. */
  readonly latency = new LatencyHistogram();

  constructor(
    private readonly join: PrequentialJoin,
    private readonly codecs: Codecs,
    private readonly clicksTopic: string,
    private readonly limits: IngestLimits,
  ) {}

  click(partition: number, m: MonitorRecord, now: number): void {
    const offset = Number(m.offset);
    const appendedAt = Number(m.timestamp);
    // Serving checks the event time against its clock when it serves the click, about when it
    // was appended; the record timestamp stands in for that clock, so the verdict does not
    // depend on how far behind this monitor reads.
    const ev = decodeClickRecord(this.codecs, m.key, m.value, appendedAt, this.limits);
    if (ev instanceof Rejection) this.join.skippedClick(partition, offset, now);
    else this.join.click(partition, offset, appendedAt, ev.sessionId, ev.itemId, now);
  }

  recommendation(m: MonitorRecord, now: number): void {
    const rec = this.codecs.recommendation.tryDecode(m.value);
    if (rec instanceof Rejection) {
      this.counts.recommendationsUndecodable++;
      return;
    }
    if (rec.sourceTopic !== this.clicksTopic) {
      this.counts.answersForeign++;
      return;
    }
    if (rec.latencyMs >= 0) this.latency.record(rec.latencyMs);
    this.join.recommendation(rec.sourcePartition, rec.sourceOffset, rec, now);
  }

  deadLetter(m: MonitorRecord, now: number): void {
    const dl = this.codecs.deadLetter.tryDecode(m.value);
    if (dl instanceof Rejection) {
      this.counts.deadLettersUndecodable++;
      return;
    }
    if (dl.sourceTopic !== this.clicksTopic) {
      this.counts.answersForeign++;
      return;
    }
    // UNKNOWN_ITEM is the recommender's verdict on a click it decoded (serving counts it as a
    // target); every other kind is a record serving refused before it was a click.
    this.join.deadLetter(dl.sourcePartition, dl.sourceOffset, dl.errorKind === 'UNKNOWN_ITEM' ? 'unknown-item' : 'rejected', now);
  }
}
