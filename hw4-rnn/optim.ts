/**
 * Stochastic gradient descent with global-norm clipping, optional momentum, and sparse updates
 * of embedding rows.
 *
 * @module
 */

import type { Backend, Param, Tensor } from "@nn/core";

/** Hyperparameters of {@linkcode ClippedSgd}. */
export interface ClippedSgdOptions {
  /** Learning rate, >= 0. */
  lr: number;
  /** Momentum in `[0, 1)`; 0 gives plain SGD. */
  momentum: number;
  /** Largest global gradient norm; larger gradients are scaled down to it. 0 turns clipping off. */
  clipNorm: number;
}

/** A parameter whose gradient is nonzero in a few rows only, such as an embedding table. */
export interface SparseParam {
  param: Param;
  /** The rows whose gradient the last backward pass wrote. */
  rows: () => Int32Array;
}

/** Outcome of one {@linkcode ClippedSgd.step}. */
export interface StepInfo {
  /** Global norm of the gradients before clipping. */
  gradNorm: number;
  /** Factor applied to every gradient: 1, or `clipNorm / gradNorm` when clipped. */
  scale: number;
}

/**
 * SGD with global-norm clipping (TensorFlow's `clip_by_global_norm`) and momentum in
 * TensorFlow's `MomentumOptimizer` form:
 *
 * ```
 * g ← g · clipNorm / max(‖g‖, clipNorm)     ‖g‖ over all parameters together
 * v ← momentum · v + g
 * W ← W − lr · v
 * ```
 *
 * Sparse parameters update only the rows of the current batch, velocity included, as
 * TensorFlow's sparse momentum update does: a row's velocity decays only in steps that touch it.
 * Dense gradients are scaled in place; sparse rows are scaled as they are applied.
 */
export class ClippedSgd {
  readonly options: Readonly<ClippedSgdOptions>;
  /** Learning rate of the next steps: `options.lr` until {@linkcode setLearningRate}. */
  #lr: number;
  readonly #backend: Backend;
  readonly #dense: Param[];
  readonly #sparse: SparseParam[];
  /** Velocity of each parameter, by parameter name. */
  readonly #velocities = new Map<string, Tensor>();

  /**
   * @param params every parameter to train; those also listed in `sparse` update sparsely
   * @throws {RangeError} for a negative or non-finite `lr` or `clipNorm`, or `momentum` outside
   *   `[0, 1)`
   */
  constructor(
    backend: Backend,
    params: readonly Param[],
    options: ClippedSgdOptions,
    sparse: readonly SparseParam[] = [],
  ) {
    const { lr, momentum, clipNorm } = options;
    if (!Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`ClippedSgd: lr must be a finite number >= 0, got ${lr}`);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new RangeError(`ClippedSgd: momentum must be in [0, 1), got ${momentum}`);
    }
    if (!Number.isFinite(clipNorm) || clipNorm < 0) {
      throw new RangeError(`ClippedSgd: clipNorm must be a finite number >= 0, got ${clipNorm}`);
    }
    this.options = Object.freeze({ lr, momentum, clipNorm });
    this.#lr = lr;
    this.#backend = backend;
    const sparseParams = new Set(sparse.map((s) => s.param));
    this.#sparse = sparse.filter((s) => params.includes(s.param));
    this.#dense = params.filter((p) => !sparseParams.has(p));
    for (const p of params) this.#velocities.set(p.name, backend.zeros(p.value.shape));
  }

  /** The learning rate of the next steps. */
  get learningRate(): number {
    return this.#lr;
  }

  /**
   * Set the learning rate of the next steps, e.g. for a decay schedule.
   *
   * @throws {RangeError} when `lr` is negative or not finite
   */
  setLearningRate(lr: number): void {
    if (!Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`ClippedSgd: lr must be a finite number >= 0, got ${lr}`);
    }
    this.#lr = lr;
  }

  /** Return each velocity under the name `velocity/<parameter name>`, for checkpoints. */
  state(): Record<string, Tensor> {
    const state: Record<string, Tensor> = {};
    for (const [name, v] of this.#velocities) state[`velocity/${name}`] = v;
    return state;
  }

  /** Clip the gradients to the global norm, then update every parameter. */
  step(): StepInfo {
    // The global norm covers the sparse rows only: the other rows of a sparse gradient are zero.
    let sumSquares = 0;
    for (const p of this.#dense) sumSquares += sumOfSquares(p.grad.data, 0, p.grad.size);
    for (const { param, rows } of this.#sparse) {
      const d = param.value.shape[1];
      for (const row of rows()) sumSquares += sumOfSquares(param.grad.data, row * d, d);
    }
    const gradNorm = Math.sqrt(sumSquares);
    const { momentum, clipNorm } = this.options;
    const lr = this.#lr;
    const scale = clipNorm > 0 && gradNorm > clipNorm ? clipNorm / gradNorm : 1;

    for (const p of this.#dense) {
      if (scale !== 1) {
        const g = p.grad.data;
        for (let i = 0; i < g.length; i++) g[i] *= scale;
      }
      this.#backend.sgdMomentum(p.value, p.grad, this.#velocities.get(p.name)!, {
        lr,
        momentum,
        weightDecay: 0,
      });
    }

    for (const { param, rows } of this.#sparse) {
      const d = param.value.shape[1];
      const w = param.value.data, g = param.grad.data;
      const v = this.#velocities.get(param.name)!.data;
      for (const row of rows()) {
        for (let i = row * d; i < (row + 1) * d; i++) {
          v[i] = momentum * v[i] + scale * g[i];
          w[i] -= lr * v[i];
        }
      }
    }
    return { gradNorm, scale };
  }
}

function sumOfSquares(data: Float32Array, start: number, count: number): number {
  // Four partial sums let the CPU overlap the additions.
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  const end = start + count, end4 = start + (count & ~3);
  let i = start;
  for (; i < end4; i += 4) {
    s0 += data[i] * data[i];
    s1 += data[i + 1] * data[i + 1];
    s2 += data[i + 2] * data[i + 2];
    s3 += data[i + 3] * data[i + 3];
  }
  for (; i < end; i++) s0 += data[i] * data[i];
  return s0 + s1 + s2 + s3;
}
