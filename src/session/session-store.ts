import {
  copyHiddenInto,
  copyHistoryInto,
  encodeSessionRecord,
  parseSessionRecord,
  recordFit,
  SessionRecordError,
  UNSTAMPED,
  type ModelStamp,
  type RecordMode,
  type SessionState,
} from './session-codec.ts';

/**
 * Per-session serving state — the recurrent hidden state of every encoder
 * layer, the last N item indices, an event count, the last touch time and the
 * Kafka partition the session lives in — kept in preallocated typed-array
 * slabs, one slot per session. The hot path (acquire, pushItem, gather,
 * scatter) allocates nothing: a slot is an integer, slots are recycled through
 * a free list, and recency is a doubly linked list threaded through two
 * Int32Arrays, so both TTL expiry and capacity eviction pop from its head.
 *
 * Slot numbers are valid until the session is evicted, deleted or dropped;
 * hold them for the duration of one micro-batch, not longer.
 *
 * Changing weights: hidden states belong to the model that produced them. The
 * store keeps each session's last `historyLength` items so that a new model
 * can rebuild the states: call `resetHiddenStates(newSizes?)`, then walk
 * `forEachSession` / `liveSlots`, read `history(slot, …)` and run the items
 * through the new encoder, writing results with `scatter` or `hiddenView`.
 * When `eventCount(slot) > historyLength` the rebuilt state only sees the
 * tail of the session, which is the usual trade-off of a bounded history.
 *
 * The same holds across processes: changelog records carry the stamp of the
 * model that wrote them (session-codec.ts). A record from another model with
 * the same vocabulary restores its history with a zero state and flags the
 * slot; the serving side takes the flagged slots (`takeReencodeSlots`) and
 * re-encodes them from history before serving the partition.
 *
 * Compact records (`recordMode: 'history'`): a record without the hidden state is restored by
 * re-encoding the history from a zero state, which gives back the live state bit for bit only
 * when the live state *is* the encoding of that history from zero. The store tracks this per
 * slot (`encodesHistory`): true for a new session and after a re-encode from history; false once
 * the ring drops an item (the session outgrew `historyLength`), a remap drops one, or a swap
 * resets or keeps states without re-encoding. Such a slot is written as a full record even in
 * `history` mode, so a restore always equals an uninterrupted run; a slot awaiting re-encoding
 * is written history-only in either mode (its zero state is not worth storing, and re-encoding
 * is what the live process will do with it too).
 */

export type EvictionReason = 'ttl' | 'capacity';

export interface SessionStoreListener {
  /**
   * A session was removed by the store itself. Called synchronously before the
   * slot is reused, so its contents are still readable; must not mutate the store.
   */
  evicted?(sessionId: string, reason: EvictionReason, partition: number, slot: number): void;
  /** Sessions of a revoked partition were dropped (ownership moved; not an eviction). */
  partitionDropped?(partition: number, count: number): void;
}

export interface SessionStoreOptions {
  /** Size of the hidden state of each encoder layer. */
  hiddenSizes: readonly number[];
  /** How many recent item indices to keep per session (0 = none). */
  historyLength: number;
  /** Number of slots; the least recently touched session is evicted beyond it. */
  maxSessions: number;
  /** Idle time after which a session expires; Infinity disables expiry. */
  ttlMs: number;
  /** Time source for calls that omit `now`; defaults to Date.now. */
  clock?: () => number;
  /** Shorthand for addListener({ evicted }). */
  onEvict?: (sessionId: string, reason: EvictionReason, partition: number) => void;
  /** The model whose states the store holds: stamped on every record, checked on every restore. Default UNSTAMPED. */
  stamp?: ModelStamp;
  /** What `encodeSession` writes (see the class comment). Default 'full'. */
  recordMode?: RecordMode;
}

export interface SessionStoreStats {
  size: number;
  capacity: number;
  hits: number;
  misses: number;
  evictions: { ttl: number; capacity: number };
  deleted: number;
  dropped: number;
  restored: number;
}

const NONE = -1;
/** Rough V8 cost of one Map entry plus string header; the index is the only part that is not a slab. */
const INDEX_ENTRY_BYTES = 80;
/**
 * Row length from which gather/scatter copy with TypedArray.set (a memmove)
 * rather than an element loop. The short-lived subarray view per row is
 * cheaper than the loop from here on: measured 1.5–2x faster at H = 64–100
 * for random rows, slower below ~32.
 */
const NATIVE_COPY_MIN = 32;
/** Generation of slots no batch holds (restored ones): beginBatch never makes it current. */
const NO_BATCH = 0;

export class SessionStore {
  readonly capacity: number;
  readonly historyLength: number;
  readonly ttlMs: number;
  private sizes: number[];
  private hidden: Float32Array[];
  private readonly histItems: Int32Array;
  /** Ring position of the oldest history item. */
  private readonly histStart: Int32Array;
  private readonly histLen: Int32Array;
  private readonly counts: Uint32Array;
  private readonly lastUpdates: Float64Array;
  private readonly partitions: Int32Array;
  /** Batch generation that last acquired the slot; guards against evicting a slot the current batch holds. */
  private readonly generations: Int32Array;
  /** 1 = the hidden state is zero because the restored record came from another model; re-encode from history. */
  private readonly reencode: Uint8Array;
  private reencodeCount = 0;
  /** 1 = the hidden state is exactly the encoding of the slot's history from a zero state. */
  private readonly exact: Uint8Array;
  readonly recordMode: RecordMode;
  private modelStamp: ModelStamp;
  /** Refilled per encoded record; its history is the slot's ring unrolled. */
  private readonly encodeState: SessionState;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  private readonly ids: string[];
  private readonly index = new Map<string, number>();
  private readonly freeSlots: Int32Array;
  private freeTop: number;
  /** Least recently touched. */
  private head = NONE;
  /** Most recently touched. */
  private tail = NONE;
  private generation = 0;
  private idChars = 0;
  private readonly clock: () => number;
  private readonly listeners: SessionStoreListener[] = [];
  private hits = 0;
  private misses = 0;
  private ttlEvictions = 0;
  private capacityEvictions = 0;
  private deletedCount = 0;
  private droppedCount = 0;
  private restoredCount = 0;

  constructor(opts: SessionStoreOptions) {
    const { historyLength, maxSessions, ttlMs } = opts;
    if (!Number.isInteger(maxSessions) || maxSessions < 1) throw new RangeError(`maxSessions must be a positive integer, got ${maxSessions}`);
    if (!Number.isInteger(historyLength) || historyLength < 0) throw new RangeError(`historyLength must be a non-negative integer, got ${historyLength}`);
    if (!(ttlMs > 0)) throw new RangeError(`ttlMs must be positive (Infinity for no expiry), got ${ttlMs}`);
    this.sizes = checkSizes(opts.hiddenSizes);
    this.capacity = maxSessions;
    this.historyLength = historyLength;
    this.ttlMs = ttlMs;
    this.clock = opts.clock ?? Date.now;
    this.hidden = this.sizes.map((h) => new Float32Array(maxSessions * h));
    this.histItems = new Int32Array(maxSessions * historyLength);
    this.histStart = new Int32Array(maxSessions);
    this.histLen = new Int32Array(maxSessions);
    this.counts = new Uint32Array(maxSessions);
    this.lastUpdates = new Float64Array(maxSessions);
    this.partitions = new Int32Array(maxSessions);
    this.generations = new Int32Array(maxSessions);
    this.reencode = new Uint8Array(maxSessions);
    this.exact = new Uint8Array(maxSessions);
    this.recordMode = opts.recordMode ?? 'full';
    this.modelStamp = opts.stamp ?? UNSTAMPED;
    this.prev = new Int32Array(maxSessions).fill(NONE);
    this.next = new Int32Array(maxSessions).fill(NONE);
    // Filled with strings up front so V8 keeps the array packed and monomorphic.
    this.ids = new Array<string>(maxSessions).fill('');
    this.freeSlots = new Int32Array(maxSessions);
    for (let i = 0; i < maxSessions; i++) this.freeSlots[i] = maxSessions - 1 - i;
    this.freeTop = maxSessions;
    this.encodeState = { hiddenSizes: this.sizes, hidden: this.hidden, slot: 0, history: new Int32Array(historyLength), historyCount: 0, eventCount: 0, lastUpdate: 0 };
    if (opts.onEvict) {
      const onEvict = opts.onEvict;
      this.listeners.push({ evicted: (id, reason, partition) => onEvict(id, reason, partition) });
    }
  }

  get size(): number {
    return this.index.size;
  }

  get hiddenSizes(): readonly number[] {
    return this.sizes;
  }

  get layers(): number {
    return this.sizes.length;
  }

  get stamp(): ModelStamp {
    return this.modelStamp;
  }

  addListener(listener: SessionStoreListener): () => void {
    this.listeners.push(listener);
    return () => {
      const i = this.listeners.indexOf(listener);
      if (i >= 0) this.listeners.splice(i, 1);
    };
  }

  /**
   * Starts a new micro-batch generation. Afterwards, evicting for capacity a
   * session that was acquired in the same generation throws instead of
   * silently handing its slot — still referenced by the batch — to another session.
   */
  beginBatch(): void {
    this.generation = this.generation === 0x7fffffff ? 1 : this.generation + 1;
  }

  /**
   * Slot of the session, created with zero state when unknown (or when it has
   * outlived the TTL and not yet been swept), and marked most recently used.
   */
  acquire(sessionId: string, partition: number, now: number = this.clock()): number {
    let slot = this.index.get(sessionId);
    if (slot !== undefined) {
      if (now - this.lastUpdates[slot] < this.ttlMs) {
        this.hits++;
        this.unlink(slot);
        this.linkTail(slot);
        this.lastUpdates[slot] = now;
        this.partitions[slot] = partition;
        this.generations[slot] = this.generation;
        return slot;
      }
      this.evict(slot, 'ttl');
      this.release(slot);
    }
    this.misses++;
    slot = this.allocate();
    this.initSlot(slot, sessionId, partition, now);
    for (let l = 0; l < this.hidden.length; l++) {
      const h = this.sizes[l];
      this.hidden[l].fill(0, slot * h, slot * h + h);
    }
    return slot;
  }

  /** Slot of a live session without touching it, or -1. */
  slotOf(sessionId: string): number {
    const slot = this.index.get(sessionId);
    return slot === undefined ? NONE : slot;
  }

  has(sessionId: string): boolean {
    return this.index.has(sessionId);
  }

  sessionIdOf(slot: number): string {
    return this.ids[slot];
  }

  partitionOf(slot: number): number {
    return this.partitions[slot];
  }

  eventCount(slot: number): number {
    return this.counts[slot];
  }

  lastUpdate(slot: number): number {
    return this.lastUpdates[slot];
  }

  /** A view into the slab (allocates a view object: for tests and cold paths; batches use gather/scatter). */
  hiddenView(layer: number, slot: number): Float32Array {
    const h = this.sizes[layer];
    return this.hidden[layer].subarray(slot * h, slot * h + h);
  }

  /** Copies the layer's states of `slots[0..n)` into consecutive rows of `dst` starting at `dstOffset`. */
  gather(layer: number, slots: Int32Array, n: number, dst: Float32Array, dstOffset = 0): void {
    const h = this.sizes[layer];
    const slab = this.hidden[layer];
    this.checkBatch(slots, n, dst.length - dstOffset, h);
    if (h >= NATIVE_COPY_MIN) {
      for (let i = 0; i < n; i++) dst.set(slab.subarray(slots[i] * h, slots[i] * h + h), dstOffset + i * h);
      return;
    }
    for (let i = 0; i < n; i++) {
      const s = slots[i] * h;
      const d = dstOffset + i * h;
      for (let k = 0; k < h; k++) dst[d + k] = slab[s + k];
    }
  }

  /** Inverse of gather: writes consecutive rows of `src` back into the slots. */
  scatter(layer: number, slots: Int32Array, n: number, src: Float32Array, srcOffset = 0): void {
    const h = this.sizes[layer];
    const slab = this.hidden[layer];
    this.checkBatch(slots, n, src.length - srcOffset, h);
    if (h >= NATIVE_COPY_MIN) {
      for (let i = 0; i < n; i++) slab.set(src.subarray(srcOffset + i * h, srcOffset + i * h + h), slots[i] * h);
      return;
    }
    for (let i = 0; i < n; i++) {
      const s = slots[i] * h;
      const d = srcOffset + i * h;
      for (let k = 0; k < h; k++) slab[s + k] = src[d + k];
    }
  }

  /** Appends an item to the session's history ring and counts the event. */
  pushItem(slot: number, item: number): void {
    this.counts[slot]++;
    const n = this.historyLength;
    if (n === 0) {
      this.exact[slot] = 0;
      return;
    }
    const base = slot * n;
    const len = this.histLen[slot];
    const start = this.histStart[slot];
    if (len < n) {
      const p = start + len;
      this.histItems[base + (p >= n ? p - n : p)] = item;
      this.histLen[slot] = len + 1;
    } else {
      // The oldest item leaves the window: the state keeps a trace of it that a re-encode cannot.
      this.exact[slot] = 0;
      this.histItems[base + start] = item;
      this.histStart[slot] = start + 1 === n ? 0 : start + 1;
    }
  }

  /** Most recent item of the session, or -1 when its history is empty. */
  lastItem(slot: number): number {
    const n = this.historyLength;
    const len = this.histLen[slot];
    if (len === 0) return NONE;
    const p = this.histStart[slot] + len - 1;
    return this.histItems[slot * n + (p >= n ? p - n : p)];
  }

  historyCount(slot: number): number {
    return this.histLen[slot];
  }

  /** Copies the history, oldest → newest, into `dst`; returns how many items were written. */
  history(slot: number, dst: Int32Array, dstOffset = 0): number {
    const n = this.historyLength;
    const len = this.histLen[slot];
    if (dst.length - dstOffset < len) throw new RangeError(`history needs ${len} entries, dst has ${dst.length - dstOffset}`);
    const base = slot * n;
    const start = this.histStart[slot];
    const first = Math.min(len, n - start);
    dst.set(this.histItems.subarray(base + start, base + start + first), dstOffset);
    if (first < len) dst.set(this.histItems.subarray(base, base + len - first), dstOffset + first);
    return len;
  }

  /**
   * Rewrites every live session's history through `map` (old item index → new index, -1 = the item
   * left the catalogue and is dropped from the history), for a model swap that changes the
   * vocabulary. Order is kept; event counts are not changed.
   */
  remapHistories(map: Int32Array): void {
    const n = this.historyLength;
    if (n === 0) return;
    const tmp = new Int32Array(n);
    for (let slot = this.head; slot !== NONE; slot = this.next[slot]) {
      const len = this.history(slot, tmp);
      let kept = 0;
      for (let i = 0; i < len; i++) {
        const old = tmp[i];
        const mapped = old >= 0 && old < map.length ? map[old] : -1;
        if (mapped >= 0) tmp[kept++] = mapped;
      }
      this.histItems.set(tmp.subarray(0, kept), slot * n);
      this.histStart[slot] = 0;
      this.histLen[slot] = kept;
      if (kept < len) this.exact[slot] = 0;
    }
  }

  /**
   * Removes sessions idle for at least ttlMs, oldest first, at most `limit` of
   * them (to spread a large sweep over several batches). Cost is O(removed):
   * the sweep stops at the first live session because the recency list is in
   * touch order. A clock that steps backwards only delays expiry of the
   * sessions touched after the step.
   */
  expire(now: number = this.clock(), limit = Infinity): number {
    if (this.ttlMs === Infinity) return 0;
    let removed = 0;
    while (this.head !== NONE && removed < limit && now - this.lastUpdates[this.head] >= this.ttlMs) {
      const slot = this.head;
      this.evict(slot, 'ttl');
      this.release(slot);
      removed++;
    }
    return removed;
  }

  /** Removes a session without notifying listeners (for changelog tombstones and explicit ends). */
  delete(sessionId: string): boolean {
    const slot = this.index.get(sessionId);
    if (slot === undefined) return false;
    this.remove(slot);
    this.release(slot);
    this.deletedCount++;
    return true;
  }

  /**
   * Forgets every session of a revoked partition. Not an eviction: the new
   * owner restores them from the changelog, so no tombstones must follow.
   */
  dropPartition(partition: number): number {
    let dropped = 0;
    for (let slot = this.head; slot !== NONE; ) {
      const after = this.next[slot];
      if (this.partitions[slot] === partition) {
        this.remove(slot);
        this.release(slot);
        dropped++;
      }
      slot = after;
    }
    this.droppedCount += dropped;
    for (const l of this.listeners) l.partitionDropped?.(partition, dropped);
    return dropped;
  }

  sessionsOfPartition(partition: number): string[] {
    const out: string[] = [];
    for (let slot = this.head; slot !== NONE; slot = this.next[slot]) {
      if (this.partitions[slot] === partition) out.push(this.ids[slot]);
    }
    return out;
  }

  /**
   * Visits live sessions from least to most recently touched. The callback may
   * read and write slot contents but must not add or remove sessions.
   */
  forEachSession(cb: (sessionId: string, slot: number) => void): void {
    for (let slot = this.head; slot !== NONE; slot = this.next[slot]) cb(this.ids[slot], slot);
  }

  /** Writes live slots, least recently touched first, into `dst`; returns their number. */
  liveSlots(dst: Int32Array): number {
    if (dst.length < this.index.size) throw new RangeError(`dst has ${dst.length} entries, ${this.index.size} sessions are live`);
    let n = 0;
    for (let slot = this.head; slot !== NONE; slot = this.next[slot]) dst[n++] = slot;
    return n;
  }

  /**
   * Zeroes every hidden state, optionally with a new layer layout (a model swap
   * that changes the architecture) and the new model's stamp. Histories, counts
   * and recency are kept so that the caller can replay them through the new
   * model; pending re-encode flags are cleared, as that replay covers every session.
   */
  resetHiddenStates(hiddenSizes: readonly number[] = this.sizes, stamp: ModelStamp = this.modelStamp): void {
    const sizes = checkSizes(hiddenSizes);
    this.modelStamp = stamp;
    this.reencode.fill(0);
    this.reencodeCount = 0;
    // A zero state is the encoding of an empty history only; the caller's replay sets the flag again.
    for (let slot = this.head; slot !== NONE; slot = this.next[slot]) this.exact[slot] = this.histLen[slot] === 0 ? 1 : 0;
    const same = sizes.length === this.sizes.length && sizes.every((h, l) => h === this.sizes[l]);
    if (same) {
      for (const slab of this.hidden) slab.fill(0);
      return;
    }
    // Let go of the old slabs before allocating so that they are collectable when memory runs short.
    this.hidden = [];
    this.sizes = sizes;
    this.hidden = sizes.map((h) => new Float32Array(this.capacity * h));
    this.encodeState.hiddenSizes = this.sizes;
    this.encodeState.hidden = this.hidden;
  }

  /**
   * Adopts another model's stamp without touching the states (a swap with the `keep` policy:
   * the caller vouches that the old states are good enough inputs for the new weights).
   */
  resetStampOnly(stamp: ModelStamp = this.modelStamp): void {
    this.modelStamp = stamp;
    // The old weights' states are no encoding of anything under the new ones.
    for (let slot = this.head; slot !== NONE; slot = this.next[slot]) if (this.histLen[slot] > 0) this.exact[slot] = 0;
  }

  /**
   * Serialises one session for the changelog, stamped with the store's model (format in
   * session-codec.ts): history-only when the slot awaits re-encoding, or in `history` mode when
   * re-encoding its history reproduces its state (`encodesHistory`); with the hidden state otherwise.
   */
  encodeSession(slot: number): Buffer {
    const state = this.encodeState;
    state.slot = slot;
    state.historyCount = this.history(slot, state.history);
    state.eventCount = this.counts[slot];
    state.lastUpdate = this.lastUpdates[slot];
    const historyOnly = this.reencode[slot] === 1 || (this.recordMode === 'history' && this.exact[slot] === 1);
    return encodeSessionRecord(state, this.modelStamp, !historyOnly);
  }

  /** Whether the slot's hidden state is exactly its history encoded from a zero state (see the class comment). */
  encodesHistory(slot: number): boolean {
    return this.exact[slot] === 1;
  }

  /** The caller re-encoded these slots from their histories, starting from zero states. */
  markEncodedFromHistory(slots: Int32Array, n: number): void {
    for (let i = 0; i < n; i++) this.exact[slots[i]] = 1;
  }

  /**
   * Installs a session from a changelog record (replacing a live one with the
   * same id), as far as the record fits this store's model (`recordFit` in
   * session-codec.ts): all of it, or its history with a zero hidden state and
   * the slot flagged for re-encoding. A record from another vocabulary is
   * dropped, and so is any live session with that id, because the record was
   * its latest state; the return is then -1. A malformed record throws
   * SessionRecordError and changes nothing. Restored sessions go to the
   * most-recent end of the recency list in arrival order; call
   * `sortByRecency()` after a bulk restore to order them by their stored times.
   */
  restoreSession(sessionId: string, partition: number, record: Uint8Array): number {
    const view = parseSessionRecord(record);
    const fit = recordFit(record, view, this.sizes, this.modelStamp);
    if (fit === 'drop') {
      this.delete(sessionId);
      return NONE;
    }
    let slot = this.index.get(sessionId);
    if (slot === undefined) {
      slot = this.allocate();
      this.initSlot(slot, sessionId, partition, view.lastUpdate);
    } else {
      this.unlink(slot);
      this.linkTail(slot);
      this.partitions[slot] = partition;
      this.lastUpdates[slot] = view.lastUpdate;
    }
    // No batch holds a restored session: it must stay evictable by the next batch's acquires.
    this.generations[slot] = NO_BATCH;
    if (fit === 'restore') {
      copyHiddenInto(record, view, this.sizes, this.hidden, slot);
      this.setReencode(slot, 0);
      // A stored state of unknown provenance: treated as not reproducible, so it is written in full again.
      this.exact[slot] = view.historyCount === 0 && view.eventCount === 0 ? 1 : 0;
    } else {
      for (let l = 0; l < this.hidden.length; l++) this.hidden[l].fill(0, slot * this.sizes[l], (slot + 1) * this.sizes[l]);
      this.setReencode(slot, 1);
      // Set again by the caller's re-encode (markEncodedFromHistory).
      this.exact[slot] = 0;
    }
    // A store with a shorter history keeps the newest items of the record.
    const keep = Math.min(view.historyCount, this.historyLength);
    copyHistoryInto(record, view, keep, this.histItems, slot * this.historyLength);
    this.histStart[slot] = 0;
    this.histLen[slot] = keep;
    this.counts[slot] = view.eventCount;
    this.restoredCount++;
    return slot;
  }

  /** Whether the slot's hidden state is still to be re-encoded from its history (restored from another model). */
  needsReencode(slot: number): boolean {
    return this.reencode[slot] === 1;
  }

  /** Live sessions whose state is to be re-encoded from history. */
  get reencodePending(): number {
    return this.reencodeCount;
  }

  /**
   * Writes up to `limit` slots flagged for re-encoding into `dst` (least recently touched
   * first) and clears their flags: the caller now owns running their histories
   * through the encoder (and marking them dirty, so the changelog gets records
   * stamped with this model). Returns their number.
   */
  takeReencodeSlots(dst: Int32Array, limit = dst.length): number {
    const want = Math.min(limit, this.reencodeCount);
    if (dst.length < want) throw new RangeError(`dst has ${dst.length} entries, ${want} sessions await re-encoding`);
    let n = 0;
    for (let slot = this.head; slot !== NONE && n < want; slot = this.next[slot]) {
      if (this.reencode[slot] === 1) {
        dst[n++] = slot;
        this.reencode[slot] = 0;
      }
    }
    this.reencodeCount -= n;
    return n;
  }

  /** Flags every live session for re-encoding (a model swap that re-encodes lazily). Returns their number. */
  markAllForReencode(): number {
    for (let slot = this.head; slot !== NONE; slot = this.next[slot]) this.setReencode(slot, 1);
    return this.reencodeCount;
  }

  /** The slot's state was re-encoded by the caller. */
  clearReencode(slot: number): void {
    this.setReencode(slot, 0);
  }

  /**
   * Reorders the recency list by stored last-update time (stable), so that TTL
   * expiry and capacity eviction are exact again after restores arrived out
   * of time order. O(n) when already ordered, O(n log n) otherwise.
   */
  sortByRecency(): boolean {
    let ordered = true;
    for (let slot = this.head; slot !== NONE && this.next[slot] !== NONE; slot = this.next[slot]) {
      if (this.lastUpdates[this.next[slot]] < this.lastUpdates[slot]) {
        ordered = false;
        break;
      }
    }
    if (ordered) return false;
    const n = this.index.size;
    const slots = new Int32Array(n);
    this.liveSlots(slots);
    const rank = new Int32Array(this.capacity);
    for (let i = 0; i < n; i++) rank[slots[i]] = i;
    const lu = this.lastUpdates;
    slots.sort((a, b) => lu[a] - lu[b] || rank[a] - rank[b]);
    this.head = this.tail = NONE;
    for (let i = 0; i < n; i++) this.linkTail(slots[i]);
    return true;
  }

  /**
   * Bytes held: the slabs (fixed by capacity and layout) plus an estimate of
   * the id index, which grows with live sessions, never with events.
   */
  memoryBytes(): number {
    let bytes = 0;
    for (const slab of this.hidden) bytes += slab.byteLength;
    bytes += this.histItems.byteLength + this.histStart.byteLength + this.histLen.byteLength;
    bytes += this.counts.byteLength + this.lastUpdates.byteLength + this.partitions.byteLength;
    bytes += this.generations.byteLength + this.reencode.byteLength + this.exact.byteLength + this.prev.byteLength + this.next.byteLength + this.freeSlots.byteLength;
    bytes += this.capacity * 8; // ids array: one pointer per slot
    return bytes + this.index.size * INDEX_ENTRY_BYTES + this.idChars * 2;
  }

  stats(): SessionStoreStats {
    return {
      size: this.index.size,
      capacity: this.capacity,
      hits: this.hits,
      misses: this.misses,
      evictions: { ttl: this.ttlEvictions, capacity: this.capacityEvictions },
      deleted: this.deletedCount,
      dropped: this.droppedCount,
      restored: this.restoredCount,
    };
  }

  private allocate(): number {
    if (this.freeTop > 0) return this.freeSlots[--this.freeTop];
    const victim = this.head;
    if (this.generation !== 0 && this.generations[victim] === this.generation) {
      throw new RangeError(`session store full: maxSessions (${this.capacity}) is smaller than the distinct sessions of one batch`);
    }
    this.evict(victim, 'capacity');
    return victim;
  }

  private initSlot(slot: number, sessionId: string, partition: number, now: number): void {
    this.ids[slot] = sessionId;
    this.index.set(sessionId, slot);
    this.idChars += sessionId.length;
    this.linkTail(slot);
    this.lastUpdates[slot] = now;
    this.partitions[slot] = partition;
    this.generations[slot] = this.generation;
    this.counts[slot] = 0;
    this.histStart[slot] = 0;
    this.histLen[slot] = 0;
    this.exact[slot] = 1;
  }

  private setReencode(slot: number, flag: 0 | 1): void {
    this.reencodeCount += flag - this.reencode[slot];
    this.reencode[slot] = flag;
  }

  private evict(slot: number, reason: EvictionReason): void {
    const id = this.ids[slot];
    this.remove(slot);
    if (reason === 'ttl') this.ttlEvictions++;
    else this.capacityEvictions++;
    for (const l of this.listeners) l.evicted?.(id, reason, this.partitions[slot], slot);
  }

  /** Unindexes and unlinks; the slot's contents stay until it is reused. */
  private remove(slot: number): void {
    const id = this.ids[slot];
    this.setReencode(slot, 0);
    this.index.delete(id);
    this.idChars -= id.length;
    this.ids[slot] = '';
    this.unlink(slot);
  }

  private release(slot: number): void {
    this.freeSlots[this.freeTop++] = slot;
  }

  private unlink(slot: number): void {
    const p = this.prev[slot];
    const n = this.next[slot];
    if (p === NONE) this.head = n;
    else this.next[p] = n;
    if (n === NONE) this.tail = p;
    else this.prev[n] = p;
    this.prev[slot] = NONE;
    this.next[slot] = NONE;
  }

  private linkTail(slot: number): void {
    this.prev[slot] = this.tail;
    this.next[slot] = NONE;
    if (this.tail === NONE) this.head = slot;
    else this.next[this.tail] = slot;
    this.tail = slot;
  }

  private checkBatch(slots: Int32Array, n: number, room: number, h: number): void {
    if (n > slots.length) throw new RangeError(`n = ${n} but only ${slots.length} slots given`);
    if (room < n * h) throw new RangeError(`buffer holds ${room} values, ${n} rows of ${h} need ${n * h}`);
    for (let i = 0; i < n; i++) {
      const s = slots[i];
      if (s < 0 || s >= this.capacity) throw new RangeError(`slot ${s} out of range [0, ${this.capacity})`);
    }
  }
}

function checkSizes(sizes: readonly number[]): number[] {
  if (sizes.length < 1 || sizes.length > 255) throw new RangeError(`need 1..255 hidden layers, got ${sizes.length}`);
  for (const h of sizes) {
    if (!Number.isInteger(h) || h < 1) throw new RangeError(`hidden sizes must be positive integers, got ${sizes.join(',')}`);
  }
  return [...sizes];
}

export { SessionRecordError };
