/**
 * Classification metrics over a batch of scores `[N, K]` (N examples, K classes).
 *
 * @module
 */

import type { Tensor } from "./tensor.ts";

/**
 * Return the index of the largest value in each row of `x [N, K]`, as `[N]`.
 *
 * Ties go to the smallest index. NaN values are never chosen unless the first value of a row is
 * NaN, in which case the row's result is 0.
 *
 * @param out optional `[N]` array to fill instead of allocating one
 * @throws {TypeError} when `x` is not 2-D with K >= 1, or `out` has a length other than N
 */
export function argmax(x: Tensor, out?: Uint32Array): Uint32Array {
  const [n, k] = checkScores("argmax", "x", x);
  if (out !== undefined && out.length !== n) {
    throw new TypeError(`argmax: out has length ${out.length}, expected ${n} for x [${x.shape}]`);
  }
  const result = out ?? new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const row = i * k;
    let best = 0;
    for (let j = 1; j < k; j++) {
      if (x.data[row + j] > x.data[row + best]) best = j;
    }
    result[i] = best;
  }
  return result;
}

/**
 * Return how many rows of `scores [N, K]` have their largest value at the row's label.
 *
 * @throws {TypeError} when `scores` is not 2-D or `labels` does not have length N
 * @throws {RangeError} when a label is not below K
 */
export function countCorrect(scores: Tensor, labels: Uint8Array): number {
  const [n, k] = checkScores("countCorrect", "scores", scores);
  if (labels.length !== n) {
    throw new TypeError(
      `countCorrect: labels has length ${labels.length}, expected ${n} for scores [${scores.shape}]`,
    );
  }
  const predicted = argmax(scores);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] >= k) {
      throw new RangeError(`countCorrect: label ${labels[i]} at index ${i} is not below K = ${k}`);
    }
    if (predicted[i] === labels[i]) correct++;
  }
  return correct;
}

/**
 * Return the fraction of rows of `scores [N, K]` whose argmax equals the label, in `[0, 1]`.
 *
 * @throws {TypeError} when `scores` is not 2-D or `labels` does not have length N
 * @throws {RangeError} when `scores` has no rows or a label is not below K
 */
export function accuracy(scores: Tensor, labels: Uint8Array): number {
  const correct = countCorrect(scores, labels);
  if (labels.length === 0) {
    throw new RangeError(
      `accuracy: scores [${scores.shape}] has no rows, so accuracy is undefined`,
    );
  }
  return correct / labels.length;
}

function checkScores(op: string, name: string, x: Tensor): [number, number] {
  if (x.shape.length !== 2 || x.shape[1] === 0) {
    throw new TypeError(`${op}: ${name} has shape [${x.shape}], expected [N, K] with K >= 1`);
  }
  return [x.shape[0], x.shape[1]];
}
