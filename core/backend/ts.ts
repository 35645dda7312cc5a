/**
 * The reference backend in plain TypeScript. Sums accumulate in float64, so this backend is the
 * oracle that the fast backends are tested against. It favors clarity over speed.
 *
 * @module
 */

import { Tensor } from "../tensor.ts";
import type { Backend, MatmulOptions, SgdOptions } from "./backend.ts";
import { check2d, checkMatmul, checkRowVector, checkSameShape } from "./checks.ts";

/** Create the reference backend. */
export function createTsBackend(): Backend {
  return {
    name: "ts",
    description: "ts (plain TypeScript reference, float64 accumulation, 1 thread)",
    zeros: (shape) => new Tensor(shape),
    matmul,
    addRowVector,
    sumRows,
    relu,
    reluBackward,
    sigmoid,
    sigmoidBackward,
    softmax,
    sgdMomentum,
  };
}

function matmul(a: Tensor, b: Tensor, out: Tensor, options: MatmulOptions = {}): void {
  const { m, n, k } = checkMatmul(a, b, out, options);

  // Strides of op(a) [M, K] and op(b) [K, N]: a transpose swaps the row and column strides.
  const aRowStride = options.transA ? 1 : k, aColStride = options.transA ? m : 1;
  const bRowStride = options.transB ? 1 : n, bColStride = options.transB ? k : 1;
  const A = a.data, B = b.data, C = out.data;
  const acc = new Float64Array(n);

  for (let i = 0; i < m; i++) {
    if (options.accumulate) { for (let j = 0; j < n; j++) acc[j] = C[i * n + j]; }
    else acc.fill(0);
    for (let p = 0; p < k; p++) {
      const aip = A[i * aRowStride + p * aColStride];
      if (aip === 0) continue;
      const bRow = p * bRowStride;
      for (let j = 0; j < n; j++) acc[j] += aip * B[bRow + j * bColStride];
    }
    for (let j = 0; j < n; j++) C[i * n + j] = acc[j];
  }
}

function addRowVector(x: Tensor, b: Tensor): void {
  const [n, d] = checkRowVector("addRowVector", x, b, "b");
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) x.data[i * d + j] += b.data[j];
  }
}

function sumRows(x: Tensor, out: Tensor): void {
  const [n, d] = checkRowVector("sumRows", x, out, "out");
  const acc = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) acc[j] += x.data[i * d + j];
  }
  out.data.set(acc);
}

function relu(x: Tensor, y: Tensor): void {
  checkSameShape("relu", ["x", "y"], [x, y]);
  for (let i = 0; i < x.size; i++) y.data[i] = x.data[i] > 0 ? x.data[i] : 0;
}

function reluBackward(y: Tensor, dY: Tensor, dX: Tensor): void {
  checkSameShape("reluBackward", ["y", "dY", "dX"], [y, dY, dX]);
  for (let i = 0; i < y.size; i++) dX.data[i] = y.data[i] > 0 ? dY.data[i] : 0;
}

function sigmoid(x: Tensor, y: Tensor): void {
  checkSameShape("sigmoid", ["x", "y"], [x, y]);
  for (let i = 0; i < x.size; i++) y.data[i] = 1 / (1 + Math.exp(-x.data[i]));
}

function sigmoidBackward(y: Tensor, dY: Tensor, dX: Tensor): void {
  checkSameShape("sigmoidBackward", ["y", "dY", "dX"], [y, dY, dX]);
  for (let i = 0; i < y.size; i++) {
    const s = y.data[i];
    dX.data[i] = dY.data[i] * s * (1 - s);
  }
}

function softmax(x: Tensor, y: Tensor): void {
  const [n, d] = check2d("softmax", "x", x);
  checkSameShape("softmax", ["x", "y"], [x, y]);
  for (let i = 0; i < n; i++) {
    const row = i * d;

    // Subtract the row max so exp never overflows, even for logits of magnitude 1000.
    let max = -Infinity;
    for (let j = 0; j < d; j++) max = Math.max(max, x.data[row + j]);

    let sum = 0;
    for (let j = 0; j < d; j++) {
      const e = Math.exp(x.data[row + j] - max);
      y.data[row + j] = e;
      sum += e;
    }
    for (let j = 0; j < d; j++) y.data[row + j] /= sum;
  }
}

function sgdMomentum(w: Tensor, g: Tensor, v: Tensor, options: SgdOptions): void {
  checkSameShape("sgdMomentum", ["w", "g", "v"], [w, g, v]);
  const { lr, momentum, weightDecay } = options;
  for (let i = 0; i < w.size; i++) {
    const vi = momentum * v.data[i] + (g.data[i] + weightDecay * w.data[i]);
    v.data[i] = vi;
    w.data[i] -= lr * vi;
  }
}
