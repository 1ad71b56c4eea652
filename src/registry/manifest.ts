/**
 * manifest.json: the SHA-256 of every file of a model directory, written last when a model is
 * saved and checked first when it is loaded, before any byte of the other files is parsed. A
 * weights file overwritten in place, truncated by a full disk or copied half-way fails here,
 * naming the file, instead of loading and serving different numbers.
 *
 *   {
 *     "format": "streamrec-model-manifest", "formatVersion": 1,
 *     "files": { "model.json": { "sha256": hex, "bytes": n }, "weights.bin": { … } },
 *     "vocabularyHash": hex,    // src/registry/model-identity.ts, also in model.json
 *     "stateLayoutHash": hex
 *   }
 *
 * Being the last file written, it is also the commit mark of a save: a directory without one was
 * written before manifests existed or by a save that did not finish, and is refused either way.
 *
 * "files" lists whatever the writer put in the directory, not only the model's two files: the
 * registry adds version.json, and a reader names the extra files it needs (`required`), so
 * metadata beside a model is covered by the same checksums as the weights.
 */
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ModelFileError } from '../errors/errors.ts';
import { sha256Hex } from './model-identity.ts';
import { describeIssue } from './schema-issues.ts';

export const MANIFEST_JSON = 'manifest.json';
export const MANIFEST_FORMAT = 'streamrec-model-manifest';
export const MANIFEST_FORMAT_VERSION = 1;

const sha256 = z.string().regex(/^[0-9a-f]{64}$/, { error: 'must be a lowercase hex SHA-256 (64 characters)' });

export const ManifestSchema = z.object({
  format: z.literal(MANIFEST_FORMAT, { error: `must be "${MANIFEST_FORMAT}"` }),
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION, { error: `unsupported version (this build reads ${MANIFEST_FORMAT_VERSION})` }),
  files: z.record(
    z.string().regex(/^[^/\\]+$/, { error: 'file names must not contain a path separator' }),
    z.object({ sha256, bytes: z.int({ error: 'must be a byte count' }).min(0, { error: 'must be a byte count' }) }),
  ),
  vocabularyHash: sha256,
  stateLayoutHash: sha256,
});

export type Manifest = z.infer<typeof ManifestSchema>;

export function buildManifest(files: Record<string, Uint8Array>, identity: { vocabularyHash: string; stateLayoutHash: string }): Manifest {
  const entries: Manifest['files'] = {};
  for (const [name, bytes] of Object.entries(files)) entries[name] = { sha256: sha256Hex(bytes), bytes: bytes.length };
  return { format: MANIFEST_FORMAT, formatVersion: MANIFEST_FORMAT_VERSION, files: entries, ...identity };
}

export interface VerifiedFiles {
  manifest: Manifest;
  /** The verified contents of the required files, read once: parse these, never the files again. */
  contents: Map<string, Buffer>;
}

export interface VerifyOptions {
  /**
   * How far files that are listed but not required are checked: 'hash' (default) reads and
   * hashes them; 'size' only compares their size, for a listing of many versions that must not
   * read every weights file (truncation shows, an in-place overwrite of equal size does not).
   */
  others?: 'hash' | 'size';
}

/**
 * Reads the manifest and checks every file it lists (size, then SHA-256); `required` files must
 * be listed. Throws ModelFileError naming the file.
 */
export async function verifyManifest(dir: string, required: readonly string[], opts: VerifyOptions = {}): Promise<VerifiedFiles> {
  const path = join(dir, MANIFEST_JSON);
  if (!existsSync(path))
    throw new ModelFileError(
      path,
      'missing: the model directory has no checksums (saved before streamrec wrote manifests, or the save did not finish); save the model again (streamrec train) to use it',
    );
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new ModelFileError(path, `not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ManifestSchema.safeParse(raw);
  if (!parsed.success) throw new ModelFileError(path, describeIssue(parsed.error.issues, raw));
  const manifest = parsed.data;
  for (const name of required) if (!(name in manifest.files)) throw new ModelFileError(path, `files: ${name} is not listed, so it cannot be checked`);
  const contents = new Map<string, Buffer>();
  for (const [name, want] of Object.entries(manifest.files)) {
    const file = join(dir, name);
    if (!existsSync(file)) throw new ModelFileError(file, 'missing (listed in manifest.json)');
    if (opts.others === 'size' && !required.includes(name)) {
      const size = (await stat(file)).size;
      if (size !== want.bytes) throw new ModelFileError(file, `holds ${size} bytes, manifest.json records ${want.bytes}: truncated or replaced after saving`);
      continue;
    }
    const bytes = await readFile(file);
    if (bytes.length !== want.bytes) throw new ModelFileError(file, `holds ${bytes.length} bytes, manifest.json records ${want.bytes}: truncated or replaced after saving`);
    const got = sha256Hex(bytes);
    if (got !== want.sha256) throw new ModelFileError(file, `SHA-256 mismatch (manifest ${want.sha256}, file ${got}): changed after saving`);
    if (required.includes(name)) contents.set(name, bytes);
  }
  return { manifest, contents };
}
