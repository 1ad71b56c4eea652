/**
 * Delta records: what changed in a model's weights since the previous delta of the same base
 * version. Between two full versions (snapshots) the continuous trainer writes one every
 * train.sync.intervalMs; serving applies them in order on top of the snapshot.
 *
 * A delta is generic over the tensor names of src/model/weights.ts: a tensor is PER-ITEM when its
 * first dimension is the catalogue size (perItemTensors: found from expectedShapes, not from a
 * list of names, so every cell and head is covered), and DENSE otherwise. Per-item tensors ship
 * only their changed rows (with the row ids), dense tensors ship whole when they changed at all.
 * The catalogue may grow (nItems) and rows may be re-assigned to new items (recycled rows):
 * `ids` names the item of every row whose id changed, so the vocabulary follows the weights.
 *
 * Binary layout (little-endian), compact and exact (float32, as trained: serving reproduces the
 * trainer's weights bit for bit, which is what lets a restarted process rebuild the same model):
 *
 *   "SRDELTA1"                 8 bytes magic
 *   u32 headerLength           then that many bytes of UTF-8 JSON (DeltaHeader)
 *   per tensor of header.tensors, in order:
 *     rows > 0:  u32[rows] row ids, then f32[rows · rowSize]
 *     rows = -1: f32[size] (a dense tensor, whole)
 *   32 bytes                   SHA-256 of everything before it
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ModelFileError } from '../errors/errors.ts';
import { expectedShapes, type Gru4RecArch, type Gru4RecWeights, type NamedTensor } from '../model/weights.ts';
import { describeIssue } from './schema-issues.ts';

const MAGIC = Buffer.from('SRDELTA1', 'latin1');
const HASH_BYTES = 32;
/** rows value of a dense tensor shipped whole. */
export const DENSE = -1;

export interface DeltaTensor {
  name: string;
  /** Changed rows of a per-item tensor (ascending), or null for a dense tensor shipped whole. */
  rows: Uint32Array | null;
  /** rows.length · rowSize values (per-item), or the whole tensor (dense). */
  data: Float32Array;
}

export interface ModelDelta {
  /** The registry version (snapshot) this delta's chain starts from. */
  base: number;
  /** 1, 2, …: position in the chain of `base`; serving applies seq only after seq − 1. */
  seq: number;
  /** Catalogue size after the delta (≥ the previous one: a catalogue only grows, rows are recycled). */
  nItems: number;
  /** Item ids of rows new or re-assigned since the previous delta: [row, id]. */
  ids: [number, string][];
  tensors: DeltaTensor[];
  createdAt: number;
  /**
   * Append time (the clicks record's timestamp, epoch ms) of the newest and oldest click the
   * trainer had trained on when it wrote this delta and not in the previous one; null when the
   * delta trained on nothing new (a trainer that restarted ships its difference with the chain).
   */
  newestClickAt: number | null;
  oldestClickAt: number | null;
  /** Per clicks partition, the next offset the weights were not trained on. */
  trainingOffsets: Record<string, string>;
}

interface HeaderTensor {
  name: string;
  /** Row ids that follow (per-item), or DENSE. */
  rows: number;
  /** Float32 values that follow the row ids. */
  values: number;
}

const HeaderSchema = z.object({
  base: z.int().min(1),
  seq: z.int().min(1),
  nItems: z.int().min(1),
  ids: z.array(z.tuple([z.int().min(0), z.string()])),
  tensors: z.array(z.object({ name: z.string().min(1), rows: z.int().min(DENSE), values: z.int().min(0) })),
  createdAt: z.int().min(0),
  newestClickAt: z.int().min(0).nullable(),
  oldestClickAt: z.int().min(0).nullable(),
  trainingOffsets: z.record(z.string(), z.string()),
});

/**
 * Names of the per-item tensors of `arch`: those whose first dimension follows nItems (the item
 * embedding, one-hot input rows, output rows and bias, whatever the cell).
 */
export function perItemTensors(arch: Gru4RecArch): Set<string> {
  const now = expectedShapes(arch);
  const grown = expectedShapes({ ...arch, nItems: arch.nItems + 1 });
  return new Set(Object.keys(now).filter((name) => now[name][0] !== grown[name][0]));
}

/** Values per row of a tensor (the product of its dimensions after the first; 1 for a vector). */
export function rowSize(shape: readonly number[]): number {
  let n = 1;
  for (let i = 1; i < shape.length; i++) n *= shape[i];
  return n;
}

export function encodeDelta(d: ModelDelta): Buffer {
  const header = {
    base: d.base,
    seq: d.seq,
    nItems: d.nItems,
    ids: d.ids,
    tensors: d.tensors.map((t): HeaderTensor => ({ name: t.name, rows: t.rows ? t.rows.length : DENSE, values: t.data.length })),
    createdAt: d.createdAt,
    newestClickAt: d.newestClickAt,
    oldestClickAt: d.oldestClickAt,
    trainingOffsets: d.trainingOffsets,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const parts: Buffer[] = [MAGIC, u32(json.length), json];
  for (const t of d.tensors) {
    if (t.rows) parts.push(Buffer.from(t.rows.buffer, t.rows.byteOffset, t.rows.byteLength));
    parts.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  const body = Buffer.concat(parts);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/**
 * Decodes a delta, refusing with one ModelFileError line (naming `source`) anything that is not
 * exactly one intact delta: wrong magic, a checksum that does not match, a header that does not
 * parse, sizes that do not add up. `expectBase`, when given, refuses a delta of another base.
 * Tensor shapes are checked against the weights at apply (applyDelta), which knows them.
 */
export function decodeDelta(buf: Buffer, source: string, expectBase?: number): ModelDelta {
  const refuse = (why: string): never => {
    throw new ModelFileError(source, `not a usable model delta: ${why}`);
  };
  if (buf.length < MAGIC.length + 4 + HASH_BYTES || !buf.subarray(0, MAGIC.length).equals(MAGIC)) refuse('no SRDELTA1 header');
  const body = buf.subarray(0, buf.length - HASH_BYTES);
  if (
    !createHash('sha256')
      .update(body)
      .digest()
      .equals(buf.subarray(buf.length - HASH_BYTES))
  )
    refuse('checksum mismatch (truncated or corrupt)');
  const headerLength = body.readUInt32LE(MAGIC.length);
  let at = MAGIC.length + 4 + headerLength;
  if (at > body.length) refuse(`header length ${headerLength} runs past the record`);
  let raw: unknown;
  try {
    raw = JSON.parse(body.subarray(MAGIC.length + 4, at).toString('utf8'));
  } catch (e) {
    return refuse(`header is not JSON: ${(e as Error).message}`);
  }
  const parsed = HeaderSchema.safeParse(raw);
  if (!parsed.success) return refuse(`header: ${describeIssue(parsed.error.issues, raw)}`);
  const h = parsed.data;
  if (expectBase !== undefined && h.base !== expectBase) refuse(`it is for base version ${h.base}, serving follows base ${expectBase}`);
  // Shapes are only known with the weights (applyDelta checks them); here the sizes must add up.
  let need = 0;
  for (const t of h.tensors) need += 4 * (Math.max(t.rows, 0) + t.values);
  if (need !== body.length - at) refuse(`the header describes ${need} bytes of rows and values, the record holds ${body.length - at}`);
  const tensors: DeltaTensor[] = [];
  for (const t of h.tensors) {
    let rows: Uint32Array | null = null;
    if (t.rows !== DENSE) {
      rows = new Uint32Array(copyOut(body, at, 4 * t.rows));
      at += 4 * t.rows;
    }
    const data = new Float32Array(copyOut(body, at, 4 * t.values));
    at += 4 * t.values;
    tensors.push({ name: t.name, rows, data });
  }
  const { tensors: _, ...rest } = h;
  return { ...rest, ids: h.ids as [number, string][], tensors };
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n);
  return b;
}

/** An aligned copy (the record's bytes need not be 4-byte aligned for a typed array view). */
function copyOut(buf: Buffer, at: number, length: number): ArrayBuffer {
  const out = new ArrayBuffer(length);
  new Uint8Array(out).set(buf.subarray(at, at + length));
  return out;
}

/** A model as deltas move it: its weights and the item id of every row. */
export interface ModelState {
  weights: Gru4RecWeights;
  itemIds: readonly string[];
}

/**
 * `state` with `d` applied, as a new state: changed tensors are fresh arrays (the old state, which
 * a live engine may still read, is left as it was); unchanged tensors are shared. Refuses, with
 * one line naming `source`, a delta that does not fit the weights: an unknown tensor, a row out
 * of range, a size that does not match, a shrinking catalogue, an id that would repeat.
 */
export function applyDelta(state: ModelState, d: ModelDelta, source: string): ModelState {
  const refuse = (why: string): never => {
    throw new ModelFileError(source, `delta ${d.base}.${d.seq} does not apply: ${why}`);
  };
  const arch = state.weights.arch;
  if (d.nItems < arch.nItems) refuse(`it has ${d.nItems} items, the model ${arch.nItems} (a catalogue does not shrink)`);
  const nextArch: Gru4RecArch = { ...arch, nItems: d.nItems };
  const shapes = expectedShapes(nextArch);
  const perItem = perItemTensors(arch);
  const tensors: Record<string, NamedTensor> = { ...state.weights.tensors };
  const seen = new Set<string>();
  for (const t of d.tensors) {
    const shape = shapes[t.name];
    if (!shape) refuse(`tensor "${t.name}" is not in the model`);
    if (seen.has(t.name)) refuse(`tensor "${t.name}" appears twice`);
    seen.add(t.name);
    const size = shape.reduce((a, b) => a * b, 1);
    if (t.rows === null) {
      if (t.data.length !== size) refuse(`dense tensor "${t.name}" holds ${t.data.length} values, expected ${size}`);
      tensors[t.name] = { shape, data: t.data };
      continue;
    }
    if (!perItem.has(t.name)) refuse(`tensor "${t.name}" is dense but the delta ships rows of it`);
    const width = rowSize(shape);
    if (t.data.length !== t.rows.length * width) refuse(`tensor "${t.name}": ${t.rows.length} rows need ${t.rows.length * width} values, got ${t.data.length}`);
    const data = new Float32Array(size);
    data.set(state.weights.tensors[t.name].data.subarray(0, Math.min(size, state.weights.tensors[t.name].data.length)));
    for (let i = 0; i < t.rows.length; i++) {
      const row = t.rows[i];
      if (row >= d.nItems) refuse(`tensor "${t.name}": row ${row} is beyond the catalogue (${d.nItems} items)`);
      data.set(t.data.subarray(i * width, (i + 1) * width), row * width);
    }
    tensors[t.name] = { shape, data };
  }
  if (d.nItems > arch.nItems) for (const name of perItem) if (!seen.has(name)) refuse(`the catalogue grew but tensor "${name}" has no rows for the new items`);
  if (d.ids.length === 0 && d.nItems === arch.nItems) return { weights: { arch: nextArch, tensors }, itemIds: state.itemIds };
  const itemIds = [...state.itemIds];
  for (const [row, id] of d.ids) {
    if (row >= d.nItems) refuse(`item id for row ${row}, beyond the catalogue (${d.nItems} items)`);
    itemIds[row] = id;
  }
  if (itemIds.length !== d.nItems) refuse(`rows ${itemIds.length}..${d.nItems - 1} have no item id`);
  for (let r = 0; r < itemIds.length; r++) if (itemIds[r] === undefined) refuse(`row ${r} has no item id`);
  if (d.ids.length > 0 && new Set(itemIds).size !== itemIds.length) refuse('two rows would hold the same item id');
  return { weights: { arch: nextArch, tensors }, itemIds };
}
