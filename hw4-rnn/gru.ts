/**
 * The GRU cell of TensorFlow 1.x (`GRUCell`), unrolled over a padded batch.
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
  sigmoid,
  stepRows,
  stepsFrom,
  stepsUntil,
  tanh,
  transposeInto,
  Workspace,
} from "./sequence.ts";

/** Tensors that {@linkcode Gru.forward} saves for the backward pass. */
interface GruCache {
  /** Input `x [T, N, D]`, a reference to the caller's tensor. */
  x: Tensor;
  /** Running sequences per step `[T]`. */
  active: Int32Array;
  /** Gate activations `σ(r), σ(u)` per step, `[T, N, 2H]`. */
  gates: Tensor;
  /** Candidates `c_t = tanh(…)` per step, `[T, N, H]`. */
  candidates: Tensor;
  /** `r ⊙ h_{t−1}` per step, `[T, N, H]`: the state input of the candidate's product. */
  resetState: Tensor;
  /** States `h [T + 1, N, H]`: the initial state, then `h_t` after step t. */
  h: Tensor;
}

/**
 * GRU with TensorFlow 1.x's equations, gates r then u:
 *
 * ```
 * r, u = split(σ([x_t, h_{t−1}]·Wg + bg))
 * c    = tanh([x_t, r ⊙ h_{t−1}]·Wc + bc)
 * h_t  = u ⊙ h_{t−1} + (1 − u) ⊙ c
 * ```
 *
 * - `Wg [D + H, 2H]` (named `<name>.Wg`): rows `0 … D−1` act on `x`, rows `D … D+H−1` on `h`;
 *   columns are the reset gate r, then the update gate u, H columns each. Glorot uniform.
 * - `bg [2H]` (named `<name>.bg`), gates r then u, initialized to 1 as in TensorFlow. Both gates
 *   then start near σ(1) ≈ 0.73, so the cell at first mostly keeps its state and rarely resets it.
 * - `Wc [D + H, H]` (named `<name>.Wc`) over `[x, r ⊙ h]`, Glorot uniform, and `bc [H]`
 *   (named `<name>.bc`), initialized to zeros.
 * - State: `h [N, H]`.
 *
 * NOTE: u weighs the old state, so u near 1 keeps h. This is TensorFlow's convention, the
 * opposite of the `z` of some textbooks.
 */
export class Gru implements RecurrentLayer {
  readonly cell = "gru";
  readonly name: string;
  /** Gate kernel `Wg [D + H, 2H]` over `[x, h]`, gates r then u. */
  readonly Wg: Param;
  /** Gate bias `bg [2H]`, gates r then u. */
  readonly bg: Param;
  /** Candidate kernel `Wc [D + H, H]` over `[x, r ⊙ h]`. */
  readonly Wc: Param;
  /** Candidate bias `bc [H]`. */
  readonly bc: Param;

  readonly #backend: Backend;
  readonly #label: string;
  /** Input rows `[D, ·]` and state rows `[H, ·]` of each kernel and of its gradient. */
  readonly #wgx: Tensor;
  readonly #wgh: Tensor;
  readonly #wcx: Tensor;
  readonly #wch: Tensor;
  readonly #dWgx: Tensor;
  readonly #dWgh: Tensor;
  readonly #dWcx: Tensor;
  readonly #dWch: Tensor;
  readonly #gates: Workspace;
  readonly #candidates: Workspace;
  readonly #resetState: Workspace;
  readonly #h: Workspace;
  readonly #finalH: Workspace;
  readonly #dG: Workspace;
  readonly #dC: Workspace;
  readonly #dX: Workspace;
  readonly #dh: Workspace;
  readonly #dResetState: Workspace;
  readonly #dhDirect: Workspace;
  /** `Wghᵀ [2H, H]` and `Wchᵀ [H, H]`, refreshed by every forward pass (see `transposeInto`). */
  readonly #wghT: Workspace;
  readonly #wchT: Workspace;
  #cache: GruCache | null = null;

  constructor(
    backend: Backend,
    readonly inputSize: number,
    readonly hiddenSize: number,
    options: RecurrentLayerOptions,
  ) {
    this.name = options.name ?? "gru";
    this.#label = layerLabel("Gru", inputSize, hiddenSize, this.name);
    this.#backend = backend;
    const d = inputSize, h = hiddenSize;

    const wg = backend.zeros([d + h, 2 * h]);
    glorotUniform(wg, options.rng);
    const wc = backend.zeros([d + h, h]);
    glorotUniform(wc, options.rng);
    const bg = backend.zeros([2 * h]);
    bg.data.fill(1);
    this.Wg = new Param(`${this.name}.Wg`, wg, backend.zeros([d + h, 2 * h]));
    this.bg = new Param(`${this.name}.bg`, bg, backend.zeros([2 * h]));
    this.Wc = new Param(`${this.name}.Wc`, wc, backend.zeros([d + h, h]));
    this.bc = new Param(`${this.name}.bc`, backend.zeros([h]), backend.zeros([h]));
    this.#wgx = rowsView(this.Wg.value, 0, d);
    this.#wgh = rowsView(this.Wg.value, d, h);
    this.#wcx = rowsView(this.Wc.value, 0, d);
    this.#wch = rowsView(this.Wc.value, d, h);
    this.#dWgx = rowsView(this.Wg.grad, 0, d);
    this.#dWgh = rowsView(this.Wg.grad, d, h);
    this.#dWcx = rowsView(this.Wc.grad, 0, d);
    this.#dWch = rowsView(this.Wc.grad, d, h);

    const ws = () => new Workspace(backend);
    this.#gates = ws();
    this.#candidates = ws();
    this.#resetState = ws();
    this.#h = ws();
    this.#finalH = ws();
    this.#dG = ws();
    this.#dC = ws();
    this.#dX = ws();
    this.#dh = ws();
    this.#dResetState = ws();
    this.#dhDirect = ws();
    this.#wghT = ws();
    this.#wchT = ws();
  }

  /** Return `[Wg, bg, Wc, bc]`. */
  params(): Param[] {
    return [this.Wg, this.bg, this.Wc, this.bc];
  }

  /**
   * Run the GRU over `x [T, N, D]` from `initial.h` (zeros when left out) and return
   * `outputs [T, N, H]` and each sequence's final `h`.
   */
  forward(x: Tensor, lengths: Int32Array, initial?: RecurrentState): RecurrentResult {
    const label = this.#label;
    const [steps, batch] = sequenceShape(label, "forward x", x, this.inputSize);
    const active = activeCounts(label, lengths, steps, batch);
    const H = this.hiddenSize;

    const gates = this.#gates.view([steps, batch, 2 * H]);
    const candidates = this.#candidates.view([steps, batch, H]);
    const resetState = this.#resetState.view([steps, batch, H]);
    const h = this.#h.view([steps + 1, batch, H], true);
    if (initial !== undefined) {
      checkState(label, "initial h", initial.h, batch, H);
      h.data.set(initial.h.data, 0);
    }

    // The input halves of every step at once: X·Wgx + bg and X·Wcx + bc.
    const x2 = flattenSteps(x);
    this.#backend.matmul(x2, this.#wgx, flattenSteps(gates));
    this.#backend.addRowVector(flattenSteps(gates), this.bg.value);
    this.#backend.matmul(x2, this.#wcx, flattenSteps(candidates));
    this.#backend.addRowVector(flattenSteps(candidates), this.bc.value);

    // The step products use Wghᵀ and Wchᵀ with the transposed flag: see transposeInto.
    const wghT = this.#wghT.view([2 * H, H]);
    const wchT = this.#wchT.view([H, H]);
    transposeInto(this.#wgh, wghT);
    transposeInto(this.#wch, wchT);
    const gd = gates.data, cd = candidates.data, rhd = resetState.data, hd = h.data;
    for (let t = 0; t < steps; t++) {
      const k = active[t];
      if (k === 0) break;

      // r, u = σ(X·Wgx + bg + h_{t−1}·Wgh), then r ⊙ h_{t−1}.
      this.#backend.matmul(stepRows(h, t, k), wghT, stepRows(gates, t, k), {
        transB: true,
        accumulate: true,
      });
      for (let row = 0; row < k; row++) {
        const gRow = (t * batch + row) * 2 * H;
        const prev = (t * batch + row) * H;
        for (let j = 0; j < H; j++) {
          const r = sigmoid(gd[gRow + j]);
          gd[gRow + j] = r;
          gd[gRow + H + j] = sigmoid(gd[gRow + H + j]);
          rhd[prev + j] = r * hd[prev + j];
        }
      }

      // c = tanh(X·Wcx + bc + (r ⊙ h_{t−1})·Wch); h_t = u ⊙ h_{t−1} + (1 − u) ⊙ c.
      this.#backend.matmul(stepRows(resetState, t, k), wchT, stepRows(candidates, t, k), {
        transB: true,
        accumulate: true,
      });
      for (let row = 0; row < k; row++) {
        const gRow = (t * batch + row) * 2 * H;
        const prev = (t * batch + row) * H;
        const next = prev + batch * H;
        for (let j = 0; j < H; j++) {
          const c = tanh(cd[prev + j]);
          const u = gd[gRow + H + j];
          cd[prev + j] = c;
          hd[next + j] = u * hd[prev + j] + (1 - u) * c;
        }
      }
    }

    const finalH = this.#finalH.view([batch, H]);
    for (let n = 0; n < batch; n++) {
      const at = (lengths[n] * batch + n) * H;
      finalH.data.set(hd.subarray(at, at + H), n * H);
    }

    this.#cache = { x, active, gates, candidates, resetState, h };
    return { outputs: stepsFrom(h, 1), final: { h: finalH } };
  }

  /**
   * Back-propagate through time from `dOutputs [T, N, H]` (or none) and `dFinal.h`, setting the
   * gradients of `Wg, bg, Wc, bc`, and return `dX [T, N, D]` and the initial state's gradient.
   */
  backward(dOutputs: Tensor | null, dFinal: FinalStateGrad): RecurrentGrads {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { x, active, gates, candidates, resetState, h } = this.#cache;
    const [steps, batch] = [x.shape[0], x.shape[1]];
    const H = this.hiddenSize;
    if (dOutputs !== null) sequenceShape(this.#label, "backward dOutputs", dOutputs, H);

    const dG = this.#dG.view([steps, batch, 2 * H], true);
    const dC = this.#dC.view([steps, batch, H], true);
    const dh = this.#dh.view([batch, H], true);
    const dResetState = this.#dResetState.view([batch, H]);
    const dhDirect = this.#dhDirect.view([batch, H]);
    if (dFinal.h) {
      checkState(this.#label, "dFinal h", dFinal.h, batch, H);
      dh.data.set(dFinal.h.data);
    }

    const gd = gates.data, cd = candidates.data, hd = h.data, dOut = dOutputs?.data;
    const dgd = dG.data, dcd = dC.data, dhd = dh.data, drd = dResetState.data;
    const ddd = dhDirect.data;
    for (let t = steps - 1; t >= 0; t--) {
      const k = active[t];
      if (k === 0) continue;

      // h_t = u ⊙ h_{t−1} + (1 − u) ⊙ c: gradients of c's pre-activation, of u's
      // pre-activation, and the direct path to h_{t−1}.
      for (let row = 0; row < k; row++) {
        const gRow = (t * batch + row) * 2 * H;
        const stepRow = (t * batch + row) * H;
        for (let j = 0; j < H; j++) {
          const dhv = dhd[row * H + j] + (dOut === undefined ? 0 : dOut[stepRow + j]);
          const u = gd[gRow + H + j], c = cd[stepRow + j], hPrev = hd[stepRow + j];
          dcd[stepRow + j] = dhv * (1 - u) * (1 - c * c);
          dgd[gRow + H + j] = dhv * (hPrev - c) * u * (1 - u);
          ddd[row * H + j] = dhv * u;
        }
      }

      // c = tanh(… + (r ⊙ h_{t−1})·Wch): back through the product to r ⊙ h_{t−1}, then to r
      // and to h_{t−1}.
      this.#backend.matmul(stepRows(dC, t, k), this.#wch, firstRows(dResetState, k), {
        transB: true,
      });
      for (let row = 0; row < k; row++) {
        const gRow = (t * batch + row) * 2 * H;
        const stepRow = (t * batch + row) * H;
        for (let j = 0; j < H; j++) {
          const r = gd[gRow + j], drh = drd[row * H + j];
          dgd[gRow + j] = drh * hd[stepRow + j] * r * (1 - r);
          ddd[row * H + j] += drh * r;
        }
      }

      // r, u = σ(… + h_{t−1}·Wgh): dh_{t−1} = dG_t·Wghᵀ plus the paths found above.
      this.#backend.matmul(stepRows(dG, t, k), this.#wgh, firstRows(dh, k), { transB: true });
      for (let i = 0; i < k * H; i++) dhd[i] += ddd[i];
    }

    // Kernel gradients summed over every step at once; padded rows of dG and dC are zero.
    const x2 = flattenSteps(x), dG2 = flattenSteps(dG), dC2 = flattenSteps(dC);
    this.#backend.matmul(x2, dG2, this.#dWgx, { transA: true });
    this.#backend.matmul(flattenSteps(stepsUntil(h, steps)), dG2, this.#dWgh, { transA: true });
    this.#backend.sumRows(dG2, this.bg.grad);
    this.#backend.matmul(x2, dC2, this.#dWcx, { transA: true });
    this.#backend.matmul(flattenSteps(resetState), dC2, this.#dWch, { transA: true });
    this.#backend.sumRows(dC2, this.bc.grad);

    const dX = this.#dX.view([steps, batch, this.inputSize]);
    const dX2 = flattenSteps(dX);
    this.#backend.matmul(dG2, this.#wgx, dX2, { transB: true });
    this.#backend.matmul(dC2, this.#wcx, dX2, { transB: true, accumulate: true });
    return { dX, dInitial: { h: dh } };
  }
}
