import * as tf from '@tensorflow/tfjs';
import { gatherRows } from '../model/ops.ts';
import type { Gru4RecConfig } from '../model/gru4rec-config.ts';

type OptimizerConfig = Pick<Gru4RecConfig, 'optimizer' | 'learningRate' | 'momentum' | 'adamBeta1' | 'adamBeta2' | 'epsilon' | 'weightDecay'>;

/**
 * An optimizer's state as plain arrays (checkpoints, catalogue growth): per parameter its slots,
 * each row-major like the parameter (count: one entry per table row), and the step count that
 * Adam's dense bias correction needs.
 */
export interface OptimizerState {
  steps: number;
  slots: Record<string, { acc: Float32Array; mom: Float32Array | null; count: Float32Array | null }>;
}

interface Slots {
  /** Adagrad: Σg². Adam: second moment. */
  acc: tf.Variable;
  /** Adagrad: momentum velocity (only with momentum > 0). Adam: first moment. */
  mom: tf.Variable | null;
  /** Adam on tables: per-row update count, for per-row bias correction. */
  count: tf.Variable | null;
}

/**
 * Adagrad with momentum (the official IndexedAdagradM) and Adam, each in two forms: dense for
 * the GRU matrices, and indexed for item tables, where only the rows a step touched are read
 * and written (accumulators, momentum and weight decay of untouched rows stay as they are).
 * Weight decay is added after the adaptive scaling, as the original's lmbd:
 *   delta = −lr·(adapted(g) + weightDecay·p);  with momentum: v = momentum·v + delta, p += v; else p += delta.
 * Every update runs inside the caller's tf.tidy.
 */
export class Gru4RecOptimizer {
  private readonly cfg: OptimizerConfig;
  private readonly slots = new Map<string, Slots>();
  private steps = 0;

  /**
   * @param state slots to start from (a checkpoint, or a grown catalogue's): each must have its
   *   parameter's size; absent: zeros, a fresh optimizer.
   */
  constructor(config: OptimizerConfig, params: Readonly<Record<string, tf.Variable>>, tables: ReadonlySet<string>, state?: OptimizerState) {
    this.cfg = config;
    const adam = config.optimizer === 'adam';
    const slot = (name: string, kind: 'acc' | 'mom' | 'count', shape: number[]) => {
      const saved = state?.slots[name]?.[kind];
      const size = shape.reduce((a, b) => a * b, 1);
      if (state && (!saved || saved.length !== size)) throw new Error(`optimizer: saved state "${name}.${kind}" holds ${saved?.length ?? 'nothing'}, expected ${size} values`);
      return tf.tidy(() => tf.variable(saved ? tf.tensor(saved, shape) : tf.zeros(shape), false));
    };
    for (const [name, p] of Object.entries(params)) {
      this.slots.set(name, {
        acc: slot(name, 'acc', p.shape),
        mom: adam || config.momentum > 0 ? slot(name, 'mom', p.shape) : null,
        count: adam && tables.has(name) ? slot(name, 'count', [p.shape[0]]) : null,
      });
    }
    this.steps = state?.steps ?? 0;
  }

  /** The state read back into plain arrays (copies). */
  state(): OptimizerState {
    const read = (v: tf.Variable | null) => (v ? Float32Array.from(v.dataSync() as Float32Array) : null);
    const slots: OptimizerState['slots'] = {};
    for (const [name, s] of this.slots) slots[name] = { acc: read(s.acc)!, mom: read(s.mom), count: read(s.count) };
    return { steps: this.steps, slots };
  }

  /** Call once per optimizer step, before the updates of that step. */
  beginStep(): void {
    this.steps++;
  }

  dense(name: string, p: tf.Variable, g: tf.Tensor): void {
    const s = this.slot(name);
    const { learningRate: lr, weightDecay: wd, epsilon: eps } = this.cfg;
    if (this.cfg.optimizer === 'adam') {
      const { adamBeta1: b1, adamBeta2: b2 } = this.cfg;
      const m = tf.add(tf.mul(b1, s.mom!), tf.mul(1 - b1, g));
      const v = tf.add(tf.mul(b2, s.acc), tf.mul(1 - b2, tf.square(g)));
      s.mom!.assign(m);
      s.acc.assign(v);
      const mHat = tf.div(m, 1 - b1 ** this.steps);
      const vHat = tf.div(v, 1 - b2 ** this.steps);
      const upd = tf.div(mHat, tf.add(tf.sqrt(vHat), eps));
      p.assign(tf.sub(p, tf.mul(lr, wd > 0 ? tf.add(upd, tf.mul(wd, p)) : upd)));
      return;
    }
    const acc = tf.add(s.acc, tf.square(g));
    s.acc.assign(acc);
    const delta = this.adagradDelta(g, acc, p, lr, wd, eps);
    if (s.mom) {
      const vel = tf.add(tf.mul(this.cfg.momentum, s.mom), delta);
      s.mom.assign(vel);
      p.assign(tf.add(p, vel));
    } else {
      p.assign(tf.add(p, delta));
    }
  }

  /**
   * Update the rows `rows` ([U, 1] int32, unique) of table p with their summed gradients gRows
   * ([U, ...row shape]).
   */
  rows(name: string, p: tf.Variable, rows: tf.Tensor2D, gRows: tf.Tensor): void {
    const s = this.slot(name);
    const { learningRate: lr, weightDecay: wd, epsilon: eps } = this.cfg;
    const pRows = gatherRows(p, rows);
    if (this.cfg.optimizer === 'adam') {
      const { adamBeta1: b1, adamBeta2: b2 } = this.cfg;
      const cnt = tf.add(gatherRows(s.count!, rows), 1);
      s.count!.assign(tf.tensorScatterUpdate(s.count!, rows, cnt));
      const m = tf.add(tf.mul(b1, gatherRows(s.mom!, rows)), tf.mul(1 - b1, gRows));
      const v = tf.add(tf.mul(b2, gatherRows(s.acc, rows)), tf.mul(1 - b2, tf.square(gRows)));
      s.mom!.assign(tf.tensorScatterUpdate(s.mom!, rows, m));
      s.acc.assign(tf.tensorScatterUpdate(s.acc, rows, v));
      // Each row is corrected by its own update count: rarely seen items were updated fewer times.
      const c = gRows.rank > 1 ? tf.reshape(cnt, [-1, ...gRows.shape.slice(1).map(() => 1)]) : cnt;
      const mHat = tf.div(m, tf.sub(1, tf.pow(b1, c)));
      const vHat = tf.div(v, tf.sub(1, tf.pow(b2, c)));
      const upd = tf.div(mHat, tf.add(tf.sqrt(vHat), eps));
      const next = tf.sub(pRows, tf.mul(lr, wd > 0 ? tf.add(upd, tf.mul(wd, pRows)) : upd));
      p.assign(tf.tensorScatterUpdate(p, rows, next));
      return;
    }
    const acc = tf.add(gatherRows(s.acc, rows), tf.square(gRows));
    s.acc.assign(tf.tensorScatterUpdate(s.acc, rows, acc));
    const delta = this.adagradDelta(gRows, acc, pRows, lr, wd, eps);
    if (s.mom) {
      const vel = tf.add(tf.mul(this.cfg.momentum, gatherRows(s.mom, rows)), delta);
      s.mom.assign(tf.tensorScatterUpdate(s.mom, rows, vel));
      p.assign(tf.tensorScatterUpdate(p, rows, tf.add(pRows, vel)));
    } else {
      p.assign(tf.tensorScatterUpdate(p, rows, tf.add(pRows, delta)));
    }
  }

  dispose(): void {
    for (const s of this.slots.values()) {
      s.acc.dispose();
      s.mom?.dispose();
      s.count?.dispose();
    }
    this.slots.clear();
  }

  private adagradDelta(g: tf.Tensor, acc: tf.Tensor, p: tf.Tensor, lr: number, wd: number, eps: number): tf.Tensor {
    const adapted = tf.div(g, tf.sqrt(tf.add(acc, eps)));
    return tf.mul(-lr, wd > 0 ? tf.add(adapted, tf.mul(wd, p)) : adapted);
  }

  private slot(name: string): Slots {
    const s = this.slots.get(name);
    if (!s) throw new Error(`optimizer: no state for parameter "${name}"`);
    return s;
  }
}
