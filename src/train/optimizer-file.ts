import { endianness } from 'node:os';
import { ModelFileError } from '../errors/errors.ts';
import type { Gru4RecConfig } from '../model/gru4rec-config.ts';
import type { OptimizerState } from './optimizer.ts';

/**
 * optimizer.bin: an optimizer's state saved beside the weights it belongs to (a model directory or
 * a registry version), so fine-tuning resumes with the accumulators the weights were trained
 * with. Without them Adagrad restarts at full step size on a converged model, and the first
 * windows of continuous training undo what offline training learnt.
 *
 *   "STREAMREC-OPTIM1\n", header length (u32 LE), header JSON, float32 LE arrays in header order.
 *   header: { optimizer, momentum, steps, slots: { [param]: { acc: n, mom: n | null, count: n | null } } }
 *
 * No checksum of its own: where it lives, the directory's manifest.json covers it.
 */
export const OPTIMIZER_BIN = 'optimizer.bin';
const MAGIC = Buffer.from('STREAMREC-OPTIM1\n', 'ascii');

type SlotKind = 'acc' | 'mom' | 'count';
const KINDS: readonly SlotKind[] = ['acc', 'mom', 'count'];

interface Header {
  optimizer: Gru4RecConfig['optimizer'];
  momentum: number;
  steps: number;
  slots: Record<string, Record<SlotKind, number | null>>;
}

/** The optimizer kind a state was made by: a state is only reused by the same kind (the slots mean different things). */
export interface SavedOptimizer {
  optimizer: Gru4RecConfig['optimizer'];
  momentum: number;
  state: OptimizerState;
}

export function encodeOptimizerState(saved: SavedOptimizer): Uint8Array {
  if (endianness() !== 'LE') throw new Error('optimizer.bin is written as little-endian float32; this machine is big-endian');
  const header: Header = { optimizer: saved.optimizer, momentum: saved.momentum, steps: saved.state.steps, slots: {} };
  const arrays: Float32Array[] = [];
  for (const [name, slot] of Object.entries(saved.state.slots)) {
    const sizes: Record<SlotKind, number | null> = { acc: null, mom: null, count: null };
    for (const kind of KINDS) {
      const a = slot[kind];
      if (a) {
        sizes[kind] = a.length;
        arrays.push(a);
      }
    }
    header.slots[name] = sizes;
  }
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  return Buffer.concat([MAGIC, len, json, ...arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))]);
}

/** Parses optimizer.bin; `path` names the file in errors. */
export function decodeOptimizerState(buf: Uint8Array, path: string): SavedOptimizer {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < MAGIC.length + 4 || !b.subarray(0, MAGIC.length).equals(MAGIC)) throw new ModelFileError(path, 'not a streamrec optimizer state');
  const hLen = b.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + hLen > b.length) throw new ModelFileError(path, 'truncated header');
  let header: Header;
  try {
    header = JSON.parse(b.toString('utf8', start, start + hLen)) as Header;
  } catch (e) {
    throw new ModelFileError(path, `header is not JSON: ${(e as Error).message}`);
  }
  if ((header.optimizer !== 'adagrad' && header.optimizer !== 'adam') || !Number.isInteger(header.steps) || typeof header.slots !== 'object' || header.slots === null)
    throw new ModelFileError(path, 'header: expected optimizer (adagrad | adam), an integer steps and slots');
  let at = start + hLen;
  const slots: OptimizerState['slots'] = {};
  for (const [name, sizes] of Object.entries(header.slots)) {
    const read = (kind: SlotKind): Float32Array | null => {
      const n = sizes[kind];
      if (n === null || n === undefined) return null;
      if (!Number.isInteger(n) || n < 0) throw new ModelFileError(path, `slots.${name}.${kind}: ${JSON.stringify(n)} is not a length`);
      if (at + n * 4 > b.length) throw new ModelFileError(path, `truncated: ${name}.${kind} needs ${n * 4} bytes at ${at}, the file holds ${b.length}`);
      const out = new Float32Array(n);
      new Uint8Array(out.buffer).set(b.subarray(at, at + n * 4));
      at += n * 4;
      return out;
    };
    const acc = read('acc');
    if (!acc) throw new ModelFileError(path, `slots.${name}: no accumulator`);
    slots[name] = { acc, mom: read('mom'), count: read('count') };
  }
  if (at !== b.length) throw new ModelFileError(path, `holds ${b.length - at} bytes after the arrays its header describes`);
  return { optimizer: header.optimizer, momentum: header.momentum, state: { steps: header.steps, slots } };
}

/**
 * Whether a saved state can seed an optimizer of `config`: the same kind, and momentum slots
 * present exactly when the config uses them. Sizes are checked by the optimizer itself.
 */
export function optimizerStateFits(saved: SavedOptimizer, config: Pick<Gru4RecConfig, 'optimizer' | 'momentum'>): string | null {
  if (saved.optimizer !== config.optimizer) return `saved by ${saved.optimizer}, the trainer uses ${config.optimizer}`;
  if (config.optimizer === 'adagrad' && saved.momentum > 0 !== config.momentum > 0)
    return `saved ${saved.momentum > 0 ? 'with' : 'without'} momentum, the trainer runs ${config.momentum > 0 ? 'with' : 'without'}`;
  return null;
}
