/**
 * Where deltas live: beside the versions they apply to, in the registry directory.
 *
 *   <root>/deltas/000003/000001.delta   delta 1 of the chain based on version 3 (model-delta.ts)
 *   <root>/deltas/000003/000002.delta   …
 *   <root>/sync.json                    the operator's switch: { "paused": bool, "reason", "at" }
 *   <root>/rollbacks.jsonl              one JSON line per rollback (automatic or manual)
 *
 * Why the registry and not a Kafka topic: a delta is only meaningful with its snapshot, and the
 * snapshot is here; a process that starts reads the snapshot and the chain after it from one
 * place, in order, without a topic's retention racing the snapshot interval, without
 * max.message.bytes (a 300k-item catalogue's touched rows run to megabytes) and without a
 * compaction policy that would keep the wrong records. Each file is written atomically (a reader
 * sees all of it or none) and carries its own SHA-256, so a poll of one small directory every
 * few hundred ms is all a follower needs.
 */
import { appendFile, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelFileError } from '../errors/errors.ts';
import { fsyncPath, writeFileAtomic } from './durable-fs.ts';
import { applyDelta, decodeDelta, encodeDelta, type ModelDelta, type ModelState } from './model-delta.ts';
import { type ModelRegistry, type RegistryModel, versionDirName } from './model-registry.ts';

export const DELTAS_DIR = 'deltas';
export const SYNC_FILE = 'sync.json';
export const ROLLBACKS_FILE = 'rollbacks.jsonl';
const DELTA_NAME = /^(\d{6,})\.delta$/;

export interface SyncControl {
  paused: boolean;
  reason: string;
  /** Epoch ms of the change. */
  at: number;
  /** The pause holds for this base version's deltas only (an automatic rollback's); absent: for every base. */
  base?: number;
  /** Epoch ms of the latest manual rollback request (`streamrec sync rollback`): serving goes back to the snapshot once per request. */
  rollbackAt?: number;
}

const SyncControlSchema = z.object({
  paused: z.boolean(),
  reason: z.string(),
  at: z.int().min(0),
  base: z.int().min(1).optional(),
  rollbackAt: z.int().min(0).optional(),
});

/** One rollback, as rollbacks.jsonl records it. */
export interface RollbackRecord {
  at: string;
  /** automatic: the live-quality guard; manual: `streamrec sync rollback`. */
  trigger: 'automatic' | 'manual';
  base: number;
  /** The delta that was serving when serving went back to the snapshot. */
  fromSeq: number;
  /** Online Recall@20 of the snapshot's window and of the deltas' window (null for a manual rollback without measurements). */
  snapshotRecall: number | null;
  deltaRecall: number | null;
  windowTargets: number | null;
  instance: string;
}

export class DeltaStore {
  private readonly dir: string;

  constructor(readonly registry: ModelRegistry) {
    this.dir = join(registry.root, DELTAS_DIR);
  }

  chainDir(base: number): string {
    return join(this.dir, versionDirName(base));
  }

  pathOf(base: number, seq: number): string {
    return join(this.chainDir(base), `${versionDirName(seq)}.delta`);
  }

  /** Writes a delta (atomically; an existing file of the same base and seq is a caller bug and refused). Returns its size in bytes. */
  async write(d: ModelDelta): Promise<number> {
    const bytes = encodeDelta(d);
    const dir = this.chainDir(d.base);
    await mkdir(dir, { recursive: true });
    const existing = await this.seqs(d.base);
    if (existing.includes(d.seq)) throw new ModelFileError(this.pathOf(d.base, d.seq), 'exists already: a chain is written once, in order');
    await writeFileAtomic(this.pathOf(d.base, d.seq), bytes);
    return bytes.length;
  }

  /** Sequence numbers present in the chain of `base`, ascending (a gap shows as a missing number). */
  async seqs(base: number): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.chainDir(base));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: number[] = [];
    for (const n of names) {
      const m = DELTA_NAME.exec(n);
      if (m) out.push(Number(m[1]));
    }
    return out.sort((a, b) => a - b);
  }

  /** Reads and verifies one delta; refuses one of another base (a file copied into the wrong chain). */
  async read(base: number, seq: number): Promise<ModelDelta & { bytes: number }> {
    const path = this.pathOf(base, seq);
    let buf: Buffer;
    try {
      buf = await readFile(path);
    } catch (e) {
      throw new ModelFileError(path, `cannot read: ${(e as Error).message}`, { cause: e });
    }
    const d = decodeDelta(buf, path, base);
    if (d.seq !== seq) throw new ModelFileError(path, `not a usable model delta: it is seq ${d.seq}, its file name says ${seq}`);
    return { ...d, bytes: buf.length };
  }

  /**
   * The snapshot `base` with its chain applied in order, up to `untilSeq` (default: as far as it
   * goes), stopping before the first gap. What a process starting up serves, and what a trainer
   * resuming diffs against so that its next delta continues the chain serving has.
   */
  async chainState(base: number, untilSeq = Number.POSITIVE_INFINITY): Promise<{ state: ModelState; seq: number; newestClickAt: number | null; snapshot: RegistryModel }> {
    const m = await this.registry.load(base);
    let state: ModelState = { weights: m.weights, itemIds: m.itemIds };
    let seq = 0;
    let newestClickAt: number | null = null;
    for (const s of await this.seqs(base)) {
      if (s !== seq + 1 || s > untilSeq) break;
      const d = await this.read(base, s);
      state = applyDelta(state, d, this.pathOf(base, s));
      seq = s;
      newestClickAt = d.newestClickAt ?? newestClickAt;
    }
    return { state, seq, newestClickAt, snapshot: m };
  }

  /** Removes the chains of every base not in `keep` (old snapshots' deltas are never applied again). */
  async prune(keep: ReadonlySet<number>): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw e;
    }
    for (const n of names) if (/^\d{6,}$/.test(n) && !keep.has(Number(n))) await rm(join(this.dir, n), { recursive: true, force: true });
  }

  /** The operator's switch; not paused when sync.json does not exist. */
  async control(): Promise<SyncControl> {
    const path = join(this.registry.root, SYNC_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { paused: false, reason: '', at: 0 };
      throw new ModelFileError(path, `cannot read: ${(e as Error).message}`, { cause: e });
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new ModelFileError(path, `not JSON: ${(e as Error).message}`);
    }
    const parsed = SyncControlSchema.safeParse(raw);
    if (!parsed.success) throw new ModelFileError(path, `expected { paused, reason, at, base?, rollbackAt? }: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    return parsed.data;
  }

  async setControl(c: SyncControl): Promise<void> {
    await mkdir(this.registry.root, { recursive: true });
    await writeFileAtomic(join(this.registry.root, SYNC_FILE), `${JSON.stringify(c)}\n`);
  }

  async recordRollback(r: RollbackRecord): Promise<void> {
    const path = join(this.registry.root, ROLLBACKS_FILE);
    await mkdir(this.registry.root, { recursive: true });
    await appendFile(path, `${JSON.stringify(r)}\n`);
    await fsyncPath(path);
  }

  async rollbacks(): Promise<RollbackRecord[]> {
    try {
      const text = await readFile(join(this.registry.root, ROLLBACKS_FILE), 'utf8');
      return text
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as RollbackRecord);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
  }
}
