import type { Gru4RecArch } from './weights.ts';
import type { LossName } from './losses.ts';

/**
 * Every GRU4Rec hyperparameter, explicit. Names follow the official implementation
 * (hidasib/GRU4Rec_PyTorch_Official) in camelCase; defaults are that code's defaults.
 */
export interface Gru4RecConfig {
  loss: LossName;
  /** Hidden sizes of the stacked GRU layers. */
  layers: number[];
  /** Size of a separate input embedding; 0 = none (one-hot input, or out.Wy when constrainedEmbedding). */
  embedding: number;
  /** Use the output table out.Wy as the input embedding too (the "shared embedding" of the papers). */
  constrainedEmbedding: boolean;
  /** Learn the per-item output bias out.by; false keeps it at zero. */
  useBias: boolean;
  /** Dropout on the input embedding (separate or constrained); one-hot input has no embedding to drop, as in the original. */
  dropoutPEmbed: number;
  /** Dropout on every GRU layer's output (the dropped state is also the carried state, as in the original). */
  dropoutPHidden: number;
  learningRate: number;
  /** Momentum on top of Adagrad (the official IndexedAdagradM); ignored by Adam. */
  momentum: number;
  optimizer: 'adagrad' | 'adam';
  adamBeta1: number;
  adamBeta2: number;
  /** Added under the square root of the optimizer's second-moment accumulator. */
  epsilon: number;
  /** L2 coefficient applied after the adaptive scaling (the original's lmbd); tables decay only the rows a step touches. */
  weightDecay: number;
  batchSize: number;
  /** Extra popularity-sampled negatives per step, shared by the whole mini-batch. */
  nSample: number;
  /** Negatives are drawn ∝ support^sampleAlpha. */
  sampleAlpha: number;
  /** Most item ids held in the precomputed negative-sample store. */
  sampleCacheSize: number;
  /** Score regularisation of BPR-max. */
  bpreg: number;
  /** ELU(alpha) applied to the scores before BPR-max; 0 = linear. */
  eluParam: number;
  /** Strength of the log-sampling-probability correction of cross-entropy (0 = off). */
  logq: number;
  /**
   * Not in the official code (default false = its behaviour): drop accidental hits from each row's
   * negatives, i.e. columns holding the row's own target item (a popularity sample that drew it, or
   * another row of the mini-batch with the same target). Matters when nSample is a large share of
   * the catalogue: with 2048 uniform samples over ~3k items half the rows have their target among the negatives.
   */
  removeAccidentalHits: boolean;
  nEpochs: number;
  seed: number;
}

export const LOSSES: readonly LossName[] = ['cross-entropy', 'bpr', 'top1', 'bpr-max', 'top1-max'];

/** The official code's constructor defaults. */
export const DEFAULT_GRU4REC_CONFIG: Readonly<Gru4RecConfig> = Object.freeze({
  loss: 'cross-entropy',
  layers: [100],
  embedding: 0,
  constrainedEmbedding: true,
  useBias: true,
  dropoutPEmbed: 0.0,
  dropoutPHidden: 0.0,
  learningRate: 0.05,
  momentum: 0.0,
  optimizer: 'adagrad',
  adamBeta1: 0.9,
  adamBeta2: 0.999,
  epsilon: 1e-6,
  weightDecay: 0.0,
  batchSize: 64,
  nSample: 2048,
  sampleAlpha: 0.5,
  sampleCacheSize: 10_000_000,
  bpreg: 1.0,
  eluParam: 0.5,
  logq: 0.0,
  removeAccidentalHits: false,
  nEpochs: 10,
  seed: 42,
});

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
  'rsc15-xe-fast': {
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
  },
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
});

export function gru4recPreset(name: string, overrides: Partial<Gru4RecConfig> = {}): Gru4RecConfig {
  const preset = GRU4REC_PRESETS[name];
  if (!preset) throw new Error(`unknown GRU4Rec preset "${name}"; known: ${Object.keys(GRU4REC_PRESETS).join(', ')}`);
  return validateGru4RecConfig({ ...preset, ...overrides });
}

type Check = (v: unknown) => string | null;

const isInt =
  (min: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min ? null : `must be an integer >= ${min}`;
const isNum =
  (min: number, max = Infinity, maxOpen = false): Check =>
  (v) =>
    typeof v === 'number' && Number.isFinite(v) && v >= min && (maxOpen ? v < max : v <= max) ? null : `must be a number in [${min}, ${max}${maxOpen ? ')' : ']'}`;
const isPositive: Check = (v) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? null : 'must be a positive number');
const isBool: Check = (v) => (typeof v === 'boolean' ? null : 'must be true or false');
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? null : `must be one of ${values.map((x) => `"${x}"`).join(', ')}`;

const CHECKS: Record<keyof Gru4RecConfig, Check> = {
  loss: oneOf(LOSSES),
  layers: (v) => (Array.isArray(v) && v.length > 0 && v.every((h) => Number.isInteger(h) && h >= 1) ? null : 'must be a non-empty list of positive integers'),
  embedding: isInt(0),
  constrainedEmbedding: isBool,
  useBias: isBool,
  dropoutPEmbed: isNum(0, 1, true),
  dropoutPHidden: isNum(0, 1, true),
  learningRate: isPositive,
  momentum: isNum(0, 1, true),
  optimizer: oneOf(['adagrad', 'adam']),
  adamBeta1: isNum(0, 1, true),
  adamBeta2: isNum(0, 1, true),
  epsilon: isPositive,
  weightDecay: isNum(0),
  batchSize: isInt(1),
  nSample: isInt(0),
  sampleAlpha: isNum(0),
  sampleCacheSize: isInt(1),
  bpreg: isNum(0),
  eluParam: isNum(0),
  logq: isNum(0),
  removeAccidentalHits: isBool,
  nEpochs: isInt(0),
  seed: isInt(0),
};

/** Fill defaults and check every field; errors name the field and the rule it breaks. */
export function validateGru4RecConfig(partial: Partial<Gru4RecConfig> | Record<string, unknown> = {}): Gru4RecConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in CHECKS)) throw new Error(`GRU4Rec config: unknown field "${key}"`);
  }
  const config = { ...DEFAULT_GRU4REC_CONFIG, layers: [...DEFAULT_GRU4REC_CONFIG.layers], ...partial } as Gru4RecConfig;
  for (const [key, check] of Object.entries(CHECKS) as Array<[keyof Gru4RecConfig, Check]>) {
    const problem = check(config[key]);
    if (problem) throw new Error(`GRU4Rec config: ${key} ${problem}, got ${JSON.stringify(config[key])}`);
  }
  if (config.constrainedEmbedding && config.embedding !== 0) throw new Error('GRU4Rec config: embedding must be 0 when constrainedEmbedding is true (the input table is out.Wy)');
  if (config.batchSize + config.nSample < 2) throw new Error('GRU4Rec config: batchSize + nSample must be at least 2 (a target needs a negative)');
  config.layers = [...config.layers];
  return config;
}

/** The weights-contract architecture a config trains over nItems items. */
export function archOf(config: Gru4RecConfig, nItems: number): Gru4RecArch {
  const hLast = config.layers[config.layers.length - 1];
  return {
    nItems,
    embeddingDim: config.constrainedEmbedding ? hLast : config.embedding,
    hiddenSizes: [...config.layers],
    constrainedEmbedding: config.constrainedEmbedding,
    useBias: config.useBias,
  };
}
