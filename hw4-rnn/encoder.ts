/**
 * Stacked, optionally bidirectional recurrent layers: the sentence encoder.
 *
 * Shape legend: T time steps, N batch, D input features, H hidden units per direction,
 * E = H (one direction) or 2H (bidirectional) output features.
 *
 * @module
 */

import type { Backend, Param, Rng, Tensor } from "@nn/core";
import { BasicRnn } from "./basic_rnn.ts";
import { Gru } from "./gru.ts";
import { Lstm } from "./lstm.ts";
import type { CellName, RecurrentLayer, RecurrentLayerOptions } from "./recurrent.ts";
import { reverseWithin, sequenceShape, Workspace } from "./sequence.ts";

/** Create the recurrent layer of cell `cell`. */
export function createRecurrentLayer(
  backend: Backend,
  cell: CellName,
  inputSize: number,
  hiddenSize: number,
  options: RecurrentLayerOptions,
): RecurrentLayer {
  switch (cell) {
    case "rnn":
      return new BasicRnn(backend, inputSize, hiddenSize, options);
    case "gru":
      return new Gru(backend, inputSize, hiddenSize, options);
    case "lstm":
      return new Lstm(backend, inputSize, hiddenSize, options);
  }
}

/** Architecture of a {@linkcode RecurrentEncoder}. */
export interface EncoderSpec {
  cell: CellName;
  /** Input features D. */
  inputSize: number;
  /** Hidden units H of each direction of each layer. */
  hiddenSize: number;
  /** Stacked layers, at least 1. */
  layers: number;
  /** Whether each layer also reads every sentence backwards. */
  bidirectional: boolean;
}

/** One layer of the stack: the forward-reading layer and, when bidirectional, the reversed one. */
interface StackLevel {
  forward: RecurrentLayer;
  backward: RecurrentLayer | null;
  /** Buffers of this level: reversed input, concatenated outputs, their gradients. */
  reversedInput: Workspace;
  outputs: Workspace;
  dForward: Workspace;
  dBackward: Workspace;
  dInput: Workspace;
}

/** Outcome of {@linkcode RecurrentEncoder.forward}. */
export interface EncoderResult {
  /** The top layer's outputs `[T, N, E]`, zero at padded positions. */
  outputs: Tensor;
  /**
   * The top layer's final states `[N, E]`: the forward direction after each sentence's last
   * word, then the backward direction after its first word.
   */
  final: Tensor;
}

/**
 * Recurrent layers stacked `layers` deep, each optionally bidirectional, as TensorFlow's
 * `stack_bidirectional_dynamic_rnn` builds them.
 *
 * - Layer 1 reads `x [T, N, D]`; layer l > 1 reads layer l − 1's outputs `[T, N, E]`.
 * - The backward direction reads each sentence reversed within its own length, so it starts at
 *   the sentence's last word, not at the padding. Its outputs are reversed back and concatenated
 *   after the forward direction's: `outputs[t, n] = [h_fw(t), h_bw(t)]`.
 * - Parameters are named `<name>.l<layer>.fw.*` and `<name>.l<layer>.bw.*`, layers from 1.
 */
export class RecurrentEncoder {
  readonly name: string;
  readonly spec: Readonly<EncoderSpec>;
  /** Output features E per step. */
  readonly outputSize: number;
  readonly levels: readonly StackLevel[];

  readonly #final: Workspace;
  readonly #dFinalForward: Workspace;
  readonly #dFinalBackward: Workspace;
  #lengths: Int32Array | null = null;

  /** @throws {RangeError} when `layers` is not a positive integer, or a size is invalid */
  constructor(backend: Backend, spec: EncoderSpec, rng: Rng, name = "encoder") {
    if (!Number.isInteger(spec.layers) || spec.layers < 1) {
      throw new RangeError(`RecurrentEncoder ${name}: layers must be >= 1, got ${spec.layers}`);
    }
    this.name = name;
    this.spec = Object.freeze({ ...spec });
    const directions = spec.bidirectional ? 2 : 1;
    this.outputSize = directions * spec.hiddenSize;

    const levels: StackLevel[] = [];
    for (let l = 1; l <= spec.layers; l++) {
      const inputSize = l === 1 ? spec.inputSize : this.outputSize;
      const create = (direction: string) =>
        createRecurrentLayer(backend, spec.cell, inputSize, spec.hiddenSize, {
          rng,
          name: `${name}.l${l}.${direction}`,
        });
      levels.push({
        forward: create("fw"),
        backward: spec.bidirectional ? create("bw") : null,
        reversedInput: new Workspace(backend),
        outputs: new Workspace(backend),
        dForward: new Workspace(backend),
        dBackward: new Workspace(backend),
        dInput: new Workspace(backend),
      });
    }
    this.levels = levels;
    this.#final = new Workspace(backend);
    this.#dFinalForward = new Workspace(backend);
    this.#dFinalBackward = new Workspace(backend);
  }

  /** Return every layer's parameters, bottom layer first, forward direction first. */
  params(): Param[] {
    return this.levels.flatMap((level) => [
      ...level.forward.params(),
      ...(level.backward?.params() ?? []),
    ]);
  }

  /**
   * Encode `x [T, N, D]` (rows sorted by non-increasing length) and return the top layer's
   * outputs `[T, N, E]` and final states `[N, E]`.
   */
  forward(x: Tensor, lengths: Int32Array): EncoderResult {
    const [steps, batch] = sequenceShape(
      `RecurrentEncoder ${this.name}`,
      "forward x",
      x,
      this.spec.inputSize,
    );
    const H = this.spec.hiddenSize;
    let input = x;
    let final: Tensor | null = null;
    for (const level of this.levels) {
      const fw = level.forward.forward(input, lengths);
      if (level.backward === null) {
        input = fw.outputs;
        final = fw.final.h;
        continue;
      }

      const reversed = level.reversedInput.view(input.shape);
      reverseWithin(input, lengths, reversed);
      const bw = level.backward.forward(reversed, lengths);

      // outputs[t, n] = [h_fw(t), h_bw(t)], where the backward direction's step for word t is
      // step L_n − 1 − t of its reversed run.
      const outputs = level.outputs.view([steps, batch, 2 * H], true);
      const od = outputs.data, fd = fw.outputs.data, bd = bw.outputs.data;
      for (let n = 0; n < batch; n++) {
        const length = lengths[n];
        for (let t = 0; t < length; t++) {
          const at = (t * batch + n) * H;
          const from = ((length - 1 - t) * batch + n) * H;
          od.set(fd.subarray(at, at + H), 2 * at);
          od.set(bd.subarray(from, from + H), 2 * at + H);
        }
      }
      input = outputs;

      const both = this.#final.view([batch, 2 * H]);
      for (let n = 0; n < batch; n++) {
        both.data.set(fw.final.h.data.subarray(n * H, (n + 1) * H), 2 * n * H);
        both.data.set(bw.final.h.data.subarray(n * H, (n + 1) * H), (2 * n + 1) * H);
      }
      final = both;
    }
    this.#lengths = lengths;
    return { outputs: input, final: final! };
  }

  /**
   * Back-propagate `dOutputs [T, N, E]` and `dFinal [N, E]` (either may be null) through every
   * layer, setting all parameter gradients, and return `dX [T, N, D]`.
   *
   * @throws {Error} when called before `forward`
   */
  backward(dOutputs: Tensor | null, dFinal: Tensor | null): Tensor {
    const lengths = this.#lengths;
    if (lengths === null) {
      throw new Error(`RecurrentEncoder ${this.name}: backward called before forward`);
    }
    const H = this.spec.hiddenSize;
    let dAbove = dOutputs;
    let dFinalAbove = dFinal;
    for (let l = this.levels.length - 1; l >= 0; l--) {
      const level = this.levels[l];
      if (level.backward === null) {
        dAbove = level.forward.backward(dAbove, { h: dFinalAbove }).dX;
        dFinalAbove = null;
        continue;
      }

      // Split [dh_fw, dh_bw] and put the backward half into the reversed run's step order.
      let dFw: Tensor | null = null, dBw: Tensor | null = null;
      if (dAbove !== null) {
        const [steps, batch] = [dAbove.shape[0], dAbove.shape[1]];
        dFw = level.dForward.view([steps, batch, H], true);
        dBw = level.dBackward.view([steps, batch, H], true);
        const dd = dAbove.data;
        for (let n = 0; n < batch; n++) {
          const length = lengths[n];
          for (let t = 0; t < length; t++) {
            const at = (t * batch + n) * H;
            const to = ((length - 1 - t) * batch + n) * H;
            dFw.data.set(dd.subarray(2 * at, 2 * at + H), at);
            dBw.data.set(dd.subarray(2 * at + H, 2 * at + 2 * H), to);
          }
        }
      }
      let dFinalFw: Tensor | null = null, dFinalBw: Tensor | null = null;
      if (dFinalAbove !== null) {
        const batch = dFinalAbove.shape[0];
        dFinalFw = this.#dFinalForward.view([batch, H]);
        dFinalBw = this.#dFinalBackward.view([batch, H]);
        for (let n = 0; n < batch; n++) {
          const row = dFinalAbove.data.subarray(2 * n * H, 2 * (n + 1) * H);
          dFinalFw.data.set(row.subarray(0, H), n * H);
          dFinalBw.data.set(row.subarray(H), n * H);
        }
      }

      const fw = level.forward.backward(dFw, { h: dFinalFw });
      const bw = level.backward.backward(dBw, { h: dFinalBw });
      // The input gradient adds the forward run's dX and the backward run's, reversed back.
      const dInput = level.dInput.view(fw.dX.shape);
      reverseWithin(bw.dX, lengths, dInput);
      const di = dInput.data, df = fw.dX.data;
      for (let i = 0; i < di.length; i++) di[i] += df[i];
      dAbove = dInput;
      dFinalAbove = null;
    }
    return dAbove!;
  }
}
