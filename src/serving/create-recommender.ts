import type { StreamrecConfig } from '../config/config.ts';
import { ConfigError } from '../errors/errors.ts';
import { type ModelStamp, modelStamp } from '../session/session-codec.ts';
import type { Recommender } from './recommender.ts';
import { CooccurrenceRecommender } from './cooccurrence-recommender.ts';
import { AnnIndexBuilder } from '../ann/index-builder.ts';
import type { AnnSettings } from '../ann/ann-settings.ts';
import { AnnEngine } from '../engine/ann-engine.ts';
import type { InferenceEngine } from '../engine/engine.ts';
import { headOf, validateWeights, type Gru4RecWeights } from '../model/weights.ts';
import { createEngine, type EngineKind } from '../engine/create-engine.ts';
import { Gru4RecRecommender, type SwappableModel } from './gru4rec-recommender.ts';

/** Builds the recommender a topology asks for; a bad model file is refused here, before any consumer starts. */
export async function createRecommender(config: StreamrecConfig, log: (line: string) => void = (l) => process.stderr.write(l + '\n')): Promise<Recommender> {
  switch (config.model.kind) {
    case 'cooccurrence':
      return new CooccurrenceRecommender(config.serving.topK, config.serving.sessions.maxSessions);
    case 'gru4rec': {
      const { loadModel } = await import('../registry/model-file.ts');
      const model = await loadModel(config.model.path);
      return buildGru4RecRecommender(config, model.weights, model.itemIds, model.version ?? 'unversioned', log, modelStamp(model));
    }
    case 'registry': {
      // The registry's CURRENT version; serve (cli/serve.ts) then follows topics.modelUpdates.
      const { ModelRegistry } = await import('../registry/model-registry.ts');
      const registry = new ModelRegistry(config.registry.path);
      const current = await registry.current();
      if (current === null)
        throw new ConfigError(
          'model.kind',
          `the registry at ${config.registry.path} has no current version yet: publish one (streamrec train --follow) or promote one (streamrec model promote --version N)`,
        );
      const model = await registry.load(current);
      return buildGru4RecRecommender(config, model.weights, model.itemIds, registryVersionName(current), log, modelStamp(model));
    }
  }
}

/** The version string a registry version serves under (stamped on every recommendation). */
export const registryVersionName = (version: number): string => `v${version}`;

/** Item indices ordered by output bias: GRU4Rec's bias tracks popularity, the cold-start answer. */
function biasRanking(w: Gru4RecWeights): Int32Array {
  const by = w.tensors['out.by'].data;
  return Int32Array.from(Array.from(by.keys()).sort((a, b) => by[b] - by[a] || a - b));
}

/**
 * Loads weights into an engine the serving options fit (top-K, exclusion, batch size), with the
 * model's cold-start ranking: what a recommender starts with and what a hot swap installs.
 */
export async function prepareModel(
  config: StreamrecConfig,
  weights: Gru4RecWeights,
  itemIds: readonly string[],
  version: string,
  log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  stamp?: ModelStamp,
): Promise<SwappableModel> {
  validateWeights(weights);
  const s = config.serving;
  // The index ranks by h·e_i + b_i; a mixture head's scores are no nearest-neighbour search over those items.
  if (s.scoring === 'ann' && headOf(weights.arch) !== 'dot')
    throw new ConfigError('serving.scoring', `"ann" ranks by dot product only, and this model has a ${headOf(weights.arch)} head: use scoring: exact`);
  const kind: EngineKind | undefined = config.model.engine === 'auto' ? undefined : config.model.engine === 'onnx' ? 'ort' : 'tfjs';
  const exact = await createEngine(weights, {
    kind,
    topK: s.topK,
    maxExclude: s.excludeSeen ? s.sessions.historyLength : 0,
    maxBatch: Math.max(s.batch.maxSize, 1),
    log,
  });
  const engine = s.scoring === 'ann' ? await withAnnScoring(exact, weights, s.ann ?? {}, log) : exact;
  return { engine, itemIds, version, fallbackRanking: biasRanking(weights), stamp };
}

/**
 * The engine with its scoring replaced by an ANN index over the output item embeddings (and
 * bias): built in a worker thread while serving goes on, as the rest of a version's preparation.
 */
async function withAnnScoring(exact: InferenceEngine, weights: Gru4RecWeights, settings: Partial<AnnSettings>, log: (line: string) => void): Promise<InferenceEngine> {
  const wy = weights.tensors['out.Wy'];
  const builder = new AnnIndexBuilder({ ...settings, metric: 'ip' });
  try {
    const built = await builder.build({
      vectors: wy.data,
      count: wy.shape[0],
      dim: wy.shape[1],
      ...(weights.arch.useBias ? { bias: weights.tensors['out.by'].data } : {}),
    });
    log(`ann scoring: ${built.index.library} index over ${wy.shape[0]} items built in ${built.totalMs.toFixed(0)} ms`);
    return new AnnEngine(exact, built.index);
  } catch (e) {
    await exact.dispose();
    throw e;
  } finally {
    await builder.close();
  }
}

export async function buildGru4RecRecommender(
  config: StreamrecConfig,
  weights: Gru4RecWeights,
  itemIds: readonly string[],
  version: string,
  log: (line: string) => void = (l) => process.stderr.write(l + '\n'),
  stamp?: ModelStamp,
): Promise<Gru4RecRecommender> {
  const s = config.serving;
  return new Gru4RecRecommender(await prepareModel(config, weights, itemIds, version, log, stamp), {
    topK: s.topK,
    excludeSeen: s.excludeSeen,
    historyLength: s.sessions.historyLength,
    maxSessions: s.sessions.maxSessions,
    ttlMs: s.sessions.ttlMs,
    unknownItems: s.unknownItems,
    changelogRecord: s.sessions.changelogRecord,
  });
}
