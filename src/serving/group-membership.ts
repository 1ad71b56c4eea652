/**
 * What this instance may commit for. kafkajs does not send the consumer-group generation with
 * transactional offset commits (no KIP-447), so the broker cannot fence a member that was
 * evicted mid-batch; the serving loop checks here instead, right before it commits: a batch
 * commits only if the group generation it started in is still the current one, no heartbeat has
 * reported a rebalance or an eviction since, and it still owns every partition it holds.
 */
export interface MembershipTicket {
  readonly generation: number;
}

export class GroupMembership {
  private owned = new Set<number>();
  private generation = 0;
  /** Why the current generation can no longer commit (a heartbeat failed, a rebalance began). */
  private lostReason: string | null = null;

  /** A new assignment arrived; returns what was revoked and what was added. */
  assign(partitions: Iterable<number>): { revoked: number[]; added: number[] } {
    const next = new Set(partitions);
    const revoked = [...this.owned].filter((p) => !next.has(p));
    const added = [...next].filter((p) => !this.owned.has(p));
    this.owned = next;
    this.generation++;
    this.lostReason = null;
    return { revoked, added };
  }

  /** The group is rebalancing or this member was evicted: nothing started before commits. */
  markLost(reason: string): void {
    if (this.lostReason === null) this.lostReason = reason;
  }

  /** A partition whose state failed to restore is not served until it is assigned again. */
  disown(partition: number): void {
    this.owned.delete(partition);
  }

  owns(partition: number): boolean {
    return this.owned.has(partition);
  }

  get partitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  ticket(): MembershipTicket {
    return { generation: this.generation };
  }

  /** Null when a batch started under `ticket` over `partitions` may commit; otherwise the reason not. */
  whyNotCommit(ticket: MembershipTicket, partitions: Iterable<number>): string | null {
    if (ticket.generation !== this.generation) return `the group rebalanced during the batch (generation ${ticket.generation} → ${this.generation})`;
    if (this.lostReason !== null) return this.lostReason;
    for (const p of partitions) if (!this.owned.has(p)) return `partition ${p} is no longer assigned to this instance`;
    return null;
  }
}
