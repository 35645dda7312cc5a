/**
 * The LSTM cell of TensorFlow 1.x (`BasicLSTMCell`), unrolled over a padded batch.
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
  transposeInto,
  Workspace,
} from "./sequence.ts";

/** Tensors that {@linkcode Lstm.forward} saves for the backward pass. */
interface LstmCache {
  /** Input `x [T, N, D]`, a reference to the caller's tensor. */
  x: Tensor;
  lengths: Int32Array;
  /** Running sequences per step `[T]`. */
  active: Int32Array;
  /** Gate activations `σ(i), tanh(j), σ(f + forgetBias), σ(o)` per step, `[T, N, 4H]`. */
  gates: Tensor;
  /** States `h [T + 1, N, H]`: the initial state, then `h_t` after step t. */
  h: Tensor;
  /** Memories `c [T + 1, N, H]`, laid out like `h`. */
  c: Tensor;
  /** `tanh(c_t) [T, N, H]`. */
  tanhC: Tensor;
}

/**
 * LSTM with TensorFlow 1.x's equations, gate order i, j, f, o:
 *
 * ```
 * i, j, f, o = split([x_t, h_{t−1}]·W + b)
 * c_t = c_{t−1} ⊙ σ(f + forgetBias) + σ(i) ⊙ tanh(j)
 * h_t = tanh(c_t) ⊙ σ(o)
 * ```
 *
 * - `W [D + H, 4H]` (named `<name>.W`): rows `0 … D−1` act on `x`, rows `D … D+H−1` on `h`;
 *   columns are the four gates in the order i (input), j (candidate), f (forget), o (output),
 *   H columns each. Glorot-uniform initialization.
 * - `b [4H]` (named `<name>.b`), same gate order, initialized to zeros. `forgetBias` (1.0) is
 *   added inside the forget sigmoid and is not a parameter, so a saved `b` contains no forget bias.
 * - State: `h` and `c`, both `[N, H]`.
 */
export class Lstm implements RecurrentLayer {
  readonly cell = "lstm";
  readonly name: string;
  /** Kernel `W [D + H, 4H]` over `[x, h]`, gates i, j, f, o. */
  readonly W: Param;
  /** Bias `b [4H]`, gates i, j, f, o. */
  readonly b: Param;
  /** Constant added to the forget gate's pre-activation, TensorFlow's `forget_bias`. */
  readonly forgetBias = 1.0;

  readonly #backend: Backend;
  readonly #label: string;
  /** Views of `W` and its gradient: the input rows `[D, 4H]` and the state rows `[H, 4H]`. */
  readonly #wx: Tensor;
  readonly #wh: Tensor;
  readonly #dWx: Tensor;
  readonly #dWh: Tensor;
  readonly #gates: Workspace;
  readonly #h: Workspace;
  readonly #c: Workspace;
  readonly #tanhC: Workspace;
  readonly #finalH: Workspace;
  readonly #finalC: Workspace;
  readonly #dZ: Workspace;
  readonly #dX: Workspace;
  readonly #dh: Workspace;
  readonly #dc: Workspace;
  /** `Whᵀ [4H, H]`, refreshed by every forward pass (see `transposeInto`). */
  readonly #whT: Workspace;
  #cache: LstmCache | null = null;

  constructor(
    backend: Backend,
    readonly inputSize: number,
    readonly hiddenSize: number,
    options: RecurrentLayerOptions,
  ) {
    this.name = options.name ?? "lstm";
    this.#label = layerLabel("Lstm", inputSize, hiddenSize, this.name);
    this.#backend = backend;
    const d = inputSize, h = hiddenSize;

    const w = backend.zeros([d + h, 4 * h]);
    glorotUniform(w, options.rng);
    this.W = new Param(`${this.name}.W`, w, backend.zeros([d + h, 4 * h]));
    this.b = new Param(`${this.name}.b`, backend.zeros([4 * h]), backend.zeros([4 * h]));
    this.#wx = rowsView(this.W.value, 0, d);
    this.#wh = rowsView(this.W.value, d, h);
    this.#dWx = rowsView(this.W.grad, 0, d);
    this.#dWh = rowsView(this.W.grad, d, h);

    const ws = () => new Workspace(backend);
    this.#gates = ws();
    this.#h = ws();
    this.#c = ws();
    this.#tanhC = ws();
    this.#finalH = ws();
    this.#finalC = ws();
    this.#dZ = ws();
    this.#dX = ws();
    this.#dh = ws();
    this.#dc = ws();
    this.#whT = ws();
  }

  /** Return `[W, b]`. */
  params(): Param[] {
    return [this.W, this.b];
  }

  /**
   * Run the LSTM over `x [T, N, D]` from `initial` (`h` and `c`, zeros when left out) and return
   * `outputs [T, N, H]` and each sequence's final `h` and `c`.
   */
  forward(x: Tensor, lengths: Int32Array, initial?: RecurrentState): RecurrentResult {
    const label = this.#label;
    const [steps, batch] = sequenceShape(label, "forward x", x, this.inputSize);
    const active = activeCounts(label, lengths, steps, batch);
    const H = this.hiddenSize, G = 4 * H;

    const gates = this.#gates.view([steps, batch, G]);
    const h = this.#h.view([steps + 1, batch, H], true);
    const c = this.#c.view([steps + 1, batch, H], true);
    const tanhC = this.#tanhC.view([steps, batch, H]);
    if (initial !== undefined) {
      checkState(label, "initial h", initial.h, batch, H);
      h.data.set(initial.h.data, 0);
      if (initial.c !== undefined) {
        checkState(label, "initial c", initial.c, batch, H);
        c.data.set(initial.c.data, 0);
      }
    }

    // The input half of every step at once: Z = X·Wx + b, [T·N, 4H]. Padded rows are computed
    // here but never read.
    const z = flattenSteps(gates);
    this.#backend.matmul(flattenSteps(x), this.#wx, z);
    this.#backend.addRowVector(z, this.b.value);

    // Z_t += h_{t−1}·Wh for the k running sequences, as h_{t−1}·(Whᵀ)ᵀ: see transposeInto.
    const whT = this.#whT.view([G, H]);
    transposeInto(this.#wh, whT);
    const hd = h.data, cd = c.data;
    for (let t = 0; t < steps; t++) {
      const k = active[t];
      if (k === 0) break;
      this.#backend.matmul(stepRows(h, t, k), whT, stepRows(gates, t, k), {
        transB: true,
        accumulate: true,
      });

      // c_t = c_{t−1}·σ(f + 1) + σ(i)·tanh(j); h_t = tanh(c_t)·σ(o), in one backend call. Z is
      // overwritten with the gate activations, which backward needs.
      this.#backend.lstmCell(
        stepRows(gates, t, k),
        stepRows(c, t, k),
        stepRows(c, t + 1, k),
        stepRows(tanhC, t, k),
        stepRows(h, t + 1, k),
        this.forgetBias,
      );
    }

    const finalH = this.#finalH.view([batch, H]);
    const finalC = this.#finalC.view([batch, H]);
    for (let n = 0; n < batch; n++) {
      const at = (lengths[n] * batch + n) * H;
      finalH.data.set(hd.subarray(at, at + H), n * H);
      finalC.data.set(cd.subarray(at, at + H), n * H);
    }

    this.#cache = { x, lengths, active, gates, h, c, tanhC };
    return { outputs: stepsFrom(h, 1), final: { h: finalH, c: finalC } };
  }

  /**
   * Back-propagate through time from `dOutputs [T, N, H]` (or none) and `dFinal` (`h`, `c`),
   * setting `W.grad` and `b.grad`, and return `dX [T, N, D]` and the initial state's gradient.
   */
  backward(dOutputs: Tensor | null, dFinal: FinalStateGrad): RecurrentGrads {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { x, active, gates, h, c, tanhC } = this.#cache;
    const [steps, batch] = [x.shape[0], x.shape[1]];
    const H = this.hiddenSize, G = 4 * H;
    if (dOutputs !== null) sequenceShape(this.#label, "backward dOutputs", dOutputs, H);

    // dh and dc carry the gradient of the state between steps. Rows whose sentence has not
    // started yet (in reverse) keep the final-state gradient until their last step.
    const dZ = this.#dZ.view([steps, batch, G], true);
    const dh = this.#dh.view([batch, H], true);
    const dc = this.#dc.view([batch, H], true);
    if (dFinal.h) {
      checkState(this.#label, "dFinal h", dFinal.h, batch, H);
      dh.data.set(dFinal.h.data);
    }
    if (dFinal.c) {
      checkState(this.#label, "dFinal c", dFinal.c, batch, H);
      dc.data.set(dFinal.c.data);
    }

    const dhd = dh.data, dOut = dOutputs?.data;
    for (let t = steps - 1; t >= 0; t--) {
      const k = active[t];
      if (k === 0) continue;
      // The running rows' dh gets the output's gradient of this step. The matrix product below
      // then overwrites those rows.
      if (dOut !== undefined) {
        const at = t * batch * H;
        for (let i = 0; i < k * H; i++) dhd[i] += dOut[at + i];
      }
      // dZ_t and dc_{t−1} from dh_t and dc_t, through each sigmoid and tanh of the step.
      this.#backend.lstmCellBackward(
        stepRows(gates, t, k),
        stepRows(c, t, k),
        stepRows(tanhC, t, k),
        firstRows(dh, k),
        firstRows(dc, k),
        stepRows(dZ, t, k),
      );
      // dh_{t−1} = dZ_t·Whᵀ for the running rows; the others keep their carried gradient.
      this.#backend.matmul(stepRows(dZ, t, k), this.#wh, firstRows(dh, k), { transB: true });
    }

    // W = [Wx; Wh], so dWx = Xᵀ·dZ and dWh = H_{t−1}ᵀ·dZ summed over every step at once. Padded
    // rows of dZ are zero and add nothing.
    const dZ2 = flattenSteps(dZ);
    const hPrev = stepsUntil(h, steps);
    this.#backend.matmul(flattenSteps(x), dZ2, this.#dWx, { transA: true });
    this.#backend.matmul(flattenSteps(hPrev), dZ2, this.#dWh, { transA: true });
    this.#backend.sumRows(dZ2, this.b.grad);

    const dX = this.#dX.view([steps, batch, this.inputSize]);
    this.#backend.matmul(dZ2, this.#wx, flattenSteps(dX), { transB: true });
    return { dX, dInitial: { h: dh, c: dc } };
  }
}
