import * as tf from '@tensorflow/tfjs';
import type { Gru4Rec } from '../model/gru4rec.ts';
import { gatherRows } from '../model/ops.ts';
import type { Gru4RecConfig } from '../model/gru4rec-config.ts';
import { headOf } from '../model/weights.ts';
import type { Gru4RecOptimizer } from './optimizer.ts';
import { RowSlice } from './row-slice.ts';
import type { StepInputs } from './step-inputs.ts';

interface TableSlice {
  name: string;
  rows: RowSlice;
  /**
   * Which ids of the step index the table: its input rows (with a constrained embedding scored by
   * the head, the input items followed by the output columns), only the n input items, or its
   * output columns.
   */
  ids: 'input' | 'rows' | 'output';
}

/**
 * The item tables of a step (input rows, out.Wy, out.by), differentiated through their gathered
 * rows and updated row-wise, like the official sparse embeddings: no dense nItems-sized gradient
 * ever exists. gather() yields the differentiated leaves, update() takes their gradients back.
 */
export class ItemTables {
  /** Table names, the ones the optimizer updates by rows. */
  readonly names: ReadonlySet<string>;
  private readonly model: Gru4Rec;
  private readonly slices: TableSlice[] = [];
  /** One table read at both ends (constrained embedding with a head that scores out.Wy): two gathers, one update. */
  private readonly sharedEnds: boolean;

  constructor(model: Gru4Rec, config: Gru4RecConfig) {
    const { arch } = model;
    this.model = model;
    this.names = new Set<string>([model.inputTable, 'out.Wy', 'out.by']);
    const B = config.batchSize;
    const R = B + config.nSample;
    const nItems = arch.nItems;
    // The regression head scores against its own fixed table: out.Wy (when not the input) and out.by get no rows.
    const scoresOutputTable = headOf(arch) !== 'regression';
    this.sharedEnds = arch.constrainedEmbedding && scoresOutputTable;
    if (this.sharedEnds) {
      // One table feeds both ends: its input and output rows are updated together.
      this.slices.push({ name: 'out.Wy', rows: new RowSlice(nItems, B + R), ids: 'input' });
    } else {
      this.slices.push({ name: model.inputTable, rows: new RowSlice(nItems, B), ids: arch.constrainedEmbedding ? 'rows' : 'input' });
      if (scoresOutputTable) this.slices.push({ name: 'out.Wy', rows: new RowSlice(nItems, R), ids: 'output' });
    }
    if (arch.useBias && scoresOutputTable) this.slices.push({ name: 'out.by', rows: new RowSlice(nItems, R), ids: 'output' });
  }

  /** Finds each table's unique rows of this step and how to sum their gradients (JS work, before any tensor). */
  index(inputs: StepInputs): void {
    for (const s of this.slices) s.rows.set(this.idsOf(s, inputs));
  }

  /**
   * The gathered rows the loss is differentiated against: [input rows, output rows, output biases
   * (with useBias)]; only [input rows] for the regression head. Call inside tf.tidy.
   */
  gather(inputs: StepInputs): tf.Tensor2D[] {
    const { arch } = this.model;
    const { n, inputIds, outIds } = inputs;
    if (this.sharedEnds) {
      // Input and output rows come from the same table; gathered apart (a row split costs more
      // than both gathers on wasm), their gradients are concatenated for one update.
      const rows = [this.rowsOf('out.Wy', inputIds.subarray(0, n)), this.rowsOf('out.Wy', outIds)];
      if (arch.useBias) rows.push(this.rowsOf('out.by', outIds));
      return rows;
    }
    return this.slices.map((s) => this.rowsOf(s.name, this.idsOf(s, inputs)));
  }

  /** Applies the gradients of gather()'s leaves, in its order: repeated rows summed, one indexed update per table. */
  update(optimizer: Gru4RecOptimizer, leafGrads: tf.Tensor[]): void {
    const grads = this.sharedEnds ? [tf.concat([leafGrads[0], leafGrads[1]], 0), ...leafGrads.slice(2)] : leafGrads;
    this.slices.forEach((s, i) => {
      const r = s.rows;
      const uniqueT = tf.tensor2d(r.unique, [r.unique.length, 1], 'int32');
      const g = r.hasDuplicates ? tf.sparse.sparseSegmentSum(grads[i], tf.tensor1d(r.order, 'int32'), tf.tensor1d(r.segments, 'int32')) : grads[i];
      optimizer.rows(s.name, this.model.vars[s.name], uniqueT, g);
    });
  }

  private idsOf(s: TableSlice, inputs: StepInputs): Int32Array {
    if (s.ids === 'output') return inputs.outIds;
    return s.ids === 'rows' ? inputs.inputIds.subarray(0, inputs.n) : inputs.inputIds;
  }

  private rowsOf(name: string, ids: Int32Array): tf.Tensor2D {
    return gatherRows(this.model.vars[name] as tf.Tensor2D, tf.tensor2d(ids, [ids.length, 1], 'int32'));
  }
}
