import { Rng } from '../../random/rng.ts';
import type { Observation, Sampler } from './sampler.ts';
import { type Point, type SearchSpace, sampleUniform } from './search-space.ts';

/** Random search: every proposal is an independent uniform draw, whatever the history says. */
export class RandomSearch implements Sampler {
  readonly name = 'random';
  private readonly rng: Rng;

  constructor(
    readonly space: SearchSpace,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  propose(_history: readonly Observation[]): Point {
    return sampleUniform(this.space, this.rng);
  }
}
