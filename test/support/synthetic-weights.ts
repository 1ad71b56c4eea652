/**
 * Seeded random weights in the shape of the weights contract, for engine tests and benchmarks
 * (a trained model is not needed to measure or cross-check an inference engine).
 */
import { seededRandom } from '../../src/random/rng.ts';
import { expectedShapes, type Gru4RecArch, type Gru4RecWeights, type NamedTensor } from '../../src/model/weights.ts';

/**
 * Uniform(−s, s) with s = sqrt(6 / (fan_in + fan_out)) per matrix (Glorot), so hidden states and
 * scores have realistic magnitudes rather than saturating the gates.
 */
export function syntheticWeights(arch: Gru4RecArch, seed = 1): Gru4RecWeights {
  const rand = seededRandom(seed);
  const tensors: Record<string, NamedTensor> = {};
  for (const [name, shape] of Object.entries(expectedShapes(arch))) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const fan = shape.length === 2 ? shape[0] + shape[1] : shape[0];
    const scale = name.endsWith('.b') || name === 'out.by' ? 0.1 : Math.sqrt(6 / fan);
    if (name !== 'out.by' || arch.useBias) for (let i = 0; i < size; i++) data[i] = (2 * rand() - 1) * scale;
    tensors[name] = { shape: [...shape], data };
  }
  return { arch: { ...arch, hiddenSizes: [...arch.hiddenSizes] }, tensors };
}

export { seededRandom };
