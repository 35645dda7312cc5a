/**
 * Inverted dropout on the embeddings and the sentence vector, with masks from a generator that
 * the training loop replaces every epoch.
 *
 * @module
 */

import type { Backend, Rng, Tensor } from "@nn/core";
import { Workspace } from "./sequence.ts";

/**
 * Inverted dropout: in training, each element is zeroed with probability `rate` and the others
 * are scaled by `1 / (1 − rate)`, so evaluation needs no rescaling and passes inputs through.
 *
 * Input and output have the same shape, any rank. The mask is drawn from `rng`, which the
 * training loop sets (a fresh seeded generator per epoch, so a resumed run draws the same masks).
 */
export class Dropout {
  /** Generator of the masks; training with `rate > 0` needs one. */
  rng: Rng | null = null;

  readonly #y: Workspace;
  readonly #dX: Workspace;
  /** Per-element factor of the last training pass: 0 or `1 / (1 − rate)`. */
  #mask = new Float32Array(0);
  /** Whether the last forward pass dropped anything; if not, backward passes dY through. */
  #applied = false;

  /** @throws {RangeError} when `rate` is outside `[0, 1)` */
  constructor(backend: Backend, readonly rate: number, readonly name = "dropout") {
    if (!(rate >= 0 && rate < 1)) {
      throw new RangeError(`Dropout ${name}: rate must be in [0, 1), got ${rate}`);
    }
    this.#y = new Workspace(backend);
    this.#dX = new Workspace(backend);
  }

  /**
   * Return `x` itself in evaluation or with rate 0, else `x ⊙ mask` in a buffer of the layer.
   *
   * @throws {Error} when training with `rate > 0` and no `rng` is set
   */
  forward(x: Tensor, training: boolean): Tensor {
    this.#applied = training && this.rate > 0;
    if (!this.#applied) return x;
    if (this.rng === null) throw new Error(`Dropout ${this.name}: training needs rng to be set`);
    if (this.#mask.length < x.size) this.#mask = new Float32Array(x.size);
    const keep = 1 / (1 - this.rate);
    const y = this.#y.view(x.shape);
    for (let i = 0; i < x.size; i++) {
      const factor = this.rng.uniform() < this.rate ? 0 : keep;
      this.#mask[i] = factor;
      y.data[i] = x.data[i] * factor;
    }
    return y;
  }

  /** Return `dY ⊙ mask` after a training pass, else `dY` itself. */
  backward(dY: Tensor): Tensor {
    if (!this.#applied) return dY;
    const dX = this.#dX.view(dY.shape);
    for (let i = 0; i < dY.size; i++) dX.data[i] = dY.data[i] * this.#mask[i];
    return dX;
  }
}
