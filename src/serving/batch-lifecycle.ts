/**
 * The commit path of one commit span (the micro-batches of one transaction, or of one offset
 * commit at-least-once) as an explicit state machine, so that "either all of it is committed or
 * none of it happened" has one place to live:
 *
 *   open ──step──► stepped ──send──► sent ──commit──► committed
 *    │               │   ▲             │
 *    │               │   └──next batch─┤
 *    └───────────────┴─────────────────┴──abort──► aborted   (rollback runs exactly once)
 *
 * `open` means session state may already be changing (the engine step advances it in place),
 * so every failure from the first engine call on must roll back: the pending changelog is
 * forgotten, the partitions of every batch of the span lose their in-memory state and are
 * restored from the changelog before their records are fetched again. A span whose batch was
 * sent takes the next batch (sent → stepped) until it commits; a committed span can no longer
 * abort. With a commit per micro-batch a span is one batch: open → stepped → sent → committed.
 */

export type BatchPhase = 'open' | 'stepped' | 'sent' | 'committed' | 'aborted';

const NEXT: Record<BatchPhase, readonly BatchPhase[]> = {
  open: ['stepped', 'aborted'],
  stepped: ['sent', 'aborted'],
  sent: ['stepped', 'committed', 'aborted'],
  committed: [],
  aborted: [],
};

export class IllegalTransitionError extends Error {
  constructor(from: BatchPhase, to: BatchPhase) {
    super(`commit span cannot go from ${from} to ${to}`);
    this.name = 'IllegalTransitionError';
  }
}

export class BatchLifecycle {
  private current: BatchPhase = 'open';
  private abortCause: unknown = undefined;

  /** rollback: undoes the span's effects on in-memory state (called once, on abort). */
  constructor(private readonly rollback: (cause: unknown) => Promise<void> | void) {}

  get phase(): BatchPhase {
    return this.current;
  }

  get cause(): unknown {
    return this.abortCause;
  }

  advance(to: Exclude<BatchPhase, 'aborted'>): void {
    if (!NEXT[this.current].includes(to)) throw new IllegalTransitionError(this.current, to);
    this.current = to;
  }

  /** Aborts unless already committed or aborted; returns whether this call aborted it. */
  async abort(cause: unknown): Promise<boolean> {
    if (this.current === 'committed' || this.current === 'aborted') return false;
    this.current = 'aborted';
    this.abortCause = cause;
    await this.rollback(cause);
    return true;
  }
}
