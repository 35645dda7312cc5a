/**
 * Angles between feedback alignment's teaching signals and backpropagation's.
 *
 * Shape legend: N batch, H units of a hidden layer.
 *
 * @module
 */

import type { Backend, Layer, Param, Sequential, Tensor } from "@nn/core";
import { FeedbackLinear } from "./feedback_linear.ts";

/**
 * Return the angle in degrees, in `[0, 180]`, between the vectors `a` and `b`:
 * `arccos(a·b / (|a|·|b|))`, computed in float64. Both must have the same length.
 *
 * Returns NaN when either vector is zero, because its direction is undefined.
 *
 * @throws {TypeError} when the lengths differ
 */
export function angleDegrees(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) {
    throw new TypeError(`angleDegrees: a has ${a.length} elements, b has ${b.length}`);
  }
  return angleOfRange(a, b, 0, a.length);
}

/**
 * Return the mean over rows of the angle in degrees between row `i` of `a [N, H]` and row `i` of
 * `b [N, H]`, skipping rows where either is zero. Returns NaN when every row is skipped.
 *
 * @throws {TypeError} when the shapes differ or are not 2-D
 */
export function meanRowAngleDegrees(a: Tensor, b: Tensor): number {
  if (a.shape.length !== 2 || a.shape.join() !== b.shape.join()) {
    throw new TypeError(
      `meanRowAngleDegrees: a has shape [${a.shape}] and b has shape [${b.shape}], ` +
        "expected equal [N, H] shapes",
    );
  }
  const [n, h] = a.shape;
  let sum = 0, rows = 0;
  for (let i = 0; i < n; i++) {
    const angle = angleOfRange(a.data, b.data, i * h, (i + 1) * h);
    if (Number.isNaN(angle)) continue;
    sum += angle;
    rows++;
  }
  return rows === 0 ? NaN : sum / rows;
}

function angleOfRange(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  start: number,
  end: number,
): number {
  let dot = 0, aa = 0, bb = 0;
  for (let i = start; i < end; i++) {
    dot += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  if (aa === 0 || bb === 0) return NaN;
  // Rounding can push the cosine of (anti)parallel vectors just past ±1, where arccos is NaN.
  const cosine = Math.min(1, Math.max(-1, dot / Math.sqrt(aa * bb)));
  return (Math.acos(cosine) * 180) / Math.PI;
}

/** Angles between the feedback-alignment and backpropagation signals at one hidden layer. */
export interface AngleRecord {
  /** 1-based training iteration, counted across epochs, at which the angles were measured. */
  iteration: number;
  /**
   * 1-based number of the hidden layer that receives the signal, counted from the input: hidden
   * layer k is the input of the network's (k + 1)-th `FeedbackLinear` layer.
   */
  hiddenLayer: number;
  /** Angle in degrees between the two `[N, H]` signals of the whole batch, each as one vector. */
  angle: number;
  /** Mean over the batch's examples of the angle between their two `[H]` signals, in degrees. */
  exampleAngle: number;
}

/** Options of {@linkcode AlignmentProbe}. */
export interface AlignmentProbeOptions {
  /** Measure on iteration 1 and on every iteration that is a multiple of `every`. */
  every: number;
}

/**
 * A network of {@linkcode FeedbackLinear} layers that measures, while it trains, the angle between
 * the signal that feedback alignment sends to each hidden layer and the one that backpropagation
 * would send.
 *
 * Forward and parameters are those of `network`. Backward runs the network's layers last to first,
 * as `Sequential.backward` does, and so trains by feedback alignment. Every call of `backward` is
 * one training iteration. On an iteration to measure, it first computes backpropagation's signals
 * with the same weights, saved activations and `dY`. Each `FeedbackLinear` passes `dY·Wᵀ` in that
 * chain, and every other layer its own `backward`. Then, as the feedback-alignment pass reaches
 * each hidden layer, it records the angle between the two signals there.
 *
 * The angle at the top hidden layer is below 90° exactly when `Σ_batch e·Wᵀ·B·eᵀ > 0` for the
 * output error rows `e` of `dY`, which is when `B`'s signal moves the outputs downhill.
 *
 * NOTE: the backpropagation chain calls the other layers' `backward`, which overwrites their
 * gradients. The feedback-alignment pass that follows overwrites them again, so the optimizer steps
 * with feedback alignment's gradients only.
 */
export class AlignmentProbe implements Layer {
  readonly name: string;
  /** Angles recorded so far, in the order measured: every hidden layer of an iteration, top first. */
  readonly records: AngleRecord[] = [];

  readonly #backend: Backend;
  readonly #network: Sequential;
  readonly #every: number;
  /** Backward calls so far, which is the number of the current training iteration. */
  #iteration = 0;
  /** Backpropagation signal `[N, D_in]` at the input of each layer, by layer index. */
  #backpropSignals = new Map<number, Tensor>();

  /**
   * @throws {RangeError} when `every` is not a positive integer, or when `network` does not start
   *   with a `FeedbackLinear`, has parameters outside `FeedbackLinear` layers or has fewer than two
   */
  constructor(backend: Backend, network: Sequential, options: AlignmentProbeOptions) {
    if (!Number.isInteger(options.every) || options.every <= 0) {
      throw new RangeError(
        `AlignmentProbe: every must be a positive integer, got ${options.every}`,
      );
    }
    const layers = network.layers;
    const untrained = layers.find((layer) =>
      !(layer instanceof FeedbackLinear) && layer.params().length > 0
    );
    if (!(layers[0] instanceof FeedbackLinear) || untrained !== undefined) {
      throw new RangeError(
        `AlignmentProbe: network ${network.name} must start with a FeedbackLinear layer and ` +
          `have parameters only in FeedbackLinear layers, but ${
            untrained?.name ?? layers[0].name
          } is not a FeedbackLinear`,
      );
    }
    const count = layers.filter((layer) => layer instanceof FeedbackLinear).length;
    if (count < 2) {
      throw new RangeError(
        `AlignmentProbe: network ${network.name} has one FeedbackLinear layer, so no hidden ` +
          "layer receives a feedback signal",
      );
    }
    this.name = `${network.name} with alignment probe`;
    this.#backend = backend;
    this.#network = network;
    this.#every = options.every;
  }

  /** Run the network's forward pass. */
  forward(x: Tensor, training: boolean): Tensor {
    return this.#network.forward(x, training);
  }

  /**
   * Run the network's feedback-alignment backward pass and return the first layer's `dX`, or
   * `null` when `needInputGrad` is false. On iteration 1 and every `every`-th iteration, also
   * record the angle at each hidden layer.
   */
  backward(dY: Tensor, needInputGrad = false): Tensor | null {
    this.#iteration++;
    const iteration = this.#iteration;
    const measure = iteration === 1 || iteration % this.#every === 0;
    if (measure) this.#computeBackpropSignals(dY);

    const layers = this.#network.layers;
    let hiddenLayer = layers.filter((layer) => layer instanceof FeedbackLinear).length - 1;
    const measured: AngleRecord[] = [];
    let grad = dY;
    for (let i = layers.length - 1; i > 0; i--) {
      const dX = layers[i].backward(grad, true);
      if (dX === null) {
        throw new Error(`${this.name}: layer ${i} (${layers[i].name}) returned no input gradient`);
      }
      if (measure && layers[i] instanceof FeedbackLinear) {
        const backprop = this.#backpropSignals.get(i)!;
        measured.push({
          iteration,
          hiddenLayer,
          angle: angleDegrees(dX.data, backprop.data),
          exampleAngle: meanRowAngleDegrees(dX, backprop),
        });
        hiddenLayer--;
      }
      grad = dX;
    }
    this.records.push(...measured);
    return layers[0].backward(grad, needInputGrad);
  }

  /** Return the network's parameters. */
  params(): Param[] {
    return this.#network.params();
  }

  /**
   * Fill `#backpropSignals` with the signal that backpropagation sends into each `FeedbackLinear`
   * above the first layer, chaining `dY·Wᵀ` through the `FeedbackLinear` layers and the other
   * layers' own backward passes.
   */
  #computeBackpropSignals(dY: Tensor): void {
    const layers = this.#network.layers;
    let grad = dY;
    for (let i = layers.length - 1; i > 0; i--) {
      const layer = layers[i];
      if (!(layer instanceof FeedbackLinear)) {
        const dX = layer.backward(grad, true);
        if (dX === null) {
          throw new Error(`${this.name}: layer ${i} (${layer.name}) returned no input gradient`);
        }
        grad = dX;
        continue;
      }
      const shape = [grad.shape[0], layer.inFeatures];
      let out = this.#backpropSignals.get(i);
      if (out === undefined || out.shape.join() !== shape.join()) {
        out = this.#backend.zeros(shape);
        this.#backpropSignals.set(i, out);
      }
      layer.backpropInputGrad(grad, out);
      grad = out;
    }
  }
}
