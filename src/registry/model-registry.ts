/**
 * The versioned model store: numbered versions on the filesystem (as Triton's model repository
 * has them) and a CURRENT pointer naming the one to serve.
 *
 *   <root>/versions/000001/{model.json, weights.bin, manifest.json, version.json}
 *                          + attachments, e.g. model.onnx, optimizer.bin (also in the manifest)
 *   <root>/versions/000002/…
 *   <root>/CURRENT          the served version's number, as text
 *
 * A version directory is immutable once it has its number: publish writes it under a temporary
 * name, fsyncs it and renames it into place, so a reader sees all of it or none. Numbers are
 * allocated by an exclusive mkdir of the final name (two publishers racing get different ones,
 * on any filesystem with atomic mkdir, without a lock that a crash could leave behind); the
 * rename then replaces that empty directory. A publish that dies in between leaves an empty
 * directory, listed as broken, never a version that loads.
 *
 * Publishing does not promote: the trainer publishes every candidate with its gate scores, and
 * promote (the gate passing, or an operator rolling back) moves CURRENT after verifying the
 * version loads, checksums and all.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ModelFileError } from '../errors/errors.ts';
import { fsyncDirectory, fsyncPath, writeFileAtomic } from './durable-fs.ts';
import { verifyManifest } from './manifest.ts';
import { vocabularyHash } from './model-identity.ts';
import { type LoadedModel, loadModelWith, readModelAttachment, type SaveModelInput, saveModel } from './model-file.ts';
import { checkVersionJson, type GateRecord, type ModelVersionInfo, parseVersionJson, VERSION_JSON, type VersionJson } from './version-json.ts';

export { VERSION_JSON, type GateRecord, type ModelVersionInfo } from './version-json.ts';

export const VERSIONS_DIR = 'versions';
export const CURRENT_FILE = 'CURRENT';
/** Six digits, zero-padded, so directory listings sort by version; a seventh digit is allowed when they run out. */
const VERSION_NAME = /^\d{6,}$/;

/** model.json's own version/parent strings are set from the registry's numbers. */
export interface PublishInput extends Omit<SaveModelInput, 'version' | 'parent'> {
  parent: number | null;
  gate?: GateRecord;
  trainingOffsets?: Record<string, string>;
  /**
   * Files published with the version and covered by its manifest: what others derive from the
   * weights (the ONNX export) or need to go on from them (the optimizer state). The registry does
   * not interpret them; readers fetch one by name with attachment().
   */
  attachments?: Readonly<Record<string, Uint8Array>>;
}

/** A listed version; `error` says why it would not load (its other fields are then what could be read, or blanks). */
export interface ListedVersion extends ModelVersionInfo {
  error?: string;
}

export type RegistryModel = LoadedModel & { info: ModelVersionInfo };

export function versionDirName(version: number): string {
  return String(version).padStart(6, '0');
}

export class ModelRegistry {
  /** Absolute: version directories are reported, and resolved, independently of later chdirs. */
  readonly root: string;
  private readonly versionsDir: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.versionsDir = join(this.root, VERSIONS_DIR);
  }

  dirOf(version: number): string {
    return join(this.versionsDir, versionDirName(version));
  }

  /** Writes a new version (not promoted) and returns what version.json records for it. */
  async publish(input: PublishInput): Promise<ModelVersionInfo> {
    const { parent, gate, trainingOffsets, attachments = {}, ...model } = input;
    if (VERSION_JSON in attachments) throw new ModelFileError(join(this.versionsDir, VERSION_JSON), 'cannot be an attachment: the registry writes it');
    if (parent !== null && !(Number.isInteger(parent) && parent >= 1 && existsSync(this.dirOf(parent))))
      throw new ModelFileError(this.dirOf(Number(parent)), `parent version ${parent} is not in the registry`);
    await mkdir(this.versionsDir, { recursive: true });
    const createdAt = model.createdAt ?? new Date();
    const version = await this.reserveVersion();
    const dir = this.dirOf(version);
    const staging = join(this.versionsDir, `.publish-${versionDirName(version)}-${process.pid}`);
    const record: VersionJson = {
      version,
      parent,
      createdAt: createdAt.toISOString(),
      vocabularyHash: vocabularyHash(model.itemIds),
      nItems: model.itemIds.length,
      ...(gate ? { gate } : {}),
      ...(trainingOffsets ? { trainingOffsets } : {}),
    };
    try {
      // The same rules a reader applies: a bad gate record is refused now, not on every later load.
      const info = checkVersionJson(record, join(dir, VERSION_JSON));
      await saveModel(
        staging,
        { ...model, createdAt, version: String(version), ...(parent === null ? {} : { parent: String(parent) }) },
        { ...attachments, [VERSION_JSON]: Buffer.from(`${JSON.stringify(info, null, 2)}\n`, 'utf8') },
      );
      await fsyncDirectory(staging);
      await rename(staging, dir);
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      // Give the number back: nobody else can have used the empty directory.
      await rmdir(dir).catch(() => undefined);
      throw e;
    }
    await fsyncPath(this.versionsDir);
    return { ...record, dir };
  }

  /** Points CURRENT at `version` once it has loaded and verified; rollback is the same call with an older number. */
  async promote(version: number): Promise<void> {
    await this.load(version);
    await writeFileAtomic(join(this.root, CURRENT_FILE), `${version}\n`);
  }

  /** The promoted version, or null when nothing was promoted yet. */
  async current(): Promise<number | null> {
    const path = join(this.root, CURRENT_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new ModelFileError(path, `cannot read: ${(e as Error).message}`, { cause: e });
    }
    const trimmed = text.trim();
    if (!/^\d+$/.test(trimmed) || Number(trimmed) < 1) throw new ModelFileError(path, `expected a version number, got ${JSON.stringify(text.slice(0, 40))}`);
    return Number(trimmed);
  }

  /**
   * Every version, ascending. Each is checked as far as a listing can afford: the manifest, the
   * checksum and fields of version.json, and the size of every other file (a truncated weights
   * file shows; the weights' checksums are load's and promote's job). A version that fails is
   * listed with `error` instead of failing the listing.
   */
  async list(): Promise<ListedVersion[]> {
    const out: ListedVersion[] = [];
    for (const version of await this.versionNumbers()) {
      const dir = this.dirOf(version);
      try {
        out.push({ ...(await this.readInfo(version, dir)), dir });
      } catch (e) {
        out.push({ version, dir, parent: null, createdAt: '', vocabularyHash: '', nItems: 0, error: (e as Error).message });
      }
    }
    return out;
  }

  /** The version's model, fully verified (checksums of every file, vocabulary against version.json). */
  async load(version: number): Promise<RegistryModel> {
    if (!Number.isInteger(version) || version < 1) throw new ModelFileError(this.versionsDir, `${version} is not a version number`);
    const dir = this.dirOf(version);
    if (!existsSync(dir)) throw new ModelFileError(dir, `version ${version} is not in the registry`);
    const { model, extra } = await loadModelWith(dir, [VERSION_JSON]);
    const path = join(dir, VERSION_JSON);
    const record = parseVersionJson(extra.get(VERSION_JSON)!, path);
    checkRecordMatches(record, version, path);
    if (record.vocabularyHash !== model.vocabularyHash)
      throw new ModelFileError(path, `vocabularyHash: ${record.vocabularyHash} is not the model's ${model.vocabularyHash} (model.json)`);
    if (record.nItems !== model.itemIds.length) throw new ModelFileError(path, `nItems: ${record.nItems}, the model has ${model.itemIds.length} items`);
    return { ...model, info: { ...record, dir } };
  }

  /**
   * A file attached to the version at publish, verified against the manifest (size and SHA-256);
   * null when the version has no file of that name (published without it, or before it existed).
   */
  async attachment(version: number, name: string): Promise<Buffer | null> {
    const dir = this.dirOf(version);
    if (!existsSync(dir)) throw new ModelFileError(dir, `version ${version} is not in the registry`);
    return readModelAttachment(dir, name);
  }

  private async readInfo(version: number, dir: string): Promise<VersionJson> {
    if ((await readdir(dir)).length === 0) throw new ModelFileError(dir, 'empty: reserved by a publish that is still writing or did not finish');
    const { manifest, contents } = await verifyManifest(dir, [VERSION_JSON], { others: 'size' });
    const path = join(dir, VERSION_JSON);
    const record = parseVersionJson(contents.get(VERSION_JSON)!, path);
    checkRecordMatches(record, version, path);
    if (record.vocabularyHash !== manifest.vocabularyHash)
      throw new ModelFileError(path, `vocabularyHash: ${record.vocabularyHash} is not the model's ${manifest.vocabularyHash} (manifest.json)`);
    return record;
  }

  /** Numbers of the version directories (published or reserved), ascending. */
  private async versionNumbers(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.versionsDir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    return names
      .filter((n) => VERSION_NAME.test(n))
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The next free number, taken by creating its directory: mkdir fails for every racer but one. */
  private async reserveVersion(): Promise<number> {
    let next = ((await this.versionNumbers()).at(-1) ?? 0) + 1;
    for (;;) {
      try {
        await mkdir(this.dirOf(next));
        return next;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
        next++;
      }
    }
  }
}

/** A version.json copied into another version's directory must not pass as that version. */
function checkRecordMatches(record: VersionJson, version: number, path: string): void {
  if (record.version !== version) throw new ModelFileError(path, `version: ${record.version}, but the directory holds version ${version}`);
}
