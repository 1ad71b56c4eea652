import type { Point, SearchSpace } from './search-space.ts';

/** A finished trial as a sampler sees it: where it was and how well it scored (null: it failed). */
export interface Observation {
  point: Point;
  score: number | null;
}

/** Proposes the next point to try from everything tried so far. */
export interface Sampler {
  readonly name: string;
  readonly space: SearchSpace;
  propose(history: readonly Observation[]): Point;
}
