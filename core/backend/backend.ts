/**
 * The interface every compute backend implements.
 *
 * Kernels write into an output tensor that the caller allocated (usually with
 * {@linkcode Backend.zeros}, so the storage lives where the backend reads it fastest). Every method
 * checks shapes once at its boundary and throws a `TypeError` that names the op and both shapes.
 * Outputs may not alias inputs unless a method says so.
 *
 * @module
 */

import type { Tensor } from "../tensor.ts";

/** Transpose flags of {@linkcode Backend.matmul}. */
export interface MatmulOptions {
  /** Use `aᵀ` in place of `a`. */
  transA?: boolean;
  /** Use `bᵀ` in place of `b`. */
  transB?: boolean;
  /** Add the product to `out` instead of overwriting it. */
  accumulate?: boolean;
}

/** Hyperparameters of {@linkcode Backend.sgdMomentum}. */
export interface SgdOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
}

/**
 * Geometry of a convolution window, for {@linkcode Backend.im2col} and {@linkcode Backend.col2im}.
 *
 * An input `[N, C, H, W]` gives output positions `Ho = ⌊(H + 2·pad − K) / stride⌋ + 1` by
 * `Wo = ⌊(W + 2·pad − K) / stride⌋ + 1`.
 */
export interface ConvGeometry {
  /** Window height and width K. */
  kernelSize: number;
  /** Zeros added on every side of each input plane. */
  pad: number;
  /** Step between two windows, in input pixels. */
  stride: number;
}

/** Geometry of non-overlapping average pooling, for {@linkcode Backend.avgPool}. */
export interface AvgPoolGeometry {
  /** Window height and width K, which is also the stride. */
  kernelSize: number;
  /** Zeros added on every side of each input plane; they count in the average. */
  pad: number;
}

/** Geometry of max pooling without padding, for {@linkcode Backend.maxPool}. */
export interface MaxPoolGeometry {
  /** Window height and width K. */
  kernelSize: number;
  /** Step between two windows, in input pixels. */
  stride: number;
}

/** Names of the available backends. */
export type BackendName = "ts" | "wasm" | "blas";

/** A set of kernels over float32 tensors. */
export interface Backend {
  /** Short name, as accepted by `--backend`. */
  readonly name: BackendName;
  /** One line for the config block: name, instruction set, threads. */
  readonly description: string;

  /** Allocate a zero-filled tensor in this backend's preferred storage. */
  zeros(shape: readonly number[]): Tensor;

  /**
   * Matrix product `out = op(a) · op(b)` (or `out += …` with `accumulate`).
   *
   * `op(a)` is `[M, K]`, `op(b)` is `[K, N]`, `out` is `[M, N]`; `op` transposes when the flag is
   * set. The three products of a Linear layer are `X·W`, `Xᵀ·dY` (transA) and `dY·Wᵀ` (transB).
   */
  matmul(a: Tensor, b: Tensor, out: Tensor, options?: MatmulOptions): void;

  /** Add the row vector `b [D]` to every row of `x [N, D]`, in place. */
  addRowVector(x: Tensor, b: Tensor): void;

  /** Column sums: `out[j] = Σᵢ x[i, j]` for `x [N, D]` and `out [D]`. */
  sumRows(x: Tensor, out: Tensor): void;

  /** `y = max(x, 0)`, element-wise; `y` may alias `x`. */
  relu(x: Tensor, y: Tensor): void;

  /** `dX = dY ⊙ [y > 0]`, from the forward output `y`; `dX` may alias `dY`. */
  reluBackward(y: Tensor, dY: Tensor, dX: Tensor): void;

  /** `y = 1 / (1 + exp(−x))`, element-wise; `y` may alias `x`. */
  sigmoid(x: Tensor, y: Tensor): void;

  /** `dX = dY ⊙ y ⊙ (1 − y)`, from the forward output `y`; `dX` may alias `dY`. */
  sigmoidBackward(y: Tensor, dY: Tensor, dX: Tensor): void;

  /** Row-wise softmax of `x [N, D]` into `y [N, D]`, stable for large logits; `y` may alias `x`. */
  softmax(x: Tensor, y: Tensor): void;

  /**
   * The element-wise half of one step of TensorFlow 1.x's LSTM cell, for K rows of H units,
   * once the pre-activations `z [K, 4H]` (gates i, j, f, o, H columns each) are complete:
   *
   * ```
   * z ← σ(i), tanh(j), σ(f + forgetBias), σ(o)      (in place)
   * c = cPrev ⊙ σ(f + forgetBias) + σ(i) ⊙ tanh(j)
   * tanhC = tanh(c)
   * h = tanhC ⊙ σ(o)
   * ```
   *
   * `cPrev`, `c`, `tanhC` and `h` are `[K, H]`; no two of the five tensors may overlap. The
   * matrix products stay with the caller, so a fused step costs one call instead of ten
   * element-wise passes.
   */
  lstmCell(z: Tensor, cPrev: Tensor, c: Tensor, tanhC: Tensor, h: Tensor, forgetBias: number): void;

  /**
   * The element-wise half of one backward step of {@linkcode Backend.lstmCell}, for K rows of H
   * units. `gates [K, 4H]` contains the activations that `lstmCell` left in `z`: σ(i), tanh(j),
   * σ(f + forgetBias), σ(o). `cPrev [K, H]` is the previous memory and `tanhC [K, H]` is tanh(c).
   * `dh [K, H]` is the gradient of the loss with respect to h, and `dc [K, H]` the gradient with
   * respect to c from the step after. With g the gate activations:
   *
   * ```
   * dc' = dc + dh ⊙ g_o ⊙ (1 − tanhC²)
   * dZ  = [dc' ⊙ g_j ⊙ g_i(1 − g_i),  dc' ⊙ g_i ⊙ (1 − g_j²),
   *        dc' ⊙ cPrev ⊙ g_f(1 − g_f), dh ⊙ tanhC ⊙ g_o(1 − g_o)]
   * dc  ← dc' ⊙ g_f                    (in place: the gradient with respect to cPrev)
   * ```
   *
   * `dZ [K, 4H]` is the gradient with respect to the pre-activations, in the gate order of `z`.
   * No two of the six tensors may overlap.
   */
  lstmCellBackward(
    gates: Tensor,
    cPrev: Tensor,
    tanhC: Tensor,
    dh: Tensor,
    dc: Tensor,
    dZ: Tensor,
  ): void;

  // -------------------------------------------------------------------------------------------
  // Convolution and pooling over [N, C, H, W] tensors

  /**
   * Unfold the windows of `x [N, C, H, W]` into the columns of `cols [C·K·K, N·Ho·Wo]`.
   *
   * `cols[(c·K + ky)·K + kx, (n·Ho + oy)·Wo + ox] = x[n, c, oy·stride + ky − pad, ox·stride + kx − pad]`,
   * or 0 where that position lies in the padding. A convolution with `W [O, C, K, K]` is then the
   * product `W [O, C·K·K] · cols`, which gives the output as `[O, N·Ho·Wo]`.
   */
  im2col(x: Tensor, cols: Tensor, geometry: ConvGeometry): void;

  /**
   * Fold `cols [C·K·K, N·Ho·Wo]` back onto `dX [N, C, H, W]`: the adjoint of `im2col`.
   *
   * Every `dX` element is overwritten with the sum of the `cols` entries that `im2col` copied from
   * it (several when windows overlap, none for pixels no window covers). Entries that came from
   * the padding are dropped.
   */
  col2im(cols: Tensor, dX: Tensor, geometry: ConvGeometry): void;

  /**
   * Swap the first two axes: `y[b, a, …] = x[a, b, …]` for `x [A, B, …]` and `y [B, A, …]`.
   * It turns a convolution's `[O, N, Ho, Wo]` product into `[N, O, Ho, Wo]`, and back.
   */
  swapAxes01(x: Tensor, y: Tensor): void;

  /** Add `b[c]` to every element of channel `c` of `x [N, C, H, W]`, in place. */
  addChannelBias(x: Tensor, b: Tensor): void;

  /** Channel sums: `out[c] = Σ_{n, h, w} x[n, c, h, w]` for `x [N, C, H, W]` and `out [C]`. */
  sumChannels(x: Tensor, out: Tensor): void;

  /**
   * Average pooling over non-overlapping K×K windows (stride K) of `x [N, C, H, W]` padded with
   * `pad` zeros on every side: `y [N, C, ⌊(H + 2·pad) / K⌋, ⌊(W + 2·pad) / K⌋]`.
   *
   * Each output divides its window's sum by K·K, so padded zeros count in the average.
   */
  avgPool(x: Tensor, y: Tensor, geometry: AvgPoolGeometry): void;

  /**
   * Gradient of {@linkcode Backend.avgPool}: every input pixel gets `dY / (K·K)` of its window.
   * `dX [N, C, H, W]` is overwritten, with 0 for pixels that no window covers.
   */
  avgPoolBackward(dY: Tensor, dX: Tensor, geometry: AvgPoolGeometry): void;

  /**
   * Max pooling over K×K windows with `stride` and no padding of `x [N, C, H, W]`:
   * `y [N, C, ⌊(H − K) / stride⌋ + 1, ⌊(W − K) / stride⌋ + 1]`.
   *
   * `argmax`, shaped like `y`, receives the position of each maximum within its input plane,
   * `iy·W + ix`, as a float32 integer. A tie goes to the first position in row-major order.
   */
  maxPool(x: Tensor, y: Tensor, argmax: Tensor, geometry: MaxPoolGeometry): void;

  /**
   * Gradient of {@linkcode Backend.maxPool}: `dX [N, C, H, W]` is overwritten with zeros, then
   * each `dY` element is added at the input position that `argmax` saved.
   */
  maxPoolBackward(dY: Tensor, argmax: Tensor, dX: Tensor): void;

  /**
   * Momentum SGD with weight decay, in the course framework's form, in place on `w` and `v`:
   * `v = momentum·v + (g + weightDecay·w)`, then `w = w − lr·v`.
   */
  sgdMomentum(w: Tensor, g: Tensor, v: Tensor, options: SgdOptions): void;
}
