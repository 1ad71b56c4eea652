import { join } from 'node:path';
import type { StreamrecConfig } from '../config/config.ts';
import { exportOnnx } from '../engine/onnx/graph-builder.ts';
import { UsageError } from '../errors/errors.ts';
import type { Gru4RecWeights } from '../model/weights.ts';
import { loadModel, readModelAttachment } from '../registry/model-file.ts';
import { DeltaStore } from '../registry/delta-store.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import { DeltaSync } from '../train/continuous/delta-sync.ts';
import type { DerivedFiles } from '../train/continuous/registry-target.ts';
import type { StartingModel } from '../train/continuous/stream-trainer.ts';
import { decodeOptimizerState, OPTIMIZER_BIN, type SavedOptimizer } from '../train/optimizer-file.ts';

/** The ONNX export published with every version: one serving step with the deployment's topK, loadable by any ONNX runtime. */
export const MODEL_ONNX = 'model.onnx';

/**
 * The model a trainer without a checkpoint starts from, with the optimizer state saved beside it
 * when there is one. A registry version brings the clicks offsets it was trained up to
 * (version.json trainingOffsets), and the trainer starts reading there: re-training on history
 * the version has already learnt would only overfit it. A model directory has no such record, so
 * its trainer reads the topic from the beginning.
 */
export async function startingModel(registry: ModelRegistry, fromModel: string | undefined): Promise<StartingModel & { from: string }> {
  if (fromModel) {
    const m = await loadModel(fromModel);
    const savedOptimizer = decodeSaved(await readModelAttachment(fromModel, OPTIMIZER_BIN), join(fromModel, OPTIMIZER_BIN));
    return { weights: m.weights, itemIds: m.itemIds, parent: null, from: fromModel, ...(savedOptimizer ? { savedOptimizer } : {}) };
  }
  const version = await registry.current();
  if (version === null) throw new UsageError(`train --follow: the registry ${registry.root} has no promoted version; pass --from-model <dir>`);
  const m = await registry.load(version);
  const offsets = m.info.trainingOffsets;
  const savedOptimizer = decodeSaved(await registry.attachment(version, OPTIMIZER_BIN), join(m.info.dir, OPTIMIZER_BIN));
  return {
    weights: m.weights,
    itemIds: m.itemIds,
    parent: version,
    from: `registry version ${version}`,
    ...(offsets ? { offsets } : {}),
    ...(savedOptimizer ? { savedOptimizer } : {}),
  };
}

function decodeSaved(bytes: Buffer | null, path: string): SavedOptimizer | undefined {
  return bytes ? decodeOptimizerState(bytes, path) : undefined;
}

/** What the trainer publishes beside each version's weights: the ONNX export of its serving step. */
export function onnxExport(config: StreamrecConfig): DerivedFiles {
  return (c) => ({ [MODEL_ONNX]: onnxOf(c.weights, config.serving.topK) });
}

/** The serving step's ONNX graph, top-K capped at the catalogue (a small catalogue has fewer than topK items). */
export function onnxOf(weights: Gru4RecWeights, topK: number): Uint8Array {
  return exportOnnx(weights, { topK: Math.min(topK, weights.arch.nItems) });
}

/**
 * The trainer's incremental sync when train.sync.enabled: its deltas continue the chain serving
 * follows (the registry's CURRENT version with the deltas already written for it), whatever the
 * trainer itself resumes from, so the first delta of a restarted trainer carries exactly what
 * differs between its weights and what serving has.
 */
export async function trainerSync(cfg: StreamrecConfig, registry: ModelRegistry, log: (line: string) => void): Promise<DeltaSync | undefined> {
  const s = cfg.train.sync;
  if (!s.enabled) return undefined;
  const store = new DeltaStore(registry);
  const current = await registry.current();
  const start = current === null ? null : { base: current, ...(await store.chainState(current)) };
  log(
    start
      ? `sync: deltas every ${s.intervalMs} ms continue the chain of version ${start.base} after delta ${start.seq}; a snapshot every ${s.snapshotEveryDeltas} deltas or ${s.snapshotEveryMs} ms`
      : 'sync: no version yet; deltas start after the first snapshot',
  );
  return new DeltaSync(
    store,
    {
      intervalMs: s.intervalMs,
      snapshotEveryDeltas: s.snapshotEveryDeltas,
      snapshotEveryMs: s.snapshotEveryMs,
      log,
      onDelta: (d, bytes) => log(`sync: delta ${d.base}.${d.seq}: ${d.tensors.reduce((n, t) => n + (t.rows ? t.rows.length : 0), 0)} rows, ${bytes} bytes`),
    },
    start,
  );
}
