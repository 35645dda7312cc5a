/**
 * The contract of a recurrent layer: one cell run over a padded batch in one direction, with
 * back-propagation through time.
 *
 * Shape legend: T time steps, N batch, D input features, H hidden units.
 *
 * Conventions, shared by `BasicRnn`, `Gru` and `Lstm`:
 * - Input `x [T, N, D]` is time-major, with rows sorted by non-increasing length (see
 *   `sequence.ts`). Sequence `n` runs for steps `0 … lengths[n] − 1`.
 * - `outputs [T, N, H]` contains `h_t` at every step of every sequence and zeros at padded
 *   positions, as TensorFlow's `dynamic_rnn` with `sequence_length` returns them.
 * - `final.h [N, H]` is each sequence's state after its own last step, not after step T − 1.
 * - Weights follow TensorFlow 1.x: one kernel over the concatenation `[x, h]`, so its first D rows
 *   act on the input and its last H rows on the state. The cells split it into those two views
 *   so that the input half can be applied to every step in one matrix product.
 * - `backward` overwrites every parameter gradient and returns `dX` and the gradient of the
 *   initial state. Outputs and gradients belong to the layer and are reused by its next call.
 *
 * @module
 */

import type { Param, Rng, Tensor } from "@nn/core";

/** Cell names accepted by `--cell`. */
export const CELLS = ["rnn", "gru", "lstm"] as const;
export type CellName = typeof CELLS[number];

/** A recurrent state: `h [N, H]`, plus the memory `c [N, H]` of an LSTM. */
export interface RecurrentState {
  h: Tensor;
  c?: Tensor;
}

/** Gradients that reach the final state from above; a missing entry counts as zero. */
export interface FinalStateGrad {
  h?: Tensor | null;
  c?: Tensor | null;
}

/** Outcome of {@linkcode RecurrentLayer.forward}. */
export interface RecurrentResult {
  /** `h_t` for every step, `[T, N, H]`, zero at padded positions. */
  outputs: Tensor;
  /** Each sequence's state after its last step. */
  final: RecurrentState;
}

/** Outcome of {@linkcode RecurrentLayer.backward}. */
export interface RecurrentGrads {
  /** `∂L/∂x [T, N, D]`, zero at padded positions. */
  dX: Tensor;
  /** `∂L/∂(initial state)`, `[N, H]` each. */
  dInitial: RecurrentState;
}

/** One recurrent cell unrolled over a padded batch. */
export interface RecurrentLayer {
  readonly name: string;
  readonly cell: CellName;
  /** Input features D. */
  readonly inputSize: number;
  /** Hidden units H. */
  readonly hiddenSize: number;

  /**
   * Run the cell over `x [T, N, D]` from `initial` (zeros when left out).
   *
   * @throws {TypeError} when a shape is wrong
   * @throws {RangeError} when a length is outside `[1, T]` or the lengths increase
   */
  forward(x: Tensor, lengths: Int32Array, initial?: RecurrentState): RecurrentResult;

  /**
   * Back-propagate through time from `dOutputs [T, N, H]` (or none) and the gradient of the
   * final state, setting every parameter's gradient.
   *
   * @throws {Error} when called before `forward`
   */
  backward(dOutputs: Tensor | null, dFinal: FinalStateGrad): RecurrentGrads;

  /** Trainable parameters, in a fixed order. */
  params(): Param[];
}

/** Options of the recurrent layers. */
export interface RecurrentLayerOptions {
  /** Draws the initial kernels. */
  rng: Rng;
  /** Layer name and prefix of its parameter names, e.g. `encoder.l1.fw`. */
  name?: string;
}

/**
 * Fill `w [fanIn, fanOut]` from the Glorot (Xavier) uniform distribution
 * `U(−√(6 / (fanIn + fanOut)), +√(6 / (fanIn + fanOut)))`, TensorFlow 1.x's default kernel
 * initializer.
 */
export function glorotUniform(w: Tensor, rng: Rng): void {
  const [fanIn, fanOut] = w.shape;
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  rng.fillUniform(w.data, -limit, limit);
}

/** Check a layer's sizes and return its label for messages, e.g. `Lstm(100, 150) encoder`. */
export function layerLabel(kind: string, inputSize: number, hiddenSize: number, name: string) {
  const label = `${kind}(${inputSize}, ${hiddenSize}) ${name}`;
  for (const [what, value] of [["inputSize", inputSize], ["hiddenSize", hiddenSize]] as const) {
    if (!Number.isInteger(value) || value <= 0) {
      throw new RangeError(`${label}: ${what} must be a positive integer, got ${value}`);
    }
  }
  return label;
}

/** Check an initial state tensor: `[N, H]`. */
export function checkState(label: string, what: string, t: Tensor, n: number, h: number) {
  if (t.shape.length !== 2 || t.shape[0] !== n || t.shape[1] !== h) {
    throw new TypeError(`${label}: ${what} has shape [${t.shape}], expected [${n}, ${h}]`);
  }
}
