import { cellOf, expectedShapes, inputBlocks, type Gru4RecWeights } from '../../model/weights.ts';
import { perItemTensors } from '../../registry/model-delta.ts';
import { Rng } from '../../random/rng.ts';
import type { OptimizerState } from '../optimizer.ts';

/**
 * Gives a model rows for newly admitted items without retraining it: every item table (the
 * tensors whose first dimension is nItems: item_embedding or a one-hot layer 0's Wx, out.Wy,
 * out.by, the regression head's head.items) grows to `nItems` rows, and the rows of new and
 * recycled items are initialised the way Gru4Rec.init initialises a table (uniform
 * ±sqrt(6/(rows + cols/blocks)), biases 0). Their optimizer slots start at zero, like a fresh
 * optimizer's; every other row and tensor is copied.
 *
 * head.items is the exception: its rows are item2vec vectors learnt before training, fixed, and a
 * window is far too little data to learn one, so a new or recycled item gets a zero vector. The
 * regression head then scores it cosine 0 for every session (never pushed up, never pushed
 * down) until a model trained from scratch on data holding it gives it a vector.
 */
export function growCatalogue(
  weights: Gru4RecWeights,
  state: OptimizerState,
  nItems: number,
  recycled: readonly number[],
  seed: number,
): { weights: Gru4RecWeights; state: OptimizerState } {
  const old = weights.arch.nItems;
  if (nItems < old) throw new Error(`growCatalogue: ${nItems} items is fewer than the model's ${old}`);
  const arch = { ...weights.arch, hiddenSizes: [...weights.arch.hiddenSizes], nItems };
  const after = expectedShapes(arch);
  const rng = new Rng(seed);
  const itemTables = perItemTensors(arch);
  const tensors: Gru4RecWeights['tensors'] = {};
  const slots: OptimizerState['slots'] = {};
  for (const [name, shape] of Object.entries(after)) {
    const src = weights.tensors[name];
    if (!itemTables.has(name)) {
      tensors[name] = { shape: [...src.shape], data: src.data };
      if (state.slots[name]) slots[name] = state.slots[name];
      continue;
    }
    const rowSize = shape.length > 1 ? shape[1] : 1;
    const data = new Float32Array(nItems * rowSize);
    data.set(src.data);
    const blocks = name.endsWith('.Wx') ? inputBlocks(cellOf(arch)) : 1;
    const sigma = shape.length === 2 && name !== 'head.items' ? Math.sqrt(6 / (nItems + shape[1] / blocks)) : 0;
    const fresh = (row: number) => {
      for (let k = row * rowSize; k < (row + 1) * rowSize; k++) data[k] = sigma > 0 ? rng.uniform(-sigma, sigma) : 0;
    };
    for (const r of recycled) fresh(r);
    for (let r = old; r < nItems; r++) fresh(r);
    tensors[name] = { shape: [...shape], data };
    const s = state.slots[name];
    if (s) {
      const grownSlot = (a: Float32Array | null, perRow: number) => {
        if (!a) return null;
        const b = new Float32Array(nItems * perRow);
        b.set(a);
        for (const r of recycled) b.fill(0, r * perRow, (r + 1) * perRow);
        return b;
      };
      slots[name] = { acc: grownSlot(s.acc, rowSize)!, mom: grownSlot(s.mom, rowSize), count: grownSlot(s.count, 1) };
    }
  }
  return { weights: { arch, tensors }, state: { steps: state.steps, slots } };
}
