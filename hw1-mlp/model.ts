/**
 * The course's HW1 multilayer perceptron.
 *
 * Shape legend: N batch, D input features (784 for MNIST), H hidden units, K classes (10).
 *
 * @module
 */

import {
  type Backend,
  EuclideanLoss,
  type Layer,
  Linear,
  type Loss,
  Relu,
  type Rng,
  Sequential,
  Sigmoid,
  SoftmaxCrossEntropyLoss,
} from "@nn/core";

/** Hidden-layer activation names accepted by `--activation`. */
export const ACTIVATIONS = ["relu", "sigmoid"] as const;
export type ActivationName = typeof ACTIVATIONS[number];

/** Loss names accepted by `--loss`. */
export const LOSSES = ["euclidean", "softmax"] as const;
export type LossName = typeof LOSSES[number];

/** Architecture of an MLP. */
export interface MlpSpec {
  /** Input features D. */
  inputSize: number;
  /** Widths of the hidden layers, e.g. `[512, 512]`; empty for a linear classifier. */
  hidden: readonly number[];
  /** Classes K. */
  classes: number;
  activation: ActivationName;
  /** Standard deviation of the normal initialization of every `W`. */
  initStd: number;
}

/**
 * Build `Linear → activation → … → Linear`, with no activation after the last Linear: its
 * outputs are the logits `[N, K]` that the loss reads. Layers are named `fc1, act1, fc2, …`.
 */
export function buildMlp(backend: Backend, spec: MlpSpec, rng: Rng): Sequential {
  const layers: Layer[] = [];
  const widths = [spec.inputSize, ...spec.hidden, spec.classes];
  for (let i = 0; i + 1 < widths.length; i++) {
    layers.push(
      new Linear(backend, widths[i], widths[i + 1], {
        initStd: spec.initStd,
        rng,
        name: `fc${i + 1}`,
      }),
    );
    if (i + 2 < widths.length) {
      const name = `act${i + 1}`;
      layers.push(
        spec.activation === "relu" ? new Relu(backend, { name }) : new Sigmoid(backend, { name }),
      );
    }
  }
  return new Sequential(layers, { name: "mlp" });
}

/** Create the loss named `name`. */
export function buildLoss(backend: Backend, name: LossName): Loss {
  return name === "softmax" ? new SoftmaxCrossEntropyLoss(backend) : new EuclideanLoss(backend);
}

/** Describe an architecture as `784-512-512-10 relu`. */
export function describeMlp(spec: MlpSpec): string {
  return `${[spec.inputSize, ...spec.hidden, spec.classes].join("-")} ${spec.activation}`;
}
