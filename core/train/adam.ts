/**
 * The Adam optimizer.
 *
 * @module
 */

import type { Param } from "../layer.ts";
import { Tensor } from "../tensor.ts";
import type { Optimizer } from "./optim.ts";

/** Hyperparameters of {@linkcode Adam}. */
export interface AdamOptions {
  /** Learning rate α, default `1e-3`. It may change between steps through `Adam.lr`. */
  lr?: number;
  /** Decay rate β1 of the first-moment estimate, default `0.9`. */
  beta1?: number;
  /** Decay rate β2 of the second-moment estimate, default `0.999`. */
  beta2?: number;
  /** ε added to `√v̂` in the denominator, default `1e-8`. */
  eps?: number;
}

/**
 * Adam (Kingma and Ba, 2015, "Adam: A Method for Stochastic Optimization", Algorithm 1), with
 * the bias correction of both moments. At step `t = 1, 2, …`, for each parameter `W` with
 * gradient `g`:
 *
 * ```
 * m = β1·m + (1 − β1)·g
 * v = β2·v + (1 − β2)·g²
 * W = W − lr · (m / (1 − β1^t)) / (√(v / (1 − β2^t)) + ε)
 * ```
 *
 * `m` and `v` start at zero and are stored in float32, like the parameters; each update is
 * computed in float64 in plain TypeScript. There is no weight decay.
 *
 * The state that a resumed run needs is {@linkcode Adam.state} (the `m` and `v` tensors, by
 * name), {@linkcode Adam.stepCount} and {@linkcode Adam.lr}.
 */
export class Adam implements Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly #params: readonly Param[];
  /** First-moment estimate of each parameter. */
  readonly #m: Tensor[];
  /** Second-moment estimate of each parameter. */
  readonly #v: Tensor[];
  #lr: number;
  #stepCount = 0;

  /**
   * @throws {RangeError} when `lr` is negative or not finite, `beta1` or `beta2` is outside
   *   `[0, 1)`, `eps` is not a positive finite number, or two parameters share a name
   */
  constructor(params: readonly Param[], options: AdamOptions = {}) {
    const { lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 } = options;
    this.#lr = checkLr(lr);
    for (const [what, value] of [["beta1", beta1], ["beta2", beta2]] as const) {
      if (!(value >= 0 && value < 1)) {
        throw new RangeError(`Adam: ${what} must be in [0, 1), got ${value}`);
      }
    }
    if (!(Number.isFinite(eps) && eps > 0)) {
      throw new RangeError(`Adam: eps must be a finite number > 0, got ${eps}`);
    }
    const names = new Set<string>();
    for (const param of params) {
      if (names.has(param.name)) {
        throw new RangeError(`Adam: two parameters are named ${param.name}`);
      }
      names.add(param.name);
    }
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
    this.#params = [...params];
    // Plain tensors, because only TypeScript loops read them.
    this.#m = this.#params.map((param) => new Tensor(param.value.shape));
    this.#v = this.#params.map((param) => new Tensor(param.value.shape));
  }

  /** Learning rate of the next step. */
  get lr(): number {
    return this.#lr;
  }

  /** @throws {RangeError} when the value is negative or not finite */
  set lr(value: number) {
    this.#lr = checkLr(value);
  }

  /** Number of steps taken, `t` of the last step; the next step uses `t + 1`. */
  get stepCount(): number {
    return this.#stepCount;
  }

  /**
   * Set the number of steps taken, when restoring a checkpoint together with {@linkcode state}.
   *
   * @throws {RangeError} when the value is not an integer >= 0
   */
  set stepCount(value: number) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`Adam: stepCount must be an integer >= 0, got ${value}`);
    }
    this.#stepCount = value;
  }

  /** Apply one update to every parameter from its `grad`. */
  step(): void {
    const t = ++this.#stepCount;
    const { beta1, beta2, eps } = this;
    const lr = this.#lr;
    // Bias corrections of step t: m̂ = m / (1 − β1^t), v̂ = v / (1 − β2^t). The update
    // lr·m̂/(√v̂ + ε) is algebraically stepSize·m/(√v + ε̂) with the two constants below, which
    // needs two fewer divisions per element.
    const correction1 = 1 - beta1 ** t;
    const correction2 = 1 - beta2 ** t;
    const stepSize = lr * Math.sqrt(correction2) / correction1;
    const epsHat = eps * Math.sqrt(correction2);
    for (const [p, param] of this.#params.entries()) {
      const w = param.value.data, g = param.grad.data;
      const m = this.#m[p].data, v = this.#v[p].data;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i];
        const mi = m[i] = beta1 * m[i] + (1 - beta1) * gi;
        const vi = v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        w[i] -= stepSize * mi / (Math.sqrt(vi) + epsHat);
      }
    }
  }

  /**
   * Return the moment estimates by name: `adam.m/<param name>` and `adam.v/<param name>` for each
   * parameter. They are the optimizer's own tensors, so that a checkpoint can save them or restore
   * into them.
   */
  state(): Record<string, Tensor> {
    const state: Record<string, Tensor> = {};
    for (const [p, param] of this.#params.entries()) {
      state[`adam.m/${param.name}`] = this.#m[p];
      state[`adam.v/${param.name}`] = this.#v[p];
    }
    return state;
  }
}

function checkLr(lr: number): number {
  if (!(Number.isFinite(lr) && lr >= 0)) {
    throw new RangeError(`Adam: lr must be a finite number >= 0, got ${lr}`);
  }
  return lr;
}
