/**
 * Pooling layers over `[N, C, H, W]` tensors. They have no parameters.
 *
 * Shape legend: N batch, C channels, H/W input height and width, Ho/Wo output height and width,
 * K window size.
 *
 * @module
 */

import type { AvgPoolGeometry, Backend, MaxPoolGeometry } from "../backend/backend.ts";
import { avgPoolOutputSize, maxPoolOutputSize } from "../backend/checks.ts";
import type { Layer, Param } from "../layer.ts";
import { assertShape, formatShape, type Tensor } from "../tensor.ts";
import { reuseOrAllocate } from "./_buffers.ts";

/** Options of {@linkcode AvgPool2D}. */
export interface AvgPool2DOptions {
  /** Zeros added on every side of each input plane, from 0 to `kernelSize − 1`, default 0. */
  pad?: number;
  /** Layer name, default `avgpool`. */
  name?: string;
}

/** Shapes that {@linkcode AvgPool2D.forward} saves for the backward pass. */
interface AvgPool2DCache {
  /** Shape of the input `x [N, C, H, W]`. */
  xShape: readonly number[];
  /** Shape of the output `y [N, C, Ho, Wo]`. */
  yShape: readonly number[];
}

/**
 * Average pooling over non-overlapping K×K windows, the course's `AvgPool2D`:
 * `y[n, c, oy, ox] = (1 / K²) Σ_{ky, kx} x[n, c, oy·K + ky − pad, ox·K + kx − pad]`.
 *
 * - Input `x [N, C, H, W]`, output `y [N, C, ⌊(H + 2·pad) / K⌋, ⌊(W + 2·pad) / K⌋]`.
 * - NOTE: padded zeros count in the average (the divisor is always K²), as in the course
 *   framework and PyTorch's default `count_include_pad=True`.
 * - Backward: each input pixel receives `dY / K²` of the window that contains it, and pixels that
 *   no window covers (when `H + 2·pad` is not a multiple of K) receive 0.
 */
export class AvgPool2D implements Layer {
  readonly name: string;
  /** Window size and padding. */
  readonly geometry: Readonly<AvgPoolGeometry>;
  readonly #backend: Backend;
  /** Prefix of error messages, e.g. `AvgPool2D(2) pool1`. */
  readonly #label: string;
  #cache: AvgPool2DCache | null = null;
  /** Output, reused while the input shape stays the same. */
  #y: Tensor | null = null;
  /** Input gradient, reused while the input shape stays the same. */
  #dX: Tensor | null = null;

  /**
   * @throws {RangeError} when `kernelSize` is not a positive integer, or `pad` is not an integer
   *   from 0 to `kernelSize − 1`
   */
  constructor(backend: Backend, readonly kernelSize: number, options: AvgPool2DOptions = {}) {
    const { pad = 0 } = options;
    this.name = options.name ?? "avgpool";
    this.#label = `AvgPool2D(${kernelSize}) ${this.name}`;
    if (!Number.isInteger(kernelSize) || kernelSize < 1) {
      throw new RangeError(`${this.#label}: kernelSize must be an integer >= 1, got ${kernelSize}`);
    }
    if (!Number.isInteger(pad) || pad < 0 || pad >= kernelSize) {
      throw new RangeError(
        `${this.#label}: pad must be an integer from 0 to ${kernelSize - 1}, got ${pad}`,
      );
    }
    this.#backend = backend;
    this.geometry = Object.freeze({ kernelSize, pad });
  }

  /**
   * Return the window averages `y [N, C, Ho, Wo]` of `x [N, C, H, W]`.
   *
   * @throws {TypeError} when `x` is not 4-D or is smaller than one window after padding
   */
  forward(x: Tensor, _training: boolean): Tensor {
    assertShape(this.#label, "forward x", x, [null, null, null, null]);
    const [n, c, h, w] = x.shape;
    const [ho, wo] = avgPoolOutputSize(
      h,
      w,
      this.geometry,
      `${this.#label} forward x ${formatShape(x.shape)}`,
    );
    const y = this.#y = reuseOrAllocate(this.#backend, this.#y, [n, c, ho, wo]);
    this.#backend.avgPool(x, y, this.geometry);
    this.#cache = { xShape: x.shape, yShape: y.shape };
    return y;
  }

  /**
   * Return `dX [N, C, H, W]`, or `null` when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` is not shaped like the last output
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { xShape, yShape } = this.#cache;
    assertShape(this.#label, "backward dY", dY, yShape);
    if (!needInputGrad) return null;
    const dX = this.#dX = reuseOrAllocate(this.#backend, this.#dX, xShape);
    this.#backend.avgPoolBackward(dY, dX, this.geometry);
    return dX;
  }

  /** Return `[]`: the layer has no parameters. */
  params(): Param[] {
    return [];
  }
}

/** Options of {@linkcode MaxPool2D}. */
export interface MaxPool2DOptions {
  /** Step between two windows, default `kernelSize` (non-overlapping windows). */
  stride?: number;
  /** Layer name, default `maxpool`. */
  name?: string;
}

/** Input shape and maxima positions that {@linkcode MaxPool2D.forward} saves for backward. */
interface MaxPool2DCache {
  /** Shape of the input `x [N, C, H, W]`. */
  xShape: readonly number[];
  /** Position `iy·W + ix` of each maximum in its input plane, `[N, C, Ho, Wo]`. */
  argmax: Tensor;
}

/**
 * Max pooling over K×K windows with a stride and no padding:
 * `y[n, c, oy, ox] = max_{ky, kx} x[n, c, oy·stride + ky, ox·stride + kx]`.
 *
 * - Input `x [N, C, H, W]`, output `y [N, C, ⌊(H − K) / stride⌋ + 1, ⌊(W − K) / stride⌋ + 1]`.
 * - Forward saves the position of each maximum. A tie goes to the first position in row-major
 *   order.
 * - Backward: each `dY` element goes to the input pixel that was its window's maximum, and all
 *   other pixels get 0. When windows overlap (`stride < K`), a pixel that is the maximum of
 *   several windows gets the sum of their gradients.
 */
export class MaxPool2D implements Layer {
  readonly name: string;
  /** Window size and stride. */
  readonly geometry: Readonly<MaxPoolGeometry>;
  readonly #backend: Backend;
  /** Prefix of error messages, e.g. `MaxPool2D(2) pool1`. */
  readonly #label: string;
  #cache: MaxPool2DCache | null = null;
  /** Output, reused while the input shape stays the same. */
  #y: Tensor | null = null;
  /** Positions of the maxima, reused while the input shape stays the same. */
  #argmax: Tensor | null = null;
  /** Input gradient, reused while the input shape stays the same. */
  #dX: Tensor | null = null;

  /** @throws {RangeError} when `kernelSize` or `stride` is not a positive integer */
  constructor(backend: Backend, readonly kernelSize: number, options: MaxPool2DOptions = {}) {
    const { stride = kernelSize } = options;
    this.name = options.name ?? "maxpool";
    this.#label = `MaxPool2D(${kernelSize}) ${this.name}`;
    for (const [what, value] of [["kernelSize", kernelSize], ["stride", stride]] as const) {
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`${this.#label}: ${what} must be an integer >= 1, got ${value}`);
      }
    }
    this.#backend = backend;
    this.geometry = Object.freeze({ kernelSize, stride });
  }

  /**
   * Return the window maxima `y [N, C, Ho, Wo]` of `x [N, C, H, W]`.
   *
   * @throws {TypeError} when `x` is not 4-D or is smaller than one window
   */
  forward(x: Tensor, _training: boolean): Tensor {
    assertShape(this.#label, "forward x", x, [null, null, null, null]);
    const [n, c, h, w] = x.shape;
    const [ho, wo] = maxPoolOutputSize(
      h,
      w,
      this.geometry,
      `${this.#label} forward x ${formatShape(x.shape)}`,
    );
    const y = this.#y = reuseOrAllocate(this.#backend, this.#y, [n, c, ho, wo]);
    const argmax = this.#argmax = reuseOrAllocate(this.#backend, this.#argmax, [n, c, ho, wo]);
    this.#backend.maxPool(x, y, argmax, this.geometry);
    this.#cache = { xShape: x.shape, argmax };
    return y;
  }

  /**
   * Return `dX [N, C, H, W]`, or `null` when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` is not shaped like the last output
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { xShape, argmax } = this.#cache;
    assertShape(this.#label, "backward dY", dY, argmax.shape);
    if (!needInputGrad) return null;
    const dX = this.#dX = reuseOrAllocate(this.#backend, this.#dX, xShape);
    this.#backend.maxPoolBackward(dY, argmax, dX);
    return dX;
  }

  /** Return `[]`: the layer has no parameters. */
  params(): Param[] {
    return [];
  }
}
