/**
 * The fully connected layer.
 *
 * Shape legend: N batch, D_in input features, D_out output features.
 *
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { type Layer, Param } from "../layer.ts";
import type { Rng } from "../random.ts";
import { assertShape, type Tensor } from "../tensor.ts";
import { reuseOrAllocate } from "./_buffers.ts";

/** Options of {@linkcode Linear}. */
export interface LinearOptions {
  /** Standard deviation (`>= 0`) of the normal distribution that initializes `W`. */
  initStd: number;
  /** Generator that draws the initial `W`. */
  rng: Rng;
  /** Layer name and prefix of its parameter names, default `linear`. */
  name?: string;
}

/** Tensors that {@linkcode Linear.forward} saves for the backward pass. */
interface LinearCache {
  /**
   * Input `x [N, D_in]`. NOTE: this is a reference, not a copy. The tensor belongs to the caller
   * and must stay unchanged until `backward`, as outputs of the previous layer and data batches do.
   */
  x: Tensor;
}

/**
 * Fully connected layer `Y = X·W + b`, the course's `Linear`.
 *
 * - Parameters: `W [D_in, D_out]` (named `<name>.W`), drawn from a normal distribution with mean 0
 *   and standard deviation `initStd`, and `b [D_out]` (named `<name>.b`), initialized to zeros.
 * - Input `X [N, D_in]`, output `Y [N, D_out]`.
 * - Backward: `dW = Xᵀ·dY`, `db = Σ_rows dY`, `dX = dY·Wᵀ`.
 *
 * @example
 * ```ts
 * import { createTsBackend, Linear, Rng } from "@nn/core";
 * const backend = createTsBackend();
 * const fc1 = new Linear(backend, 784, 512, { initStd: 0.01, rng: new Rng(1), name: "fc1" });
 * const y = fc1.forward(backend.zeros([100, 784]), true); // y.shape is [100, 512]
 * ```
 */
export class Linear implements Layer {
  readonly name: string;
  /** Weight `W [D_in, D_out]` and its gradient. */
  readonly W: Param;
  /** Bias `b [D_out]` and its gradient. */
  readonly b: Param;

  readonly #backend: Backend;
  /** Prefix of error messages, e.g. `Linear(784, 512) fc1`. */
  readonly #label: string;
  #cache: LinearCache | null = null;
  /** Output `Y [N, D_out]`, reused while N stays the same. */
  #y: Tensor | null = null;
  /** Input gradient `dX [N, D_in]`, reused while N stays the same. */
  #dX: Tensor | null = null;

  /**
   * @throws {RangeError} when a feature count is not a positive integer or `initStd` is negative
   *   or not finite
   */
  constructor(
    backend: Backend,
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions,
  ) {
    this.name = options.name ?? "linear";
    this.#label = `Linear(${inFeatures}, ${outFeatures}) ${this.name}`;
    for (
      const [what, value] of [["inFeatures", inFeatures], ["outFeatures", outFeatures]] as const
    ) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new RangeError(`${this.#label}: ${what} must be a positive integer, got ${value}`);
      }
    }
    if (!Number.isFinite(options.initStd) || options.initStd < 0) {
      throw new RangeError(
        `${this.#label}: initStd must be a finite number >= 0, got ${options.initStd}`,
      );
    }

    this.#backend = backend;
    const W = backend.zeros([inFeatures, outFeatures]);
    options.rng.fillNormal(W.data, options.initStd);
    this.W = new Param(`${this.name}.W`, W, backend.zeros([inFeatures, outFeatures]));
    this.b = new Param(
      `${this.name}.b`,
      backend.zeros([outFeatures]),
      backend.zeros([outFeatures]),
    );
  }

  /**
   * Return `Y = X·W + b [N, D_out]` for `x [N, D_in]`. The `training` flag has no effect.
   *
   * @throws {TypeError} when `x` is not `[N, D_in]`
   */
  forward(x: Tensor, _training: boolean): Tensor {
    assertShape(this.#label, "forward x", x, [null, this.inFeatures]);
    const n = x.shape[0];
    const y = this.#y = reuseOrAllocate(this.#backend, this.#y, [n, this.outFeatures]);

    this.#backend.matmul(x, this.W.value, y);
    this.#backend.addRowVector(y, this.b.value);

    this.#cache = { x };
    return y;
  }

  /**
   * Set `W.grad = Xᵀ·dY` and `b.grad = Σ_rows dY`, and return `dX = dY·Wᵀ [N, D_in]`, or `null`
   * without computing it when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` is not `[N, D_out]` for the N of the last forward pass
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { x } = this.#cache;
    const n = x.shape[0];
    assertShape(this.#label, "backward dY", dY, [n, this.outFeatures]);

    // Y = X·W + b, so ∂L/∂W = Xᵀ·dY and ∂L/∂b sums dY over the batch.
    this.#backend.matmul(x, dY, this.W.grad, { transA: true });
    this.#backend.sumRows(dY, this.b.grad);
    if (!needInputGrad) return null;

    // ∂L/∂X = dY·Wᵀ.
    const dX = this.#dX = reuseOrAllocate(this.#backend, this.#dX, [n, this.inFeatures]);
    this.#backend.matmul(dY, this.W.value, dX, { transB: true });
    return dX;
  }

  /** Return `[W, b]`. */
  params(): Param[] {
    return [this.W, this.b];
  }
}
