import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';

export type BackendPreference = 'tensorflow' | 'wasm' | 'cpu';

/** Native TensorFlow bindings, best first. Neither is a dependency: their install step downloads libtensorflow. */
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

let chosen: string | null = null;

/**
 * Pick the fastest backend this machine has: native TensorFlow (tfjs-node-gpu, then tfjs-node)
 * when one is installed, else the bundled WebAssembly backend, else tfjs's pure-JS cpu backend.
 * `preferred` skips the faster candidates (e.g. 'wasm' to pin results across machines).
 * Logs the choice once and returns the backend's name.
 */
export async function initBackend(preferred?: BackendPreference, log: (line: string) => void = (l) => console.error(l)): Promise<string> {
  const order: BackendPreference[] = preferred === 'cpu' ? ['cpu'] : preferred === 'wasm' ? ['wasm', 'cpu'] : ['tensorflow', 'wasm', 'cpu'];
  for (const kind of order) {
    const detail = await tryBackend(kind);
    if (detail === null) continue;
    const name = tf.getBackend();
    if (chosen !== name) log(`streamrec: tfjs backend "${name}"${detail ? ` (${detail})` : ''}`);
    chosen = name;
    return name;
  }
  throw new Error('no tfjs backend could be initialised (tried native TensorFlow, wasm and cpu)');
}

/** Activate one backend kind; a short description on success, null when unavailable. */
async function tryBackend(kind: BackendPreference): Promise<string | null> {
  if (kind === 'tensorflow') {
    for (const pkg of NATIVE_PACKAGES) {
      try {
        // A variable specifier keeps bundlers and the type checker from requiring the package.
        await import(pkg);
        if (await tf.setBackend('tensorflow')) return pkg;
      } catch {
        // Not installed or its native library failed to load: fall through to the next.
      }
    }
    return null;
  }
  if (kind === 'wasm') {
    try {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      const threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
      const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
      // XNNPACK's pool must be sized before the backend starts; more threads than cores only contend.
      if (threads) wasm.setThreadsCount(Math.max(1, Math.min(availableParallelism(), 4)));
      if (!(await tf.setBackend('wasm'))) return null;
      await tf.ready();
      return `${simd ? 'SIMD' : 'no SIMD'}, ${threads ? `${wasm.getThreadsCount()} threads` : 'single-threaded'}`;
    } catch {
      return null;
    }
  }
  return (await tf.setBackend('cpu')) ? 'pure JavaScript, slow' : null;
}
