import { z } from 'zod';
import { ItemKnnScorer } from '../../eval/baselines/item-knn.ts';
import { SessionKnnScorer } from '../../eval/baselines/session-knn.ts';
import type { SessionScorer } from '../../eval/scorer.ts';
import type { Point, SearchSpace } from './search-space.ts';
import { shortNumber, type TrialContext, type TrialRun, type TuneTarget } from './tune-target.ts';
import type { ValidationSplit } from './validation-split.ts';

const posInt = z.number().int().min(1);

/** session-kNN's parameters (SessionKnnOptions without its name); defaults are the scorer's. */
export const SessionKnnParamsSchema = z.strictObject({
  k: posInt.default(100),
  sampleSize: z.number().int().min(0).default(500),
  weighting: z.enum(['linear', 'div', 'same']).default('linear'),
  similarity: z.enum(['cosine', 'vec']).default('cosine'),
  scoreDecay: z.enum(['none', 'div']).default('none'),
});
export type SessionKnnParams = z.output<typeof SessionKnnParamsSchema>;

/** item-kNN's parameters (ItemKnnOptions without its name); defaults are the scorer's. */
export const ItemKnnParamsSchema = z.strictObject({
  neighbours: posInt.default(100),
  lambda: z.number().min(0).default(20),
  alpha: z.number().min(0).max(1).default(0.5),
});
export type ItemKnnParams = z.output<typeof ItemKnnParamsSchema>;

/**
 * session-kNN (V-SKNN) over the knobs session-rec's searches vary: neighbours k, the candidate
 * sample (0 = every session is left out: on 10^5 sessions one query would scan them all), the
 * position weighting, the similarity and the score decay.
 */
export const SESSION_KNN_SPACE: SearchSpace = Object.freeze({
  k: { kind: 'int', lo: 10, hi: 1000, log: true },
  sampleSize: { kind: 'int', lo: 100, hi: 5000, log: true },
  weighting: { kind: 'choice', values: ['linear', 'div', 'same'] },
  similarity: { kind: 'choice', values: ['cosine', 'vec'] },
  scoreDecay: { kind: 'choice', values: ['none', 'div'] },
});

/** item-kNN: neighbours kept per item (at least the cut-off 20), the support regulariser and the cosine–confidence blend. */
export const ITEM_KNN_SPACE: SearchSpace = Object.freeze({
  neighbours: { kind: 'int', lo: 20, hi: 500, log: true },
  lambda: { kind: 'float', lo: 0, hi: 100 },
  alpha: { kind: 'float', lo: 0, hi: 1 },
});

type FittedScorer = SessionScorer & { fit(train: ValidationSplit['train'], nItems: number): unknown };

/** A kNN baseline tuned like GRU4Rec: fitted on the split's training part, scored on its validation part. */
abstract class KnnTarget<C extends Record<string, number | string>> implements TuneTarget<C> {
  abstract readonly model: string;
  readonly stoppable = false;
  protected abstract readonly schema: z.ZodType<C>;
  protected abstract scorer(config: C): FittedScorer;

  constructor(
    private readonly split: ValidationSplit,
    readonly space: SearchSpace,
  ) {}

  configOf(point: Point): C {
    return this.schema.parse(point);
  }

  pointOf(config: C): Point {
    return Object.fromEntries(Object.keys(this.space).map((k) => [k, config[k]]));
  }

  describe(config: C): Record<string, string> {
    return Object.fromEntries(Object.entries(config).map(([k, v]) => [k, typeof v === 'number' ? shortNumber(v) : v]));
  }

  /** Fitting and scoring cannot stop half-way: a kNN trial runs to its end (the tuner starts none it cannot finish). */
  async run(config: C, ctx: TrialContext): Promise<TrialRun> {
    const scorer = this.scorer(config);
    const t0 = performance.now();
    scorer.fit(this.split.train, this.split.nItems);
    const t1 = performance.now();
    ctx.onProgress?.('fit', 1);
    const result = await this.split.score(scorer, (done, total) => ctx.onProgress?.('score', done / Math.max(total, 1)));
    return { recall: result.recall[20], mrr: result.mrr[20], fitSeconds: (t1 - t0) / 1000, scoreSeconds: (performance.now() - t1) / 1000, stopped: null };
  }
}

export class SessionKnnTarget extends KnnTarget<SessionKnnParams> {
  readonly model = 'sknn';
  constructor(split: ValidationSplit, space: SearchSpace = SESSION_KNN_SPACE) {
    super(split, space);
  }
  protected readonly schema = SessionKnnParamsSchema;
  protected scorer(c: SessionKnnParams): FittedScorer {
    return new SessionKnnScorer(c);
  }
}

export class ItemKnnTarget extends KnnTarget<ItemKnnParams> {
  readonly model = 'iknn';
  constructor(split: ValidationSplit, space: SearchSpace = ITEM_KNN_SPACE) {
    super(split, space);
  }
  protected readonly schema = ItemKnnParamsSchema;
  protected scorer(c: ItemKnnParams): FittedScorer {
    return new ItemKnnScorer(c);
  }
}
