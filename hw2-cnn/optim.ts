/**
 * Momentum SGD with a learning-rate schedule.
 *
 * @module
 */

import type { Backend, Optimizer, Param, SgdOptions, Tensor } from "@nn/core";

/** Learning-rate schedules accepted by `--schedule`. */
export const SCHEDULES = ["cosine", "constant"] as const;
export type Schedule = typeof SCHEDULES[number];

/**
 * Return the learning rate of step `t` (0-based) of `total` steps: `lr` throughout for
 * `constant`, and `lr · ½(1 + cos(π·t / total))` for `cosine`, which falls smoothly from `lr` to
 * nearly 0 (Loshchilov and Hutter, 2017, "SGDR", without restarts).
 */
export function scheduledLr(schedule: Schedule, lr: number, t: number, total: number): number {
  if (schedule === "constant") return lr;
  return lr * 0.5 * (1 + Math.cos((Math.PI * Math.min(t, total)) / total));
}

/**
 * Momentum SGD with weight decay, in the course framework's form, whose learning rate follows a
 * schedule over `totalSteps` updates:
 *
 * ```
 * v = momentum·v + (grad + weightDecay·W)
 * W = W − lr_t·v
 * ```
 *
 * It is core's `MomentumSGD` with a learning rate that changes every step.
 */
export class ScheduledSGD implements Optimizer {
  /** Learning rate of the next step. */
  lr: number;
  /** Updates done so far. */
  steps = 0;
  readonly #backend: Backend;
  readonly #params: readonly Param[];
  readonly #velocities: Tensor[];
  readonly #options: Readonly<SgdOptions>;

  /**
   * @throws {RangeError} when `lr` or `weightDecay` is negative or not finite, `momentum` is
   *   outside `[0, 1)`, or `totalSteps` is not a positive integer
   */
  constructor(
    backend: Backend,
    params: readonly Param[],
    options: SgdOptions,
    readonly schedule: Schedule,
    readonly totalSteps: number,
  ) {
    const { lr, momentum, weightDecay } = options;
    if (!Number.isFinite(lr) || lr < 0) {
      throw new RangeError(`ScheduledSGD: lr must be a finite number >= 0, got ${lr}`);
    }
    if (!(momentum >= 0 && momentum < 1)) {
      throw new RangeError(`ScheduledSGD: momentum must be in [0, 1), got ${momentum}`);
    }
    if (!Number.isFinite(weightDecay) || weightDecay < 0) {
      throw new RangeError(
        `ScheduledSGD: weightDecay must be a finite number >= 0, got ${weightDecay}`,
      );
    }
    if (!Number.isInteger(totalSteps) || totalSteps < 1) {
      throw new RangeError(
        `ScheduledSGD: totalSteps must be a positive integer, got ${totalSteps}`,
      );
    }
    this.#options = Object.freeze({ lr, momentum, weightDecay });
    this.#backend = backend;
    this.#params = [...params];
    this.#velocities = this.#params.map((param) => backend.zeros(param.value.shape));
    this.lr = scheduledLr(schedule, lr, 0, totalSteps);
  }

  /** Apply one update to every parameter from its `grad`, then move the schedule on a step. */
  step(): void {
    const options = { ...this.#options, lr: this.lr };
    for (const [i, param] of this.#params.entries()) {
      this.#backend.sgdMomentum(param.value, param.grad, this.#velocities[i], options);
    }
    this.steps++;
    this.lr = scheduledLr(this.schedule, this.#options.lr, this.steps, this.totalSteps);
  }
}
