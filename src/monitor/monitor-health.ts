/**
 * Liveness and readiness of `streamrec monitor`, for /healthz and /readyz.
 *
 * Ready means the consumer has joined its group and owns every partition of the three topics:
 * the join needs a click and whatever answered it in the same process, so a monitor that holds
 * only part of the topics would report a skewed metric (clicks whose lists another member
 * reads all end up "missing"). A second instance in the same group therefore makes both
 * unready, with a reason that says so. Alive means the consumer has not given up for good.
 */
export interface MonitorHealth {
  alive: boolean;
  ready: boolean;
  reason: string;
}

export class MonitorReadiness {
  private state: 'starting' | 'joined' | 'rebalancing' | 'stopped' = 'starting';
  private missing: string[] = [];
  private failure: string | null = null;

  /** @param partitions the partition count of each topic the monitor must own */
  constructor(private readonly partitions: ReadonlyMap<string, number>) {}

  /** The group was joined with this assignment (kafkajs GROUP_JOIN's memberAssignment). */
  joined(assignment: Readonly<Record<string, readonly number[]>>): void {
    this.state = 'joined';
    this.missing = [];
    for (const [topic, n] of this.partitions) {
      const owned = new Set(assignment[topic] ?? []);
      let lacking = 0;
      for (let p = 0; p < n; p++) if (!owned.has(p)) lacking++;
      if (lacking > 0) this.missing.push(`${lacking} of ${n} partitions of ${topic}`);
    }
  }

  rebalancing(): void {
    if (this.state !== 'stopped') this.state = 'rebalancing';
  }

  /** The consumer stopped for good (it will not restart); the process should be restarted. */
  failed(reason: string): void {
    this.state = 'stopped';
    this.failure = reason;
  }

  stopped(): void {
    this.state = 'stopped';
  }

  health(): MonitorHealth {
    if (this.failure !== null) return { alive: false, ready: false, reason: `consumer stopped: ${this.failure}` };
    switch (this.state) {
      case 'starting':
        return { alive: true, ready: false, reason: 'starting: the consumer has not joined its group yet' };
      case 'rebalancing':
        return { alive: true, ready: false, reason: 'rebalancing: waiting for the new assignment' };
      case 'stopped':
        return { alive: true, ready: false, reason: 'stopping' };
      case 'joined':
        if (this.missing.length > 0)
          return {
            alive: true,
            ready: false,
            reason: `another member of the group holds ${this.missing.join(', ')}: run one monitor per group, it must read every partition`,
          };
        return { alive: true, ready: true, reason: 'ok' };
    }
  }
}
