/**
 * The build side of an index, as the build worker holds it: the last native index it built (the
 * only copy ever mutated; serving reads saved snapshots of it), with a fingerprint of each item
 * row it holds. A new item matrix whose first rows match those fingerprints and whose settings
 * are unchanged only adds the new rows (incremental); anything else is a full rebuild. Every
 * build ends with a snapshot saved to a new file for serving to open.
 */
import { statSync } from 'node:fs';
import type { ItemMatrix } from './ann-index.ts';
import type { AnnSettings } from './ann-settings.ts';
import { type HnswlibNative, appendHnswlibRows, buildHnswlibNative } from './hnswlib-index.ts';
import { type SearchSpace, searchSpaceFor } from './search-space.ts';
import { appendUsearchRows, buildUsearchNative } from './usearch-index.ts';
import type { Index as UsearchNative } from 'usearch';

export interface BuildReport {
  path: string;
  space: SearchSpace;
  mode: 'full' | 'incremental';
  /** Rows added by this build (all of them for a full build). */
  added: number;
  buildMs: number;
  saveMs: number;
  /** Size of the snapshot: the index's memory when serving opens it (vectors as stored + graph). */
  bytes: number;
}

type Native = { library: 'usearch'; index: UsearchNative } | { library: 'hnswlib'; index: HnswlibNative };

/** Two independent 32-bit hashes per row (vector words, then the bias word): a changed row goes unnoticed with odds 2^-64. */
export function rowFingerprints(items: ItemMatrix): Uint32Array {
  const { count, dim, bias } = items;
  const words = new Int32Array(items.vectors.buffer, items.vectors.byteOffset, count * dim);
  const biasWords = bias ? new Int32Array(bias.buffer, bias.byteOffset, count) : null;
  const out = new Uint32Array(2 * count);
  for (let i = 0; i < count; i++) {
    let h1 = 0x811c9dc5;
    let h2 = 0x9747b28c;
    for (let j = i * dim, end = j + dim; j < end; j++) {
      h1 = Math.imul(h1 ^ words[j], 0x01000193);
      h2 = Math.imul(h2 ^ words[j], 0x5bd1e995) ^ (h2 >>> 15);
    }
    if (biasWords) {
      h1 = Math.imul(h1 ^ biasWords[i], 0x01000193);
      h2 = Math.imul(h2 ^ biasWords[i], 0x5bd1e995) ^ (h2 >>> 15);
    }
    out[2 * i] = h1 >>> 0;
    out[2 * i + 1] = h2 >>> 0;
  }
  return out;
}

/** Search-time settings (expansionSearch, candidates, threads) apply when serving opens a snapshot, so they never force a rebuild. */
function sameBuildSettings(a: AnnSettings, b: AnnSettings): boolean {
  return (
    a.library === b.library &&
    a.metric === b.metric &&
    a.connectivity === b.connectivity &&
    a.expansionAdd === b.expansionAdd &&
    a.biasScale === b.biasScale &&
    a.quantization === b.quantization
  );
}

/** Whether the first prev.length / 2 rows of next equal prev's. */
function extendsRows(prev: Uint32Array, next: Uint32Array): boolean {
  if (next.length < prev.length) return false;
  for (let i = 0; i < prev.length; i++) if (prev[i] !== next[i]) return false;
  return true;
}

export class IndexBuildState {
  private native: Native | null = null;
  private space: SearchSpace | null = null;
  private settings: AnnSettings | null = null;
  private fingerprints: Uint32Array = new Uint32Array(0);

  /**
   * Brings the held index to items (incrementally when allowed and possible) and saves a snapshot
   * to path. Blocks the calling thread for the whole build.
   */
  build(items: ItemMatrix, s: AnnSettings, path: string, allowIncremental: boolean): BuildReport {
    const t0 = performance.now();
    const fingerprints = rowFingerprints(items);
    const prevCount = this.fingerprints.length / 2;
    const incremental =
      allowIncremental &&
      this.native !== null &&
      this.settings !== null &&
      sameBuildSettings(this.settings, s) &&
      this.space!.itemDim === items.dim &&
      extendsRows(this.fingerprints, fingerprints);
    let added: number;
    if (incremental) {
      const native = this.native!;
      // The fold keeps the first build's bias shift: rows already in the graph were written with it.
      if (native.library === 'usearch') appendUsearchRows(native.index, this.space!, items, prevCount, items.count, s);
      else appendHnswlibRows(native.index, this.space!, items, prevCount, items.count);
      added = items.count - prevCount;
    } else {
      this.native = null;
      const space = searchSpaceFor(items, s.metric, s.biasScale);
      this.native =
        s.library === 'usearch' ? { library: 'usearch', index: buildUsearchNative(space, items, s) } : { library: 'hnswlib', index: buildHnswlibNative(space, items, s) };
      this.space = space;
      added = items.count;
    }
    this.settings = s;
    this.fingerprints = fingerprints;
    const t1 = performance.now();
    const native = this.native!;
    if (native.library === 'usearch') native.index.save(path);
    else native.index.writeIndexSync(path);
    const saveMs = performance.now() - t1;
    return { path, space: this.space!, mode: incremental ? 'incremental' : 'full', added, buildMs: t1 - t0, saveMs, bytes: statSync(path).size };
  }
}
