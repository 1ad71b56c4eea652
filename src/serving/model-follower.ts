import type { StreamrecConfig } from '../config/config.ts';
import type { ModelRegistry } from '../registry/model-registry.ts';
import type { ModelUpdate, ModelUpdatesFollower } from '../registry/model-updates.ts';
import { modelStamp } from '../session/session-codec.ts';
import { prepareModel, registryVersionName } from './create-recommender.ts';
import type { SwapPolicy, SwapReport } from './gru4rec-recommender.ts';
import type { ServingApp } from './serving-app.ts';

/**
 * Follows the model-updates topic and hot-swaps each announced version into serving: the
 * registry copy is verified (checksums, vocabulary hash against the announcement) and loaded
 * into a warmed engine off the hot path; the swap itself happens between two micro-batches. An
 * announcement of an earlier version is a rollback and swaps back the same way. A version that
 * fails any check is refused and the current one keeps serving.
 */
export class ModelFollower {
  constructor(
    private readonly app: ServingApp,
    private readonly registry: ModelRegistry,
    private readonly updates: ModelUpdatesFollower,
    private readonly config: StreamrecConfig,
    private readonly currentVersion: () => string,
    private readonly policy: SwapPolicy = 're-encode',
    private readonly log: (line: string) => void = () => undefined,
  ) {}

  start(): Promise<void> {
    return this.updates.start((u) => this.onUpdate(u).then(() => undefined));
  }

  stop(): Promise<void> {
    return this.updates.stop();
  }

  async onUpdate(u: ModelUpdate): Promise<SwapReport | null> {
    const name = registryVersionName(u.version);
    if (name === this.currentVersion()) return null;
    return this.app.swapModel(
      name,
      async () => {
        const loaded = await this.registry.load(u.version);
        if (loaded.vocabularyHash !== u.vocabularyHash)
          throw new Error(`registry version ${u.version} has vocabulary ${loaded.vocabularyHash.slice(0, 12)}…, the announcement says ${u.vocabularyHash.slice(0, 12)}…`);
        this.log(`model-updates: loading ${name} (${loaded.itemIds.length} items) off the hot path`);
        return prepareModel(this.config, loaded.weights, loaded.itemIds, name, this.log, modelStamp(loaded));
      },
      this.policy,
    );
  }
}
