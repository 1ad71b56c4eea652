import type { Kafka } from 'kafkajs';
import { Gru4Rec } from '../../model/gru4rec.ts';
import type { ModelRegistry } from '../../registry/model-registry.ts';
import { announceModel } from '../../registry/model-updates.ts';
import { encodeOptimizerState, OPTIMIZER_BIN } from '../optimizer-file.ts';
import type { PassedCandidate, PromotionTarget } from './stream-trainer.ts';

/** Files derived from a candidate's weights by a layer above this one (the ONNX export), published with it. */
export type DerivedFiles = (candidate: PassedCandidate) => Record<string, Uint8Array>;

/**
 * The registry behind the trainer's PromotionTarget: the promoted version is loaded once per
 * version (the gate scores it every gate window); a passed candidate is published, promoted, and
 * announced on the model-updates topic so serving hot-swaps it. Each version carries its
 * optimizer state (optimizer.bin), so a trainer that starts from it later does not restart the
 * optimizer from zeros, and whatever `derived` adds (the CLI adds the ONNX export, model.onnx).
 */
export class RegistryTarget implements PromotionTarget {
  private loaded: { version: number; model: Gru4Rec; itemIds: string[] } | null = null;

  constructor(
    private readonly registry: ModelRegistry,
    private readonly announce: { kafka: Kafka; topic: string } | null,
    private readonly derived: DerivedFiles = () => ({}),
  ) {}

  async serving(): Promise<{ version: number; model: Gru4Rec; itemIds: string[] } | null> {
    const version = await this.registry.current();
    if (version === null) return null;
    if (this.loaded?.version !== version) {
      const m = await this.registry.load(version);
      this.loaded?.model.dispose();
      this.loaded = { version, model: Gru4Rec.fromWeights(m.weights), itemIds: m.itemIds };
    }
    return this.loaded;
  }

  async publish(c: PassedCandidate): Promise<number> {
    const info = await this.registry.publish({
      weights: c.weights,
      itemIds: c.itemIds,
      config: c.config,
      parent: c.parent,
      gate: c.gate,
      trainingOffsets: c.trainingOffsets,
      attachments: { ...this.derived(c), [OPTIMIZER_BIN]: encodeOptimizerState(c.optimizer) },
    });
    await this.registry.promote(info.version);
    if (this.announce) {
      const m = await this.registry.load(info.version);
      await announceModel(this.announce.kafka, this.announce.topic, {
        version: info.version,
        vocabularyHash: m.vocabularyHash,
        weightsHash: m.weightsHash,
        announcedAt: Date.now(),
      });
    }
    return info.version;
  }

  dispose(): void {
    this.loaded?.model.dispose();
    this.loaded = null;
  }
}
