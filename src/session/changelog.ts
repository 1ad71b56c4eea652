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
   * Called for a record that cannot be read (no key, malformed value); it is skipped and any
   * earlier state of its key is forgotten, as the record was that session's latest state. For a
   * log line; the count is in the result either way.
   */
  onInvalid?: (record: ChangelogInput, error: SessionRecordError) => void;
  /** Reorder the recency list by stored times afterwards (default true). Pass false for chunked restores and call store.sortByRecency() at the end. */
  sortByRecency?: boolean;
}

/** What a restore did, record by record; every record lands in exactly one count. */
export interface RestoreResult {
  /** Records of this model, installed as they are. */
  restored: number;
  /** Records of another model with this vocabulary: history installed, state to re-encode (store.takeReencodeSlots). */
  reencodeNeeded: number;
  /** Records of another vocabulary (or unstamped ones of another layout): nothing usable, the session is forgotten. */
  dropped: number;
  /** Tombstones that removed a session. */
  deleted: number;
  /** Records that cannot be read at all. */
  invalid: number;
}

/**
 * Applies changelog records in order: a later record for a key replaces an
 * earlier one, a null value deletes. Restoring does not notify eviction
 * listeners for deletes, so it produces no changelog traffic of its own;
 * sessions already past their TTL are left for the next `expire` sweep, which
 * tombstones them and lets compaction reclaim them.
 *
 * No record makes it throw: a compacted changelog keeps a bad record until its
 * key is written again, so a restore that failed on one would fail the same way
 * on every retry and the partition would never be served. Records from another
 * model, or unreadable ones, are counted instead, for the caller to export.
 * (An error that is not about a record, such as a store bug, still throws.)
 */
export function restoreFromRecords(store: SessionStore, records: Iterable<ChangelogInput>, opts: RestoreOptions = {}): RestoreResult {
  const result: RestoreResult = { restored: 0, reencodeNeeded: 0, dropped: 0, deleted: 0, invalid: 0 };
  for (const record of records) {
    const key = record.key === null ? null : typeof record.key === 'string' ? record.key : utf8(record.key);
    try {
      if (key === null) throw new SessionRecordError('value', 'changelog record without a key');
      if (record.value === null) {
        if (store.delete(key)) result.deleted++;
        continue;
      }
      const slot = store.restoreSession(key, record.partition, record.value);
      if (slot < 0) result.dropped++;
      else if (store.needsReencode(slot)) result.reencodeNeeded++;
      else result.restored++;
    } catch (err) {
      if (!(err instanceof SessionRecordError)) throw err;
      if (key !== null) store.delete(key);
      result.invalid++;
      opts.onInvalid?.(record, err);
    }
  }
  if (opts.sortByRecency ?? true) store.sortByRecency();
  return result;
}

function utf8(bytes: Uint8Array): string {
  return (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).toString('utf8');
}
