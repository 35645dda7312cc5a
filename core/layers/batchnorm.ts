/**
 * Batch normalization per feature (`BatchNorm1d`) and per channel (`BatchNorm2d`).
 *
 * Shape legend: N batch, D features, C channels, H/W height and width. Both layers see their
 * input as `[N, C, S]`: `[N, D]` is `C = D, S = 1`, and `[N, C, H, W]` is `S = H·W`. Each channel
 * is normalized over its `M = N·S` values.
 *
 * The statistics and the gradient sums accumulate in float64 in plain TypeScript over
 * `tensor.data`, because the backends have no per-channel reduction with a mean subtracted.
 *
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { type Layer, Param } from "../layer.ts";
import { assertShape, formatShape, type Tensor } from "../tensor.ts";
import { reuseOrAllocate } from "./_buffers.ts";

/** Options of {@linkcode BatchNorm1d} and {@linkcode BatchNorm2d}. */
export interface BatchNormOptions {
  /** Added to the variance before the square root, default `1e-5`. */
  eps?: number;
  /**
   * Weight of the current batch in the running statistics, in `[0, 1]`, default `0.1`:
   * `running = (1 − momentum)·running + momentum·batch`, PyTorch's convention.
   */
  momentum?: number;
  /** Layer name and prefix of its parameter and state names, default `bn`. */
  name?: string;
}

/** Values that a batch-norm forward pass saves for the backward pass. */
interface BatchNormCache {
  /** Shape of the input and output. */
  shape: readonly number[];
  /** Whether the pass normalized with batch statistics (training) or running ones. */
  training: boolean;
  /** The normalized input `x̂ = (x − mean) / √(var + eps)`, same shape, a buffer of the layer. */
  xHat: Tensor;
  /** `1 / √(var + eps)` per channel, with the variance that the pass used. */
  invStd: Float64Array;
}

/**
 * The computation shared by both batch-norm layers, over an input seen as `[N, C, S]`.
 *
 * Training: `y = γ·(x − μ_B)/√(σ²_B + eps) + β` per channel, with the batch mean `μ_B` and the
 * biased batch variance `σ²_B = (1/M) Σ (x − μ_B)²`; then
 * `running_mean = (1 − momentum)·running_mean + momentum·μ_B` and
 * `running_var = (1 − momentum)·running_var + momentum·σ²_B·M/(M − 1)`.
 *
 * Evaluation: the same affine map with `running_mean` and `running_var` in place of the batch
 * statistics, which stay unchanged.
 *
 * NOTE: the output normalizes with the biased batch variance, but the running variance tracks
 * the unbiased one (`M/(M − 1)` times larger), as in PyTorch. The two differ by 1% at M = 100.
 */
abstract class BatchNorm implements Layer {
  readonly name: string;
  /** Scale `γ [C]` (named `<name>.gamma`), initialized to ones. */
  readonly gamma: Param;
  /** Shift `β [C]` (named `<name>.beta`), initialized to zeros. */
  readonly beta: Param;
  /** Running mean `[C]`, starting at zeros, which evaluation normalizes with. */
  readonly runningMean: Tensor;
  /** Running unbiased variance `[C]`, starting at ones, which evaluation normalizes with. */
  readonly runningVar: Tensor;
  readonly eps: number;
  readonly momentum: number;

  readonly #backend: Backend;
  /** Prefix of error messages, e.g. `BatchNorm1d(512) bn1`. */
  protected readonly label: string;
  #cache: BatchNormCache | null = null;
  /** `x̂`, reused while the input shape stays the same. */
  #xHat: Tensor | null = null;
  /** Output, reused while the input shape stays the same. */
  #y: Tensor | null = null;
  /** Input gradient, reused while the input shape stays the same. */
  #dX: Tensor | null = null;
  #invStd: Float64Array;

  /**
   * @throws {RangeError} when `channels` is not a positive integer, `eps` is not a positive
   *   finite number, or `momentum` is outside `[0, 1]`
   */
  constructor(
    backend: Backend,
    kind: string,
    readonly channels: number,
    options: BatchNormOptions,
  ) {
    const { eps = 1e-5, momentum = 0.1 } = options;
    this.name = options.name ?? "bn";
    this.label = `${kind}(${channels}) ${this.name}`;
    if (!Number.isInteger(channels) || channels < 1) {
      throw new RangeError(`${this.label}: channels must be a positive integer, got ${channels}`);
    }
    if (!(Number.isFinite(eps) && eps > 0)) {
      throw new RangeError(`${this.label}: eps must be a finite number > 0, got ${eps}`);
    }
    if (!(momentum >= 0 && momentum <= 1)) {
      throw new RangeError(`${this.label}: momentum must be in [0, 1], got ${momentum}`);
    }
    this.eps = eps;
    this.momentum = momentum;
    this.#backend = backend;

    const gamma = backend.zeros([channels]);
    gamma.data.fill(1);
    this.gamma = new Param(`${this.name}.gamma`, gamma, backend.zeros([channels]));
    this.beta = new Param(
      `${this.name}.beta`,
      backend.zeros([channels]),
      backend.zeros([channels]),
    );
    this.runningMean = backend.zeros([channels]);
    this.runningVar = backend.zeros([channels]);
    this.runningVar.data.fill(1);
    this.#invStd = new Float64Array(channels);
  }

  /** Check the input's shape and return its per-channel size S. */
  protected abstract spatialSize(x: Tensor): number;

  /**
   * Return the normalized, scaled and shifted input, same shape as `x`. In training, normalize
   * with the batch statistics and update the running ones; in evaluation, use the running ones.
   *
   * @throws {TypeError} when `x` does not have this layer's shape
   * @throws {RangeError} in training when a channel has fewer than 2 values (`N·S < 2`), because
   *   the unbiased variance needs two
   */
  forward(x: Tensor, training: boolean): Tensor {
    const s = this.spatialSize(x);
    const n = x.shape[0], c = this.channels, m = n * s;
    if (training && m < 2) {
      throw new RangeError(
        `${this.label}: training needs at least 2 values per channel, got input ` +
          `${formatShape(x.shape)}`,
      );
    }
    const xHat = this.#xHat = reuseOrAllocate(this.#backend, this.#xHat, x.shape);
    const y = this.#y = reuseOrAllocate(this.#backend, this.#y, x.shape);
    const invStd = this.#invStd;
    const mean = new Float64Array(c);

    if (training) {
      this.#batchStatistics(x, s, mean, invStd);
    } else {
      for (let ch = 0; ch < c; ch++) {
        mean[ch] = this.runningMean.data[ch];
        invStd[ch] = 1 / Math.sqrt(this.runningVar.data[ch] + this.eps);
      }
    }

    // x̂ = (x − mean)·invStd, then y = γ·x̂ + β.
    const xData = x.data, xHatData = xHat.data, yData = y.data;
    const gamma = this.gamma.value.data, beta = this.beta.value.data;
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * s;
        const mu = mean[ch], scale = invStd[ch], g = gamma[ch], b = beta[ch];
        for (let j = base; j < base + s; j++) {
          const normalized = (xData[j] - mu) * scale;
          xHatData[j] = normalized;
          yData[j] = g * normalized + b;
        }
      }
    }

    this.#cache = { shape: x.shape, training, xHat, invStd };
    return y;
  }

  /**
   * Set `mean` and `invStd = 1 / √(σ²_B + eps)` from the batch `x`, and move the running
   * statistics towards the batch's.
   */
  #batchStatistics(x: Tensor, s: number, mean: Float64Array, invStd: Float64Array): void {
    const n = x.shape[0], c = this.channels, m = n * s;
    const xData = x.data;

    // Mean per channel, summed in float64.
    mean.fill(0);
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * s;
        let sum = 0;
        for (let j = base; j < base + s; j++) sum += xData[j];
        mean[ch] += sum;
      }
    }
    for (let ch = 0; ch < c; ch++) mean[ch] /= m;

    // Biased variance in a second pass, which avoids the cancellation of E[x²] − E[x]².
    const variance = new Float64Array(c);
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * s;
        const mu = mean[ch];
        let sum = 0;
        for (let j = base; j < base + s; j++) {
          const d = xData[j] - mu;
          sum += d * d;
        }
        variance[ch] += sum;
      }
    }

    const runningMean = this.runningMean.data, runningVar = this.runningVar.data;
    const momentum = this.momentum;
    for (let ch = 0; ch < c; ch++) {
      const biased = variance[ch] / m;
      invStd[ch] = 1 / Math.sqrt(biased + this.eps);
      // NOTE: the running variance takes the unbiased estimate, σ²_B·M/(M − 1).
      runningMean[ch] = (1 - momentum) * runningMean[ch] + momentum * mean[ch];
      runningVar[ch] = (1 - momentum) * runningVar[ch] + momentum * biased * m / (m - 1);
    }
  }

  /**
   * Set `gamma.grad = Σ dY·x̂` and `beta.grad = Σ dY` per channel, and return `dX`, or `null`
   * when `needInputGrad` is false.
   *
   * After a training pass, where the mean and variance depend on every `x` of the channel:
   * `dX = (γ·invStd / M)·(M·dY − Σ dY − x̂·Σ dY·x̂)`. After an evaluation pass, where they are
   * constants: `dX = γ·invStd·dY`.
   *
   * @throws {TypeError} when `dY` is not shaped like the last output
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#cache === null) throw new Error(`${this.label}: backward called before forward`);
    const { shape, training, xHat, invStd } = this.#cache;
    assertShape(this.label, "backward dY", dY, shape);
    const n = shape[0], c = this.channels, s = dY.size / (n * c), m = n * s;
    const dYData = dY.data, xHatData = xHat.data;

    // y = γ·x̂ + β, so ∂L/∂β = Σ dY and ∂L/∂γ = Σ dY·x̂, summed in float64.
    const sumDy = new Float64Array(c), sumDyXHat = new Float64Array(c);
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * s;
        let a = 0, b = 0;
        for (let j = base; j < base + s; j++) {
          a += dYData[j];
          b += dYData[j] * xHatData[j];
        }
        sumDy[ch] += a;
        sumDyXHat[ch] += b;
      }
    }
    for (let ch = 0; ch < c; ch++) {
      this.beta.grad.data[ch] = sumDy[ch];
      this.gamma.grad.data[ch] = sumDyXHat[ch];
    }
    if (!needInputGrad) return null;

    // x̂ = (x − μ)·invStd. In training μ and σ² depend on x, which adds the two mean terms:
    // ∂L/∂x = γ·invStd·(dY − mean(dY) − x̂·mean(dY·x̂)).
    const dX = this.#dX = reuseOrAllocate(this.#backend, this.#dX, shape);
    const dXData = dX.data, gamma = this.gamma.value.data;
    for (let i = 0; i < n; i++) {
      for (let ch = 0; ch < c; ch++) {
        const base = (i * c + ch) * s;
        const scale = gamma[ch] * invStd[ch];
        if (training) {
          const meanDy = sumDy[ch] / m, meanDyXHat = sumDyXHat[ch] / m;
          for (let j = base; j < base + s; j++) {
            dXData[j] = scale * (dYData[j] - meanDy - xHatData[j] * meanDyXHat);
          }
        } else {
          for (let j = base; j < base + s; j++) dXData[j] = scale * dYData[j];
        }
      }
    }
    return dX;
  }

  /** Return `[gamma, beta]`. */
  params(): Param[] {
    return [this.gamma, this.beta];
  }

  /**
   * Return the running statistics by name, `<name>.running_mean` and `<name>.running_var`: the
   * tensors themselves, so that a checkpoint can save them or restore into them. They are state,
   * not parameters, so no optimizer updates them.
   */
  state(): Record<string, Tensor> {
    return {
      [`${this.name}.running_mean`]: this.runningMean,
      [`${this.name}.running_var`]: this.runningVar,
    };
  }
}

/**
 * Batch normalization of each feature of `x [N, D]` over the batch, the course's
 * `batch_normalization` after a fully connected layer.
 *
 * - Parameters `gamma [D]` (ones) and `beta [D]` (zeros); state `running_mean [D]` (zeros) and
 *   `running_var [D]` (ones), with `momentum` 0.1 and `eps` 1e-5 by default.
 * - Input and output `[N, D]`. Training needs N >= 2.
 * - Training normalizes with the batch mean and variance and moves the running statistics
 *   towards them. Evaluation normalizes with the running statistics. These are the formulas of
 *   PyTorch's `BatchNorm1d`. NOTE: it normalizes with the biased batch variance but tracks the
 *   unbiased one (`M/(M − 1)` times larger) in `running_var`.
 *
 * @example
 * ```ts
 * import { BatchNorm1d, createTsBackend } from "@nn/core";
 * const backend = createTsBackend();
 * const bn = new BatchNorm1d(backend, 512, { name: "bn1" });
 * const y = bn.forward(backend.zeros([100, 512]), true); // [100, 512]
 * Object.keys(bn.state()); // ["bn1.running_mean", "bn1.running_var"]
 * ```
 */
export class BatchNorm1d extends BatchNorm {
  /** @throws {RangeError} as the options' checks of the shared constructor */
  constructor(backend: Backend, features: number, options: BatchNormOptions = {}) {
    super(backend, "BatchNorm1d", features, options);
  }

  protected spatialSize(x: Tensor): number {
    assertShape(this.label, "forward x", x, [null, this.channels]);
    return 1;
  }
}

/**
 * Batch normalization of each channel of `x [N, C, H, W]` over the batch and every position,
 * for convolutional layers.
 *
 * - Parameters `gamma [C]` (ones) and `beta [C]` (zeros); state `running_mean [C]` (zeros) and
 *   `running_var [C]` (ones), with `momentum` 0.1 and `eps` 1e-5 by default.
 * - Input and output `[N, C, H, W]`. Each channel's statistics cover `M = N·H·W` values.
 * - The formulas are those of {@linkcode BatchNorm1d}, as in PyTorch's `BatchNorm2d`.
 *   NOTE: it normalizes with the biased batch variance but tracks the unbiased one.
 */
export class BatchNorm2d extends BatchNorm {
  /** @throws {RangeError} as the options' checks of the shared constructor */
  constructor(backend: Backend, channels: number, options: BatchNormOptions = {}) {
    super(backend, "BatchNorm2d", channels, options);
  }

  protected spatialSize(x: Tensor): number {
    assertShape(this.label, "forward x", x, [null, this.channels, null, null]);
    return x.shape[2] * x.shape[3];
  }
}
