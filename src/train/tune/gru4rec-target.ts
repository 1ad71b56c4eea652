import { Gru4RecScorer } from '../../eval/gru4rec-scorer.ts';
import { type Gru4RecConfig, LOSSES, validateGru4RecConfig } from '../../model/gru4rec-config.ts';
import { trainGru4Rec } from '../fit.ts';
import { SessionParallelIterator } from '../session-parallel.ts';
import type { Point, SearchSpace } from './search-space.ts';
import { shortNumber, type TrialContext, type TrialRun, type TuneTarget } from './tune-target.ts';
import type { ValidationSplit } from './validation-split.ts';

/** How the GRU's input is embedded: out.Wy shared with the output (the papers' "constrained"), one-hot, or a separate table. */
export const INPUT_KINDS = ['shared', 'one-hot', 'separate'] as const;

/**
 * Every GRU4Rec hyperparameter the config has that changes what is learnt, over the ranges the
 * official parameter files and their searches use (100–512 units, learning rates 0.01–0.2,
 * 0–2048 samples, dropout up to 0.5). Fixed from the start config instead: nEpochs (the trial time
 * limit cuts training anyway), the recurrent cell (each cell is tuned on its own: --from
 * rsc15-lstm-fast, or a config file with cell: mlstm), the optimizer (Adagrad, as every
 * published file), the head and its fields (tastes, mixing, temperature, regression targets), seed, useBias,
 * weightDecay, epsilon, sampleCacheSize, removeAccidentalHits. Conditional dimensions (bpreg and
 * eluParam for BPR-max, logq for cross-entropy, embedding for a separate input table) are always
 * sampled but only enter the config where they mean something.
 */
export const GRU4REC_SPACE: SearchSpace = Object.freeze({
  loss: { kind: 'choice', values: LOSSES },
  depth: { kind: 'int', lo: 1, hi: 2 },
  hidden: { kind: 'int', lo: 32, hi: 512, log: true },
  batchSize: { kind: 'int', lo: 16, hi: 256, log: true },
  learningRate: { kind: 'float', lo: 1e-3, hi: 0.3, log: true },
  momentum: { kind: 'float', lo: 0, hi: 0.9 },
  dropoutPEmbed: { kind: 'float', lo: 0, hi: 0.5 },
  dropoutPHidden: { kind: 'float', lo: 0, hi: 0.5 },
  nSample: { kind: 'choice', values: [0, 256, 512, 1024, 2048] },
  sampleAlpha: { kind: 'float', lo: 0, hi: 1 },
  input: { kind: 'choice', values: INPUT_KINDS },
  embedding: { kind: 'int', lo: 32, hi: 256, log: true },
  bpreg: { kind: 'float', lo: 0, hi: 2 },
  eluParam: { kind: 'choice', values: [0, 0.5, 1] },
  logq: { kind: 'float', lo: 0, hi: 1 },
});

/**
 * The space for a base config with the regression head: it has one loss (cosine, against fixed
 * item2vec targets) and no sampled negatives, so the loss, sampling and loss-specific dimensions
 * would only propose invalid or meaningless configs.
 */
export const GRU4REC_REGRESSION_SPACE: SearchSpace = Object.freeze(
  Object.fromEntries(Object.entries(GRU4REC_SPACE).filter(([name]) => !['loss', 'nSample', 'sampleAlpha', 'bpreg', 'eluParam', 'logq'].includes(name))),
);

/** The default space for a base config: the head is fixed by the base, and the regression head has its own. */
export function defaultGru4RecSpace(base: Gru4RecConfig): SearchSpace {
  return base.head === 'regression' ? GRU4REC_REGRESSION_SPACE : GRU4REC_SPACE;
}

/** The loss-specific fields each loss reads. */
const LOSS_FIELDS: Record<string, readonly ('bpreg' | 'eluParam' | 'logq')[]> = {
  'cross-entropy': ['logq'],
  'bpr-max': ['bpreg', 'eluParam'],
};

export interface Gru4RecTargetOptions {
  /** Fields the space does not cover come from here (and the start trial is this config). */
  base: Gru4RecConfig;
  space?: SearchSpace;
  /** Training steps between progress reports; the trial's time limit is checked as often. Default 20. */
  progressEvery?: number;
}

/** GRU4Rec trained on the split's training part (fresh weights per trial, the base's seed), scored on its validation part. */
export class Gru4RecTarget implements TuneTarget<Gru4RecConfig> {
  readonly model = 'gru4rec';
  readonly stoppable = true;
  readonly space: SearchSpace;
  private readonly base: Gru4RecConfig;
  private readonly progressEvery: number;

  constructor(
    private readonly split: ValidationSplit,
    opts: Gru4RecTargetOptions,
  ) {
    this.base = opts.base;
    this.space = opts.space ?? defaultGru4RecSpace(opts.base);
    this.progressEvery = opts.progressEvery ?? 20;
  }

  configOf(p: Point): Gru4RecConfig {
    const c: Record<string, unknown> = { ...this.base };
    const set = (field: string, value: unknown) => {
      if (value !== undefined) c[field] = value;
    };
    for (const f of ['loss', 'batchSize', 'learningRate', 'momentum', 'dropoutPEmbed', 'dropoutPHidden', 'nSample', 'sampleAlpha']) set(f, p[f]);
    if (p.hidden !== undefined || p.depth !== undefined) {
      const hidden = (p.hidden as number | undefined) ?? this.base.layers[0];
      c.layers = Array.from({ length: (p.depth as number | undefined) ?? this.base.layers.length }, () => hidden);
    }
    if (p.input !== undefined) {
      c.constrainedEmbedding = p.input === 'shared';
      c.embedding = p.input === 'separate' ? ((p.embedding as number | undefined) ?? 64) : 0;
    }
    for (const f of LOSS_FIELDS[c.loss as string] ?? []) set(f, p[f]);
    return validateGru4RecConfig(c);
  }

  pointOf(c: Gru4RecConfig): Point {
    const p: Point = {
      loss: c.loss,
      depth: c.layers.length,
      hidden: Math.max(...c.layers),
      batchSize: c.batchSize,
      learningRate: c.learningRate,
      momentum: c.momentum,
      dropoutPEmbed: c.dropoutPEmbed,
      dropoutPHidden: c.dropoutPHidden,
      nSample: c.nSample,
      sampleAlpha: c.sampleAlpha,
      input: c.constrainedEmbedding ? 'shared' : c.embedding > 0 ? 'separate' : 'one-hot',
      embedding: c.embedding > 0 ? c.embedding : 64,
      bpreg: c.bpreg,
      eluParam: c.eluParam,
      logq: c.logq,
    };
    // Only the space's own dimensions: a narrowed or extended space sees its own point.
    return Object.fromEntries(
      Object.keys(this.space)
        .map((k) => [k, p[k]])
        .filter(([, v]) => v !== undefined),
    );
  }

  describe(c: Gru4RecConfig): Record<string, string> {
    const only = (field: 'bpreg' | 'eluParam' | 'logq') => ((LOSS_FIELDS[c.loss] ?? []).includes(field) ? shortNumber(c[field]) : '-');
    return {
      cell: c.cell,
      loss: c.loss,
      layers: c.layers.join('x'),
      batch: String(c.batchSize),
      lr: shortNumber(c.learningRate),
      mom: shortNumber(c.momentum),
      'drop e/h': `${shortNumber(c.dropoutPEmbed)}/${shortNumber(c.dropoutPHidden)}`,
      n_sample: String(c.nSample),
      alpha: shortNumber(c.sampleAlpha),
      input: c.constrainedEmbedding ? 'shared' : c.embedding > 0 ? `emb ${c.embedding}` : 'one-hot',
      bpreg: only('bpreg'),
      elu: only('eluParam'),
      logq: only('logq'),
    };
  }

  async run(config: Gru4RecConfig, ctx: TrialContext): Promise<TrialRun> {
    // A diverged run (NaN loss) stops at once instead of spending the rest of its time limit.
    const diverged = new AbortController();
    const signal = AbortSignal.any([ctx.signal, diverged.signal]);
    const { model, stats } = await trainGru4Rec(this.split.train, this.split.nItems, config, {
      signal,
      progressEvery: this.progressEvery,
      onProgress: (p) => {
        if (!Number.isFinite(p.loss)) diverged.abort();
        ctx.onProgress?.('fit', (p.epoch - 1 + p.epochEvents / Math.max(p.epochTotal, 1)) / p.nEpochs);
      },
    });
    try {
      const t0 = performance.now();
      const result = await this.split.score(new Gru4RecScorer(model), (done, total) => ctx.onProgress?.('score', done / Math.max(total, 1)));
      return {
        recall: result.recall[20],
        mrr: result.mrr[20],
        fitSeconds: stats.seconds,
        scoreSeconds: (performance.now() - t0) / 1000,
        stopped: diverged.signal.aborted ? 'diverged' : stats.aborted ? 'time' : null,
        epochs: stats.events / Math.max(SessionParallelIterator.pairCount(this.split.train), 1),
      };
    } finally {
      model.dispose();
    }
  }
}
