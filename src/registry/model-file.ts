/**
 * On-disk format of a trained GRU4Rec model: a directory holding two files.
 *
 * model.json (UTF-8):
 *   {
 *     "format": "streamrec-gru4rec",          // fixed tag
 *     "formatVersion": 1,
 *     "arch": Gru4RecArch,                     // src/model/weights.ts
 *     "config": Gru4RecConfig | null,          // the hyperparameters it was trained with (src/train/config.ts)
 *     "itemIds": string[],                     // external id of item row i; length arch.nItems
 *     "tensors": [{ "name": "out.Wy", "shape": [nItems, H], "offset": 0, "length": nItems*H }, ...],
 *     "metrics"?: { [name]: number },          // e.g. recall@20 of the promotion gate
 *     "createdAt": ISO-8601 string,
 *     "version"?: string, "parent"?: string    // registry lineage
 *   }
 *   `offset` is a byte offset into weights.bin, `length` a count of float32 values; tensor names,
 *   shapes and layouts are those of the weights contract (src/model/weights.ts).
 *
 * weights.bin: the tensors' values, row-major little-endian float32, concatenated in the order of
 *   "tensors" with no gaps; the file holds exactly Σ length × 4 bytes.
 *
 * Saving writes both files under temporary names and renames weights.bin first and model.json
 * last, so a reader that finds model.json finds the matching weights. Loading checks everything
 * (tag, version, item ids, tensor table, file size, shapes, finiteness) before returning.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { expectedShapes, validateWeights, type Gru4RecArch, type Gru4RecWeights, type NamedTensor } from '../model/weights.ts';
import { archOf, validateGru4RecConfig, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { ModelFileError } from '../errors/errors.ts';

export const MODEL_FORMAT = 'streamrec-gru4rec';
export const MODEL_FORMAT_VERSION = 1;
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';

export interface TensorEntry {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

export interface ModelJson {
  format: typeof MODEL_FORMAT;
  formatVersion: number;
  arch: Gru4RecArch;
  config: Gru4RecConfig | null;
  itemIds: string[];
  tensors: TensorEntry[];
  metrics?: Record<string, number>;
  createdAt: string;
  version?: string;
  parent?: string;
}

export interface SaveModelInput {
  weights: Gru4RecWeights;
  itemIds: readonly string[];
  config: Gru4RecConfig | null;
  metrics?: Record<string, number>;
  version?: string;
  parent?: string;
  /** Defaults to now. */
  createdAt?: Date;
}

export interface LoadedModel {
  weights: Gru4RecWeights;
  itemIds: string[];
  config: Gru4RecConfig | null;
  metrics?: Record<string, number>;
  createdAt: string;
  version?: string;
  parent?: string;
}

export async function saveModel(dir: string, input: SaveModelInput): Promise<ModelJson> {
  const { weights, itemIds } = input;
  validateWeights(weights);
  if (itemIds.length !== weights.arch.nItems) throw new ModelFileError(dir, `${itemIds.length} item ids for a model of ${weights.arch.nItems} items`);
  if (input.config) checkConfigMatches(input.config, weights.arch, dir);
  const names = Object.keys(expectedShapes(weights.arch));
  const tensors: TensorEntry[] = [];
  let bytes = 0;
  for (const name of names) {
    const t = weights.tensors[name];
    tensors.push({ name, shape: [...t.shape], offset: bytes, length: t.data.length });
    bytes += t.data.length * 4;
  }
  const bin = new Uint8Array(bytes);
  const view = new DataView(bin.buffer);
  for (const entry of tensors) {
    const data = weights.tensors[entry.name].data;
    for (let i = 0; i < data.length; i++) view.setFloat32(entry.offset + i * 4, data[i], true);
  }
  const json: ModelJson = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    arch: { ...weights.arch, hiddenSizes: [...weights.arch.hiddenSizes] },
    config: input.config,
    itemIds: [...itemIds],
    tensors,
    ...(input.metrics ? { metrics: input.metrics } : {}),
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    ...(input.version !== undefined ? { version: input.version } : {}),
    ...(input.parent !== undefined ? { parent: input.parent } : {}),
  };
  await mkdir(dir, { recursive: true });
  const tmp = `.tmp-${process.pid}-${Date.now()}`;
  await writeFile(join(dir, WEIGHTS_BIN + tmp), bin);
  await writeFile(join(dir, MODEL_JSON + tmp), JSON.stringify(json));
  await rename(join(dir, WEIGHTS_BIN + tmp), join(dir, WEIGHTS_BIN));
  await rename(join(dir, MODEL_JSON + tmp), join(dir, MODEL_JSON));
  return json;
}

/** Read and fully check a model directory; throws a message naming the file and the problem. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const jsonPath = join(dir, MODEL_JSON);
  const binPath = join(dir, WEIGHTS_BIN);
  if (!existsSync(dir)) throw new ModelFileError(dir, 'model directory does not exist');
  if (!existsSync(jsonPath)) throw new ModelFileError(jsonPath, 'missing');
  if (!existsSync(binPath)) throw new ModelFileError(binPath, 'missing');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(jsonPath, 'utf8'));
  } catch (err) {
    throw new ModelFileError(jsonPath, `not valid JSON: ${(err as Error).message}`);
  }
  const json = checkModelJson(raw, jsonPath);
  const size = (await stat(binPath)).size;
  const needed = json.tensors.reduce((end, t) => Math.max(end, t.offset + t.length * 4), 0);
  if (size < needed) throw new ModelFileError(binPath, `truncated: it holds ${size} bytes, the tensors in model.json need ${needed}`);
  if (size > needed) throw new ModelFileError(binPath, `holds ${size} bytes, more than the ${needed} the tensors in model.json describe`);
  const bin = await readFile(binPath);
  const tensors: Record<string, NamedTensor> = {};
  for (const entry of json.tensors) tensors[entry.name] = { shape: [...entry.shape], data: readFloat32(bin, entry.offset, entry.length) };
  const weights: Gru4RecWeights = { arch: json.arch, tensors };
  try {
    validateWeights(weights);
  } catch (err) {
    throw new ModelFileError(binPath, (err as Error).message);
  }
  return {
    weights,
    itemIds: json.itemIds,
    config: json.config,
    createdAt: json.createdAt,
    ...(json.metrics ? { metrics: json.metrics } : {}),
    ...(json.version !== undefined ? { version: json.version } : {}),
    ...(json.parent !== undefined ? { parent: json.parent } : {}),
  };
}

function checkModelJson(raw: unknown, path: string): ModelJson {
  const fail = (msg: string): never => {
    throw new ModelFileError(path, msg);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail('expected a JSON object');
  const j = raw as Record<string, unknown>;
  if (j.format !== MODEL_FORMAT) fail(`not a streamrec GRU4Rec model: format is ${JSON.stringify(j.format)}, expected "${MODEL_FORMAT}"`);
  if (j.formatVersion !== MODEL_FORMAT_VERSION) fail(`unsupported formatVersion ${JSON.stringify(j.formatVersion)} (this build reads ${MODEL_FORMAT_VERSION})`);
  const arch = j.arch as Gru4RecArch;
  if (typeof arch !== 'object' || arch === null) fail('"arch" is missing');
  if (!Number.isInteger(arch.nItems) || arch.nItems < 1) fail(`arch.nItems must be a positive integer, got ${JSON.stringify(arch.nItems)}`);
  if (!Array.isArray(arch.hiddenSizes) || arch.hiddenSizes.length === 0 || arch.hiddenSizes.some((h) => !Number.isInteger(h) || h < 1))
    fail(`arch.hiddenSizes must be a non-empty list of positive integers, got ${JSON.stringify(arch.hiddenSizes)}`);
  if (!Number.isInteger(arch.embeddingDim) || arch.embeddingDim < 0) fail(`arch.embeddingDim must be a non-negative integer, got ${JSON.stringify(arch.embeddingDim)}`);
  if (typeof arch.constrainedEmbedding !== 'boolean' || typeof arch.useBias !== 'boolean') fail('arch.constrainedEmbedding and arch.useBias must be booleans');
  const itemIds = j.itemIds;
  if (!Array.isArray(itemIds) || itemIds.some((id) => typeof id !== 'string')) fail('"itemIds" must be a list of strings');
  if ((itemIds as string[]).length !== arch.nItems) fail(`"itemIds" has ${(itemIds as string[]).length} entries, arch.nItems is ${arch.nItems}`);
  if (new Set(itemIds as string[]).size !== arch.nItems) fail('"itemIds" holds duplicate ids');
  if (!Array.isArray(j.tensors)) fail('"tensors" must be a list');
  const expected = expectedShapes(arch);
  const seen = new Set<string>();
  for (const t of j.tensors as TensorEntry[]) {
    if (typeof t !== 'object' || t === null || typeof t.name !== 'string') fail('every "tensors" entry needs a name');
    if (!(t.name in expected)) fail(`tensor "${t.name}" does not belong to this architecture`);
    if (seen.has(t.name)) fail(`tensor "${t.name}" is listed twice`);
    seen.add(t.name);
    const want = expected[t.name];
    if (!Array.isArray(t.shape) || t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i]))
      fail(`tensor "${t.name}" has shape ${JSON.stringify(t.shape)}, the architecture needs [${want}]`);
    const n = want.reduce((a, b) => a * b, 1);
    if (t.length !== n) fail(`tensor "${t.name}" has length ${JSON.stringify(t.length)}, its shape holds ${n} values`);
    if (!Number.isInteger(t.offset) || t.offset < 0 || t.offset % 4 !== 0) fail(`tensor "${t.name}" has offset ${JSON.stringify(t.offset)}, expected a non-negative multiple of 4`);
  }
  for (const name of Object.keys(expected)) if (!seen.has(name)) fail(`tensor "${name}" is missing`);
  let config: Gru4RecConfig | null = null;
  if (j.config !== null && j.config !== undefined) {
    try {
      config = validateGru4RecConfig(j.config as Record<string, unknown>);
    } catch (err) {
      fail((err as Error).message);
    }
    checkConfigMatches(config!, arch, path);
  }
  if (typeof j.createdAt !== 'string' || Number.isNaN(Date.parse(j.createdAt))) fail(`"createdAt" must be an ISO-8601 time, got ${JSON.stringify(j.createdAt)}`);
  if (j.metrics !== undefined) {
    const m = j.metrics as Record<string, unknown>;
    if (typeof m !== 'object' || m === null || Object.values(m).some((v) => typeof v !== 'number')) fail('"metrics" must map names to numbers');
  }
  for (const key of ['version', 'parent'] as const) if (j[key] !== undefined && typeof j[key] !== 'string') fail(`"${key}" must be a string`);
  return { ...(j as unknown as ModelJson), config };
}

function checkConfigMatches(config: Gru4RecConfig, arch: Gru4RecArch, where: string): void {
  const want = archOf(config, arch.nItems);
  if (JSON.stringify(want) !== JSON.stringify({ ...arch, hiddenSizes: [...arch.hiddenSizes] }))
    throw new ModelFileError(where, `the config describes architecture ${JSON.stringify(want)}, the weights have ${JSON.stringify(arch)}`);
}

function readFloat32(bin: Buffer, offset: number, length: number): Float32Array {
  if (endianness() === 'LE') {
    const out = new Float32Array(length);
    new Uint8Array(out.buffer).set(bin.subarray(offset, offset + length * 4));
    return out;
  }
  const view = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = view.getFloat32(offset + i * 4, true);
  return out;
}
