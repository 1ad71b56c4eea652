import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';

/**
 * ORT's CUDA provider is a separate shared library that the npm package downloads at install
 * time; without it, asking for 'cuda' fails after ORT logs a loud native error. Look first.
 */
export function cudaProviderInstalled(): boolean {
  try {
    const listed = ort.listSupportedBackends?.().some((b) => b.name === 'cuda');
    if (!listed) return false;
    const pkgDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
    const binDir = join(pkgDir, 'bin', 'napi-v6', process.platform, process.arch);
    return existsSync(join(binDir, process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so'));
  } catch {
    return false;
  }
}
