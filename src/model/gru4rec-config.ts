import { z } from 'zod';
import { CELLS, HEADS, TASTE_MIXINGS, type Gru4RecArch } from './weights.ts';
import type { LossName } from './losses.ts';
import { DEFAULT_ITEM2VEC, type Item2VecOptions } from './item2vec.ts';

/** The sampled losses: a function of the scores of the sampled output set (src/model/losses.ts), for every head but regression. */
export const LOSSES = ['cross-entropy', 'bpr', 'top1', 'bpr-max', 'top1-max', 'adaptive-hinge'] as const satisfies readonly LossName[];
/**
 * The regression head's loss, and its only one: 1 − cos(prediction, target's item vector)
 * (cosineRegressionLoss in src/model/heads.ts). No sampled loss applies to it, nor it to another head.
 */
export const REGRESSION_LOSS = 'cosine';
const CONFIG_LOSSES = [...LOSSES, REGRESSION_LOSS] as const;
export const OPTIMIZERS = ['adagrad', 'adam'] as const;

// One rule per field, one message per rule: every way a value can break it (wrong type, out of
// range, not an integer) reads the same. The formatter below adds the field name and the value.
const int = (min: number) => {
  const error = `must be an integer >= ${min}`;
  return z.number({ error }).int({ error }).min(min, { error });
};
const num = (min: number, max = Infinity, maxOpen = false) => {
  const error = `must be a number in [${min}, ${max}${maxOpen ? ')' : ']'}`;
  const atLeast = z.number({ error }).min(min, { error });
  return max === Infinity ? atLeast : maxOpen ? atLeast.lt(max, { error }) : atLeast.max(max, { error });
};
const positive = () => {
  const error = 'must be a positive number';
  return z.number({ error }).positive({ error });
};
const bool = () => z.boolean({ error: 'must be true or false' });
const oneOf = <const T extends readonly [string, ...string[]]>(values: T) => z.enum(values, { error: `must be one of ${values.map((x) => `"${x}"`).join(', ')}` });
const LAYERS_RULE = 'must be a non-empty list of positive integers';

/**
 * Every GRU4Rec hyperparameter, explicit. Names follow the official implementation
 * (hidasib/GRU4Rec_PyTorch_Official) in camelCase; defaults are that code's constructor defaults.
 * Every field is optional on input (the default fills it); unknown fields are refused, because a
 * typo such as "learningrate" would otherwise train with the default without a word.
 */
export const Gru4RecConfigSchema = z
  .strictObject(
    {
      /** The recurrent cell of every layer: GRU (GRU4Rec), LSTM, or multiplicative LSTM (src/model/weights.ts). */
      cell: oneOf(CELLS).default('gru'),
      /** How the last layer's output scores items (src/model/heads.ts): dot product + bias, mixture of tastes, mixture of cosines. */
      head: oneOf(HEADS).default('dot'),
      /** K, the taste (mixture-of-tastes) or user (mixture-of-cosines) vectors per state; read by the mixture heads only. */
      tastes: int(1).default(4),
      /** Mixture-of-tastes: attention softmax over the tastes (Kula 2019) or the best taste's score. */
      tasteMixing: oneOf(TASTE_MIXINGS).default('softmax'),
      /** Mixture-of-cosines: the temperature τ (scores are cosines / τ); the initial value when learnTemperature. */
      cosineTemperature: positive().default(0.1),
      /** Mixture-of-cosines: train 1/τ with the other parameters (false keeps it at 1/cosineTemperature). */
      learnTemperature: bool().default(true),
      /** Regression head: E, the size of the item2vec vectors it predicts (head.items' width). */
      regressionDim: int(1).default(DEFAULT_ITEM2VEC.dim),
      /**
       * Regression head: the item2vec run that learns its fixed target vectors on the training sessions
       * before the GRU trains (src/model/item2vec.ts; its seed is `seed`). Defaults are DEFAULT_ITEM2VEC's.
       */
      item2vecWindow: int(1).default(DEFAULT_ITEM2VEC.window),
      item2vecNegatives: int(1).default(DEFAULT_ITEM2VEC.negatives),
      item2vecUnigramPower: num(0).default(DEFAULT_ITEM2VEC.unigramPower),
      item2vecEpochs: int(1).default(DEFAULT_ITEM2VEC.epochs),
      item2vecLearningRate: positive().default(DEFAULT_ITEM2VEC.learningRate),
      item2vecMinLearningRateRatio: num(0, 1).default(DEFAULT_ITEM2VEC.minLearningRateRatio),
      item2vecSubsample: num(0).default(DEFAULT_ITEM2VEC.subsample),
      /** The sampled losses for every head but regression; "cosine" for the regression head, and only for it. */
      loss: oneOf(CONFIG_LOSSES).default('cross-entropy'),
      /** adaptive-hinge: the margin a sampled negative must come within of the target's score to violate. */
      adaptiveHingeMargin: positive().default(1.0),
      /** adaptive-hinge: most negatives tried per row, in the step's sample order, before the row counts as satisfied. */
      adaptiveHingeTries: int(1).default(10),
      /** Hidden sizes of the stacked recurrent layers. */
      layers: z
        .array(z.number({ error: LAYERS_RULE }).int({ error: LAYERS_RULE }).min(1, { error: LAYERS_RULE }), { error: LAYERS_RULE })
        .min(1, { error: LAYERS_RULE })
        .default(() => [100]),
      /** Size of a separate input embedding; 0 = none (one-hot input, or out.Wy when constrainedEmbedding). */
      embedding: int(0).default(0),
      /** Use the output table out.Wy as the input embedding too (the "shared embedding" of the papers). */
      constrainedEmbedding: bool().default(true),
      /** Learn the per-item output bias out.by; false keeps it at zero. */
      useBias: bool().default(true),
      /** Dropout on the input embedding (separate or constrained); one-hot input has no embedding to drop, as in the original. */
      dropoutPEmbed: num(0, 1, true).default(0.0),
      /** Dropout on every recurrent layer's output h (the dropped h is also the carried h, as in the original; an LSTM's c is not dropped). */
      dropoutPHidden: num(0, 1, true).default(0.0),
      learningRate: positive().default(0.05),
      /** Momentum on top of Adagrad (the official IndexedAdagradM); ignored by Adam. */
      momentum: num(0, 1, true).default(0.0),
      optimizer: oneOf(OPTIMIZERS).default('adagrad'),
      adamBeta1: num(0, 1, true).default(0.9),
      adamBeta2: num(0, 1, true).default(0.999),
      /** Added under the square root of the optimizer's second-moment accumulator. */
      epsilon: positive().default(1e-6),
      /** L2 coefficient applied after the adaptive scaling (the original's lmbd); tables decay only the rows a step touches. */
      weightDecay: num(0).default(0.0),
      batchSize: int(1).default(64),
      /** Extra popularity-sampled negatives per step, shared by the whole mini-batch. */
      nSample: int(0).default(2048),
      /** Negatives are drawn ∝ support^sampleAlpha. */
      sampleAlpha: num(0).default(0.5),
      /** Most item ids held in the precomputed negative-sample store. */
      sampleCacheSize: int(1).default(10_000_000),
      /** Score regularisation of BPR-max. */
      bpreg: num(0).default(1.0),
      /** ELU(alpha) applied to the scores before BPR-max; 0 = linear. */
      eluParam: num(0).default(0.5),
      /** Strength of the log-sampling-probability correction of cross-entropy (0 = off). */
      logq: num(0).default(0.0),
      /**
       * Not in the official code (default false = its behaviour): drop accidental hits from each row's
       * negatives, i.e. columns holding the row's own target item (a popularity sample that drew it, or
       * another row of the mini-batch with the same target). Matters when nSample is a large share of
       * the catalogue: with 2048 uniform samples over ~3k items half the rows have their target among the negatives.
       */
      removeAccidentalHits: bool().default(false),
      nEpochs: int(0).default(10),
      seed: int(0).default(42),
    },
    { error: 'must be a mapping of field names to values' },
  )
  .superRefine(
    (c, ctx) => {
      if (c.constrainedEmbedding && c.embedding !== 0)
        ctx.addIssue({ code: 'custom', path: ['embedding'], message: 'must be 0 when constrainedEmbedding is true (the input table is out.Wy)' });
      if (c.batchSize + c.nSample < 2) ctx.addIssue({ code: 'custom', path: [], message: 'batchSize + nSample must be at least 2 (a target needs a negative)' });
      // The regression head and its loss come together: a sampled loss has no scores to read from it.
      if (c.head === 'regression' && c.loss !== REGRESSION_LOSS)
        ctx.addIssue({ code: 'custom', path: ['loss'], message: `must be "${REGRESSION_LOSS}" with head "regression" (its only loss), got ${JSON.stringify(c.loss)}` });
      if (c.head !== 'regression' && c.loss === REGRESSION_LOSS)
        ctx.addIssue({ code: 'custom', path: ['loss'], message: `"${REGRESSION_LOSS}" is the regression head's loss only, and head is ${JSON.stringify(c.head)}` });
    },
    // Cross-field rules only mean something over fields that passed their own rule.
    { when: (payload) => payload.issues.length === 0 },
  );

export type Gru4RecConfig = z.output<typeof Gru4RecConfigSchema>;

/** The official code's constructor defaults (the schema's defaults, so they cannot drift apart). */
export const DEFAULT_GRU4REC_CONFIG: Readonly<Gru4RecConfig> = Object.freeze(Gru4RecConfigSchema.parse({}));

/** The fast RSC15 cross-entropy settings, shared by the GRU preset and the LSTM variants of it. */
const RSC15_XE_FAST: Readonly<Partial<Gru4RecConfig>> = {
  loss: 'cross-entropy',
  constrainedEmbedding: true,
  embedding: 0,
  eluParam: 0,
  layers: [100],
  nEpochs: 10,
  batchSize: 32,
  dropoutPEmbed: 0.1,
  dropoutPHidden: 0.0,
  learningRate: 0.1,
  momentum: 0.0,
  nSample: 2048,
  sampleAlpha: 0.75,
  bpreg: 0.0,
  logq: 1.0,
};

/**
 * Presets. "Published" ones are the official best parameter files; the "fast" ones keep
 * 100 hidden units (the size the RSC15 search was fixed to), which trains several times
 * faster on a couple of CPU cores with the wasm backend.
 */
export const GRU4REC_PRESETS: Readonly<Record<string, Partial<Gru4RecConfig>>> = Object.freeze({
  /** Published size: paramfiles/yoochoose_xe_shared_best.py (Yoochoose is the deduplicated RSC15). */
  'rsc15-xe': {
    loss: 'cross-entropy',
    constrainedEmbedding: true,
    embedding: 0,
    eluParam: 0,
    layers: [480],
    nEpochs: 10,
    batchSize: 48,
    dropoutPEmbed: 0.0,
    dropoutPHidden: 0.2,
    learningRate: 0.07,
    momentum: 0.0,
    nSample: 2048,
    sampleAlpha: 0.2,
    bpreg: 0.0,
    logq: 1.0,
  },
  /** Fast: the RSC15 row of the official README's best-parameter table (100 units). */
  'rsc15-xe-fast': RSC15_XE_FAST,
  /**
   * Published size BPR-max: there is no official RSC15 BPR-max file at this size; this is
   * paramfiles/diginetica_bprmax_shared_best.py (512 units), the closest e-commerce click set.
   */
  'rsc15-bprmax': {
    loss: 'bpr-max',
    constrainedEmbedding: true,
    embedding: 0,
    eluParam: 1.0,
    layers: [512],
    nEpochs: 10,
    batchSize: 128,
    dropoutPEmbed: 0.5,
    dropoutPHidden: 0.3,
    learningRate: 0.05,
    momentum: 0.15,
    nSample: 2048,
    sampleAlpha: 0.3,
    bpreg: 0.9,
    logq: 0.0,
  },
  /**
   * Fast: the original repository's param_samples/rsc15_bpr-max_constrained.py (100 units, final_act
   * elu-0.5; also the constrained BPR-max call in examples/rsc15/run_rsc15.py), except learningRate.
   * That file's 0.2 was tuned on the full RSC15 (~31M events); on the 100k-click sample it is far too
   * large (train_tr → train_valid, 10 epochs, Recall@20 / MRR@20: lr 0.2 0.495/0.254, 0.1 0.583/0.307,
   * 0.05 0.616/0.337, 0.025 0.640/0.352, 0.0125 0.616/0.324), so 0.025, chosen on that validation split.
   */
  'rsc15-bprmax-fast': {
    loss: 'bpr-max',
    constrainedEmbedding: true,
    embedding: 0,
    eluParam: 0.5,
    layers: [100],
    nEpochs: 10,
    batchSize: 32,
    dropoutPEmbed: 0.0,
    dropoutPHidden: 0.0,
    learningRate: 0.025,
    momentum: 0.1,
    nSample: 2048,
    sampleAlpha: 0.0,
    bpreg: 0.5,
    logq: 0.0,
  },
  /**
   * Not published settings: rsc15-xe-fast with the LSTM cell (same loss, sampling, sizes and
   * learning rate), so the cells compare at one budget; tune them (streamrec tune) for a dataset.
   */
  'rsc15-lstm-fast': { ...RSC15_XE_FAST, cell: 'lstm' },
  /** rsc15-xe-fast with the multiplicative LSTM cell (see rsc15-lstm-fast). */
  'rsc15-mlstm-fast': { ...RSC15_XE_FAST, cell: 'mlstm' },
  /**
   * Not published settings: rsc15-xe-fast (GRU) with the mixture-of-tastes head, K = 4 tastes with
   * attention softmax (the paper's form), so the heads compare at one budget.
   */
  'rsc15-mot-fast': { ...RSC15_XE_FAST, head: 'mixture-of-tastes', tastes: 4, tasteMixing: 'softmax' },
  /** rsc15-xe-fast with the mixture-of-cosines head: K = 4 user vectors, τ starting at 0.1 and learnt. */
  'rsc15-moc-fast': { ...RSC15_XE_FAST, head: 'mixture-of-cosines', tastes: 4, cosineTemperature: 0.1, learnTemperature: true },
  /**
   * Not published settings: rsc15-xe-fast's sizes, batch, dropout and learning rate with the
   * regression head (64-dim item2vec targets at DEFAULT_ITEM2VEC's settings) and its cosine loss.
   * nSample 0: the cosine loss reads no negatives, so drawing 2048 a step would only cost time.
   */
  'rsc15-regression-fast': { ...RSC15_XE_FAST, head: 'regression', loss: REGRESSION_LOSS, regressionDim: DEFAULT_ITEM2VEC.dim, nSample: 0 },
  /**
   * Not published settings: rsc15-bprmax-fast's sizes, batch and momentum with the adaptive hinge
   * (margin 1). With that preset's learning rate and uniform samples (lr 0.025, alpha 0, 10 tries)
   * the hinge barely learns in an epoch: once a row clears the margin against 10 uniform draws it
   * stops contributing. Harder negatives and more tries fix that; from five one-epoch runs on the
   * first third of rsc15-100k train_full (scored on test, Recall@20: lr 0.025 alpha 0 k 10 0.081,
   * lr 0.1 alpha 0 k 10 0.252, lr 0.1 alpha 0.75 k 10 0.291, lr 0.1 alpha 0.75 k 200 0.327,
   * lr 0.05 alpha 0.5 k 1000 0.307; BPR-max-fast there 0.284) a rough pick, not a tuned one.
   */
  'rsc15-hinge-fast': {
    loss: 'adaptive-hinge',
    adaptiveHingeMargin: 1.0,
    adaptiveHingeTries: 200,
    constrainedEmbedding: true,
    embedding: 0,
    layers: [100],
    nEpochs: 10,
    batchSize: 32,
    dropoutPEmbed: 0.0,
    dropoutPHidden: 0.0,
    learningRate: 0.1,
    momentum: 0.1,
    nSample: 2048,
    sampleAlpha: 0.75,
  },
});

export function gru4recPreset(name: string, overrides: Partial<Gru4RecConfig> = {}): Gru4RecConfig {
  const preset = GRU4REC_PRESETS[name];
  if (!preset) throw new Error(`unknown GRU4Rec preset "${name}"; known: ${Object.keys(GRU4REC_PRESETS).join(', ')}`);
  return validateGru4RecConfig({ ...preset, ...overrides });
}

/** Fill defaults and check every field; errors name the field and the rule it breaks. */
export function validateGru4RecConfig(partial: Partial<Gru4RecConfig> | Record<string, unknown> = {}): Gru4RecConfig {
  const parsed = Gru4RecConfigSchema.safeParse(partial);
  if (parsed.success) return parsed.data;
  throw new Error(`GRU4Rec config: ${describeConfigIssue(firstIssue(parsed.error.issues), partial)}`);
}

/**
 * The issue to report: an unknown field first (it usually explains the others, e.g. a misspelt
 * name leaving the real one at its default), then the first in field order.
 */
export function firstIssue(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue {
  return issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
}

/** "<field> <rule>, got <value>" — the wording of every GRU4Rec config error. */
function describeConfigIssue(issue: z.core.$ZodIssue, input: unknown): string {
  if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `unknown field "${k}"`).join(', ');
  const field = issue.path.length > 0 ? String(issue.path[0]) : '';
  const lead = field ? `${field} ${issue.message}` : issue.message;
  // Refinements word their own message; a field rule shows the value that broke it.
  if (issue.code === 'custom' || !field) return lead;
  return `${lead}, got ${JSON.stringify((input as Record<string, unknown>)[field])}`;
}

/** The weights-contract architecture a config trains over nItems items. */
export function archOf(config: Gru4RecConfig, nItems: number): Gru4RecArch {
  const hLast = config.layers[config.layers.length - 1];
  return {
    // Absent for the GRU: the arch of a GRU reads as it did before the other cells (see canonicalArch).
    ...(config.cell === 'gru' ? {} : { cell: config.cell }),
    nItems,
    embeddingDim: config.constrainedEmbedding ? hLast : config.embedding,
    hiddenSizes: [...config.layers],
    constrainedEmbedding: config.constrainedEmbedding,
    useBias: config.useBias,
    // Absent for the dot head, like the cell for the GRU: a dot model's arch reads as before the mixture heads.
    ...headArchOf(config),
  };
}

/**
 * The config fields that describe an arch's head (none for the dot head): the inverse of archOf's
 * head part, for whoever derives a training config from a model (the continuous trainer's followConfig).
 */
export function headConfigOf(arch: Gru4RecArch): Partial<Gru4RecConfig> {
  if (arch.head === undefined || arch.head === 'dot') return {};
  // The regression head trains with its own loss whatever the preset's is.
  if (arch.head === 'regression') return { head: arch.head, regressionDim: arch.regressionDim, loss: REGRESSION_LOSS };
  return {
    head: arch.head,
    tastes: arch.tastes,
    ...(arch.tasteMixing ? { tasteMixing: arch.tasteMixing } : {}),
    ...(arch.temperature !== undefined ? { cosineTemperature: arch.temperature } : {}),
  };
}

function headArchOf(config: Gru4RecConfig): Partial<Gru4RecArch> {
  if (config.head === 'dot') return {};
  if (config.head === 'mixture-of-tastes') return { head: config.head, tastes: config.tastes, ...(config.tasteMixing === 'max' ? { tasteMixing: 'max' as const } : {}) };
  if (config.head === 'regression') return { head: config.head, regressionDim: config.regressionDim };
  return { head: config.head, tastes: config.tastes, temperature: config.cosineTemperature };
}

/** The item2vec run a regression config learns its target vectors with (its dim is the head's E). */
export function item2vecOptionsOf(config: Gru4RecConfig): Item2VecOptions {
  return {
    dim: config.regressionDim,
    window: config.item2vecWindow,
    negatives: config.item2vecNegatives,
    unigramPower: config.item2vecUnigramPower,
    epochs: config.item2vecEpochs,
    learningRate: config.item2vecLearningRate,
    minLearningRateRatio: config.item2vecMinLearningRateRatio,
    subsample: config.item2vecSubsample,
    seed: config.seed,
  };
}
