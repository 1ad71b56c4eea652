/**
 * AnnIndex on usearch (the default library: prebuilt linux-x64 binary in its npm package, batch
 * search on native threads). Building blocks for both sides of the build worker: the worker
 * builds and saves a native index (buildUsearchNative, appendUsearchRows); serving opens the
 * saved file read-only (UsearchIndex.open: memory-mapped, so opening a 1M-item index takes
 * milliseconds and the pages are shared with the page cache the worker just wrote).
 */
import { createRequire } from 'node:module';
import type { Index } from 'usearch';
import { type AnnIndex, type AnnSearchOutput, type ItemMatrix, checkSearchArgs } from './ann-index.ts';
import type { AnnSettings } from './ann-settings.ts';
import { ItemScorer } from './item-scorer.ts';
import { Rescorer } from './rescorer.ts';
import { type SearchSpace, indexedQueries, writeItemRows } from './search-space.ts';

// usearch's ESM entry locates its binary through the call stack (bindings.getFileName), which fails
// inside a worker thread; its CommonJS entry uses __dirname and loads anywhere.
const usearch = createRequire(import.meta.url)('usearch') as typeof import('usearch');

/** Rows converted and added per native call: bounds the temporary copy (64k × 101 floats ≈ 26 MB). */
const ADD_CHUNK_ROWS = 65_536;

function nativeConfig(space: SearchSpace, s: AnnSettings) {
  return {
    dimensions: space.dim,
    metric: space.libraryMetric === 'cos' ? usearch.MetricKind.Cos : usearch.MetricKind.IP,
    quantization: s.quantization === 'f16' ? usearch.ScalarKind.F16 : usearch.ScalarKind.F32,
    connectivity: s.connectivity,
    expansion_add: s.expansionAdd,
    expansion_search: Math.max(s.expansionSearch, s.candidates),
    multi: false,
  };
}

/** Adds items[from, to) to a native index under keys = row ids, in chunks, on s.buildThreads native threads. */
export function appendUsearchRows(native: Index, space: SearchSpace, items: ItemMatrix, from: number, to: number, s: AnnSettings): void {
  const rows = new Float32Array(Math.min(ADD_CHUNK_ROWS, to - from) * space.dim);
  for (let start = from; start < to; start += ADD_CHUNK_ROWS) {
    const end = Math.min(to, start + ADD_CHUNK_ROWS);
    const keys = new BigUint64Array(end - start);
    for (let i = start; i < end; i++) keys[i - start] = BigInt(i);
    writeItemRows(space, items, start, end, rows);
    native.add(keys, rows.subarray(0, (end - start) * space.dim), s.buildThreads);
  }
}

/** A new native index holding every item. Blocks its thread for the whole build: call it in the build worker. */
export function buildUsearchNative(space: SearchSpace, items: ItemMatrix, s: AnnSettings): Index {
  const native = new usearch.Index(nativeConfig(space, s));
  appendUsearchRows(native, space, items, 0, items.count, s);
  return native;
}

export class UsearchIndex implements AnnIndex {
  readonly library = 'usearch';
  readonly approximate = true;
  readonly metric;
  readonly count: number;
  readonly dim: number;
  private native: Index | null;
  private readonly rescorer: Rescorer;
  private queryScratch = new Float32Array(0);
  private candidates = new Int32Array(0);

  constructor(
    native: Index,
    private readonly space: SearchSpace,
    items: ItemMatrix,
    private readonly settings: AnnSettings,
  ) {
    if (native.size() !== items.count) throw new RangeError(`usearch index holds ${native.size()} vectors for ${items.count} items`);
    if (native.dimensions() !== space.dim) throw new RangeError(`usearch index has dimension ${native.dimensions()}, the search space ${space.dim}`);
    this.native = native;
    this.metric = space.metric;
    this.count = items.count;
    this.dim = items.dim;
    this.rescorer = new Rescorer(new ItemScorer(items, space.metric));
  }

  /** Opens a saved index read-only: 'view' memory-maps the file, 'load' copies it into memory. */
  static open(path: string, space: SearchSpace, items: ItemMatrix, s: AnnSettings, mode: 'view' | 'load' = 'view'): UsearchIndex {
    const native = new usearch.Index(nativeConfig(space, s));
    if (mode === 'view') native.view(path);
    else native.load(path);
    return new UsearchIndex(native, space, items, s);
  }

  search(queries: Float32Array, n: number, k: number, out: AnnSearchOutput): void {
    checkSearchArgs(this, queries, n, k, out);
    const native = this.native;
    if (!native) throw new Error('usearch index: search() after dispose()');
    if (n === 0) return;
    const wanted = Math.min(Math.max(k, this.settings.candidates), this.count);
    if (this.space.folded && this.queryScratch.length < n * this.space.dim) this.queryScratch = new Float32Array(n * this.space.dim);
    const q = indexedQueries(this.space, queries, n, this.queryScratch);
    const found = native.search(q, wanted, this.settings.searchThreads);
    // One query comes back as Matches (no counts); missing results are padded with 2^64 − 1.
    const keys = found.keys;
    if (this.candidates.length < n * wanted) this.candidates = new Int32Array(n * wanted);
    const cand = this.candidates;
    const limit = BigInt(this.count);
    for (let i = 0, total = n * wanted; i < total; i++) {
      const key = keys[i];
      cand[i] = key < limit ? Number(key) : -1;
    }
    for (let r = 0; r < n; r++) this.rescorer.rescoreRow(queries, r, cand, r * wanted, wanted, k, out);
  }

  dispose(): void {
    // usearch's binding frees native memory (or unmaps the view) when the wrapper is collected;
    // dropping the only reference is all that can be done here.
    this.native = null;
  }
}
