/**
 * The reshape layer, which connects `[N, C, H, W]` feature maps to `[N, D]` layers.
 *
 * @module
 */

import type { Layer, Param } from "../layer.ts";
import { assertShape, formatShape, shapeSize, type Tensor } from "../tensor.ts";

/** Options of {@linkcode Reshape}. */
export interface ReshapeOptions {
  /** Layer name, default `reshape`. */
  name?: string;
}

/**
 * Give every example of the batch a new shape with the same number of values, the course's
 * `Reshape`: `x [N, …]` becomes `y [N, ...shape]` in row-major order, so `[N, 4, 7, 7]` to `[196]`
 * gives `[N, 196]`. Backward gives `dY` the input's shape.
 *
 * NOTE: the output shares storage with the input (and `dX` with `dY`), because a reshape copies
 * nothing. The output is therefore only valid until the layer before this one runs again.
 */
export class Reshape implements Layer {
  readonly name: string;
  /** Shape of one output example. */
  readonly shape: readonly number[];
  /** Prefix of error messages, e.g. `Reshape([196]) flatten`. */
  readonly #label: string;
  /** Shape of the last input. */
  #xShape: readonly number[] | null = null;

  /** @throws {RangeError} when `shape` is empty or has a dimension that is not a positive integer */
  constructor(shape: readonly number[], options: ReshapeOptions = {}) {
    this.name = options.name ?? "reshape";
    this.#label = `Reshape(${formatShape(shape)}) ${this.name}`;
    if (shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
      throw new RangeError(
        `${this.#label}: shape must be a non-empty list of positive integers, got ${
          formatShape(shape)
        }`,
      );
    }
    this.shape = Object.freeze([...shape]);
  }

  /**
   * Return `x` viewed as `[N, ...shape]`.
   *
   * @throws {TypeError} when an example of `x` does not have `shapeSize(shape)` values
   */
  forward(x: Tensor, _training: boolean): Tensor {
    const n = x.shape[0];
    const perExample = x.shape.length > 0 ? shapeSize(x.shape.slice(1)) : 0;
    if (x.shape.length < 2 || perExample !== shapeSize(this.shape)) {
      throw new TypeError(
        `${this.#label}: forward x has shape ${formatShape(x.shape)} with ${perExample} values ` +
          `per example, expected ${shapeSize(this.shape)}`,
      );
    }
    this.#xShape = x.shape;
    return x.reshape([n, ...this.shape]);
  }

  /**
   * Return `dY` viewed in the shape of the last input, or `null` when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` is not `[N, ...shape]` for the N of the last forward pass
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#xShape === null) throw new Error(`${this.#label}: backward called before forward`);
    assertShape(this.#label, "backward dY", dY, [this.#xShape[0], ...this.shape]);
    return needInputGrad ? dY.reshape(this.#xShape) : null;
  }

  /** Return `[]`: the layer has no parameters. */
  params(): Param[] {
    return [];
  }
}
