/**
 * Settings of an approximate index, the same names for both libraries (HNSW graphs: usearch's
 * connectivity / expansion_add / expansion_search are hnswlib's M / efConstruction / ef).
 * The defaults are the setting bench/ann.ts picked (README: Approximate nearest neighbours): one
 * setting that met recall@20 ≥ 0.95 at ≥ 5× the exact scorer at both 100k (0.971) and 1M (0.960)
 * synthetic items. M=16 / efAdd=128 builds 3× faster but needs ef=128 at 1M for the same recall.
 */
import { availableParallelism } from 'node:os';
import type { AnnMetric } from './ann-index.ts';
import { DEFAULT_BIAS_SCALE } from './search-space.ts';

export const ANN_LIBRARIES = ['usearch', 'hnswlib'] as const;
export type AnnLibrary = (typeof ANN_LIBRARIES)[number];

/**
 * usearch's storage of the indexed vectors. f16 halves the memory the graph walk reads and was
 * faster at equal recall (bench/ann.ts); the final scores are recomputed from the float32 items.
 */
export type AnnQuantization = 'f32' | 'f16';

export interface AnnSettings {
  library: AnnLibrary;
  metric: AnnMetric;
  /** Graph degree (HNSW M). */
  connectivity: number;
  /** Candidate list while inserting (efConstruction). */
  expansionAdd: number;
  /** Candidate list while searching (ef); at least the number of candidates asked for. */
  expansionSearch: number;
  /** Candidates fetched per query and re-ranked exactly (at least k; more only helps a coarse quantization). */
  candidates: number;
  /** s of the bias fold (search-space.ts). */
  biasScale: number;
  quantization: AnnQuantization;
  /** Native threads of a build (the build runs in a worker; leave serving a core). */
  buildThreads: number;
  /** Native threads of one batch search (usearch; hnswlib-node searches one query at a time on the calling thread). */
  searchThreads: number;
}

export const DEFAULT_ANN_SETTINGS: Omit<AnnSettings, 'buildThreads' | 'searchThreads'> = {
  library: 'usearch',
  metric: 'ip',
  connectivity: 32,
  expansionAdd: 256,
  // 64, not 32: both met recall@20 ≥ 0.95 at ≥ 5× exact on bench:ann's queries, but on a GRU's
  // session states (bench:serve --scoring ann, 100k items) ef 32 gave 0.909 and ef 64 0.955.
  expansionSearch: 64,
  candidates: 20,
  biasScale: DEFAULT_BIAS_SCALE,
  quantization: 'f16',
};

function positiveInt(name: string, v: number, max = 1 << 20): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`ann: ${name} must be an integer in [1, ${max}], got ${v}`);
  return v;
}

export function resolveAnnSettings(partial: Partial<AnnSettings> = {}): AnnSettings {
  const cores = availableParallelism();
  const s: AnnSettings = {
    ...DEFAULT_ANN_SETTINGS,
    buildThreads: Math.max(1, cores - 1),
    searchThreads: cores,
    ...partial,
  };
  // The default storage is usearch's; hnswlib-node has only float32.
  if (s.library === 'hnswlib' && partial.quantization === undefined) s.quantization = 'f32';
  if (!ANN_LIBRARIES.includes(s.library)) throw new RangeError(`ann: library must be one of ${ANN_LIBRARIES.join(', ')}, got ${s.library}`);
  if (s.metric !== 'ip' && s.metric !== 'cosine') throw new RangeError(`ann: metric must be 'ip' or 'cosine', got ${s.metric}`);
  if (s.quantization !== 'f32' && s.quantization !== 'f16') throw new RangeError(`ann: quantization must be 'f32' or 'f16', got ${s.quantization}`);
  if (s.library === 'hnswlib' && s.quantization !== 'f32') throw new RangeError('ann: hnswlib stores float32 only');
  positiveInt('connectivity', s.connectivity, 512);
  positiveInt('expansionAdd', s.expansionAdd);
  positiveInt('expansionSearch', s.expansionSearch);
  positiveInt('candidates', s.candidates);
  positiveInt('buildThreads', s.buildThreads, 1024);
  positiveInt('searchThreads', s.searchThreads, 1024);
  if (!(s.biasScale > 0) || !Number.isFinite(s.biasScale)) throw new RangeError(`ann: biasScale must be a positive number, got ${s.biasScale}`);
  return s;
}
