/**
 * The networks of the feedback-alignment study: the same MLP trained by backpropagation (core's
 * `Linear`) or by feedback alignment ({@linkcode FeedbackLinear}).
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
import { type FeedbackInit, FeedbackLinear } from "./feedback_linear.ts";

/** Learning rules: backpropagation or feedback alignment. */
export const RULES = ["backprop", "feedback"] as const;
export type Rule = typeof RULES[number];

/** Activation names accepted by `--activation`. */
export const ACTIVATIONS = ["relu", "sigmoid"] as const;
export type ActivationName = typeof ACTIVATIONS[number];

/** Loss names accepted by `--loss`. */
export const LOSSES = ["softmax", "euclidean"] as const;
export type LossName = typeof LOSSES[number];

/** Architecture of an MLP and how it learns. */
export interface NetworkSpec {
  /** Input features D. */
  inputSize: number;
  /** Widths of the hidden layers, e.g. `[512, 512]`, at least one. */
  hidden: readonly number[];
  /** Classes K. */
  classes: number;
  /** Activation of the hidden layers. */
  activation: ActivationName;
  /**
   * Whether a Sigmoid follows the last Linear, as in Lillicrap et al.'s MNIST network. Without it
   * the outputs are logits for the softmax cross-entropy loss.
   */
  sigmoidOutput: boolean;
  /** Standard deviation of the normal initialization of every `W`. */
  initStd: number;
  rule: Rule;
  /** Distribution and scale of every `B`, unused by backpropagation. */
  feedback: FeedbackInit;
}

/**
 * Build `Linear → activation → … → Linear [→ Sigmoid]`, layers named `fc1, act1, fc2, …, out`.
 *
 * Every `W` is drawn from `rng` in layer order, so both rules start from the same weights.
 * Feedback alignment draws each `B` from `feedbackRng`, which leaves `rng` where backpropagation
 * leaves it, so the two rules then shuffle the data in the same order.
 *
 * @throws {RangeError} when `hidden` is empty, because feedback alignment then has no hidden
 *   layer to teach
 */
export function buildNetwork(
  backend: Backend,
  spec: NetworkSpec,
  rng: Rng,
  feedbackRng: Rng,
): Sequential {
  if (spec.hidden.length === 0) {
    throw new RangeError("buildNetwork: expected at least one hidden layer, got none");
  }
  const layers: Layer[] = [];
  const widths = [spec.inputSize, ...spec.hidden, spec.classes];
  for (let i = 0; i + 1 < widths.length; i++) {
    const name = `fc${i + 1}`;
    layers.push(
      spec.rule === "backprop"
        ? new Linear(backend, widths[i], widths[i + 1], { initStd: spec.initStd, rng, name })
        : new FeedbackLinear(backend, widths[i], widths[i + 1], {
          initStd: spec.initStd,
          rng,
          feedback: spec.feedback,
          feedbackRng,
          name,
        }),
    );
    if (i + 2 < widths.length) layers.push(activation(backend, spec.activation, `act${i + 1}`));
  }
  if (spec.sigmoidOutput) layers.push(new Sigmoid(backend, { name: "out" }));
  return new Sequential(layers, { name: spec.rule });
}

function activation(backend: Backend, name: ActivationName, layerName: string): Layer {
  return name === "relu"
    ? new Relu(backend, { name: layerName })
    : new Sigmoid(backend, { name: layerName });
}

/** Create the loss named `name`. */
export function buildLoss(backend: Backend, name: LossName): Loss {
  return name === "softmax" ? new SoftmaxCrossEntropyLoss(backend) : new EuclideanLoss(backend);
}

/** Describe an architecture as `784-512-512-10 relu` or `784-1000-10 sigmoid, sigmoid output`. */
export function describeNetwork(
  spec: Pick<NetworkSpec, "inputSize" | "hidden" | "classes" | "activation" | "sigmoidOutput">,
): string {
  const widths = [spec.inputSize, ...spec.hidden, spec.classes].join("-");
  return `${widths} ${spec.activation}${spec.sigmoidOutput ? ", sigmoid output" : ""}`;
}

/** Describe a feedback initialization as `normal, std 0.05` or `uniform ±0.5`. */
export function describeFeedback(feedback: FeedbackInit): string {
  return feedback.distribution === "normal"
    ? `normal, std ${feedback.scale}`
    : `uniform ±${feedback.scale}`;
}
