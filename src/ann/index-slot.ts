/**
 * The index serving searches, replaced whole when a newer one is ready. Searches go through the
 * slot (never through a reference kept across an await), and a search is synchronous, so a swap
 * can only happen between two searches: no search ever sees a half-installed or disposed index.
 */
import type { AnnIndex, AnnSearchOutput } from './ann-index.ts';

export class AnnIndexSlot {
  private index: AnnIndex | null = null;
  private installed = -Infinity;

  /** The version of the installed index (−Infinity before the first). */
  get version(): number {
    return this.installed;
  }

  get current(): AnnIndex | null {
    return this.index;
  }

  /** Installs next for version and disposes the index it replaces. */
  swap(next: AnnIndex, version: number): void {
    const previous = this.index;
    this.index = next;
    this.installed = version;
    if (previous && previous !== next) previous.dispose();
  }

  search(queries: Float32Array, n: number, k: number, out: AnnSearchOutput): void {
    if (!this.index) throw new Error('ann slot: no index installed yet');
    this.index.search(queries, n, k, out);
  }

  dispose(): void {
    this.index?.dispose();
    this.index = null;
  }
}
