/**
 * Detection of training runs whose loss explodes.
 *
 * @module
 */

import type { Loss, Tensor } from "@nn/core";

/** Default of {@linkcode ExplosionGuardOptions.factor}. */
export const DEFAULT_EXPLOSION_FACTOR = 1000;

/** Options of {@linkcode ExplosionGuard}. */
export interface ExplosionGuardOptions {
  /** A batch loss above `factor` times the first finite positive batch loss counts as exploding. */
  factor: number;
}

/** The batch loss that stopped a run, and why. */
export interface Explosion {
  /** The loss that the wrapped loss returned. */
  loss: number;
  /** `factor` times the first batch loss: the largest loss still accepted. */
  limit: number;
}

/**
 * A loss wrapper that turns an exploding loss into an infinite one, so that core's `trainEpoch`,
 * which stops an epoch at the first non-finite batch loss, also stops a run whose loss grows out
 * of bounds.
 *
 * The first finite positive loss that `forward` returns sets the limit `factor × loss`. A later
 * loss above the limit is saved in {@linkcode explosion} and returned as `Infinity`.
 *
 * For the softmax cross-entropy, a small initialization starts near `ln 10 ≈ 2.3`, so with the
 * default factor 1000 the run stops once a batch loss passes about 2300. Such a loss needs logits
 * that differ by thousands, which only a run whose weights grow without bound reaches. Wrap only
 * the training loss: evaluation should report the real value.
 */
export class ExplosionGuard implements Loss {
  readonly name: string;
  /** First finite positive loss, which sets the limit, or null before one arrives. */
  #first: number | null = null;
  #explosion: Explosion | null = null;

  /** @throws {RangeError} when `factor` is not a finite number above 1 */
  constructor(readonly inner: Loss, readonly options: ExplosionGuardOptions) {
    if (!Number.isFinite(options.factor) || options.factor <= 1) {
      throw new RangeError(
        `ExplosionGuard: factor must be a finite number above 1, got ${options.factor}`,
      );
    }
    this.name = inner.name;
  }

  /** The exploding loss that stopped the run, or null while none has occurred. */
  get explosion(): Explosion | null {
    return this.#explosion;
  }

  /** Return the wrapped loss, or `Infinity` when it exceeds the limit. */
  forward(y: Tensor, target: Tensor): number {
    const loss = this.inner.forward(y, target);
    if (!Number.isFinite(loss)) return loss;
    if (this.#first === null) {
      if (loss > 0) this.#first = loss;
      return loss;
    }
    const limit = this.options.factor * this.#first;
    if (loss > limit) {
      this.#explosion ??= { loss, limit };
      return Infinity;
    }
    return loss;
  }

  /** Return the wrapped loss's gradient. */
  backward(): Tensor {
    return this.inner.backward();
  }
}
