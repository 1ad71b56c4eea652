/**
 * model.json's structure as a zod schema (the format itself is described in model-file.ts), and
 * the one check that turns a parsed JSON value into a ModelJson or a ModelFileError naming the
 * file, the field and the problem. Field rules live in the schema; rules that relate fields (the
 * tensor table against the architecture, the item ids against arch.nItems and their hash, the
 * training config against the weights) run only once every field passed its own rule.
 */
import { z } from 'zod';
import { ModelFileError } from '../errors/errors.ts';
import { archOf, Gru4RecConfigSchema, type Gru4RecConfig } from '../model/gru4rec-config.ts';
import { canonicalArch, CELLS, expectedShapes, HEADS, sameArch, TASTE_MIXINGS, type Gru4RecArch } from '../model/weights.ts';
import { vocabularyHash } from './model-identity.ts';
import { describeIssue } from './schema-issues.ts';

export const MODEL_FORMAT = 'streamrec-gru4rec';
export const MODEL_FORMAT_VERSION = 1;

const intAtLeast = (min: number, error: string) => z.number({ error }).int({ error }).min(min, { error });
const POSITIVE_LIST = 'must be a non-empty list of positive integers';

export const ArchSchema = z.object({
  /** Absent in files written before the LSTM cells: those are GRUs. */
  cell: z.enum(CELLS, { error: `must be one of ${CELLS.map((c) => `"${c}"`).join(', ')}` }).optional(),
  nItems: intAtLeast(1, 'must be a positive integer'),
  embeddingDim: intAtLeast(0, 'must be a non-negative integer'),
  hiddenSizes: z.array(intAtLeast(1, 'must be a positive integer'), { error: POSITIVE_LIST }).min(1, { error: POSITIVE_LIST }),
  constrainedEmbedding: z.boolean({ error: 'must be true or false' }),
  useBias: z.boolean({ error: 'must be true or false' }),
  /** Absent in files written before the mixture heads (and for the dot head): those score by dot product. */
  head: z.enum(HEADS, { error: `must be one of ${HEADS.map((h) => `"${h}"`).join(', ')}` }).optional(),
  tastes: intAtLeast(1, 'must be a positive integer').optional(),
  tasteMixing: z.enum(TASTE_MIXINGS, { error: `must be one of ${TASTE_MIXINGS.map((m) => `"${m}"`).join(', ')}` }).optional(),
  temperature: z.number({ error: 'must be a positive number' }).positive({ error: 'must be a positive number' }).optional(),
  regressionDim: intAtLeast(1, 'must be a positive integer').optional(),
}) satisfies z.ZodType<Gru4RecArch>;

export const TensorEntrySchema = z.object({
  name: z.string({ error: 'every tensor needs a name' }),
  shape: z.array(intAtLeast(0, 'must be a list of non-negative integers'), { error: 'must be a list of non-negative integers' }),
  /** Byte offset into weights.bin. */
  offset: intAtLeast(0, 'must be a non-negative multiple of 4').multipleOf(4, { error: 'must be a non-negative multiple of 4' }),
  /** Number of float32 values. */
  length: intAtLeast(0, 'must be a count of values'),
});

export type TensorEntry = z.infer<typeof TensorEntrySchema>;

const hex256 = z.string({ error: 'must be a lowercase hex SHA-256' }).regex(/^[0-9a-f]{64}$/, { error: 'must be a lowercase hex SHA-256' });

const ModelJsonFields = z.object({
  // The tag and version are checked with their own wording: a file of another format fails on
  // them first, and the problems that follow from it would only be noise.
  format: z.custom<typeof MODEL_FORMAT>((v) => v === MODEL_FORMAT, {
    error: (iss) => `not a streamrec GRU4Rec model: format is ${JSON.stringify(iss.input)}, expected "${MODEL_FORMAT}"`,
    abort: true,
  }),
  formatVersion: z.custom<typeof MODEL_FORMAT_VERSION>((v) => v === MODEL_FORMAT_VERSION, {
    error: (iss) => `unsupported formatVersion ${JSON.stringify(iss.input)} (this build reads ${MODEL_FORMAT_VERSION})`,
    abort: true,
  }),
  arch: ArchSchema,
  /** The hyperparameters it was trained with; null for imported weights. */
  config: Gru4RecConfigSchema.nullish().transform((c): Gru4RecConfig | null => c ?? null),
  /** External id of item row i. */
  itemIds: z.array(z.string({ error: 'must be a string' }), { error: 'must be a list of strings' }),
  /** SHA-256 of itemIds (model-identity.ts), so that a tool can tell vocabularies apart without reading them. */
  vocabularyHash: hex256,
  tensors: z.array(TensorEntrySchema, { error: 'must be a list' }),
  /** E.g. recall@20 of the promotion gate. */
  metrics: z.record(z.string(), z.number({ error: 'must be a number' }), { error: 'must map names to numbers' }).optional(),
  createdAt: z
    .string({ error: 'must be an ISO-8601 time' })
    .refine((s) => !Number.isNaN(Date.parse(s)), { error: (iss) => `must be an ISO-8601 time, got ${JSON.stringify(iss.input)}` }),
  /** Registry lineage. */
  version: z.string({ error: 'must be a string' }).optional(),
  parent: z.string({ error: 'must be a string' }).optional(),
});

export const ModelJsonSchema = ModelJsonFields.superRefine(
  (j, ctx) => {
    // The first broken relation only: the ones after it usually follow from it.
    const problem = brokenRelation(j);
    if (problem) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
  },
  { when: (payload) => payload.issues.length === 0 },
);

export type ModelJson = z.output<typeof ModelJsonSchema>;

/** Parses model.json's value; throws ModelFileError(path, "<field>: <problem>"). */
export function checkModelJson(raw: unknown, path: string): ModelJson {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ModelFileError(path, 'expected a JSON object');
  const parsed = ModelJsonSchema.safeParse(raw);
  if (!parsed.success) throw new ModelFileError(path, describeIssue(parsed.error.issues, raw));
  return parsed.data;
}

/** Throws ModelFileError(where, …) unless the config trains exactly this architecture. */
export function checkConfigMatches(config: Gru4RecConfig, arch: Gru4RecArch, where: string): void {
  const problem = configMismatch(config, arch);
  if (problem) throw new ModelFileError(where, problem);
}

function configMismatch(config: Gru4RecConfig, arch: Gru4RecArch): string | null {
  const want = archOf(config, arch.nItems);
  return sameArch(want, arch) ? null : `the config describes architecture ${JSON.stringify(want)}, the weights have ${JSON.stringify(canonicalArch(arch))}`;
}

type Fields = z.output<typeof ModelJsonFields>;

interface Problem {
  path: PropertyKey[];
  message: string;
}

function brokenRelation(j: Fields): Problem | null {
  const fail = (path: PropertyKey[], message: string): Problem => ({ path, message });
  const { arch, itemIds } = j;
  if (itemIds.length !== arch.nItems) return fail(['itemIds'], `has ${itemIds.length} entries, arch.nItems is ${arch.nItems}`);
  const firstAt = new Map<string, number>();
  for (let i = 0; i < itemIds.length; i++) {
    const seen = firstAt.get(itemIds[i]);
    if (seen !== undefined) return fail(['itemIds', i], `duplicate of itemIds[${seen}] (${JSON.stringify(itemIds[i]).slice(0, 80)})`);
    firstAt.set(itemIds[i], i);
  }
  const computed = vocabularyHash(itemIds);
  if (computed !== j.vocabularyHash) return fail(['vocabularyHash'], `${j.vocabularyHash} does not match the item ids (their hash is ${computed})`);
  const expected = expectedShapes(arch);
  const listed = new Set<string>();
  for (let i = 0; i < j.tensors.length; i++) {
    const t = j.tensors[i];
    if (!(t.name in expected)) return fail(['tensors', i, 'name'], `tensor "${t.name}" does not belong to this architecture`);
    if (listed.has(t.name)) return fail(['tensors', i, 'name'], `tensor "${t.name}" is listed twice`);
    listed.add(t.name);
    const want = expected[t.name];
    if (t.shape.length !== want.length || t.shape.some((d, k) => d !== want[k]))
      return fail(['tensors', i, 'shape'], `tensor "${t.name}" has shape ${JSON.stringify(t.shape)}, the architecture needs [${want}]`);
    const n = want.reduce((a, b) => a * b, 1);
    if (t.length !== n) return fail(['tensors', i, 'length'], `tensor "${t.name}" has length ${t.length}, its shape holds ${n} values`);
  }
  for (const name of Object.keys(expected)) if (!listed.has(name)) return fail(['tensors'], `tensor "${name}" is missing`);
  if (j.config) {
    const problem = configMismatch(j.config, arch);
    if (problem) return fail(['config'], problem);
  }
  return null;
}
