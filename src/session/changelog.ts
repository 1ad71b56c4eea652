import type { SessionStore } from './session-store.ts';
import { SessionRecordError } from './session-codec.ts';

/**
 * The changelog side of the session store, independent of any Kafka client:
 * what to produce to the compacted changelog topic at a micro-batch boundary,
 * and how to rebuild a store from what that topic holds (the Kafka Streams
 * state-store pattern). Changelog partition = input partition, so a session's
 * state moves with its partition on a rebalance.
 */

export interface ChangelogRecord {
  key: string;
  /** Encoded state, or null for a tombstone. */
  value: Buffer | null;
  partition: number;
}

/** A record read back from the changelog topic (kafkajs hands keys and values as Buffers). */
export interface ChangelogInput {
  key: string | Uint8Array | null;
  value: Uint8Array | null;
  partition: number;
}

/**
 * Collects the sessions touched during a micro-batch and turns them into one
 * record per session at the boundary: the latest encoded state for a live
 * session, a tombstone for one that is gone (TTL or capacity eviction, or a
 * delete through `delete`). Capacity evictions are tombstoned too, so that a
 * restarted process does not bring back sessions a running one has forgotten.
 *
 * Sessions of a partition dropped from the store are forgotten here as well:
 * their new owner restores them, and a tombstone would destroy that state.
 * Produce the drained records of a revoked partition before dropping it.
 */
export class ChangelogWriter {
  /** Session id → partition of its last known home. Insertion order = first touch in the batch. */
  private readonly dirty = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(private readonly store: SessionStore) {
    this.unsubscribe = store.addListener({
      evicted: (sessionId, _reason, partition) => {
        this.dirty.set(sessionId, partition);
      },
      partitionDropped: (partition) => {
        for (const [id, p] of this.dirty) if (p === partition) this.dirty.delete(id);
      },
    });
  }

  /** Number of sessions that will produce a record at the next drain. */
  get pending(): number {
    return this.dirty.size;
  }

  /** Records that the session in `slot` changed in this batch. */
  markDirty(slot: number): void {
    this.dirty.set(this.store.sessionIdOf(slot), this.store.partitionOf(slot));
  }

  markDirtySlots(slots: Int32Array, n: number): void {
    for (let i = 0; i < n; i++) this.markDirty(slots[i]);
  }

  /** Deletes the session from the store and schedules its tombstone. */
  delete(sessionId: string): boolean {
    const slot = this.store.slotOf(sessionId);
    if (slot < 0) return false;
    this.dirty.set(sessionId, this.store.partitionOf(slot));
    return this.store.delete(sessionId);
  }

  /**
   * The records to produce for the batch that just ended, in first-touch
   * order, and resets for the next batch. The state is read now, so a session
   * touched several times in the batch yields its latest state once.
   */
  drain(): ChangelogRecord[] {
    const out: ChangelogRecord[] = [];
    for (const [key, partition] of this.dirty) {
      const slot = this.store.slotOf(key);
      if (slot >= 0) out.push({ key, value: this.store.encodeSession(slot), partition: this.store.partitionOf(slot) });
      else out.push({ key, value: null, partition });
    }
    this.dirty.clear();
    return out;
  }

  /** Forgets pending records without producing them (e.g. the batch is being retried from its offsets). */
  discard(): void {
    this.dirty.clear();
  }

  close(): void {
    this.unsubscribe();
    this.dirty.clear();
  }
}

export interface RestoreOptions {
  /**
   * Called for a record that cannot be applied (no key, malformed or
   * mismatched value); the record is skipped. Without it the restore throws,
   * because silently dropping state is worse than failing loudly.
   */
  onInvalid?: (record: ChangelogInput, error: Error) => void;
  /** Reorder the recency list by stored times afterwards (default true). Pass false for chunked restores and call store.sortByRecency() at the end. */
  sortByRecency?: boolean;
}

export interface RestoreResult {
  restored: number;
  deleted: number;
  invalid: number;
}

/**
 * Applies changelog records in order: a later record for a key replaces an
 * earlier one, a null value deletes. Restoring does not notify eviction
 * listeners for deletes, so it produces no changelog traffic of its own;
 * sessions already past their TTL are left for the next `expire` sweep, which
 * tombstones them and lets compaction reclaim them.
 */
export function restoreFromRecords(store: SessionStore, records: Iterable<ChangelogInput>, opts: RestoreOptions = {}): RestoreResult {
  const result: RestoreResult = { restored: 0, deleted: 0, invalid: 0 };
  for (const record of records) {
    try {
      if (record.key === null) throw new SessionRecordError('value', 'changelog record without a key');
      const key = typeof record.key === 'string' ? record.key : utf8(record.key);
      if (record.value === null) {
        if (store.delete(key)) result.deleted++;
      } else {
        store.restoreSession(key, record.partition, record.value);
        result.restored++;
      }
    } catch (err) {
      if (!opts.onInvalid || !(err instanceof SessionRecordError)) throw err;
      result.invalid++;
      opts.onInvalid(record, err);
    }
  }
  if (opts.sortByRecency ?? true) store.sortByRecency();
  return result;
}

function utf8(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('utf8');
}
