/**
 * The basic RNN cell of TensorFlow 1.x (`BasicRNNCell`), unrolled over a padded batch.
 *
 * Shape legend: T time steps, N batch, D input features, H hidden units.
 *
 * @module
 */

import { type Backend, Param, type Tensor } from "@nn/core";
import {
  checkState,
  type FinalStateGrad,
  glorotUniform,
  layerLabel,
  type RecurrentGrads,
  type RecurrentLayer,
  type RecurrentLayerOptions,
  type RecurrentResult,
  type RecurrentState,
} from "./recurrent.ts";
import {
  activeCounts,
  firstRows,
  flattenSteps,
  rowsView,
  sequenceShape,
  stepRows,
  stepsFrom,
  stepsUntil,
  tanh,
  transposeInto,
  Workspace,
} from "./sequence.ts";

/** Tensors that {@linkcode BasicRnn.forward} saves for the backward pass. */
interface BasicRnnCache {
  /** Input `x [T, N, D]`, a reference to the caller's tensor. */
  x: Tensor;
  /** Running sequences per step `[T]`. */
  active: Int32Array;
  /** States `h [T + 1, N, H]`: the initial state, then `h_t` after step t. */
  h: Tensor;
}

/**
 * Basic RNN with TensorFlow 1.x's equation `h_t = tanh([x_t, h_{t−1}]·W + b)`.
 *
 * - `W [D + H, H]` (named `<name>.W`): rows `0 … D−1` act on `x`, rows `D … D+H−1` on `h`.
 *   Glorot-uniform initialization.
 * - `b [H]` (named `<name>.b`), initialized to zeros.
 * - State: `h [N, H]`.
 */
export class BasicRnn implements RecurrentLayer {
  readonly cell = "rnn";
  readonly name: string;
  /** Kernel `W [D + H, H]` over `[x, h]`. */
  readonly W: Param;
  /** Bias `b [H]`. */
  readonly b: Param;

  readonly #backend: Backend;
  readonly #label: string;
  /** Input rows `[D, H]` and state rows `[H, H]` of `W` and of its gradient. */
  readonly #wx: Tensor;
  readonly #wh: Tensor;
  readonly #dWx: Tensor;
  readonly #dWh: Tensor;
  readonly #h: Workspace;
  readonly #finalH: Workspace;
  readonly #dZ: Workspace;
  readonly #dX: Workspace;
  readonly #dh: Workspace;
  /** `Whᵀ [H, H]`, refreshed by every forward pass (see `transposeInto`). */
  readonly #whT: Workspace;
  #cache: BasicRnnCache | null = null;

  constructor(
    backend: Backend,
    readonly inputSize: number,
    readonly hiddenSize: number,
    options: RecurrentLayerOptions,
  ) {
    this.name = options.name ?? "rnn";
    this.#label = layerLabel("BasicRnn", inputSize, hiddenSize, this.name);
    this.#backend = backend;
    const d = inputSize, h = hiddenSize;

    const w = backend.zeros([d + h, h]);
    glorotUniform(w, options.rng);
    this.W = new Param(`${this.name}.W`, w, backend.zeros([d + h, h]));
    this.b = new Param(`${this.name}.b`, backend.zeros([h]), backend.zeros([h]));
    this.#wx = rowsView(this.W.value, 0, d);
    this.#wh = rowsView(this.W.value, d, h);
    this.#dWx = rowsView(this.W.grad, 0, d);
    this.#dWh = rowsView(this.W.grad, d, h);

    this.#h = new Workspace(backend);
    this.#finalH = new Workspace(backend);
    this.#dZ = new Workspace(backend);
    this.#dX = new Workspace(backend);
    this.#dh = new Workspace(backend);
    this.#whT = new Workspace(backend);
  }

  /** Return `[W, b]`. */
  params(): Param[] {
    return [this.W, this.b];
  }

  /**
   * Run the RNN over `x [T, N, D]` from `initial.h` (zeros when left out) and return
   * `outputs [T, N, H]` and each sequence's final `h`.
   */
  forward(x: Tensor, lengths: Int32Array, initial?: RecurrentState): RecurrentResult {
    const label = this.#label;
    const [steps, batch] = sequenceShape(label, "forward x", x, this.inputSize);
    const active = activeCounts(label, lengths, steps, batch);
    const H = this.hiddenSize;

    // h [T + 1, N, H]: step t + 1 first receives X·Wx + b for every step at once, then
    // h_{t}·Wh, then tanh in place.
    const h = this.#h.view([steps + 1, batch, H], true);
    if (initial !== undefined) {
      checkState(label, "initial h", initial.h, batch, H);
      h.data.set(initial.h.data, 0);
    }
    const z = flattenSteps(stepsFrom(h, 1));
    this.#backend.matmul(flattenSteps(x), this.#wx, z);
    this.#backend.addRowVector(z, this.b.value);

    // The step products use Whᵀ with the transposed flag: see transposeInto.
    const whT = this.#whT.view([H, H]);
    transposeInto(this.#wh, whT);
    const hd = h.data;
    for (let t = 0; t < steps; t++) {
      const k = active[t];
      if (k === 0) {
        // Steps where no sequence runs are padding: clear the projection written above.
        hd.fill(0, (t + 1) * batch * H);
        break;
      }
      const next = stepRows(h, t + 1, k);
      this.#backend.matmul(stepRows(h, t, k), whT, next, { transB: true, accumulate: true });
      const start = (t + 1) * batch * H;
      for (let i = start; i < start + k * H; i++) hd[i] = tanh(hd[i]);
      // Padded rows of this step hold X·Wx + b of padding: zero them, as outputs promise.
      hd.fill(0, start + k * H, start + batch * H);
    }

    const finalH = this.#finalH.view([batch, H]);
    for (let n = 0; n < batch; n++) {
      const at = (lengths[n] * batch + n) * H;
      finalH.data.set(hd.subarray(at, at + H), n * H);
    }

    this.#cache = { x, active, h };
    return { outputs: stepsFrom(h, 1), final: { h: finalH } };
  }

  /**
   * Back-propagate through time from `dOutputs [T, N, H]` (or none) and `dFinal.h`, setting
   * `W.grad` and `b.grad`, and return `dX [T, N, D]` and the initial state's gradient.
   */
  backward(dOutputs: Tensor | null, dFinal: FinalStateGrad): RecurrentGrads {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { x, active, h } = this.#cache;
    const [steps, batch] = [x.shape[0], x.shape[1]];
    const H = this.hiddenSize;
    if (dOutputs !== null) sequenceShape(this.#label, "backward dOutputs", dOutputs, H);

    const dZ = this.#dZ.view([steps, batch, H], true);
    const dh = this.#dh.view([batch, H], true);
    if (dFinal.h) {
      checkState(this.#label, "dFinal h", dFinal.h, batch, H);
      dh.data.set(dFinal.h.data);
    }

    const hd = h.data, dzd = dZ.data, dhd = dh.data, dOut = dOutputs?.data;
    for (let t = steps - 1; t >= 0; t--) {
      const k = active[t];
      if (k === 0) continue;
      // h_t = tanh(z_t), so dz_t = (dh_t + dOutputs_t) ⊙ (1 − h_t²).
      const stepStart = t * batch * H;
      const hStart = stepStart + batch * H;
      for (let i = 0; i < k * H; i++) {
        const ht = hd[hStart + i];
        const dhv = dhd[i] + (dOut === undefined ? 0 : dOut[stepStart + i]);
        dzd[stepStart + i] = dhv * (1 - ht * ht);
      }
      // dh_{t−1} = dz_t·Whᵀ for the running rows.
      this.#backend.matmul(stepRows(dZ, t, k), this.#wh, firstRows(dh, k), { transB: true });
    }

    const dZ2 = flattenSteps(dZ);
    this.#backend.matmul(flattenSteps(x), dZ2, this.#dWx, { transA: true });
    this.#backend.matmul(flattenSteps(stepsUntil(h, steps)), dZ2, this.#dWh, { transA: true });
    this.#backend.sumRows(dZ2, this.b.grad);

    const dX = this.#dX.view([steps, batch, this.inputSize]);
    this.#backend.matmul(dZ2, this.#wx, flattenSteps(dX), { transB: true });
    return { dX, dInitial: { h: dh } };
  }
}
