/**
 * One entry point for the serving loop: the faster engine by default, the other on request.
 * The default comes from bench/engine.ts on the project machine (results/engine.json): the
 * onnxruntime engine beats tfjs-wasm on every catalogue/batch shape measured.
 */
import type { Gru4RecWeights } from '../model/weights.ts';
import type { InferenceEngine } from './engine.ts';
import { createOrtEngine, type OrtEngineOptions } from './ort-engine.ts';
import { createTfjsEngine, type TfjsEngineOptions } from './tfjs-engine.ts';
import { initBackend } from '../model/backend.ts';

export type EngineKind = 'ort' | 'tfjs';
export const DEFAULT_ENGINE: EngineKind = 'ort';

export interface CreateEngineOptions extends OrtEngineOptions, TfjsEngineOptions {
  kind?: EngineKind;
}

/**
 * Creates the requested engine (default ORT). If onnxruntime-node cannot run here at all (no
 * native binary for this platform), says so and serves with tfjs instead of refusing to start.
 */
export async function createEngine(weights: Gru4RecWeights, opts: CreateEngineOptions): Promise<InferenceEngine> {
  const kind = opts.kind ?? DEFAULT_ENGINE;
  const log = opts.log ?? ((m: string) => console.info(m));
  if (kind === 'ort') {
    try {
      return await createOrtEngine(weights, { ...opts, log });
    } catch (err) {
      // Bad weights or options fail the same way on tfjs; only a runtime problem is worth a fallback.
      if (err instanceof RangeError || /^weights:|^arch\./.test((err as Error).message)) throw err;
      log(`ort engine unavailable (${(err as Error).message}); falling back to tfjs`);
    }
  }
  await initBackend(undefined, log);
  const engine = await createTfjsEngine(weights, opts);
  log(`serving with ${engine.name}`);
  return engine;
}
