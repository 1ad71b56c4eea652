import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../../src/model/backend.ts';
import { sampledLoss, targetMask, type LossName, type LossOptions } from '../../src/model/losses.ts';
import { encoderStack, type LayerParams } from '../../src/model/encoder-stack.ts';
import { matMulBT } from '../../src/model/ops.ts';
import { Rng } from '../../src/random/rng.ts';

/*
 * Analytic gradients (tf.grads through our custom-gradient ops and losses) against central
 * differences of the same float32 forward pass. With eps = 1e-2 the truncation error is
 * O(eps²·f''') ≈ 1e-4 and the float32 rounding of f (|f| ≈ 1) divided by 2·eps is ≈ 1e-5, so
 * every entry must agree within 2% of its magnitude plus an absolute floor of 2e-4.
 */
const EPS = 1e-2;
const RTOL = 2e-2;
const ATOL = 2e-4;

before(async () => {
  await initBackend('wasm', () => {});
});

function randomTensor(rng: Rng, shape: number[], scale = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  return tf.tensor(
    Float32Array.from({ length: n }, () => rng.uniform(-scale, scale)),
    shape,
  );
}

/** Compare tf.grads of f w.r.t. every input with central differences, entry by entry. */
function checkGradients(label: string, f: (...xs: tf.Tensor[]) => tf.Scalar, xs: tf.Tensor[]): number {
  const analytic = tf
    .grads(f)(xs)
    .map((g) => g.dataSync() as Float32Array);
  let compared = 0;
  xs.forEach((x, k) => {
    const base = x.dataSync() as Float32Array;
    for (let i = 0; i < base.length; i++) {
      const at = (delta: number): number =>
        tf.tidy(() => {
          const d = Float32Array.from(base);
          d[i] += delta;
          const args = xs.map((y, j) => (j === k ? tf.tensor(d, x.shape) : y));
          return f(...args).dataSync()[0];
        });
      const numeric = (at(EPS) - at(-EPS)) / (2 * EPS);
      const a = analytic[k][i];
      const err = Math.abs(a - numeric);
      assert.ok(err <= ATOL + RTOL * Math.max(Math.abs(a), Math.abs(numeric)), `${label}: input ${k} entry ${i}: analytic ${a} vs numeric ${numeric}`);
      compared++;
    }
  });
  return compared;
}

const B = 3;
const R = 7;

const lossCases: Array<{ name: LossName; opts: LossOptions; label: string }> = [
  { name: 'cross-entropy', opts: {}, label: 'cross-entropy' },
  { name: 'cross-entropy', opts: { logqCorrection: null }, label: 'cross-entropy (logq)' },
  { name: 'bpr', opts: {}, label: 'bpr' },
  { name: 'top1', opts: {}, label: 'top1' },
  { name: 'bpr-max', opts: { bpreg: 0, eluParam: 0 }, label: 'bpr-max (linear, no bpreg)' },
  { name: 'bpr-max', opts: { bpreg: 1.0, eluParam: 0.5 }, label: 'bpr-max (elu 0.5, bpreg 1)' },
  { name: 'bpr-max', opts: { bpreg: 0.5, eluParam: 1 }, label: 'bpr-max (elu 1, bpreg 0.5)' },
  { name: 'top1-max', opts: {}, label: 'top1-max' },
];

for (const c of lossCases) {
  test(`gradient of the ${c.label} loss matches central differences on every score`, () => {
    const rng = new Rng(7);
    const scores = randomTensor(rng, [B, R], 1.5);
    const mask = targetMask(B, R);
    const opts: LossOptions = { ...c.opts, targetMask: mask };
    if ('logqCorrection' in c.opts) opts.logqCorrection = randomTensor(rng, [R], 2) as tf.Tensor1D;
    const compared = checkGradients(c.label, (s) => sampledLoss(c.name, s as tf.Tensor2D, opts), [scores]);
    assert.equal(compared, B * R);
    // The target's own score must get a gradient that pushes it up (the loss falls as it rises).
    const g = tf
      .grad((s: tf.Tensor) => sampledLoss(c.name, s as tf.Tensor2D, opts))(scores)
      .arraySync() as number[][];
    for (let i = 0; i < B; i++) assert.ok(g[i][i] < 0, `${c.label}: d loss / d s[${i},${i}] = ${g[i][i]} should be negative`);
    tf.dispose([scores, mask, opts.logqCorrection ?? []]);
  });
}

test('cross-entropy equals −log softmax at the diagonal (checked against a float64 reference)', () => {
  const rng = new Rng(3);
  const scores = randomTensor(rng, [B, R], 2);
  const s = scores.arraySync() as number[][];
  let ref = 0;
  for (let i = 0; i < B; i++) {
    const m = Math.max(...s[i]);
    const lse = m + Math.log(s[i].reduce((a, v) => a + Math.exp(v - m), 0));
    ref += (lse - s[i][i]) / B;
  }
  const got = sampledLoss('cross-entropy', scores as tf.Tensor2D).dataSync()[0];
  assert.ok(Math.abs(got - ref) < 1e-5, `cross-entropy ${got} vs reference ${ref}`);
  scores.dispose();
});

test('bpr-max and top1-max ignore the target column in their negative weights', () => {
  const rng = new Rng(5);
  const base = randomTensor(rng, [B, R], 1);
  const mask = targetMask(B, R);
  // Changing only s_ii shifts t, so the loss must change exactly as through t: compare to a
  // float64 reference of the official formula.
  const s = base.arraySync() as number[][];
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
  let bprMax = 0;
  let top1Max = 0;
  for (let i = 0; i < B; i++) {
    const neg = s[i].map((v, j) => (j === i ? 0 : v));
    const m = Math.max(...neg);
    const e = neg.map((v, j) => (j === i ? 0 : Math.exp(v - m)));
    const z = e.reduce((a, v) => a + v, 0);
    const w = e.map((v) => v / z);
    const t = s[i][i];
    const a = s[i].reduce((acc, v, j) => acc + w[j] * sigmoid(t - v), 0);
    const reg = s[i].reduce((acc, v, j) => acc + w[j] * v * v, 0);
    bprMax += (-Math.log(a + 1e-24) + 0.7 * reg) / B;
    top1Max += s[i].reduce((acc, v, j) => acc + w[j] * (sigmoid(v - t) + sigmoid(v * v)), 0) / B;
  }
  const gotBprMax = sampledLoss('bpr-max', base as tf.Tensor2D, { targetMask: mask, bpreg: 0.7, eluParam: 0 }).dataSync()[0];
  const gotTop1Max = sampledLoss('top1-max', base as tf.Tensor2D, { targetMask: mask }).dataSync()[0];
  assert.ok(Math.abs(gotBprMax - bprMax) < 1e-5, `bpr-max ${gotBprMax} vs reference ${bprMax}`);
  assert.ok(Math.abs(gotTop1Max - top1Max) < 1e-5, `top1-max ${gotTop1Max} vs reference ${top1Max}`);
  tf.dispose([base, mask]);
});

test('GRU step gradients w.r.t. hidden state, Wx, Wrz, Wh and b match central differences', () => {
  const rng = new Rng(11);
  const n = 2;
  const inDim = 3;
  const H = 4;
  const x = randomTensor(rng, [n, inDim]);
  const h = randomTensor(rng, [n, H], 0.8);
  const Wx = randomTensor(rng, [inDim, 3 * H], 0.8);
  const Wrz = randomTensor(rng, [H, 2 * H], 0.8);
  const Wh = randomTensor(rng, [H, H], 0.8);
  const b = randomTensor(rng, [3 * H], 0.5);
  // A fixed random read-out makes every output entry matter with a different weight.
  const readout = randomTensor(rng, [n, H]);
  const f = (hh: tf.Tensor, wx: tf.Tensor, wrz: tf.Tensor, wh: tf.Tensor, bb: tf.Tensor, xx: tf.Tensor): tf.Scalar => {
    const {
      outputs: [out],
    } = encoderStack(xx as tf.Tensor2D, [hh as tf.Tensor2D], [{ cell: 'gru', Wx: wx as tf.Tensor2D, Wrz: wrz as tf.Tensor2D, Wh: wh as tf.Tensor2D, b: bb as tf.Tensor1D }]);
    return tf.sum(tf.mul(out, readout));
  };
  const compared = checkGradients('gru', f, [h, Wx, Wrz, Wh, b, x]);
  assert.equal(compared, n * H + inDim * 3 * H + H * 2 * H + H * H + 3 * H + n * inDim);
  tf.dispose([x, h, Wx, Wrz, Wh, b, readout]);
});

test('two stacked GRU layers with a one-hot first layer: gradients through both layers match', () => {
  const rng = new Rng(13);
  const n = 2;
  const H0 = 3;
  const H1 = 2;
  const rows0 = randomTensor(rng, [n, 3 * H0], 0.8); // gathered Wx0 rows of the input items
  const h0 = randomTensor(rng, [n, H0], 0.5);
  const h1 = randomTensor(rng, [n, H1], 0.5);
  const Wrz0 = randomTensor(rng, [H0, 2 * H0], 0.8);
  const Wh0 = randomTensor(rng, [H0, H0], 0.8);
  const b0 = randomTensor(rng, [3 * H0], 0.3);
  const Wx1 = randomTensor(rng, [H0, 3 * H1], 0.8);
  const Wrz1 = randomTensor(rng, [H1, 2 * H1], 0.8);
  const Wh1 = randomTensor(rng, [H1, H1], 0.8);
  const b1 = randomTensor(rng, [3 * H1], 0.3);
  const readout = randomTensor(rng, [n, H1]);
  const f = (...p: tf.Tensor[]): tf.Scalar => {
    const [r0, hh0, hh1, wrz0, wh0, bb0, wx1, wrz1, wh1, bb1] = p as tf.Tensor2D[];
    const { outputs: out } = encoderStack(
      r0,
      [hh0, hh1],
      [
        { cell: 'gru', Wx: null, Wrz: wrz0, Wh: wh0, b: bb0 as unknown as tf.Tensor1D },
        { cell: 'gru', Wx: wx1, Wrz: wrz1, Wh: wh1, b: bb1 as unknown as tf.Tensor1D },
      ],
    );
    return tf.sum(tf.mul(out[1], readout));
  };
  const xs = [rows0, h0, h1, Wrz0, Wh0, b0, Wx1, Wrz1, Wh1, b1];
  const compared = checkGradients('gru stack', f, xs);
  assert.equal(
    compared,
    xs.reduce((a, t) => a + t.size, 0),
  );
  tf.dispose([...xs, readout]);
});

/**
 * An LSTM-family layer's parameters from a flat list of leaves (Wx, [Wmh], Wh, b), so
 * checkGradients can perturb each one.
 */
function lstmLayer(cell: 'lstm' | 'mlstm', wx: tf.Tensor | null, rest: tf.Tensor[]): LayerParams {
  const Wx = wx as tf.Tensor2D | null;
  if (cell === 'lstm') return { cell, Wx, Wh: rest[0] as tf.Tensor2D, b: rest[1] as tf.Tensor1D };
  return { cell, Wx, Wmh: rest[0] as tf.Tensor2D, Wh: rest[1] as tf.Tensor2D, b: rest[2] as tf.Tensor1D };
}

for (const cell of ['lstm', 'mlstm'] as const) {
  const blocks = cell === 'lstm' ? 4 : 5;
  test(`${cell} step gradients w.r.t. the state [h | c], Wx, ${cell === 'mlstm' ? 'Wmh, ' : ''}Wh, b and the input match central differences`, () => {
    const rng = new Rng(cell === 'lstm' ? 23 : 29);
    const n = 2;
    const inDim = 3;
    const H = 3;
    const x = randomTensor(rng, [n, inDim]);
    const state = randomTensor(rng, [n, 2 * H], 0.8);
    const Wx = randomTensor(rng, [inDim, blocks * H], 0.8);
    const rest = [...(cell === 'mlstm' ? [randomTensor(rng, [H, H], 0.8)] : []), randomTensor(rng, [H, 4 * H], 0.8), randomTensor(rng, [4 * H], 0.5)];
    // Both halves of the next state are read out, so the gradient through c' is checked as well as through h'.
    const readH = randomTensor(rng, [n, H]);
    const readS = randomTensor(rng, [n, 2 * H]);
    const f = (...p: tf.Tensor[]): tf.Scalar => {
      const [ss, wx, xx, ...r] = p;
      const out = encoderStack(xx as tf.Tensor2D, [ss as tf.Tensor2D], [lstmLayer(cell, wx, r)]);
      return tf.add(tf.sum(tf.mul(out.outputs[0], readH)), tf.sum(tf.mul(out.states[0], readS)));
    };
    const xs = [state, Wx, x, ...rest];
    const compared = checkGradients(cell, f, xs);
    assert.equal(
      compared,
      xs.reduce((a, t) => a + t.size, 0),
    );
    tf.dispose([...xs, readH, readS]);
  });

  test(`two stacked ${cell} layers with a one-hot first layer and output dropout: gradients through both layers match`, () => {
    const rng = new Rng(cell === 'lstm' ? 31 : 37);
    const n = 2;
    const H0 = 3;
    const H1 = 2;
    const rows0 = randomTensor(rng, [n, blocks * H0], 0.8); // gathered Wx0 rows of the input items
    const s0 = randomTensor(rng, [n, 2 * H0], 0.5);
    const s1 = randomTensor(rng, [n, 2 * H1], 0.5);
    const rest0 = [...(cell === 'mlstm' ? [randomTensor(rng, [H0, H0], 0.8)] : []), randomTensor(rng, [H0, 4 * H0], 0.8), randomTensor(rng, [4 * H0], 0.3)];
    const Wx1 = randomTensor(rng, [H0, blocks * H1], 0.8);
    const rest1 = [...(cell === 'mlstm' ? [randomTensor(rng, [H1, H1], 0.8)] : []), randomTensor(rng, [H1, 4 * H1], 0.8), randomTensor(rng, [4 * H1], 0.3)];
    // Fixed inverted-dropout masks (p = 0.5): unit 1 of layer 0 dropped in both rows, one unit of layer 1 in row 0, the rest scaled by 2.
    const mask0 = tf.tensor2d([2, 0, 2, 2, 0, 2], [n, H0]);
    const mask1 = tf.tensor2d([2, 0, 2, 2], [n, H1]);
    const readout = randomTensor(rng, [n, H1]);
    const k = rest0.length;
    const f = (...p: tf.Tensor[]): tf.Scalar => {
      const [r0, ss0, ss1, wx1] = p;
      const layers = [lstmLayer(cell, null, p.slice(4, 4 + k)), lstmLayer(cell, wx1, p.slice(4 + k))];
      const out = encoderStack(r0 as tf.Tensor2D, [ss0 as tf.Tensor2D, ss1 as tf.Tensor2D], layers, [mask0, mask1]);
      return tf.sum(tf.mul(out.outputs[1], readout));
    };
    const xs = [rows0, s0, s1, Wx1, ...rest0, ...rest1];
    const compared = checkGradients(`${cell} stack`, f, xs);
    assert.equal(
      compared,
      xs.reduce((a, t) => a + t.size, 0),
    );
    // A dropped unit of layer 0 reaches nothing above it: its Wx1 row gets no gradient.
    const gWx1 = tf.grads(f)(xs)[3].arraySync() as number[][];
    const dropped = gWx1[1];
    assert.ok(
      dropped.every((v) => v === 0),
      `Wx1 row of a unit dropped in every row should get no gradient, got ${dropped}`,
    );
    tf.dispose([...xs, mask0, mask1, readout]);
  });
}

test('output-layer product h·Oᵀ: gradients w.r.t. hidden state and item rows match', () => {
  const rng = new Rng(17);
  const h = randomTensor(rng, [3, 4]);
  const O = randomTensor(rng, [5, 4]);
  const readout = randomTensor(rng, [3, 5]);
  const compared = checkGradients('matMulBT', (a, o) => tf.sum(tf.mul(matMulBT(a as tf.Tensor2D, o as tf.Tensor2D), readout)), [h, O]);
  assert.equal(compared, 12 + 20);
  // and the value itself is the plain product
  const got = matMulBT(h as tf.Tensor2D, O as tf.Tensor2D).arraySync() as number[][];
  const hv = h.arraySync() as number[][];
  const ov = O.arraySync() as number[][];
  for (let i = 0; i < 3; i++)
    for (let j = 0; j < 5; j++) {
      const ref = hv[i].reduce((acc, v, k) => acc + v * ov[j][k], 0);
      assert.ok(Math.abs(got[i][j] - ref) < 1e-5, `h·Oᵀ[${i},${j}] = ${got[i][j]}, expected ${ref}`);
    }
  tf.dispose([h, O, readout]);
});

/** Accidental hits for B = 3, R = 7: row 0 drops column 4, row 1 drops columns 0 and 5, row 2 none. */
function excludeMask(): tf.Tensor2D {
  const m = Array.from({ length: B }, () => new Array<number>(R).fill(0));
  m[0][4] = 1;
  m[1][0] = 1;
  m[1][5] = 1;
  return tf.tensor2d(m);
}

const excludeCases: Array<{ name: LossName; opts: LossOptions; label: string }> = [
  { name: 'cross-entropy', opts: {}, label: 'cross-entropy' },
  { name: 'cross-entropy', opts: { logqCorrection: null }, label: 'cross-entropy (logq)' },
  { name: 'bpr', opts: {}, label: 'bpr' },
  { name: 'top1', opts: {}, label: 'top1' },
  { name: 'bpr-max', opts: { bpreg: 0, eluParam: 0 }, label: 'bpr-max (linear, no bpreg)' },
  { name: 'bpr-max', opts: { bpreg: 0.5, eluParam: 0.5 }, label: 'bpr-max (elu 0.5, bpreg 0.5)' },
  { name: 'top1-max', opts: {}, label: 'top1-max' },
];

for (const c of excludeCases) {
  test(`${c.label} with accidental hits excluded: equals the loss on the rows with those columns deleted, and its gradient matches`, () => {
    const rng = new Rng(19);
    const scores = randomTensor(rng, [B, R], 1.5);
    const mask = targetMask(B, R);
    const exclude = excludeMask();
    const logq = 'logqCorrection' in c.opts ? (randomTensor(rng, [R], 2) as tf.Tensor1D) : null;
    const opts: LossOptions = { ...c.opts, targetMask: mask, excludeMask: exclude, logqCorrection: logq };
    const got = sampledLoss(c.name, scores as tf.Tensor2D, opts).dataSync()[0];

    // Reference: each row alone, excluded columns deleted, target moved to column 0, then the mean.
    const s = scores.arraySync() as number[][];
    const ex = exclude.arraySync() as number[][];
    const q = logq ? (logq.arraySync() as number[]) : null;
    let ref = 0;
    for (let i = 0; i < B; i++) {
      const cols = [i, ...Array.from({ length: R }, (_, j) => j).filter((j) => j !== i && ex[i][j] === 0)];
      const row = tf.tensor2d([cols.map((j) => s[i][j])]);
      const rowLogq = q ? tf.tensor1d(cols.map((j) => q[j])) : null;
      ref += sampledLoss(c.name, row, { ...c.opts, targetMask: targetMask(1, cols.length), logqCorrection: rowLogq }).dataSync()[0] / B;
      tf.dispose([row, rowLogq ?? []]);
    }
    assert.ok(Math.abs(got - ref) < 1e-5, `${c.label}: ${got} vs row-by-row reference ${ref}`);

    checkGradients(`${c.label} (excluded)`, (x) => sampledLoss(c.name, x as tf.Tensor2D, opts), [scores]);
    const g = tf
      .grad((x: tf.Tensor) => sampledLoss(c.name, x as tf.Tensor2D, opts))(scores)
      .arraySync() as number[][];
    for (let i = 0; i < B; i++) for (let j = 0; j < R; j++) if (ex[i][j] === 1) assert.ok(g[i][j] === 0, `${c.label}: excluded column (${i}, ${j}) got gradient ${g[i][j]}`);
    tf.dispose([scores, mask, exclude, logq ?? []]);
  });
}

test('bpr-max and top1-max: a row whose every negative is excluded adds nothing and stays finite', () => {
  const scores = tf.tensor2d([
    [0.5, 0.5, -0.2],
    [0.1, 0.9, 0.3],
  ]);
  const mask = targetMask(2, 3);
  // Row 0's target item fills columns 1 and 2 as well (the same item sampled twice).
  const exclude = tf.tensor2d([
    [0, 1, 1],
    [0, 0, 0],
  ]);
  for (const name of ['bpr-max', 'top1-max'] as const) {
    const opts: LossOptions = { targetMask: mask, excludeMask: exclude, bpreg: 0.5, eluParam: 0 };
    const got = sampledLoss(name, scores, opts).dataSync()[0];
    const row1 = tf.tensor2d([[0.9, 0.1, 0.3]]);
    const ref = sampledLoss(name, row1, { targetMask: targetMask(1, 3), bpreg: 0.5, eluParam: 0 }).dataSync()[0] / 2;
    assert.ok(Math.abs(got - ref) < 1e-6, `${name}: ${got} vs ${ref} (row 0 must add 0)`);
    const g = tf
      .grad((x: tf.Tensor) => sampledLoss(name, x as tf.Tensor2D, opts))(scores)
      .dataSync() as Float32Array;
    assert.ok(g.every(Number.isFinite), `${name}: gradient ${Array.from(g)}`);
    assert.ok(
      g.subarray(0, 3).every((v) => v === 0),
      `${name}: row 0 gradient ${Array.from(g.subarray(0, 3))} should be 0`,
    );
    row1.dispose();
  }
  tf.dispose([scores, mask, exclude]);
});
