/**
 * Writes that survive a crash or a power cut in a known state: file contents and directory
 * entries are fsynced before the rename that makes them visible, and the rename's parent
 * directory after it. A reader sees the old state or the new one, never a half-written file or
 * a renamed file whose bytes were still in the page cache.
 */
import { randomUUID } from 'node:crypto';
import { open, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** fsync of a file or a directory (a directory's fsync persists its entries: creations, renames). */
export async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** fsync of every file directly in `dir`, then of `dir` itself. */
export async function fsyncDirectory(dir: string): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) if (entry.isFile()) await fsyncPath(join(dir, entry.name));
  await fsyncPath(dir);
}

/** Replaces `path` with `data` atomically: a temporary file beside it, fsync, rename, fsync of the directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}-${randomUUID()}`;
  try {
    await writeFile(tmp, data);
    await fsyncPath(tmp);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  await fsyncPath(dirname(path));
}
