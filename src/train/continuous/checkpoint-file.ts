import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { DataFileError } from '../../errors/errors.ts';
import type { Gru4RecConfig } from '../../model/gru4rec-config.ts';
import type { Gru4RecWeights } from '../../model/weights.ts';
import type { OptimizerState } from '../optimizer.ts';
import type { CatalogueState } from './stream-catalogue.ts';

/** Everything a `train --follow` process needs to go on exactly where it stopped. */
export interface TrainerCheckpoint {
  /** Per clicks partition, the next offset to read: every record before it is trained on (or was rejected). */
  offsets: Record<string, string>;
  /** Decoded events consumed, records rejected, windows closed. */
  events: number;
  rejected: number;
  windows: number;
  /** Whether the next window trains or is held out for the gate. */
  phase: 'train' | 'gate';
  /** Registry version the weights descend from (null: not from the registry). */
  parent: number | null;
  config: Gru4RecConfig;
  weights: Gru4RecWeights;
  optimizer: OptimizerState;
  catalogue: CatalogueState;
  /** Open sessions' last items (see WindowSessions). */
  carry: Array<[session: string, item: number, at: number]>;
  createdAt: string;
}

export const CHECKPOINT_FILE = 'checkpoint.bin';
const MAGIC = Buffer.from('STREAMREC-CKPT1\n', 'ascii');

/**
 * One file: magic, header length (u32 LE), header JSON (the checkpoint with every Float32Array
 * replaced by a reference into the body), then the arrays' float32 bytes. The header holds the
 * body's SHA-256, so a torn or altered file is refused instead of resuming from garbage.
 *
 * Written atomically: a temp file in the same directory, fsync, rename over the old one, fsync of
 * the directory; a SIGKILL at any point leaves the previous checkpoint or the new one, whole.
 */
export async function writeCheckpoint(dir: string, ckpt: TrainerCheckpoint): Promise<string> {
  if (endianness() !== 'LE') throw new Error('checkpoints are written as little-endian float32; this machine is big-endian');
  const blobs: Float32Array[] = [];
  const header = JSON.stringify(ckpt, (_key, value: unknown) => {
    if (value instanceof Float32Array) {
      blobs.push(value);
      return { $f32: blobs.length - 1, length: value.length };
    }
    return value;
  });
  const body = Buffer.concat(blobs.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)));
  const sha256 = createHash('sha256').update(body).digest('hex');
  const headerBytes = Buffer.from(JSON.stringify({ sha256, bodyBytes: body.length, checkpoint: JSON.parse(header) }), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(headerBytes.length);
  await mkdir(dir, { recursive: true });
  const path = join(dir, CHECKPOINT_FILE);
  const tmp = `${path}.tmp-${process.pid}`;
  const fh = await open(tmp, 'w');
  try {
    await fh.writev([MAGIC, len, headerBytes, body]);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
  return path;
}

/** The checkpoint in `dir`, or null when there is none yet; throws DataFileError when it is damaged. */
export async function readCheckpoint(dir: string): Promise<TrainerCheckpoint | null> {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return null;
  const buf = await readFile(path);
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) throw new DataFileError(path, 'not a streamrec trainer checkpoint');
  const hLen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + hLen > buf.length) throw new DataFileError(path, 'truncated header');
  let header: { sha256: string; bodyBytes: number; checkpoint: unknown };
  try {
    header = JSON.parse(buf.toString('utf8', start, start + hLen));
  } catch (e) {
    throw new DataFileError(path, `header is not JSON: ${(e as Error).message}`);
  }
  const body = buf.subarray(start + hLen);
  if (body.length !== header.bodyBytes) throw new DataFileError(path, `body holds ${body.length} bytes, the header says ${header.bodyBytes}`);
  const sha = createHash('sha256').update(body).digest('hex');
  if (sha !== header.sha256) throw new DataFileError(path, `SHA-256 mismatch (header ${header.sha256.slice(0, 12)}…, body ${sha.slice(0, 12)}…)`);
  // Offsets of the arrays in write order: the replacer numbered them in the same walk.
  const lengths: number[] = [];
  collectBlobs(header.checkpoint, lengths);
  const starts: number[] = [];
  let at = 0;
  for (const n of lengths) {
    starts.push(at);
    at += n * 4;
  }
  if (at !== body.length) throw new DataFileError(path, `arrays need ${at} bytes, the body holds ${body.length}`);
  const revive = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(revive);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.$f32 === 'number') {
        const i = o.$f32;
        const out = new Float32Array(lengths[i]);
        new Uint8Array(out.buffer).set(body.subarray(starts[i], starts[i] + lengths[i] * 4));
        return out;
      }
      return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, revive(x)]));
    }
    return v;
  };
  return revive(header.checkpoint) as TrainerCheckpoint;
}

function collectBlobs(v: unknown, lengths: number[]): void {
  if (Array.isArray(v)) for (const x of v) collectBlobs(x, lengths);
  else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.$f32 === 'number' && typeof o.length === 'number') lengths[o.$f32] = o.length;
    else for (const x of Object.values(o)) collectBlobs(x, lengths);
  }
}
