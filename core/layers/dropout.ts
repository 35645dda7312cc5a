/**
 * The inverted dropout layer.
 *
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import type { Layer, Param } from "../layer.ts";
import type { Rng } from "../random.ts";
import { sameShape, type Tensor } from "../tensor.ts";
import { reuseOrAllocate } from "./_buffers.ts";

/** Options of {@linkcode Dropout}. */
export interface DropoutOptions {
  /** Generator of the masks. A run that shares it with the shuffle stays reproducible. */
  rng: Rng;
  /** Layer name, default `dropout`. */
  name?: string;
}

/** Values that {@linkcode Dropout.forward} saves for the backward pass. */
interface DropoutCache {
  /** Shape of the last input and output. */
  shape: readonly number[];
  /** Whether the last forward pass applied a mask. Without one, it passed its input through. */
  masked: boolean;
}

/**
 * Inverted dropout: in training, each element is set to 0 with probability `rate` and the
 * survivors are multiplied by `1 / (1 − rate)`, so that the expected output equals the input and
 * evaluation passes the input through unchanged.
 *
 * NOTE: `rate` is the probability of dropping a unit, as in PyTorch's `p`. TensorFlow 1.x's
 * `keep_prob`, which the 2018 course used, is `1 − rate`.
 *
 * - Input and output have the same shape, any rank. No parameters.
 * - Training: element `i` is dropped when the i-th draw `rng.nextUint32()` of this call is below
 *   `rate · 2^32`, which is `rng.uniform() < rate`, so the mask depends only on the generator's
 *   state. With `rate = 0` nothing is dropped and no number is drawn.
 * - Evaluation (`training = false`): `y = x`, returned as the same tensor, and backward returns
 *   `dY` itself.
 * - Backward after a training pass: `dX = dY / (1 − rate)` where the forward pass kept the
 *   element and 0 where it dropped it, with the mask that pass saved.
 *
 * @example
 * ```ts
 * import { createTsBackend, Dropout, Rng } from "@nn/core";
 * const backend = createTsBackend();
 * const drop = new Dropout(backend, 0.5, { rng: new Rng(1), name: "drop1" });
 * const x = backend.zeros([4, 8]);
 * x.data.fill(1);
 * drop.forward(x, true); // about half the elements 0, the others 2
 * drop.forward(x, false); // x itself
 * ```
 */
export class Dropout implements Layer {
  readonly name: string;
  /** Probability of dropping each element, in `[0, 1)`. */
  readonly rate: number;

  readonly #backend: Backend;
  readonly #rng: Rng;
  /**
   * `1 / (1 − rate)` rounded to float32, the factor of kept elements. The mask stores it in
   * float32, so forward multiplies by the same value that backward reads.
   */
  readonly #scale: number;
  /** Prefix of error messages, e.g. `Dropout(0.5) drop1`. */
  readonly #label: string;
  #cache: DropoutCache | null = null;
  /** Factor of each element in the last training pass: `1 / (1 − rate)` if kept, else 0. */
  #mask: Float32Array = new Float32Array(0);
  /** The random draws of the last training pass, one per element. */
  #draws: Uint32Array = new Uint32Array(0);
  /** Output, reused while the input shape stays the same. */
  #y: Tensor | null = null;
  /** Input gradient, reused while the input shape stays the same. */
  #dX: Tensor | null = null;

  /** @throws {RangeError} when `rate` is not in `[0, 1)` */
  constructor(backend: Backend, rate: number, options: DropoutOptions) {
    this.name = options.name ?? "dropout";
    this.#label = `Dropout(${rate}) ${this.name}`;
    if (!(rate >= 0 && rate < 1)) {
      throw new RangeError(
        `${this.#label}: rate (the probability of dropping a unit) must be in [0, 1), got ${rate}`,
      );
    }
    this.rate = rate;
    this.#backend = backend;
    this.#rng = options.rng;
    this.#scale = Math.fround(1 / (1 - rate));
  }

  /** Return `x` with a fresh random set of elements dropped in training, else `x` itself. */
  forward(x: Tensor, training: boolean): Tensor {
    const masked = training && this.rate > 0;
    this.#cache = { shape: x.shape, masked };
    if (!masked) return x;

    if (this.#mask.length !== x.size) {
      this.#mask = new Float32Array(x.size);
      this.#draws = new Uint32Array(x.size);
    }
    const mask = this.#mask, draws = this.#rng.fillUint32(this.#draws);
    const y = this.#y = reuseOrAllocate(this.#backend, this.#y, x.shape);
    // uniform() < rate is nextUint32() / 2^32 < rate, because the division is exact.
    const threshold = this.rate * 4294967296;
    const scale = this.#scale;
    const xData = x.data, yData = y.data;
    for (let i = 0; i < mask.length; i++) {
      const factor = draws[i] < threshold ? 0 : scale;
      mask[i] = factor;
      yData[i] = xData[i] * factor;
    }
    return y;
  }

  /**
   * Return `dY / (1 − rate)` on the elements that the last training pass kept and 0 on the
   * others, `dY` itself after an evaluation pass, or `null` when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` differs in shape from the last output
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { shape, masked } = this.#cache;
    if (!sameShape(dY.shape, shape)) {
      throw new TypeError(
        `${this.#label}: backward dY has shape [${dY.shape}], expected [${shape}] like the output`,
      );
    }
    if (!needInputGrad) return null;
    if (!masked) return dY;

    const dX = this.#dX = reuseOrAllocate(this.#backend, this.#dX, shape);
    const mask = this.#mask, dYData = dY.data, dXData = dX.data;
    for (let i = 0; i < mask.length; i++) dXData[i] = dYData[i] * mask[i];
    return dX;
  }

  /** Return `[]`: the layer has no parameters. */
  params(): Param[] {
    return [];
  }
}
