/**
 * Picks the fastest tfjs backend this machine has, detected at run time: the native
 * 'tensorflow' backend when @tensorflow/tfjs-node(-gpu) is installed (optional, often not),
 * else WebAssembly, else the pure-JS CPU backend.
 */
import * as tf from '@tensorflow/tfjs';

export type TfjsBackendName = 'tensorflow' | 'wasm' | 'cpu';

async function register(name: TfjsBackendName): Promise<boolean> {
  try {
    // Module names live in variables so TypeScript doesn't demand typings for optional packages.
    if (name === 'tensorflow') {
      const gpu = '@tensorflow/tfjs-node-gpu', cpu = '@tensorflow/tfjs-node';
      await import(gpu).catch(() => import(cpu));
    } else if (name === 'wasm') {
      await import('@tensorflow/tfjs-backend-wasm');
    }
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** Activates the first backend of `preference` that loads; returns its name. */
export async function initTfjsBackend(preference: TfjsBackendName[] = ['tensorflow', 'wasm', 'cpu']): Promise<TfjsBackendName> {
  for (const name of preference) {
    if (tf.getBackend() === name) return name;
    if (await register(name)) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(`tfjs: none of the backends ${preference.join(', ')} could be initialised`);
}
