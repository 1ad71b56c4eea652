/**
 * The version string a serving model carries: `v3` for registry version 3 alone (a snapshot),
 * `v3+d5` once its deltas 1..5 are applied. One string, because the serving loop, its events and
 * a swap already speak one; the recommendation record splits it into modelVersion ("v3") and
 * modelDelta (5), so consumers that only know versions keep reading "v3".
 */
const WITH_DELTA = /^(.*)\+d(\d+)$/;

export function servedVersionName(version: string, delta: number): string {
  return delta > 0 ? `${version}+d${delta}` : version;
}

export function splitServedVersion(name: string): { version: string; delta: number } {
  const m = WITH_DELTA.exec(name);
  return m ? { version: m[1], delta: Number(m[2]) } : { version: name, delta: 0 };
}
