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
   * Momentum SGD with weight decay, in the course framework's form, in place on `w` and `v`:
   * `v = momentum·v + (g + weightDecay·w)`, then `w = w − lr·v`.
   */
  sgdMomentum(w: Tensor, g: Tensor, v: Tensor, options: SgdOptions): void;
}
