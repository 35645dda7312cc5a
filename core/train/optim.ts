/**
 * Optimizers: update parameters from the gradients of the last backward pass.
 *
 * @module
 */

import type { Backend, SgdOptions } from "../backend/backend.ts";
import type { Param } from "../layer.ts";
import type { Tensor } from "../tensor.ts";

/** An optimizer as the training loop uses it. */
export interface Optimizer {
  /** Update every parameter from its current `grad`. */
  step(): void;
}

/**
 * Stochastic gradient descent with momentum and weight decay, in the course framework's form:
 *
 * ```
 * v = momentum·v + (grad + weightDecay·W)
 * W = W − lr·v
 * ```
 *
 * NOTE: weight decay applies to every parameter, biases included, as in the course. The velocity
 * `v` of each parameter starts at zero. This `v` accumulates gradients without a `(1 − momentum)`
 * factor, so the effective step size is about `lr / (1 − momentum)`.
 */
export class MomentumSGD implements Optimizer {
  readonly options: Readonly<SgdOptions>;
  readonly #backend: Backend;
  readonly #params: readonly Param[];
  /** Velocity of each parameter, same shapes as the parameters. */
  readonly #velocities: Tensor[];

  /**
   * @throws {RangeError} when `lr` or `weightDecay` is negative or not finite, or `momentum` is
   *   outside `[0, 1)`
   */
  constructor(backend: Backend, params: readonly Param[], options: SgdOptions) {
    const { lr, momentum, weightDecay } = options;
    if (!Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`MomentumSGD: lr must be a finite number >= 0, got ${lr}`);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new RangeError(`MomentumSGD: momentum must be in [0, 1), got ${momentum}`);
    }
    if (!Number.isFinite(weightDecay) || weightDecay < 0) {
      throw new RangeError(
        `MomentumSGD: weightDecay must be a finite number >= 0, got ${weightDecay}`,
      );
    }
    this.options = Object.freeze({ lr, momentum, weightDecay });
    this.#backend = backend;
    this.#params = [...params];
    this.#velocities = this.#params.map((param) => backend.zeros(param.value.shape));
  }

  /** Apply one update to every parameter from its `grad`. */
  step(): void {
    for (const [i, param] of this.#params.entries()) {
      this.#backend.sgdMomentum(param.value, param.grad, this.#velocities[i], this.options);
    }
  }

  /** Return the velocity of parameter `index`, in the order of the `params` given. */
  velocity(index: number): Tensor {
    const v = this.#velocities[index];
    if (v === undefined) {
      throw new RangeError(
        `MomentumSGD: velocity index ${index} is out of range for ${this.#velocities.length} params`,
      );
    }
    return v;
  }
}
