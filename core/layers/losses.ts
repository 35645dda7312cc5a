/**
 * Losses over a batch of outputs `y [N, K]` and one-hot targets `t [N, K]` (K classes).
 *
 * Each loss computes its value in float64 in TypeScript, because it is one number per batch and
 * the backend has no reduction to a scalar. The gradient is the mean-loss gradient, so it
 * includes the factor `1/N`.
 *
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import type { Loss } from "../layer.ts";
import { sameShape, type Tensor } from "../tensor.ts";
import { reuseOrAllocate } from "./_buffers.ts";

/** Options of {@linkcode EuclideanLoss} and {@linkcode SoftmaxCrossEntropyLoss}. */
export interface LossOptions {
  /** Loss name for logs, default `euclidean` or `softmax_cross_entropy`. */
  name?: string;
}

/** Tensors that {@linkcode EuclideanLoss.forward} saves for the backward pass. */
interface EuclideanCache {
  /** Output `y [N, K]`, a reference to the caller's tensor. */
  y: Tensor;
  /** Target `t [N, K]`, a reference to the caller's tensor. */
  target: Tensor;
}

/**
 * Euclidean loss `L = Σ (t − y)² / (2N)` over the batch, the course's `EuclideanLoss`.
 *
 * Input `y [N, K]` and target `t [N, K]`. Gradient `∂L/∂y = (y − t) / N`, shape `[N, K]`.
 */
export class EuclideanLoss implements Loss {
  readonly name: string;
  readonly #backend: Backend;
  #cache: EuclideanCache | null = null;
  /** Gradient `[N, K]`, reused while the shape stays the same. */
  #dY: Tensor | null = null;

  constructor(backend: Backend, options: LossOptions = {}) {
    this.#backend = backend;
    this.name = options.name ?? "euclidean";
  }

  /**
   * Return `Σ (t − y)² / (2N)`.
   *
   * @throws {TypeError} when `y` is not 2-D or `target` differs in shape from `y`
   * @throws {RangeError} when the batch is empty
   */
  forward(y: Tensor, target: Tensor): number {
    const [n] = checkLossInputs(`EuclideanLoss ${this.name}`, y, target);
    let sum = 0;
    for (let i = 0; i < y.size; i++) {
      const diff = target.data[i] - y.data[i];
      sum += diff * diff;
    }
    this.#cache = { y, target };
    return sum / (2 * n);
  }

  /**
   * Return `∂L/∂y = (y − t) / N`, shape `[N, K]`.
   *
   * @throws {Error} when called before `forward`
   */
  backward(): Tensor {
    if (this.#cache === null) {
      throw new Error(`EuclideanLoss ${this.name}: backward called before forward`);
    }
    const { y, target } = this.#cache;
    const n = y.shape[0];
    const dY = this.#dY = reuseOrAllocate(this.#backend, this.#dY, y.shape);
    for (let i = 0; i < y.size; i++) dY.data[i] = (y.data[i] - target.data[i]) / n;
    return dY;
  }
}

/** Tensors that {@linkcode SoftmaxCrossEntropyLoss.forward} saves for the backward pass. */
interface SoftmaxCrossEntropyCache {
  /** Softmax of the logits, `p [N, K]`, a buffer of the loss. */
  p: Tensor;
  /** Target `t [N, K]`, a reference to the caller's tensor. */
  target: Tensor;
}

/**
 * Softmax followed by cross-entropy, the course's `SoftmaxCrossEntropyLoss`:
 * `L = −(1/N) Σᵢ Σⱼ tᵢⱼ · log softmax(yᵢ)ⱼ`.
 *
 * Input logits `y [N, K]` and target `t [N, K]`, whose rows must each sum to 1 (one-hot or soft
 * labels). Gradient `∂L/∂y = (softmax(y) − t) / N`, shape `[N, K]`. This simple form is correct
 * only because each target row sums to 1.
 *
 * The value uses the log-sum-exp form `log softmax(y)ⱼ = yⱼ − m − log Σₖ exp(yₖ − m)` with the row
 * maximum `m`, so logits of magnitude 1000 give a finite loss even where `softmax(y)ⱼ` rounds to 0.
 */
export class SoftmaxCrossEntropyLoss implements Loss {
  readonly name: string;
  readonly #backend: Backend;
  #cache: SoftmaxCrossEntropyCache | null = null;
  /** Softmax `[N, K]`, reused while the shape stays the same. */
  #p: Tensor | null = null;
  /** Gradient `[N, K]`, reused while the shape stays the same. */
  #dY: Tensor | null = null;

  constructor(backend: Backend, options: LossOptions = {}) {
    this.#backend = backend;
    this.name = options.name ?? "softmax_cross_entropy";
  }

  /**
   * Return the mean cross-entropy of `softmax(y)` against `target`.
   *
   * @throws {TypeError} when `y` is not 2-D or `target` differs in shape from `y`
   * @throws {RangeError} when the batch is empty or a target row does not sum to 1
   */
  forward(y: Tensor, target: Tensor): number {
    const label = `SoftmaxCrossEntropyLoss ${this.name}`;
    const [n, k] = checkLossInputs(label, y, target);
    const p = this.#p = reuseOrAllocate(this.#backend, this.#p, y.shape);
    this.#backend.softmax(y, p);

    let total = 0;
    for (let i = 0; i < n; i++) {
      const row = i * k;

      // Subtract the row max m so that exp cannot overflow: log Z = m + log Σₖ exp(yₖ − m).
      let max = -Infinity;
      for (let j = 0; j < k; j++) max = Math.max(max, y.data[row + j]);
      let sumExp = 0;
      for (let j = 0; j < k; j++) sumExp += Math.exp(y.data[row + j] - max);
      const logZ = max + Math.log(sumExp);

      // −Σⱼ tⱼ log softmax(y)ⱼ = Σⱼ tⱼ (log Z − yⱼ). Skipping tⱼ = 0 avoids 0·∞ for y = −∞.
      let rowLoss = 0, targetSum = 0;
      for (let j = 0; j < k; j++) {
        const t = target.data[row + j];
        if (t === 0) continue;
        rowLoss += t * (logZ - y.data[row + j]);
        targetSum += t;
      }
      if (Math.abs(targetSum - 1) > 1e-4) {
        throw new RangeError(
          `${label}: target row ${i} sums to ${targetSum}, expected 1 (a one-hot row)`,
        );
      }
      total += rowLoss;
    }

    this.#cache = { p, target };
    return total / n;
  }

  /**
   * Return `∂L/∂y = (softmax(y) − t) / N`, shape `[N, K]`.
   *
   * @throws {Error} when called before `forward`
   */
  backward(): Tensor {
    if (this.#cache === null) {
      throw new Error(`SoftmaxCrossEntropyLoss ${this.name}: backward called before forward`);
    }
    const { p, target } = this.#cache;
    const n = p.shape[0];
    const dY = this.#dY = reuseOrAllocate(this.#backend, this.#dY, p.shape);
    for (let i = 0; i < p.size; i++) dY.data[i] = (p.data[i] - target.data[i]) / n;
    return dY;
  }
}

/** Check `y [N, K]` and `target [N, K]` with `N >= 1`, and return `[N, K]`. */
function checkLossInputs(label: string, y: Tensor, target: Tensor): [number, number] {
  if (y.shape.length !== 2) {
    throw new TypeError(`${label}: y has shape [${y.shape}], expected [N, K]`);
  }
  if (!sameShape(target.shape, y.shape)) {
    throw new TypeError(
      `${label}: target has shape [${target.shape}], expected [${y.shape}] like y`,
    );
  }
  if (y.shape[0] === 0) {
    throw new RangeError(`${label}: the batch is empty, so the mean loss is undefined`);
  }
  return [y.shape[0], y.shape[1]];
}
