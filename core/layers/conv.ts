/**
 * The 2-D convolution layer, computed as im2col plus one matrix product.
 *
 * Shape legend: N batch, C input channels, O output channels, H/W input height and width,
 * Ho/Wo output height and width, K kernel size.
 *
 * @module
 */

import type { Backend, ConvGeometry } from "../backend/backend.ts";
import { convOutputSize } from "../backend/checks.ts";
import { type Layer, Param } from "../layer.ts";
import type { Rng } from "../random.ts";
import { assertShape, formatShape, type Tensor } from "../tensor.ts";
import { reuseOrAllocate } from "./_buffers.ts";

/** Options of {@linkcode Conv2D}. */
export interface Conv2DOptions {
  /** Standard deviation (`>= 0`) of the normal distribution that initializes `W`. */
  initStd: number;
  /** Generator that draws the initial `W`. */
  rng: Rng;
  /** Zeros added on every side of each input plane, default 0. */
  pad?: number;
  /** Step between two windows, default 1. */
  stride?: number;
  /** Layer name and prefix of its parameter names, default `conv`. */
  name?: string;
}

/** Tensors that {@linkcode Conv2D.forward} saves for the backward pass. */
interface Conv2DCache {
  /** Shape of the input `x [N, C, H, W]`, which is all that backward needs of it. */
  xShape: readonly number[];
  /** The unfolded input `cols [C·K·K, N·Ho·Wo]`, a buffer of the layer. */
  cols: Tensor;
  ho: number;
  wo: number;
}

/**
 * 2-D convolution (cross-correlation, as in the course and PyTorch), the course's `Conv2D`:
 *
 * `y[n, o, oy, ox] = b[o] + Σ_{c, ky, kx} W[o, c, ky, kx] · x[n, c, oy·stride + ky − pad, ox·stride + kx − pad]`,
 * where pixels outside the input are zeros.
 *
 * - Parameters: `W [O, C, K, K]` (named `<name>.W`), drawn from a normal distribution with mean 0
 *   and standard deviation `initStd`, and `b [O]` (named `<name>.b`), initialized to zeros.
 * - Input `x [N, C, H, W]`, output `y [N, O, Ho, Wo]` with `Ho = ⌊(H + 2·pad − K) / stride⌋ + 1`
 *   and the same for `Wo`.
 * - Forward: `cols = im2col(x) [C·K·K, N·Ho·Wo]`, `Y = W·cols [O, N·Ho·Wo]`, which is
 *   `[O, N, Ho, Wo]` and becomes `[N, O, Ho, Wo]` by swapping the first two axes; then `+ b`.
 * - Backward, with `dYᵀ` the upstream gradient as `[O, N·Ho·Wo]`: `dW = dYᵀ·colsᵀ`,
 *   `db = Σ_{n, oy, ox} dY`, `dX = col2im(Wᵀ·dYᵀ)`.
 *
 * @example
 * ```ts
 * import { Conv2D, createTsBackend, Rng } from "@nn/core";
 * const backend = createTsBackend();
 * const conv1 = new Conv2D(backend, 1, 4, 3, { pad: 1, initStd: 0.1, rng: new Rng(1), name: "conv1" });
 * const y = conv1.forward(backend.zeros([2, 1, 28, 28]), true); // y.shape is [2, 4, 28, 28]
 * ```
 */
export class Conv2D implements Layer {
  readonly name: string;
  /** Weight `W [O, C, K, K]` and its gradient. */
  readonly W: Param;
  /** Bias `b [O]` and its gradient. */
  readonly b: Param;
  /** Kernel size, padding and stride. */
  readonly geometry: Readonly<ConvGeometry>;

  readonly #backend: Backend;
  /** Prefix of error messages, e.g. `Conv2D(1, 4, 3) conv1`. */
  readonly #label: string;
  #cache: Conv2DCache | null = null;
  /** `cols [C·K·K, N·Ho·Wo]`, reused while the input shape stays the same. */
  #cols: Tensor | null = null;
  /** The product `W·cols` as `[O, N, Ho, Wo]`. */
  #product: Tensor | null = null;
  /** Output `y [N, O, Ho, Wo]`. */
  #y: Tensor | null = null;
  /** Upstream gradient with its first two axes swapped, `[O, N, Ho, Wo]`. */
  #dYSwapped: Tensor | null = null;
  /** Gradient of `cols`, `[C·K·K, N·Ho·Wo]`. */
  #dCols: Tensor | null = null;
  /** Input gradient `dX [N, C, H, W]`. */
  #dX: Tensor | null = null;

  /**
   * @throws {RangeError} when a channel count or `kernelSize` is not a positive integer, `pad` is
   *   not an integer >= 0, `stride` is not a positive integer, or `initStd` is negative or not
   *   finite
   */
  constructor(
    backend: Backend,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2DOptions,
  ) {
    const { pad = 0, stride = 1 } = options;
    this.name = options.name ?? "conv";
    this.#label = `Conv2D(${inChannels}, ${outChannels}, ${kernelSize}) ${this.name}`;
    for (
      const [what, value, min] of [
        ["inChannels", inChannels, 1],
        ["outChannels", outChannels, 1],
        ["kernelSize", kernelSize, 1],
        ["pad", pad, 0],
        ["stride", stride, 1],
      ] as const
    ) {
      if (!Number.isInteger(value) || value < min) {
        throw new RangeError(`${this.#label}: ${what} must be an integer >= ${min}, got ${value}`);
      }
    }
    if (!Number.isFinite(options.initStd) || options.initStd < 0) {
      throw new RangeError(
        `${this.#label}: initStd must be a finite number >= 0, got ${options.initStd}`,
      );
    }

    this.#backend = backend;
    this.geometry = Object.freeze({ kernelSize, pad, stride });
    const shape = [outChannels, inChannels, kernelSize, kernelSize];
    const W = backend.zeros(shape);
    options.rng.fillNormal(W.data, options.initStd);
    this.W = new Param(`${this.name}.W`, W, backend.zeros(shape));
    this.b = new Param(
      `${this.name}.b`,
      backend.zeros([outChannels]),
      backend.zeros([outChannels]),
    );
  }

  /**
   * Return `y [N, O, Ho, Wo]` for `x [N, C, H, W]`. The `training` flag has no effect.
   *
   * @throws {TypeError} when `x` is not `[N, C, H, W]` with this layer's C, or the kernel is
   *   larger than the padded input
   */
  forward(x: Tensor, _training: boolean): Tensor {
    assertShape(this.#label, "forward x", x, [null, this.inChannels, null, null]);
    const [n, , h, w] = x.shape;
    const [ho, wo] = convOutputSize(
      h,
      w,
      this.geometry,
      `${this.#label} forward x ${formatShape(x.shape)}`,
    );
    const o = this.outChannels;
    const rows = this.inChannels * this.kernelSize * this.kernelSize;
    const backend = this.#backend;

    // Unfold every window of x into one column of cols.
    const cols = this.#cols = reuseOrAllocate(backend, this.#cols, [rows, n * ho * wo]);
    backend.im2col(x, cols, this.geometry);

    // W [O, C·K·K] · cols gives every output at once, ordered [O, N, Ho, Wo].
    const product = this.#product = reuseOrAllocate(backend, this.#product, [o, n, ho, wo]);
    backend.matmul(this.W.value.reshape([o, rows]), cols, product.reshape([o, n * ho * wo]));

    // Reorder to [N, O, Ho, Wo] and add each channel's bias.
    const y = this.#y = reuseOrAllocate(backend, this.#y, [n, o, ho, wo]);
    backend.swapAxes01(product, y);
    backend.addChannelBias(y, this.b.value);

    this.#cache = { xShape: x.shape, cols, ho, wo };
    return y;
  }

  /**
   * Set `W.grad` and `b.grad`, and return `dX [N, C, H, W]`, or `null` without computing it when
   * `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` is not shaped like the last output
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { xShape, cols, ho, wo } = this.#cache;
    const n = xShape[0], o = this.outChannels;
    const rows = this.inChannels * this.kernelSize * this.kernelSize;
    assertShape(this.#label, "backward dY", dY, [n, o, ho, wo]);
    const backend = this.#backend;

    // Y [O, N·Ho·Wo] = W·cols, so take dY in that order: swap its first two axes.
    const dYSwapped = this.#dYSwapped = reuseOrAllocate(backend, this.#dYSwapped, [o, n, ho, wo]);
    backend.swapAxes01(dY, dYSwapped);
    const dYRows = dYSwapped.reshape([o, n * ho * wo]);

    // ∂L/∂W = dY·colsᵀ, and ∂L/∂b sums dY over the batch and every position.
    backend.matmul(dYRows, cols, this.W.grad.reshape([o, rows]), { transB: true });
    backend.sumChannels(dY, this.b.grad);
    if (!needInputGrad) return null;

    // ∂L/∂cols = Wᵀ·dY, folded back onto the pixels that each column came from.
    const dCols = this.#dCols = reuseOrAllocate(backend, this.#dCols, [rows, n * ho * wo]);
    backend.matmul(this.W.value.reshape([o, rows]), dYRows, dCols, { transA: true });
    const dX = this.#dX = reuseOrAllocate(backend, this.#dX, xShape);
    backend.col2im(dCols, dX, this.geometry);
    return dX;
  }

  /** Return `[W, b]`. */
  params(): Param[] {
    return [this.W, this.b];
  }
}
