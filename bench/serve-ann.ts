/**
 * bench:serve's ANN rows (`--scoring exact,ann`): the model they run on, the index built once per
 * catalogue (off the clock) and reopened for every engine that serves with it, and recall@20 of
 * the ANN engine's lists against the exact engine's on the same clicks.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AnnIndex, ItemMatrix } from '../src/ann/ann-index.ts';
import type { AnnSettings } from '../src/ann/ann-settings.ts';
import { HnswlibIndex } from '../src/ann/hnswlib-index.ts';
import { sharedIds } from '../src/ann/list-recall.ts';
import { AnnIndexBuilder } from '../src/ann/index-builder.ts';
import type { SearchSpace } from '../src/ann/search-space.ts';
import { syntheticItems } from '../src/ann/synthetic-items.ts';
import { UsearchIndex } from '../src/ann/usearch-index.ts';
import type { StreamrecConfig } from '../src/config/config.ts';
import { syntheticClicks } from '../src/data/synthetic.ts';
import { AnnEngine } from '../src/engine/ann-engine.ts';
import type { InferenceEngine, StepOutput } from '../src/engine/engine.ts';
import { UsageError } from '../src/errors/errors.ts';
import { type Gru4RecWeights, layerPrefix } from '../src/model/weights.ts';
import { prepareModel } from '../src/serving/create-recommender.ts';
import type { SwappableModel } from '../src/serving/gru4rec-recommender.ts';
import { syntheticWeights } from '../test/support/synthetic-weights.ts';

export const SCORINGS = ['exact', 'ann'] as const;
export type Scoring = (typeof SCORINGS)[number];

/** --scoring's list, in the order given, without repeats. */
export function parseScorings(text: string): Scoring[] {
  const xs = [...new Set(text.split(',').map((s) => s.trim()))];
  for (const x of xs) if (!SCORINGS.includes(x as Scoring)) throw new UsageError(`--scoring: unknown scoring ${x} (${SCORINGS.join(', ')})`);
  return xs as Scoring[];
}

/**
 * Gain on the identity added to layer 0's candidate block: with it a state is mostly a decaying
 * mix of the clicked items' own directions, as a trained GRU4Rec's state points at items like the
 * ones just clicked, instead of a random projection of them. 8 puts state norms at ≈ 2.9 after
 * four clicks, bench:ann's query norm (≈ 3); at 30k items, default settings, recall@20 measured
 * 0.86 with no gain (norm 0.7: the bias decides), 0.87 at gain 3 (norm 1.5), 0.93 at 8.
 */
const STATE_GAIN = 8;

/**
 * The bench's synthetic GRU4Rec (constrained embedding, so the input table is out.Wy) with its
 * output layer taken from src/ann/synthetic-items.ts: clusters, Zipf popularity, norms and biases
 * growing with popularity. syntheticWeights' item vectors are i.i.d. uniform noise, on which an
 * HNSW graph has no structure to follow (recall@20 0.74 at 30k items, default settings) and says
 * nothing about a trained model. The exact rows cost the same on either table (a dense product);
 * the ANN rows need this one to mean anything.
 */
export function clusteredWeights(nItems: number, hidden: number, seed = 11): Gru4RecWeights {
  const w = syntheticWeights({ nItems, embeddingDim: hidden, hiddenSizes: [hidden], constrainedEmbedding: true, useBias: true }, seed);
  const items = syntheticItems({ count: nItems, dim: hidden, seed });
  w.tensors['out.Wy'].data = items.vectors;
  w.tensors['out.by'].data = items.bias;
  // Wx is [H, 3H] with column blocks [n | r | z]: the candidate n of input x gets gain·x added.
  const wx = w.tensors[`${layerPrefix(w.arch, 0)}.Wx`].data;
  for (let i = 0; i < hidden; i++) wx[i * 3 * hidden + i] += STATE_GAIN;
  return w;
}

/** One catalogue's index, built once and reopened (memory-mapped) for every engine that serves with it. */
export interface AnnScoring {
  settings: AnnSettings;
  items: ItemMatrix;
  snapshot: { path: string; space: SearchSpace };
  dir: string;
  buildSeconds: number;
  indexMB: number;
}

/**
 * Builds the index serving builds for `serving.scoring: ann` (create-recommender's withAnnScoring:
 * out.Wy and out.by, metric ip, the serving.ann settings over the defaults), keeping the snapshot.
 * `buildThreads` may differ from serving's (cores − 1): the build is off the clock here.
 */
export async function buildAnnScoring(weights: Gru4RecWeights, ann: NonNullable<StreamrecConfig['serving']['ann']>, buildThreads: number): Promise<AnnScoring> {
  const wy = weights.tensors['out.Wy'];
  const items: ItemMatrix = { vectors: wy.data, count: wy.shape[0], dim: wy.shape[1], bias: weights.tensors['out.by'].data };
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-serve-ann-'));
  const builder = new AnnIndexBuilder({ ...ann, metric: 'ip', buildThreads }, { dir });
  try {
    const built = await builder.build(items, { keepSnapshot: true });
    built.index.dispose();
    return { settings: builder.settings, items, snapshot: built.snapshot!, dir, buildSeconds: built.buildMs / 1000, indexMB: built.bytes / 2 ** 20 };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    await builder.close();
  }
}

export function disposeAnnScoring(a: AnnScoring): void {
  rmSync(a.dir, { recursive: true, force: true });
}

async function openIndex(a: AnnScoring): Promise<AnnIndex> {
  const { path, space } = a.snapshot;
  return a.settings.library === 'usearch' ? UsearchIndex.open(path, space, a.items, a.settings, 'view') : HnswlibIndex.open(path, space, a.items, a.settings);
}

/**
 * What serving installs for `scoring: ann`: the model prepared as for exact scoring, its engine
 * wrapped by AnnEngine over the catalogue's index (prepareModel would rebuild the index).
 */
export async function annModel(config: StreamrecConfig, weights: Gru4RecWeights, itemIds: readonly string[], a: AnnScoring): Promise<SwappableModel> {
  const exact = await prepareModel({ ...config, serving: { ...config.serving, scoring: 'exact' } }, weights, itemIds, 'bench-ann', () => undefined);
  return { ...exact, engine: new AnnEngine(exact.engine, await openIndex(a)) };
}

/**
 * recall@K of `ann`'s lists against `exact`'s on the same clicks: `sessions` sessions of the
 * serving bench's click generator (those with ≥ `steps` clicks), in batches, each list compared
 * after every click. Both engines start from zero states and advance their own copies.
 */
export async function annRecall(exact: InferenceEngine, ann: InferenceEngine, nItems: number, sessions: number, steps = 4): Promise<{ recall: number; lists: number }> {
  const byId = new Map<string, number[]>();
  for (const c of syntheticClicks({ nItems, nSessions: sessions * 4, meanSessionLength: 5, seed: 7 })) {
    const s = byId.get(c.sessionId) ?? [];
    s.push(Number(c.itemId.slice(1)));
    byId.set(c.sessionId, s);
  }
  const clicks = [...byId.values()].filter((s) => s.length >= steps).slice(0, sessions);
  const K = exact.topK;
  const H = exact.hiddenSizes;
  let hits = 0;
  let lists = 0;
  for (let start = 0; start < clicks.length; start += exact.maxBatch) {
    const rows = clicks.slice(start, start + exact.maxBatch);
    const n = rows.length;
    const he = H.map((h) => new Float32Array(n * h));
    const ha = H.map((h) => new Float32Array(n * h));
    const e: StepOutput = { topIdx: new Int32Array(n * K), topScore: new Float32Array(n * K) };
    const a: StepOutput = { topIdx: new Int32Array(n * K), topScore: new Float32Array(n * K) };
    for (let t = 0; t < steps; t++) {
      const items = Int32Array.from(rows, (s) => s[t]);
      await exact.step(n, items, he, e);
      await ann.step(n, items, ha, a);
      hits += sharedIds(e.topIdx, a.topIdx, K);
      lists += n;
    }
  }
  return { recall: hits / (lists * K), lists };
}
