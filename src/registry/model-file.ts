/**
 * On-disk format of a trained GRU4Rec model: a directory holding three files.
 *
 * model.json (UTF-8; structure checked by the schema in model-json.ts):
 *   {
 *     "format": "streamrec-gru4rec",          // fixed tag
 *     "formatVersion": 1,
 *     "arch": Gru4RecArch,                     // src/model/weights.ts
 *     "config": Gru4RecConfig | null,          // the hyperparameters it was trained with (src/model/gru4rec-config.ts)
 *     "itemIds": string[],                     // external id of item row i; length arch.nItems
 *     "vocabularyHash": hex SHA-256 of itemIds (model-identity.ts),
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
 * manifest.json: SHA-256 and size of the two files (and of any extra file saved beside them, such
 *   as the registry's version.json), plus the vocabulary and state-layout hashes
 *   (manifest.ts). formatVersion stayed 1 when vocabularyHash and the manifest came: a directory
 *   without them has no manifest, and is refused on that before its model.json is read.
 *
 * Saving writes every file under a temporary name, removes an old manifest first, renames
 * weights.bin, then model.json, and the manifest last: it is the commit mark, so an interrupted
 * save or an overwrite in progress is refused on load, never read half-new. Loading verifies the
 * manifest before parsing anything, then checks everything else (tag, version, item ids and their
 * hash, tensor table, file size, shapes, finiteness) before returning.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { expectedShapes, validateWeights, type Gru4RecWeights, type NamedTensor } from '../model/weights.ts';
import type { Gru4RecConfig } from '../model/gru4rec-config.ts';
import { ModelFileError } from '../errors/errors.ts';
import { buildManifest, MANIFEST_JSON, verifyManifest } from './manifest.ts';
import { checkConfigMatches, checkModelJson, MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelJson, type TensorEntry } from './model-json.ts';
import { stateLayoutHash, stateLayoutOf, vocabularyHash, type StateLayout } from './model-identity.ts';

export { MANIFEST_JSON } from './manifest.ts';
export { MODEL_FORMAT, MODEL_FORMAT_VERSION, type ModelJson, type TensorEntry } from './model-json.ts';
export type { StateLayout } from './model-identity.ts';
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
/** The model format a state layout names: another format (or version) never shares session states. */
const STATE_MODEL_FORMAT = `${MODEL_FORMAT}/${MODEL_FORMAT_VERSION}`;

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
  /** SHA-256 of itemIds: clicks and stored histories are item indices under this vocabulary. */
  vocabularyHash: string;
  /** What a session state of this model looks like, and its hash: states of another layout cannot be restored into it. */
  stateLayout: StateLayout;
  stateLayoutHash: string;
  /** SHA-256 of weights.bin: a session state means something only to the weights that computed it. */
  weightsHash: string;
}

/**
 * Writes a model directory. `extraFiles` are written beside the model's files and listed in its
 * manifest (the registry's version.json), so loading can verify them with the same checksums.
 */
export async function saveModel(dir: string, input: SaveModelInput, extraFiles: Readonly<Record<string, Uint8Array>> = {}): Promise<ModelJson> {
  const { weights, itemIds } = input;
  for (const name of Object.keys(extraFiles))
    if (name === MODEL_JSON || name === WEIGHTS_BIN || name === MANIFEST_JSON || /[/\\]/.test(name) || name.startsWith('.'))
      throw new ModelFileError(join(dir, name), 'cannot be an extra file of a model directory (reserved name or not a plain file name)');
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
  const arch = { ...weights.arch, hiddenSizes: [...weights.arch.hiddenSizes] };
  const vocabulary = vocabularyHash(itemIds);
  const json: ModelJson = {
    format: MODEL_FORMAT,
    formatVersion: MODEL_FORMAT_VERSION,
    arch,
    config: input.config,
    itemIds: [...itemIds],
    vocabularyHash: vocabulary,
    tensors,
    ...(input.metrics ? { metrics: input.metrics } : {}),
    createdAt: (input.createdAt ?? new Date()).toISOString(),
    ...(input.version !== undefined ? { version: input.version } : {}),
    ...(input.parent !== undefined ? { parent: input.parent } : {}),
  };
  const jsonBytes = Buffer.from(JSON.stringify(json), 'utf8');
  const manifest = buildManifest(
    { [MODEL_JSON]: jsonBytes, [WEIGHTS_BIN]: bin, ...extraFiles },
    { vocabularyHash: vocabulary, stateLayoutHash: stateLayoutHash(stateLayoutOf(STATE_MODEL_FORMAT, arch)) },
  );
  await mkdir(dir, { recursive: true });
  const tmp = `.tmp-${process.pid}-${Date.now()}`;
  await writeFile(join(dir, WEIGHTS_BIN + tmp), bin);
  await writeFile(join(dir, MODEL_JSON + tmp), jsonBytes);
  for (const [name, bytes] of Object.entries(extraFiles)) await writeFile(join(dir, name + tmp), bytes);
  await writeFile(join(dir, MANIFEST_JSON + tmp), JSON.stringify(manifest, null, 2));
  await rm(join(dir, MANIFEST_JSON), { force: true });
  await rename(join(dir, WEIGHTS_BIN + tmp), join(dir, WEIGHTS_BIN));
  await rename(join(dir, MODEL_JSON + tmp), join(dir, MODEL_JSON));
  for (const name of Object.keys(extraFiles)) await rename(join(dir, name + tmp), join(dir, name));
  await rename(join(dir, MANIFEST_JSON + tmp), join(dir, MANIFEST_JSON));
  return json;
}

/** Read and fully check a model directory; throws a message naming the file and the problem. */
export async function loadModel(dir: string): Promise<LoadedModel> {
  return (await loadModelWith(dir, [])).model;
}

/**
 * loadModel, plus the verified contents of extra files the manifest must list (`extra`): metadata
 * saved with saveModel's extraFiles, read once under the same checksums as the model.
 */
/**
 * A file saved beside the model (an extra file of saveModel), verified against the manifest;
 * null when the directory has none of that name.
 */
export async function readModelAttachment(dir: string, name: string): Promise<Buffer | null> {
  const { manifest } = await verifyManifest(dir, [], { others: 'size' });
  if (!(name in manifest.files)) return null;
  const { contents } = await verifyManifest(dir, [name], { others: 'size' });
  return contents.get(name)!;
}

export async function loadModelWith(dir: string, extra: readonly string[]): Promise<{ model: LoadedModel; extra: Map<string, Buffer> }> {
  const jsonPath = join(dir, MODEL_JSON);
  const binPath = join(dir, WEIGHTS_BIN);
  if (!existsSync(dir)) throw new ModelFileError(dir, 'model directory does not exist');
  if (!existsSync(jsonPath)) throw new ModelFileError(jsonPath, 'missing');
  if (!existsSync(binPath)) throw new ModelFileError(binPath, 'missing');
  const { manifest, contents } = await verifyManifest(dir, [MODEL_JSON, WEIGHTS_BIN, ...extra]);
  let raw: unknown;
  try {
    raw = JSON.parse(contents.get(MODEL_JSON)!.toString('utf8'));
  } catch (err) {
    throw new ModelFileError(jsonPath, `not valid JSON: ${(err as Error).message}`);
  }
  const json = checkModelJson(raw, jsonPath);
  const layout = stateLayoutOf(STATE_MODEL_FORMAT, json.arch);
  const layoutHash = stateLayoutHash(layout);
  const manifestPath = join(dir, MANIFEST_JSON);
  if (manifest.vocabularyHash !== json.vocabularyHash)
    throw new ModelFileError(manifestPath, `vocabularyHash: ${manifest.vocabularyHash} is not model.json's ${json.vocabularyHash}`);
  if (manifest.stateLayoutHash !== layoutHash)
    throw new ModelFileError(manifestPath, `stateLayoutHash: ${manifest.stateLayoutHash} does not match model.json's architecture (its layout hashes to ${layoutHash})`);
  const bin = contents.get(WEIGHTS_BIN)!;
  const size = bin.length;
  const needed = json.tensors.reduce((end, t) => Math.max(end, t.offset + t.length * 4), 0);
  if (size < needed) throw new ModelFileError(binPath, `truncated: it holds ${size} bytes, the tensors in model.json need ${needed}`);
  if (size > needed) throw new ModelFileError(binPath, `holds ${size} bytes, more than the ${needed} the tensors in model.json describe`);
  const tensors: Record<string, NamedTensor> = {};
  for (const entry of json.tensors) tensors[entry.name] = { shape: [...entry.shape], data: readFloat32(bin, entry.offset, entry.length) };
  const weights: Gru4RecWeights = { arch: json.arch, tensors };
  try {
    validateWeights(weights);
  } catch (err) {
    throw new ModelFileError(binPath, (err as Error).message);
  }
  const model: LoadedModel = {
    weights,
    itemIds: json.itemIds,
    config: json.config,
    createdAt: json.createdAt,
    ...(json.metrics ? { metrics: json.metrics } : {}),
    ...(json.version !== undefined ? { version: json.version } : {}),
    ...(json.parent !== undefined ? { parent: json.parent } : {}),
    vocabularyHash: json.vocabularyHash,
    stateLayout: layout,
    stateLayoutHash: layoutHash,
    weightsHash: manifest.files[WEIGHTS_BIN].sha256,
  };
  const extraContents = new Map<string, Buffer>();
  for (const name of extra) extraContents.set(name, contents.get(name)!);
  return { model, extra: extraContents };
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
