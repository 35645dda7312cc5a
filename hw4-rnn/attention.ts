/**
 * Structured self-attention (Lin et al., "A Structured Self-Attentive Sentence Embedding",
 * ICLR 2017), with its penalty on redundant attention rows.
 *
 * Shape legend: T time steps, N batch, E encoder features per step, A attention hidden units
 * (the paper's d_a), R attention hops (the paper's r).
 *
 * @module
 */

import { type Backend, Param, type Rng, Tensor } from "@nn/core";
import { glorotUniform } from "./recurrent.ts";
import { activeCounts, flattenSteps, sequenceShape, tanh, Workspace } from "./sequence.ts";

/** Options of {@linkcode SelfAttention}. */
export interface SelfAttentionOptions {
  /** Hidden units A of the scoring layer, the paper's d_a (150 in the paper's SST setup). */
  hidden: number;
  /** Attention hops R, the rows of the attention matrix (the paper's r). */
  hops: number;
  /** Draws the initial weights. */
  rng: Rng;
  /** Layer name and prefix of its parameter names, default `attention`. */
  name?: string;
}

/** Tensors that {@linkcode SelfAttention.forward} saves for the backward pass. */
interface AttentionCache {
  lengths: Int32Array;
  /** Encoder outputs as a matrix `[T·N, E]`, a reference to the caller's tensor. */
  h2: Tensor;
  /** Encoder outputs batch-major `[N, T, E]`, a copy. */
  hb: Tensor;
  /** `tanh(H·Ws1) [T·N, A]`. */
  s1: Tensor;
  /** Attention weights `[N, R, T]`, zero at padded positions. */
  a: Tensor;
  /** `A·Aᵀ − I` per sentence, `[N, R, R]`. */
  gram: Tensor;
}

/**
 * Structured self-attention over the steps of each sentence:
 *
 * ```
 * A = softmax(Ws2ᵀ·tanh(Ws1ᵀ·Hᵀ))   per sentence, softmax over its own words: [R, L]
 * M = A·H                           [R, E], flattened to [R·E]
 * P = ‖A·Aᵀ − I‖²_F                 the penalty, averaged over the batch
 * ```
 *
 * - `Ws1 [E, A]` (named `<name>.Ws1`) and `Ws2 [A, R]` (named `<name>.Ws2`): the paper's
 *   `W_s1 [d_a, 2u]` and `W_s2 [r, d_a]` stored transposed, so that all steps of the batch
 *   are scored by two matrix products. Glorot-uniform initialization, no biases (as in the paper).
 * - Input `[T, N, E]` (rows sorted by length, as the encoder takes them); padded positions are
 *   left out of each softmax, so they get weight 0. Output `M [N, R·E]`.
 * - `penalty` is P of the last forward pass; `backward(dM, weight)` adds the gradient of
 *   `weight · P` to that of M.
 */
export class SelfAttention {
  readonly name: string;
  readonly Ws1: Param;
  readonly Ws2: Param;
  readonly hidden: number;
  readonly hops: number;
  /** Mean `‖A·Aᵀ − I‖²_F` over the sentences of the last forward pass. */
  penalty = 0;

  readonly #backend: Backend;
  readonly #label: string;
  readonly #hb: Workspace;
  readonly #s1: Workspace;
  readonly #s2: Workspace;
  readonly #a: Workspace;
  readonly #m: Workspace;
  readonly #gram: Workspace;
  readonly #scaledGram: Workspace;
  readonly #dA: Workspace;
  readonly #dHb: Workspace;
  readonly #dS2: Workspace;
  readonly #dS1: Workspace;
  readonly #dH: Workspace;
  #cache: AttentionCache | null = null;

  constructor(backend: Backend, readonly inputSize: number, options: SelfAttentionOptions) {
    this.name = options.name ?? "attention";
    this.hidden = options.hidden;
    this.hops = options.hops;
    this.#label =
      `SelfAttention(${inputSize}, d_a ${options.hidden}, r ${options.hops}) ${this.name}`;
    for (
      const [what, value] of [
        ["inputSize", inputSize],
        ["hidden", options.hidden],
        ["hops", options.hops],
      ] as const
    ) {
      if (!Number.isInteger(value) || value <= 0) {
        throw new RangeError(`${this.#label}: ${what} must be a positive integer, got ${value}`);
      }
    }
    this.#backend = backend;
    const ws1 = backend.zeros([inputSize, this.hidden]);
    glorotUniform(ws1, options.rng);
    const ws2 = backend.zeros([this.hidden, this.hops]);
    glorotUniform(ws2, options.rng);
    this.Ws1 = new Param(`${this.name}.Ws1`, ws1, backend.zeros(ws1.shape));
    this.Ws2 = new Param(`${this.name}.Ws2`, ws2, backend.zeros(ws2.shape));

    const ws = () => new Workspace(backend);
    this.#hb = ws();
    this.#s1 = ws();
    this.#s2 = ws();
    this.#a = ws();
    this.#m = ws();
    this.#gram = ws();
    this.#scaledGram = ws();
    this.#dA = ws();
    this.#dHb = ws();
    this.#dS2 = ws();
    this.#dS1 = ws();
    this.#dH = ws();
  }

  /** Output features per sentence: R·E. */
  get outputSize(): number {
    return this.hops * this.inputSize;
  }

  /** Return `[Ws1, Ws2]`. */
  params(): Param[] {
    return [this.Ws1, this.Ws2];
  }

  /** Return the attention weights of the last forward pass, `[N, R, T]`. */
  weights(): Tensor {
    if (this.#cache === null) throw new Error(`${this.#label}: weights read before forward`);
    return this.#cache.a;
  }

  /**
   * Return `M [N, R·E]` for encoder outputs `h [T, N, E]` and set `penalty`.
   *
   * @throws {TypeError} when `h` is not `[T, N, E]`
   * @throws {RangeError} when the lengths are invalid (see `activeCounts`)
   */
  forward(h: Tensor, lengths: Int32Array): Tensor {
    const [steps, batch] = sequenceShape(this.#label, "forward h", h, this.inputSize);
    activeCounts(this.#label, lengths, steps, batch);
    const E = this.inputSize, A = this.hidden, R = this.hops;

    // Score every position of every sentence at once: S2 = tanh(H·Ws1)·Ws2, [T·N, R].
    const h2 = flattenSteps(h);
    const s1 = this.#s1.view([steps * batch, A]);
    const s2 = this.#s2.view([steps * batch, R]);
    this.#backend.matmul(h2, this.Ws1.value, s1);
    for (let i = 0; i < s1.size; i++) s1.data[i] = tanh(s1.data[i]);
    this.#backend.matmul(s1, this.Ws2.value, s2);

    // A[n, r, ·] = softmax of S2[·, n, r] over the sentence's own words: subtract the max for
    // stability, exponentiate, normalize. Padded positions keep weight 0.
    const a = this.#a.view([batch, R, steps], true);
    const ad = a.data, sd = s2.data;
    for (let n = 0; n < batch; n++) {
      const length = lengths[n];
      for (let r = 0; r < R; r++) {
        const row = (n * R + r) * steps;
        let max = -Infinity;
        for (let t = 0; t < length; t++) max = Math.max(max, sd[(t * batch + n) * R + r]);
        let sum = 0;
        for (let t = 0; t < length; t++) {
          const e = Math.exp(sd[(t * batch + n) * R + r] - max);
          ad[row + t] = e;
          sum += e;
        }
        for (let t = 0; t < length; t++) ad[row + t] /= sum;
      }
    }

    // M_n = A_n·H_n per sentence, with H_n copied out batch-major so it is a contiguous [T, E].
    const hb = this.#hb.view([batch, steps, E]);
    for (let t = 0; t < steps; t++) {
      for (let n = 0; n < batch; n++) {
        const from = (t * batch + n) * E;
        hb.data.set(h.data.subarray(from, from + E), (n * steps + t) * E);
      }
    }
    const m = this.#m.view([batch, R * E]);
    const gram = this.#gram.view([batch, R, R]);
    let penalty = 0;
    for (let n = 0; n < batch; n++) {
      const an = sentence(a, n), hn = sentence(hb, n);
      this.#backend.matmul(an, hn, new Tensor([R, E], m.data.subarray(n * R * E, (n + 1) * R * E)));

      // P_n = ‖A_n·A_nᵀ − I‖²_F; backward reuses A_n·A_nᵀ − I.
      const g = sentence(gram, n);
      this.#backend.matmul(an, an, g, { transB: true });
      for (let r = 0; r < R; r++) g.data[r * R + r] -= 1;
      for (let i = 0; i < R * R; i++) penalty += g.data[i] * g.data[i];
    }
    this.penalty = penalty / batch;

    this.#cache = { lengths, h2, hb, s1, a, gram };
    return m;
  }

  /**
   * Set the gradients of `Ws1` and `Ws2` for the loss `L(M) + penaltyWeight · P`, given
   * `dM = ∂L/∂M [N, R·E]`, and return `∂/∂h [T, N, E]`.
   *
   * @throws {TypeError} when `dM` is not `[N, R·E]`
   * @throws {Error} when called before `forward`
   */
  backward(dM: Tensor, penaltyWeight: number): Tensor {
    if (this.#cache === null) throw new Error(`${this.#label}: backward called before forward`);
    const { lengths, h2, hb, s1, a, gram } = this.#cache;
    const [batch, R, steps] = a.shape;
    const E = this.inputSize, A = this.hidden;
    if (dM.shape.length !== 2 || dM.shape[0] !== batch || dM.shape[1] !== R * E) {
      throw new TypeError(
        `${this.#label}: backward dM has shape [${dM.shape}], expected [${batch}, ${R * E}]`,
      );
    }

    // M_n = A_n·H_n: dA_n = dM_n·H_nᵀ and dH_n = A_nᵀ·dM_n.
    // P = (1/N) Σ_n ‖G_n‖²_F with G_n = A_n·A_nᵀ − I symmetric, so ∂P/∂A_n = (4/N)·G_n·A_n.
    const dA = this.#dA.view([batch, R, steps]);
    const dHb = this.#dHb.view([batch, steps, E]);
    const scale = 4 * penaltyWeight / batch;
    const scaledGram = this.#scaledGram.view([R, R]);
    for (let n = 0; n < batch; n++) {
      const an = sentence(a, n), dAn = sentence(dA, n);
      const dMn = new Tensor([R, E], dM.data.subarray(n * R * E, (n + 1) * R * E));
      this.#backend.matmul(dMn, sentence(hb, n), dAn, { transB: true });
      this.#backend.matmul(an, dMn, sentence(dHb, n), { transA: true });
      if (scale !== 0) {
        const g = sentence(gram, n).data;
        for (let i = 0; i < R * R; i++) scaledGram.data[i] = scale * g[i];
        this.#backend.matmul(scaledGram, an, dAn, { accumulate: true });
      }
    }

    // Softmax over each sentence's words: dS = A ⊙ (dA − Σ_t A·dA); padded positions get 0.
    const dS2 = this.#dS2.view([steps * batch, R], true);
    const ad = a.data, dad = dA.data, dsd = dS2.data;
    for (let n = 0; n < batch; n++) {
      const length = lengths[n];
      for (let r = 0; r < R; r++) {
        const row = (n * R + r) * steps;
        let dot = 0;
        for (let t = 0; t < length; t++) dot += ad[row + t] * dad[row + t];
        for (let t = 0; t < length; t++) {
          dsd[(t * batch + n) * R + r] = ad[row + t] * (dad[row + t] - dot);
        }
      }
    }

    // S2 = S1·Ws2 and S1 = tanh(H·Ws1).
    const dS1 = this.#dS1.view([steps * batch, A]);
    this.#backend.matmul(s1, dS2, this.Ws2.grad, { transA: true });
    this.#backend.matmul(dS2, this.Ws2.value, dS1, { transB: true });
    for (let i = 0; i < dS1.size; i++) dS1.data[i] *= 1 - s1.data[i] * s1.data[i];
    this.#backend.matmul(h2, dS1, this.Ws1.grad, { transA: true });
    const dH = this.#dH.view([steps, batch, E]);
    this.#backend.matmul(dS1, this.Ws1.value, flattenSteps(dH), { transB: true });

    // Add the path through M, transposed back to time-major.
    const dhd = dH.data, dbd = dHb.data;
    for (let t = 0; t < steps; t++) {
      for (let n = 0; n < batch; n++) {
        const to = (t * batch + n) * E, from = (n * steps + t) * E;
        for (let e = 0; e < E; e++) dhd[to + e] += dbd[from + e];
      }
    }
    return dH;
  }
}

/** Return sentence `n` of a batch-major tensor `[N, P, Q]` as a `[P, Q]` view. */
function sentence(t: Tensor, n: number): Tensor {
  const [, p, q] = t.shape;
  return new Tensor([p, q], t.data.subarray(n * p * q, (n + 1) * p * q));
}
