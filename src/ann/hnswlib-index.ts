/**
 * AnnIndex on hnswlib-node, the optional alternative: it compiles hnswlib from bundled sources
 * at install time (scripts/ensure-deps.mjs retries the build once), so it may be missing; it is
 * looked up at run time and everything that needs it says why it is absent. Its binding takes
 * plain JS arrays, one query per call on the calling thread, so a batch costs a conversion per
 * row and no native parallelism; reading a saved index runs on libuv's pool (readIndex).
 */
import { createRequire } from 'node:module';
import { type AnnIndex, type AnnSearchOutput, type ItemMatrix, checkSearchArgs } from './ann-index.ts';
import type { AnnSettings } from './ann-settings.ts';
import { ItemScorer } from './item-scorer.ts';
import { Rescorer } from './rescorer.ts';
import { type SearchSpace, indexedQueries, writeItemRows } from './search-space.ts';

/** The part of hnswlib-node's HierarchicalNSW used here (declared locally: the package may be absent at type-check time too). */
export interface HnswlibNative {
  initIndex(maxElements: number, m?: number, efConstruction?: number, randomSeed?: number): void;
  resizeIndex(newMaxElements: number): void;
  getMaxElements(): number;
  addPoint(point: number[], label: number): void;
  searchKnn(query: number[], k: number): { distances: number[]; neighbors: number[] };
  setEf(ef: number): void;
  getCurrentCount(): number;
  getNumDimensions(): number;
  readIndex(filename: string): Promise<boolean>;
  writeIndexSync(filename: string): void;
}

interface HnswlibModule {
  HierarchicalNSW: new (space: 'ip' | 'cosine' | 'l2', dim: number) => HnswlibNative;
}

export type HnswlibAvailability = { available: true; module: HnswlibModule } | { available: false; reason: string };

let cached: HnswlibAvailability | null = null;

/** Whether hnswlib-node is installed and its native addon built; the reason when not. */
export function hnswlibAvailability(): HnswlibAvailability {
  if (cached) return cached;
  try {
    const mod = createRequire(import.meta.url)('hnswlib-node') as HnswlibModule;
    cached = { available: true, module: mod };
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0];
    cached = {
      available: false,
      reason: `hnswlib-node is not usable (${msg}); it is optional: \`npm rebuild hnswlib-node\` compiles it (needs python3, make, a C++ compiler)`,
    };
  }
  return cached;
}

function hnswlib(): HnswlibModule {
  const a = hnswlibAvailability();
  if (!a.available) throw new Error(a.reason);
  return a.module;
}

const SEED = 100;

/** Adds items[from, to) (labels = row ids), growing the index to hold them. Blocks its thread: build worker only. */
export function appendHnswlibRows(native: HnswlibNative, space: SearchSpace, items: ItemMatrix, from: number, to: number): void {
  if (native.getMaxElements() < to) native.resizeIndex(to);
  const row = new Float32Array(space.dim);
  const point = new Array<number>(space.dim);
  for (let i = from; i < to; i++) {
    writeItemRows(space, items, i, i + 1, row);
    for (let j = 0; j < space.dim; j++) point[j] = row[j];
    native.addPoint(point, i);
  }
}

export function buildHnswlibNative(space: SearchSpace, items: ItemMatrix, s: AnnSettings): HnswlibNative {
  const native = new (hnswlib().HierarchicalNSW)(space.libraryMetric === 'cos' ? 'cosine' : 'ip', space.dim);
  native.initIndex(items.count, s.connectivity, s.expansionAdd, SEED);
  appendHnswlibRows(native, space, items, 0, items.count);
  return native;
}

export class HnswlibIndex implements AnnIndex {
  readonly library = 'hnswlib';
  readonly approximate = true;
  readonly metric;
  readonly count: number;
  readonly dim: number;
  private native: HnswlibNative | null;
  private readonly rescorer: Rescorer;
  private queryScratch = new Float32Array(0);
  private readonly point: number[];
  private candidates = new Int32Array(0);

  constructor(
    native: HnswlibNative,
    private readonly space: SearchSpace,
    items: ItemMatrix,
    private readonly settings: AnnSettings,
  ) {
    if (native.getCurrentCount() !== items.count) throw new RangeError(`hnswlib index holds ${native.getCurrentCount()} vectors for ${items.count} items`);
    native.setEf(Math.max(settings.expansionSearch, settings.candidates));
    this.native = native;
    this.metric = space.metric;
    this.count = items.count;
    this.dim = items.dim;
    this.point = new Array<number>(space.dim);
    this.rescorer = new Rescorer(new ItemScorer(items, space.metric));
  }

  /** Reads a saved index (on libuv's thread pool, not the caller's thread). */
  static async open(path: string, space: SearchSpace, items: ItemMatrix, s: AnnSettings): Promise<HnswlibIndex> {
    const native = new (hnswlib().HierarchicalNSW)(space.libraryMetric === 'cos' ? 'cosine' : 'ip', space.dim);
    await native.readIndex(path);
    return new HnswlibIndex(native, space, items, s);
  }

  search(queries: Float32Array, n: number, k: number, out: AnnSearchOutput): void {
    checkSearchArgs(this, queries, n, k, out);
    const native = this.native;
    if (!native) throw new Error('hnswlib index: search() after dispose()');
    if (n === 0) return;
    const wanted = Math.min(Math.max(k, this.settings.candidates), this.count);
    const { space, point } = this;
    if (space.folded && this.queryScratch.length < n * space.dim) this.queryScratch = new Float32Array(n * space.dim);
    const q = indexedQueries(space, queries, n, this.queryScratch);
    if (this.candidates.length < wanted) this.candidates = new Int32Array(wanted);
    const cand = this.candidates;
    for (let r = 0; r < n; r++) {
      for (let j = 0; j < space.dim; j++) point[j] = q[r * space.dim + j];
      const { neighbors } = native.searchKnn(point, wanted);
      cand.fill(-1);
      for (let c = 0; c < neighbors.length; c++) cand[c] = neighbors[c];
      this.rescorer.rescoreRow(queries, r, cand, 0, wanted, k, out);
    }
  }

  dispose(): void {
    this.native = null;
  }
}
