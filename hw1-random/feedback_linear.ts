/**
 * The feedback-alignment linear layer of Lillicrap et al., "Random synaptic feedback weights
 * support error backpropagation for deep learning" (Nature Communications 7:13276, 2016).
 *
 * Shape legend: N batch, D_in input features, D_out output features.
 *
 * @module
 */

import {
  assertShape,
  type Backend,
  type Layer,
  Param,
  type Rng,
  sameShape,
  type Tensor,
} from "@nn/core";

/** Distributions accepted for the feedback matrix `B`. */
export const FEEDBACK_DISTRIBUTIONS = ["normal", "uniform"] as const;
export type FeedbackDistribution = typeof FEEDBACK_DISTRIBUTIONS[number];

/** Distribution and scale of the fixed feedback matrix `B`, chosen independently of `W`. */
export interface FeedbackInit {
  /** `normal`: `B ~ N(0, scale²)`. `uniform`: `B ~ U[−scale, scale)`. */
  distribution: FeedbackDistribution;
  /** Standard deviation (normal) or half-width (uniform) of `B`, `>= 0`. */
  scale: number;
}

/** Options of {@linkcode FeedbackLinear}. */
export interface FeedbackLinearOptions {
  /** Standard deviation (`>= 0`) of the normal distribution that initializes `W`. */
  initStd: number;
  /**
   * Generator that draws the initial `W`. It draws exactly what core's `Linear` draws, so a
   * `FeedbackLinear` and a `Linear` built from equal generators start with equal `W`.
   */
  rng: Rng;
  /** Distribution and scale of `B`. */
  feedback: FeedbackInit;
  /**
   * Generator that draws `B`. Keep it apart from `rng`, so that drawing `B` changes neither the
   * other layers' weights nor the order of the training batches.
   */
  feedbackRng: Rng;
  /** Layer name and prefix of its parameter names, default `feedback_linear`. */
  name?: string;
}

/** Tensors that {@linkcode FeedbackLinear.forward} saves for the backward pass. */
interface FeedbackLinearCache {
  /**
   * Input `x [N, D_in]`. NOTE: this is a reference, not a copy. The tensor belongs to the caller
   * and must stay unchanged until `backward`, as outputs of the previous layer and data batches do.
   */
  x: Tensor;
}

/**
 * Fully connected layer `Y = X·W + b` that learns by feedback alignment.
 *
 * - Parameters: `W [D_in, D_out]` (named `<name>.W`), drawn from a normal distribution with mean 0
 *   and standard deviation `initStd`, and `b [D_out]` (named `<name>.b`), initialized to zeros.
 * - Fixed feedback matrix `B [D_in, D_out]`, the shape of `W`, drawn once from
 *   `options.feedback`. It is not a `Param`, so no optimizer ever changes it.
 * - Input `X [N, D_in]`, output `Y [N, D_out]`.
 * - Backward: `dW = Xᵀ·dY` and `db = Σ_rows dY`, the true gradients, as in backpropagation. The
 *   signal passed to the layer below is `dX = dY·Bᵀ` in place of backpropagation's `dY·Wᵀ`.
 *
 * Because `dX` is not `∂loss/∂X`, the layers below the top one of a network of these layers do not
 * follow the loss gradient. They still learn when the training makes `W` align with `B`, so that
 * `dY·Bᵀ` points within 90° of `dY·Wᵀ`.
 *
 * @example
 * ```ts
 * import { createTsBackend, Rng } from "@nn/core";
 * import { FeedbackLinear } from "@nn/hw1-random";
 * const backend = createTsBackend();
 * const fc1 = new FeedbackLinear(backend, 784, 512, {
 *   initStd: 0.05,
 *   rng: new Rng(1),
 *   feedback: { distribution: "normal", scale: 0.05 },
 *   feedbackRng: new Rng(2),
 *   name: "fc1",
 * });
 * const y = fc1.forward(backend.zeros([100, 784]), true); // y.shape is [100, 512]
 * ```
 */
export class FeedbackLinear implements Layer {
  readonly name: string;
  /** Weight `W [D_in, D_out]` and its gradient. */
  readonly W: Param;
  /** Bias `b [D_out]` and its gradient. */
  readonly b: Param;
  /** Fixed random feedback matrix `B [D_in, D_out]`, which training never changes. */
  readonly B: Tensor;
  /** Distribution and scale that `B` was drawn from. */
  readonly feedback: Readonly<FeedbackInit>;

  readonly #backend: Backend;
  /** Prefix of error messages, e.g. `FeedbackLinear(784, 512) fc1`. */
  readonly #label: string;
  #cache: FeedbackLinearCache | null = null;
  /** Output `Y [N, D_out]`, reused while N stays the same. */
  #y: Tensor | null = null;
  /** Feedback signal `dX [N, D_in]`, reused while N stays the same. */
  #dX: Tensor | null = null;

  /**
   * Draw `W` from `options.rng` and `B` from `options.feedbackRng`, and set `b` to zero.
   *
   * @throws {RangeError} when a feature count is not a positive integer, or `initStd` or the
   *   feedback scale is negative or not finite
   */
  constructor(
    backend: Backend,
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: FeedbackLinearOptions,
  ) {
    this.name = options.name ?? "feedback_linear";
    this.#label = `FeedbackLinear(${inFeatures}, ${outFeatures}) ${this.name}`;
    for (
      const [what, value] of [["inFeatures", inFeatures], ["outFeatures", outFeatures]] as const
    ) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new RangeError(`${this.#label}: ${what} must be a positive integer, got ${value}`);
      }
    }
    if (!Number.isFinite(options.initStd) || options.initStd < 0) {
      throw new RangeError(
        `${this.#label}: initStd must be a finite number >= 0, got ${options.initStd}`,
      );
    }
    const { distribution, scale } = options.feedback;
    if (!Number.isFinite(scale) || scale < 0) {
      throw new RangeError(
        `${this.#label}: feedback scale must be a finite number >= 0, got ${scale}`,
      );
    }
    if (!FEEDBACK_DISTRIBUTIONS.includes(distribution)) {
      throw new RangeError(
        `${this.#label}: feedback distribution must be one of ${
          FEEDBACK_DISTRIBUTIONS.join(", ")
        }, got ${distribution}`,
      );
    }

    this.#backend = backend;
    const W = backend.zeros([inFeatures, outFeatures]);
    options.rng.fillNormal(W.data, options.initStd);
    this.W = new Param(`${this.name}.W`, W, backend.zeros([inFeatures, outFeatures]));
    this.b = new Param(
      `${this.name}.b`,
      backend.zeros([outFeatures]),
      backend.zeros([outFeatures]),
    );

    this.B = backend.zeros([inFeatures, outFeatures]);
    if (distribution === "normal") {
      options.feedbackRng.fillNormal(this.B.data, scale);
    } else {
      options.feedbackRng.fillUniform(this.B.data, -scale, scale);
    }
    this.feedback = Object.freeze({ distribution, scale });
  }

  /**
   * Return `Y = X·W + b [N, D_out]` for `x [N, D_in]`. The `training` flag has no effect.
   *
   * @throws {TypeError} when `x` is not `[N, D_in]`
   */
  forward(x: Tensor, _training: boolean): Tensor {
    assertShape(this.#label, "forward x", x, [null, this.inFeatures]);
    const n = x.shape[0];
    const y = this.#y = this.#buffer(this.#y, [n, this.outFeatures]);

    this.#backend.matmul(x, this.W.value, y);
    this.#backend.addRowVector(y, this.b.value);

    this.#cache = { x };
    return y;
  }

  /**
   * Set `W.grad = Xᵀ·dY` and `b.grad = Σ_rows dY`, and return the feedback signal
   * `dX = dY·Bᵀ [N, D_in]`, or `null` without computing it when `needInputGrad` is false.
   *
   * @throws {TypeError} when `dY` is not `[N, D_out]` for the N of the last forward pass
   * @throws {Error} when called before `forward`
   */
  backward(dY: Tensor, needInputGrad = true): Tensor | null {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { x } = this.#cache;
    const n = x.shape[0];
    assertShape(this.#label, "backward dY", dY, [n, this.outFeatures]);

    // Y = X·W + b, so ∂L/∂W = Xᵀ·dY and ∂L/∂b sums dY over the batch, exactly as in backprop.
    this.#backend.matmul(x, dY, this.W.grad, { transA: true });
    this.#backend.sumRows(dY, this.b.grad);
    if (!needInputGrad) return null;

    // Feedback alignment: send dY·Bᵀ down, where backprop would send ∂L/∂X = dY·Wᵀ.
    const dX = this.#dX = this.#buffer(this.#dX, [n, this.inFeatures]);
    this.#backend.matmul(dY, this.B, dX, { transB: true });
    return dX;
  }

  /**
   * Write the backpropagation signal `dY·Wᵀ [N, D_in]` into `out`, with the current `W`, without
   * touching any gradient. It is what {@linkcode backward} would return if `B` were `W`.
   *
   * @throws {TypeError} when `dY` is not `[N, D_out]` or `out` is not `[N, D_in]`
   */
  backpropInputGrad(dY: Tensor, out: Tensor): void {
    assertShape(this.#label, "backpropInputGrad dY", dY, [null, this.outFeatures]);
    assertShape(this.#label, "backpropInputGrad out", out, [dY.shape[0], this.inFeatures]);
    this.#backend.matmul(dY, this.W.value, out, { transB: true });
  }

  /** Return `[W, b]`. `B` is not among them, so optimizers leave it unchanged. */
  params(): Param[] {
    return [this.W, this.b];
  }

  /** Return `current` when it has `shape`, else a new zero tensor of the backend. */
  #buffer(current: Tensor | null, shape: readonly number[]): Tensor {
    return current !== null && sameShape(current.shape, shape)
      ? current
      : this.#backend.zeros(shape);
  }
}
