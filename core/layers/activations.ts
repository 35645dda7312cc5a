/**
 * Element-wise activation layers. They accept a tensor of any shape and have no parameters.
 *
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import type { Layer, Param } from "../layer.ts";
import { sameShape, type Tensor } from "../tensor.ts";
import { reuseOrAllocate } from "./_buffers.ts";

/** Options of {@linkcode Relu} and {@linkcode Sigmoid}. */
export interface ActivationOptions {
  /** Layer name, default `relu` or `sigmoid`. */
  name?: string;
}

/** Tensors that an activation's forward pass saves for its backward pass. */
interface ActivationCache {
  /** The layer's own output `y`, from which the derivative follows. */
  y: Tensor;
}

/**
 * Rectified linear unit `y = max(x, 0)`, element-wise.
 *
 * Input and output have the same shape, any rank. Backward: `dX = dY ⊙ [y > 0]`, so the
 * derivative at exactly 0 is 0.
 */
export class Relu implements Layer {
  readonly name: string;
  readonly #backend: Backend;
  #cache: ActivationCache | null = null;
  /** Output, reused while the input shape stays the same. */
  #y: Tensor | null = null;
  /** Input gradient, reused while the input shape stays the same. */
  #dX: Tensor | null = null;

  constructor(backend: Backend, options: ActivationOptions = {}) {
    this.#backend = backend;
    this.name = options.name ?? "relu";
  }

  /** Return `max(x, 0)`, same shape as `x`. */
  forward(x: Tensor, _training: boolean): Tensor {
    const y = this.#y = reuseOrAllocate(this.#backend, this.#y, x.shape);
    this.#backend.relu(x, y);
    this.#cache = { y };
    return y;
  }

  /**
   * Return `dX = dY ⊙ [y > 0]`, or `null` when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` differs in shape from the last output
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    const { y } = requireCache(`Relu ${this.name}`, this.#cache, dY);
    if (!needInputGrad) return null;
    const dX = this.#dX = reuseOrAllocate(this.#backend, this.#dX, y.shape);
    this.#backend.reluBackward(y, dY, dX);
    return dX;
  }

  /** Return `[]`: the layer has no parameters. */
  params(): Param[] {
    return [];
  }
}

/**
 * Logistic sigmoid `y = 1 / (1 + exp(−x))`, element-wise.
 *
 * Input and output have the same shape, any rank. Backward: `dX = dY ⊙ y ⊙ (1 − y)`, from the
 * saved output.
 */
export class Sigmoid implements Layer {
  readonly name: string;
  readonly #backend: Backend;
  #cache: ActivationCache | null = null;
  /** Output, reused while the input shape stays the same. */
  #y: Tensor | null = null;
  /** Input gradient, reused while the input shape stays the same. */
  #dX: Tensor | null = null;

  constructor(backend: Backend, options: ActivationOptions = {}) {
    this.#backend = backend;
    this.name = options.name ?? "sigmoid";
  }

  /** Return `1 / (1 + exp(−x))`, same shape as `x`. */
  forward(x: Tensor, _training: boolean): Tensor {
    const y = this.#y = reuseOrAllocate(this.#backend, this.#y, x.shape);
    this.#backend.sigmoid(x, y);
    this.#cache = { y };
    return y;
  }

  /**
   * Return `dX = dY ⊙ y ⊙ (1 − y)`, or `null` when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` differs in shape from the last output
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    const { y } = requireCache(`Sigmoid ${this.name}`, this.#cache, dY);
    if (!needInputGrad) return null;
    const dX = this.#dX = reuseOrAllocate(this.#backend, this.#dX, y.shape);
    this.#backend.sigmoidBackward(y, dY, dX);
    return dX;
  }

  /** Return `[]`: the layer has no parameters. */
  params(): Param[] {
    return [];
  }
}

/** Return the cache after checking that forward ran and that `dY` has the output's shape. */
function requireCache(
  label: string,
  cache: ActivationCache | null,
  dY: Tensor,
): ActivationCache {
  if (cache === null) throw new Error(`${label}: backward called before forward`);
  if (!sameShape(dY.shape, cache.y.shape)) {
    throw new TypeError(
      `${label}: backward dY has shape [${dY.shape}], expected [${cache.y.shape}] like the output`,
    );
  }
  return cache;
}
