/**
 * The contracts between layers, losses, networks and optimizers.
 *
 * Conventions, the same in every package:
 * - `forward` saves what `backward` needs; `backward` reads nothing else.
 * - `backward` overwrites each parameter's `grad` with a fresh gradient (no accumulation across
 *   calls), as the course framework does.
 * - Outputs and input gradients belong to the layer and are reused by its next call, so a caller
 *   that needs a value later must copy it.
 *
 * @module
 */

import type { Tensor } from "./tensor.ts";

/** A trainable tensor with its gradient. */
export class Param {
  /**
   * @param name unique within a network, e.g. `fc1.W`; used in logs and checkpoints
   * @param value the parameter
   * @param grad same shape as `value`; overwritten by each backward pass
   */
  constructor(readonly name: string, readonly value: Tensor, readonly grad: Tensor) {
    if (value.size !== grad.size) {
      throw new TypeError(
        `Param ${name}: grad size ${grad.size} differs from value size ${value.size}`,
      );
    }
  }
}

/** A differentiable layer. */
export interface Layer {
  /** Name for logs, e.g. `fc1`. */
  readonly name: string;

  /** Compute the output for the batch `x`; `training` selects training behavior where it differs. */
  forward(x: Tensor, training: boolean): Tensor;

  /**
   * Take `dY = ∂loss/∂output` and return `dX = ∂loss/∂input`, setting every parameter's gradient.
   * With `needInputGrad = false` a layer may skip computing `dX` and return `null`.
   */
  backward(dY: Tensor, needInputGrad?: boolean): Tensor | null;

  /** Trainable parameters, in a fixed order. */
  params(): Param[];
}

/** A loss over a batch of outputs and one-hot targets. */
export interface Loss {
  readonly name: string;

  /** Return the mean loss of `y [N, K]` against one-hot `target [N, K]`. */
  forward(y: Tensor, target: Tensor): number;

  /** Return `∂loss/∂y`, from what the last `forward` saved. */
  backward(): Tensor;
}
