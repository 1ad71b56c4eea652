/**
 * The monitor's core: joins the clicks topic with whatever answered each click (a list on the
 * recommendations topic, or a dead letter) and replays the result, session by session in click
 * order, into a prequential sink (PrequentialMetrics, or the per-version online quality). The
 * sink then computes exactly what serving computes for itself, because it sees the same calls
 * in the same per-session order that serving's stats subscriber makes (src/serving/instrumentation.ts):
 *
 *   click answered by a list          → observe(session, item), then emitted(session, version, list)
 *   click dead-lettered UNKNOWN_ITEM  → observe(session, item) only: a target (a miss), the session keeps its list
 *   click dead-lettered otherwise     → nothing: serving never saw a click there (it did not decode)
 *   no answer within the window       → observe(session, item), then forget(session): counted as a
 *                                       missing recommendation; the next click has no list to be judged
 *                                       against, so it is not a target (a missing list is not a miss)
 *
 * The join key is the click's (partition, offset): every recommendation and dead letter names
 * its source record. Clicks of one partition arrive in offset order; answers arrive from other
 * topics at other times, before or after their click. A click waits for its answer; a session's
 * later clicks wait behind its earlier ones (the order is what makes the metric prequential).
 *
 * The window is measured in click time (the clicks' record timestamps), per partition: a click
 * is given up once a click of its partition appended at least `windowMs` later has been
 * answered. So a monitor reading a backlog, or a recommender catching up after a restart,
 * produces no false "missing": only answers that came out of order by more than the window do.
 * A partition with no answers at all (the recommender is down) cannot move its click clock, so
 * there the window is wall time: with nothing answered for `windowMs`, clicks read that long
 * ago are given up (advance()).
 *
 * Memory is bounded: only clicks still waiting and answers waiting for their click are held
 * (at most `maxPending` of each; the oldest gives way), and sessions only while they have a
 * waiting click. Each record costs O(1) amortised: hash lookups, FIFO pushes and pops, and
 * every click is finalised exactly once (only forcing a click out at `maxPending` looks at every
 * partition's oldest, O(partitions); advance() does the same once a second).
 */
import { Fifo } from './fifo.ts';

/**
 * Where the join hands its ordered result: the calls serving's stats subscriber makes on its
 * OnlineQuality (src/metrics/online-quality.ts), which is what the monitor passes.
 */
export interface PrequentialSink {
  /** A click of the session (before its own list is known). */
  observe(sessionId: string, itemId: string): void;
  /** The list `modelVersion` emitted for the session's latest click. */
  emitted(sessionId: string, modelVersion: string, itemIds: readonly string[]): void;
  /** The session's latest list is unknown: its next click is not a target. */
  forget(sessionId: string): void;
}

/** A recommendation as far as the join needs it (the decoded record itself fits). */
export interface ListAnswer {
  readonly sessionId: string;
  readonly itemIds: readonly string[];
  readonly modelVersion: string;
}

export interface JoinOptions {
  /** How long a click waits for its answer: click time, or wall time on a partition with no answers. */
  windowMs: number;
  /** Most clicks waiting for an answer, and most answers waiting for their click (each). */
  maxPending: number;
}

/** Why the recommender wrote a dead letter instead of a list. */
export type DeadLetterOutcome = 'unknown-item' | 'rejected';

/** Counters of the join since start. */
export interface JoinCounts {
  /** Decoded clicks read. */
  clicks: number;
  /** Click records that did not decode (skipped, as serving dead-letters them). */
  clicksSkipped: number;
  /** Click records read again (a re-delivery after a rebalance), ignored. */
  clicksDuplicate: number;
  /** Clicks joined with their list. */
  recommendations: number;
  /** Clicks joined with an UNKNOWN_ITEM dead letter (targets, no list). */
  deadLetteredUnknownItem: number;
  /** Clicks this monitor decoded that the recommender dead-lettered as undecodable (not targets). */
  deadLetteredRejected: number;
  /** Clicks given up without an answer: the window passed, or `maxPending` forced the oldest out. */
  missing: number;
  /** The part of `missing` forced out by `maxPending` before its window passed. */
  missingOverflow: number;
  /**
   * Answers that matched no waiting click: later than the window, a duplicate, for a click this
   * monitor did not read (before its start position) or could not decode, a session id that
   * differs from the click's, or dropped by `maxPending`. (Dead letters of records the monitor
   * skipped as undecodable are expected and not counted.)
   */
  answersUnmatched: number;
}

type Answer = ListAnswer | DeadLetterOutcome | 'missing';

interface WaitingClick {
  readonly partition: number;
  readonly offset: number;
  readonly sessionId: string;
  readonly itemId: string;
  /** Record timestamp of the click (the window's clock). */
  readonly clickTime: number;
  /** Wall time the monitor read it (the window's clock on a partition with no answers). */
  readonly readAt: number;
  answer: Answer | null;
  finalized: boolean;
  /** The session's next click, in offset order. */
  next: WaitingClick | null;
}

interface SessionChain {
  head: WaitingClick;
  tail: WaitingClick;
}

class PartitionJoin {
  /** Offset after the last click read; -1 before the first. Lower offsets are re-deliveries. */
  position = -1;
  /** Clicks read and not yet finalised, in offset order (finalised ones are popped lazily). */
  readonly queue = new Fifo<WaitingClick>();
  /** Clicks without an answer yet, by offset. */
  readonly unanswered = new Map<number, WaitingClick>();
  /** Answers that arrived before their click, by offset, and their arrival order. */
  readonly early = new Map<number, Answer>();
  readonly earlyOrder = new Fifo<number>();
  /** Latest click time of an answered click: the partition's click clock. */
  answeredUpTo = Number.NEGATIVE_INFINITY;
  /** Wall time of the latest answer (or of the first click read). */
  lastAnswerAt: number;

  constructor(now: number) {
    this.lastAnswerAt = now;
  }
}

export class PrequentialJoin {
  readonly counts: JoinCounts = {
    clicks: 0,
    clicksSkipped: 0,
    clicksDuplicate: 0,
    recommendations: 0,
    deadLetteredUnknownItem: 0,
    deadLetteredRejected: 0,
    missing: 0,
    missingOverflow: 0,
    answersUnmatched: 0,
  };
  private readonly partitions: Array<PartitionJoin | undefined> = [];
  private readonly sessions = new Map<string, SessionChain>();
  private waitingClicks = 0;
  private waitingAnswers = 0;

  constructor(
    private readonly sink: PrequentialSink,
    readonly options: JoinOptions,
  ) {
    if (!(options.windowMs >= 0)) throw new RangeError(`windowMs must be ≥ 0, got ${options.windowMs}`);
    if (!Number.isInteger(options.maxPending) || options.maxPending < 1) throw new RangeError(`maxPending must be a positive integer, got ${options.maxPending}`);
  }

  /** Clicks read and not yet finalised (waiting for their answer or for an earlier click of their session). */
  get pendingClicks(): number {
    return this.waitingClicks;
  }

  /** Answers held until their click is read. */
  get pendingAnswers(): number {
    return this.waitingAnswers;
  }

  /** A decoded click at (partition, offset) with its record timestamp. */
  click(partition: number, offset: number, clickTime: number, sessionId: string, itemId: string, now: number): void {
    const p = this.partition(partition, now);
    if (offset < p.position) {
      this.counts.clicksDuplicate++;
      return;
    }
    p.position = offset + 1;
    this.counts.clicks++;
    const c: WaitingClick = { partition, offset, sessionId, itemId, clickTime, readAt: now, answer: null, finalized: false, next: null };
    const early = p.early.get(offset);
    if (early !== undefined) {
      p.early.delete(offset);
      this.waitingAnswers--;
    }
    if (early !== undefined && this.matches(early, c)) {
      c.answer = early;
      this.clockAnswered(p, c, now);
    } else {
      if (early !== undefined) this.counts.answersUnmatched++;
      p.unanswered.set(offset, c);
    }
    p.queue.push(c);
    this.waitingClicks++;
    const chain = this.sessions.get(sessionId);
    if (chain === undefined) this.sessions.set(sessionId, { head: c, tail: c });
    else {
      chain.tail.next = c;
      chain.tail = c;
    }
    this.pruneEarly(p);
    this.drain(sessionId);
    this.sweep(p, now);
    if (this.waitingClicks > this.options.maxPending) this.forceOldestOut();
  }

  /** A click record that did not decode: the recommender dead-letters it, no target. */
  skippedClick(partition: number, offset: number, now: number): void {
    const p = this.partition(partition, now);
    if (offset < p.position) {
      this.counts.clicksDuplicate++;
      return;
    }
    p.position = offset + 1;
    this.counts.clicksSkipped++;
    this.pruneEarly(p);
  }

  /** The list emitted for the click at (partition, offset). */
  recommendation(partition: number, offset: number, list: ListAnswer, now: number): void {
    this.answer(partition, offset, list, now);
  }

  /** A dead letter written for the click at (partition, offset). */
  deadLetter(partition: number, offset: number, outcome: DeadLetterOutcome, now: number): void {
    this.answer(partition, offset, outcome, now);
  }

  /**
   * Gives up, on partitions that had no answer for `windowMs` of wall time, the clicks read at
   * least that long ago. Call it periodically (the app does, every second).
   */
  advance(now: number): void {
    for (const p of this.partitions) if (p !== undefined && p.queue.length > 0) this.sweep(p, now);
  }

  private partition(partition: number, now: number): PartitionJoin {
    let p = this.partitions[partition];
    if (p === undefined) {
      p = new PartitionJoin(now);
      this.partitions[partition] = p;
    }
    return p;
  }

  private matches(a: Answer, c: WaitingClick): boolean {
    return typeof a === 'string' || a.sessionId === c.sessionId;
  }

  private answer(partition: number, offset: number, a: ListAnswer | DeadLetterOutcome, now: number): void {
    const p = this.partition(partition, now);
    const c = p.unanswered.get(offset);
    if (c !== undefined) {
      if (!this.matches(a, c)) {
        this.counts.answersUnmatched++;
        return;
      }
      p.unanswered.delete(offset);
      c.answer = a;
      this.clockAnswered(p, c, now);
      this.drain(c.sessionId);
      this.sweep(p, now);
      return;
    }
    // Already read (answered, given up, skipped) or a duplicate answer; or a click not read yet.
    if (offset < p.position || p.early.has(offset)) {
      // A record serving refused is one this monitor skipped too (the same decoder): expected.
      if (a !== 'rejected') this.counts.answersUnmatched++;
      return;
    }
    p.early.set(offset, a);
    p.earlyOrder.push(offset);
    this.waitingAnswers++;
    if (this.waitingAnswers > this.options.maxPending) this.dropOldestEarly(p);
  }

  private clockAnswered(p: PartitionJoin, c: WaitingClick, now: number): void {
    if (c.clickTime > p.answeredUpTo) p.answeredUpTo = c.clickTime;
    p.lastAnswerAt = now;
  }

  /** Finalises the session's clicks from the oldest on, as far as they are answered. */
  private drain(sessionId: string): void {
    const chain = this.sessions.get(sessionId);
    if (chain === undefined) return;
    let c: WaitingClick | null = chain.head;
    while (c !== null && c.answer !== null) {
      this.finalize(c, c.answer);
      c = c.next;
    }
    if (c === null) this.sessions.delete(sessionId);
    else chain.head = c;
  }

  private finalize(c: WaitingClick, a: Answer): void {
    c.finalized = true;
    this.waitingClicks--;
    if (a === 'rejected') {
      this.counts.deadLetteredRejected++;
      return;
    }
    this.sink.observe(c.sessionId, c.itemId);
    if (a === 'unknown-item') this.counts.deadLetteredUnknownItem++;
    else if (a === 'missing') {
      this.counts.missing++;
      this.sink.forget(c.sessionId);
    } else {
      this.counts.recommendations++;
      this.sink.emitted(c.sessionId, a.modelVersion, a.itemIds);
    }
  }

  /** Pops finalised clicks off the partition's queue and gives up the ones past the window. */
  private sweep(p: PartitionJoin, now: number): void {
    const windowMs = this.options.windowMs;
    const idle = now - p.lastAnswerAt >= windowMs;
    for (let c = p.queue.peek(); c !== undefined; c = p.queue.peek()) {
      if (!c.finalized) {
        if (c.answer !== null) break; // waits for an earlier click of its session on another partition
        if (!(p.answeredUpTo >= c.clickTime + windowMs || (idle && now - c.readAt >= windowMs))) break;
        this.giveUp(p, c);
        if (!c.finalized) break;
      }
      p.queue.shift();
    }
  }

  private giveUp(p: PartitionJoin, c: WaitingClick): void {
    p.unanswered.delete(c.offset);
    c.answer = 'missing';
    this.drain(c.sessionId);
  }

  /** `maxPending` clicks wait: the one read first (over all partitions) is given up. */
  private forceOldestOut(): void {
    let oldest: PartitionJoin | null = null;
    let oldestAt = Number.POSITIVE_INFINITY;
    for (const p of this.partitions) {
      if (p === undefined) continue;
      // Finalised heads are popped on the way; the first unanswered one is the candidate.
      let c = p.queue.peek();
      while (c?.finalized) {
        p.queue.shift();
        c = p.queue.peek();
      }
      if (c !== undefined && c.answer === null && c.readAt < oldestAt) {
        oldest = p;
        oldestAt = c.readAt;
      }
    }
    if (oldest === null) return;
    const c = oldest.queue.peek()!;
    this.counts.missingOverflow++;
    this.giveUp(oldest, c);
    if (c.finalized) oldest.queue.shift();
  }

  /** Drops answers whose click offset the partition has read past: that click will not come. */
  private pruneEarly(p: PartitionJoin): void {
    for (let off = p.earlyOrder.peek(); off !== undefined && off < p.position; off = p.earlyOrder.peek()) {
      p.earlyOrder.shift();
      const a = p.early.get(off);
      if (a !== undefined) {
        p.early.delete(off);
        this.waitingAnswers--;
        if (a !== 'rejected') this.counts.answersUnmatched++;
      }
    }
  }

  private dropOldestEarly(p: PartitionJoin): void {
    for (let off = p.earlyOrder.shift(); off !== undefined; off = p.earlyOrder.shift()) {
      if (p.early.delete(off)) {
        this.waitingAnswers--;
        this.counts.answersUnmatched++;
        return;
      }
    }
  }
}
