import { DEFAULT_GRU4REC_CONFIG } from '../../model/gru4rec-config.ts';
import { Gru4RecTarget } from './gru4rec-target.ts';
import { ItemKnnParamsSchema, ItemKnnTarget, SessionKnnParamsSchema, SessionKnnTarget } from './knn-target.ts';
import { RandomSearch } from './random-search.ts';
import type { Sampler } from './sampler.ts';
import type { SearchSpace } from './search-space.ts';
import { TpeSearch, type TpeOptions } from './tpe-search.ts';
import type { TuneConfigOf, TuneModel } from './tuned-config-file.ts';
import type { TuneTarget } from './tune-target.ts';
import type { ValidationSplit } from './validation-split.ts';

export const SEARCHES = ['random', 'bayes'] as const;
export type SearchKind = (typeof SEARCHES)[number];

/** The default start of each model: the official GRU4Rec constructor defaults, the kNN scorers' defaults. */
export function defaultStart<M extends TuneModel>(model: M): TuneConfigOf[M] {
  const starts: TuneConfigOf = { gru4rec: { ...DEFAULT_GRU4REC_CONFIG }, sknn: SessionKnnParamsSchema.parse({}), iknn: ItemKnnParamsSchema.parse({}) };
  return starts[model];
}

/** The tuning target of a model on a split; GRU4Rec takes the fields the space leaves alone from `start`. */
export function tuneTarget<M extends TuneModel>(model: M, split: ValidationSplit, start: TuneConfigOf[M], space?: SearchSpace): TuneTarget<TuneConfigOf[M]> {
  if (model === 'gru4rec') return new Gru4RecTarget(split, { base: start as TuneConfigOf['gru4rec'], ...(space ? { space } : {}) }) as unknown as TuneTarget<TuneConfigOf[M]>;
  const target = model === 'sknn' ? new SessionKnnTarget(split, space) : new ItemKnnTarget(split, space);
  return target as unknown as TuneTarget<TuneConfigOf[M]>;
}

export function makeSampler(kind: SearchKind, space: SearchSpace, seed: number, tpe: TpeOptions = {}): Sampler {
  return kind === 'random' ? new RandomSearch(space, seed) : new TpeSearch(space, seed, tpe);
}
