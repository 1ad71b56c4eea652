import type { Rng } from '../../random/rng.ts';

/** A hyperparameter value as it appears in a search point (and in a YAML file). */
export type ParamValue = number | string | boolean;

/** A real-valued range; `log` samples evenly in log space (learning rates, regularisers). */
export interface FloatDim {
  kind: 'float';
  lo: number;
  hi: number;
  log?: boolean;
}

/** An integer range, both ends included; `log` as for FloatDim (sizes, counts). */
export interface IntDim {
  kind: 'int';
  lo: number;
  hi: number;
  log?: boolean;
}

/** One of a few unordered values. */
export interface ChoiceDim {
  kind: 'choice';
  values: readonly ParamValue[];
}

export type Dim = FloatDim | IntDim | ChoiceDim;
export type SearchSpace = Readonly<Record<string, Dim>>;
export type Point = Record<string, ParamValue>;

/**
 * Samplers work on the unit cube: every numeric dimension maps to [0, 1] (through log for log
 * ranges), so one kernel width means the same thing for a learning rate and a hidden size.
 * Integers cover [lo - 0.5, hi + 0.5] so that both ends get a full-width share.
 */
function numericEnds(d: FloatDim | IntDim): [number, number] {
  const [lo, hi] = d.kind === 'int' ? [d.lo - 0.5, d.hi + 0.5] : [d.lo, d.hi];
  return d.log ? [Math.log(Math.max(lo, Number.MIN_VALUE)), Math.log(hi)] : [lo, hi];
}

/** Position of a numeric value in [0, 1]; values outside the range clamp to its ends. */
export function toUnit(d: FloatDim | IntDim, value: number): number {
  const [a, b] = numericEnds(d);
  const x = d.log ? Math.log(Math.max(value, Number.MIN_VALUE)) : value;
  return b === a ? 0.5 : Math.min(1, Math.max(0, (x - a) / (b - a)));
}

/** The numeric value at u in [0, 1], inside [lo, hi] (integers rounded). */
export function fromUnit(d: FloatDim | IntDim, u: number): number {
  const [a, b] = numericEnds(d);
  const x = a + (b - a) * Math.min(1, Math.max(0, u));
  const v = d.log ? Math.exp(x) : x;
  if (d.kind === 'int') return Math.min(d.hi, Math.max(d.lo, Math.round(v)));
  // Four significant digits: finer than any trial can tell apart, and the written config stays readable.
  return Math.min(d.hi, Math.max(d.lo, Number(v.toPrecision(4))));
}

/** Index of a value among a choice's values; -1 when it is not one of them. */
export function choiceIndex(d: ChoiceDim, value: ParamValue): number {
  return d.values.indexOf(value);
}

/** One point drawn uniformly (per dimension, in unit space) from the space. */
export function sampleUniform(space: SearchSpace, rng: Rng): Point {
  const point: Point = {};
  for (const [name, d] of Object.entries(space)) {
    point[name] = d.kind === 'choice' ? d.values[Math.floor(rng.next() * d.values.length)] : fromUnit(d, rng.next());
  }
  return point;
}

/** Why a point is not inside the space (first problem), or null when it is. */
export function outsideSpace(space: SearchSpace, point: Point): string | null {
  for (const [name, d] of Object.entries(space)) {
    const v = point[name];
    if (v === undefined) return `${name} is missing`;
    if (d.kind === 'choice') {
      if (choiceIndex(d, v) < 0) return `${name} = ${JSON.stringify(v)} is not one of ${JSON.stringify(d.values)}`;
    } else if (typeof v !== 'number' || !(v >= d.lo && v <= d.hi) || (d.kind === 'int' && !Number.isInteger(v))) {
      return `${name} = ${JSON.stringify(v)} is outside [${d.lo}, ${d.hi}]${d.kind === 'int' ? ' (integers)' : ''}`;
    }
  }
  for (const name of Object.keys(point)) if (!(name in space)) return `${name} is not a dimension of the space`;
  return null;
}

/** A space with some dimensions replaced (or added), e.g. a narrower hidden-size range for a small data set. */
export function withDims(space: SearchSpace, overrides: Readonly<Record<string, Dim>>): SearchSpace {
  return Object.freeze({ ...space, ...overrides });
}
