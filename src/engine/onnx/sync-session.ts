/**
 * A synchronous onnxruntime session, for work that must finish inside a synchronous caller: the
 * trainer's sampled output layer runs inside a tfjs gradient (tf.valueAndGrads takes a synchronous
 * function), so an awaited `InferenceSession.run` cannot be used there.
 *
 * onnxruntime-node's public `run` is already the native binding's synchronous run, deferred by one
 * setImmediate (onnxruntime-node/dist/backend.js; upstream issue microsoft/onnxruntime#26968, and
 * the `runSync` of PR #27604 is not released). This module calls that binding directly. It is an
 * internal interface, so it is checked before use: `openSyncSession` returns null, with the reason,
 * when the installed package does not have it in the expected shape (a future release that makes
 * the native run asynchronous, for one), and callers fall back to their tfjs path.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { cudaProviderInstalled } from './cuda-provider.ts';

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: ort.InferenceSession.SessionOptions): void;
  readonly inputMetadata: ReadonlyArray<{ name: string }>;
  readonly outputMetadata: ReadonlyArray<{ name: string }>;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, ort.Tensor | null>, options: ort.InferenceSession.RunOptions): Record<string, ort.Tensor>;
  dispose(): void;
}

interface NativeBinding {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

let loaded: NativeBinding | string | undefined;

/** The package's native binding module, or why it cannot be used. */
function nativeBinding(): NativeBinding | string {
  if (loaded !== undefined) return loaded;
  try {
    const require = createRequire(import.meta.url);
    const dist = dirname(require.resolve('onnxruntime-node'));
    const mod = require(join(dist, 'binding.js')) as Partial<NativeBinding>;
    const proto = mod.binding?.InferenceSession?.prototype as Partial<NativeSession> | undefined;
    if (typeof mod.initOrt !== 'function' || typeof proto?.run !== 'function' || typeof proto.loadModel !== 'function')
      loaded = 'onnxruntime-node has no synchronous binding session in the expected shape';
    else loaded = mod as NativeBinding;
  } catch (err) {
    loaded = `onnxruntime-node binding not loadable: ${(err as Error).message}`;
  }
  return loaded;
}

export type SyncProvider = 'cuda' | 'cpu';

export interface SyncSessionOptions {
  /** CPU intra-op threads (default 1: the trainer's products are small and a second thread mostly waits). */
  intraOpNumThreads?: number;
  /** Providers to try, in order (default ['cuda', 'cpu']); 'cuda' only where ORT's CUDA library is installed. */
  providers?: SyncProvider[];
}

/** One loaded graph, run synchronously on the provider that loaded it. */
export class SyncOrtSession {
  readonly provider: SyncProvider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly native: NativeSession;
  private readonly allOutputs: Record<string, null>;

  constructor(native: NativeSession, provider: SyncProvider) {
    this.native = native;
    this.provider = provider;
    this.inputNames = native.inputMetadata.map((m) => m.name);
    this.outputNames = native.outputMetadata.map((m) => m.name);
    this.allOutputs = Object.fromEntries(this.outputNames.map((n) => [n, null]));
  }

  /** Runs the graph; every output is returned. Throws ORT's error (a shape mismatch, a missing input) as is. */
  run(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
    const out = this.native.run(feeds, this.allOutputs, {});
    // The guard against a future asynchronous binding: a promise here means the fast path is gone.
    if (typeof (out as unknown as Promise<unknown>)?.then === 'function') throw new Error('onnxruntime-node binding run returned a promise; the synchronous path is unavailable');
    return out;
  }

  dispose(): void {
    this.native.dispose();
  }
}

/**
 * Loads `model` (ONNX bytes) into a synchronous session on the first provider that takes it (CUDA
 * where its library is installed, else CPU); a string saying why when none can (see the top of
 * this file).
 */
export function openSyncSession(model: Uint8Array, opts: SyncSessionOptions = {}): SyncOrtSession | string {
  const b = nativeBinding();
  if (typeof b === 'string') return b;
  const failures: string[] = [];
  for (const provider of opts.providers ?? ['cuda', 'cpu']) {
    if (provider === 'cuda' && !cudaProviderInstalled()) {
      failures.push('cuda: provider library not installed');
      continue;
    }
    try {
      b.initOrt();
      const native = new b.binding.InferenceSession();
      const bytes = model.buffer as ArrayBuffer;
      native.loadModel(bytes, model.byteOffset, model.byteLength, {
        // 'cpu' stays behind 'cuda' so nodes CUDA lacks kernels for still run.
        executionProviders: provider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
        graphOptimizationLevel: 'all',
        executionMode: 'sequential',
        intraOpNumThreads: opts.intraOpNumThreads ?? 1,
        interOpNumThreads: 1,
      });
      return new SyncOrtSession(native, provider);
    } catch (err) {
      failures.push(`${provider}: ${(err as Error).message}`);
    }
  }
  return `onnxruntime-node could not load the graph synchronously (${failures.join('; ')})`;
}
