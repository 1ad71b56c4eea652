import type { StreamrecConfig } from '../config/config.ts';
import { ConfigError } from '../errors/errors.ts';
import { type ModelStamp, modelStamp } from '../session/session-codec.ts';
import type { Recommender } from './recommender.ts';
import { CooccurrenceRecommender } from './cooccurrence-recommender.ts';
import { validateWeights, type Gru4RecWeights } from '../model/weights.ts';
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
  const kind: EngineKind | undefined = config.model.engine === 'auto' ? undefined : config.model.engine === 'onnx' ? 'ort' : 'tfjs';
  const engine = await createEngine(weights, {
    kind,
    topK: s.topK,
    maxExclude: s.excludeSeen ? s.sessions.historyLength : 0,
    maxBatch: Math.max(s.batch.maxSize, 1),
    log,
  });
  return { engine, itemIds, version, fallbackRanking: biasRanking(weights), stamp };
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
