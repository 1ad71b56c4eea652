/**
 * version.json: what the registry knows about one version beyond the model itself — its number,
 * lineage, the promotion gate's scores and how far into the clicks topic its training went. It
 * lives in the version's directory and is listed in its manifest, so it is checksummed like the
 * weights; its structure is checked here (zod), field by field, with the file named on failure.
 *
 *   { "version": 3, "parent": 2, "createdAt": ISO-8601, "vocabularyHash": hex, "nItems": n,
 *     "gate"?: GateRecord, "trainingOffsets"?: { "<partition>": "<offset>" } }
 */
import { z } from 'zod';
import { ModelFileError } from '../errors/errors.ts';
import { describeIssue } from './schema-issues.ts';

export const VERSION_JSON = 'version.json';

/** The promotion gate's verdict on a candidate, scored on held-out events at the head of the stream. */
export interface GateRecord {
  /** Held-out events scored. */
  window: number;
  candidate: { recall: number; mrr: number };
  /** null when nothing was serving. */
  serving: { recall: number; mrr: number } | null;
  margin: number;
  passed: boolean;
}

/** One registry version. version.json holds every field but `dir`. */
export interface ModelVersionInfo {
  /** 1, 2, 3, … allocated by publish. */
  version: number;
  /** Absolute path of the version's directory. */
  dir: string;
  parent: number | null;
  /** ISO-8601. */
  createdAt: string;
  vocabularyHash: string;
  nItems: number;
  gate?: GateRecord;
  /** Clicks partition → next offset the candidate has NOT trained on (Kafka offsets are decimal strings). */
  trainingOffsets?: Record<string, string>;
}

export type VersionJson = Omit<ModelVersionInfo, 'dir'>;

const positiveInt = z.int({ error: 'must be a positive integer' }).min(1, { error: 'must be a positive integer' });
const count = z.int({ error: 'must be a non-negative integer' }).min(0, { error: 'must be a non-negative integer' });
const rate = z.number({ error: 'must be a number in [0, 1]' }).min(0, { error: 'must be a number in [0, 1]' }).max(1, { error: 'must be a number in [0, 1]' });
const scores = z.strictObject({ recall: rate, mrr: rate }, { error: 'must be { recall, mrr }' });
const decimal = (what: string) => z.string({ error: `must be ${what} as a decimal string` }).regex(/^\d+$/, { error: `must be ${what} as a decimal string` });

export const GateRecordSchema = z.strictObject({
  window: count,
  candidate: scores,
  serving: scores.nullable(),
  margin: z.number({ error: 'must be a number' }),
  passed: z.boolean({ error: 'must be true or false' }),
}) satisfies z.ZodType<GateRecord>;

export const VersionJsonSchema = z
  .strictObject({
    version: positiveInt,
    parent: positiveInt.nullable(),
    createdAt: z
      .string({ error: 'must be an ISO-8601 time' })
      .refine((s) => !Number.isNaN(Date.parse(s)), { error: (iss) => `must be an ISO-8601 time, got ${JSON.stringify(iss.input)}` }),
    vocabularyHash: z.string({ error: 'must be a lowercase hex SHA-256' }).regex(/^[0-9a-f]{64}$/, { error: 'must be a lowercase hex SHA-256' }),
    nItems: positiveInt,
    gate: GateRecordSchema.optional(),
    trainingOffsets: z.record(decimal('a partition number'), decimal('an offset'), { error: 'must map partitions to offsets' }).optional(),
  })
  .superRefine((v, ctx) => {
    // Lineage only points back: a version is derived from one that existed when it was published.
    if (v.parent !== null && v.parent >= v.version)
      ctx.addIssue({ code: 'custom', path: ['parent'], message: `${v.parent} is not an earlier version than ${v.version}`, input: v.parent });
  }) satisfies z.ZodType<VersionJson>;

/** Parses version.json's bytes; throws ModelFileError(path, "<field>: <problem>"). */
export function parseVersionJson(bytes: Uint8Array, path: string): VersionJson {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new ModelFileError(path, `not valid JSON: ${(err as Error).message}`);
  }
  return checkVersionJson(raw, path);
}

export function checkVersionJson(raw: unknown, path: string): VersionJson {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelFileError(path, 'expected a JSON object');
  const parsed = VersionJsonSchema.safeParse(raw);
  if (!parsed.success) throw new ModelFileError(path, describeIssue(parsed.error.issues, raw));
  return parsed.data;
}
