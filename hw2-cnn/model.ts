/**
 * The HW2 networks: the course's skeleton CNN, a wider tuned CNN, and the HW1 MLP as a baseline.
 *
 * Shape legend: N batch, C channels, H/W height and width, D features, K classes (10).
 * Every network takes images `[N, 1, 28, 28]` and returns logits `[N, 10]`.
 *
 * @module
 */

import {
  AvgPool2D,
  type Backend,
  Conv2D,
  type Layer,
  Linear,
  MaxPool2D,
  Relu,
  Reshape,
  type Rng,
  Sequential,
} from "@nn/core";

/** Network names accepted by `--model`. */
export const MODEL_NAMES = ["skeleton", "tuned"] as const;
export type ModelName = typeof MODEL_NAMES[number];

/**
 * Standard deviation of He initialization, `√(2 / fanIn)`, which keeps the variance of ReLU
 * activations about constant from layer to layer (He et al., 2015, "Delving deep into
 * rectifiers").
 */
export function heStd(fanIn: number): number {
  return Math.sqrt(2 / fanIn);
}

/**
 * Build the course's skeleton network:
 * conv 1→4 3×3 pad 1, ReLU, avg-pool 2, conv 4→4 3×3 pad 1, ReLU, avg-pool 2, reshape to 196,
 * Linear 196→10.
 *
 * Shapes: `[N, 1, 28, 28]` → conv1 `[N, 4, 28, 28]` → pool1 `[N, 4, 14, 14]` → conv2
 * `[N, 4, 14, 14]` → pool2 `[N, 4, 7, 7]` → `[N, 196]` → `[N, 10]`.
 *
 * @param initStd standard deviation of every weight, or undefined for He initialization per layer
 */
export function buildSkeleton(backend: Backend, rng: Rng, initStd?: number): Sequential {
  const std = (fanIn: number) => initStd ?? heStd(fanIn);
  return new Sequential([
    new Conv2D(backend, 1, 4, 3, { pad: 1, initStd: std(1 * 9), rng, name: "conv1" }),
    new Relu(backend, { name: "relu1" }),
    new AvgPool2D(backend, 2, { name: "pool1" }),
    new Conv2D(backend, 4, 4, 3, { pad: 1, initStd: std(4 * 9), rng, name: "conv2" }),
    new Relu(backend, { name: "relu2" }),
    new AvgPool2D(backend, 2, { name: "pool2" }),
    new Reshape([196], { name: "flatten" }),
    new Linear(backend, 196, 10, { initStd: std(196), rng, name: "fc" }),
  ], { name: "skeleton" });
}

/**
 * Build the tuned network. It widens the skeleton's two conv blocks to 32 and 64 channels, pools
 * with max instead of average, and adds a hidden layer of 128 before the classifier:
 * conv 1→32 3×3 pad 1, ReLU, max-pool 2, conv 32→64 3×3 pad 1, ReLU, max-pool 2, reshape to
 * 3136, Linear 3136→128, ReLU, Linear 128→10.
 *
 * Shapes: `[N, 1, 28, 28]` → `[N, 32, 28, 28]` → `[N, 32, 14, 14]` → `[N, 64, 14, 14]` →
 * `[N, 64, 7, 7]` → `[N, 3136]` → `[N, 128]` → `[N, 10]`.
 *
 * @param initStd standard deviation of every weight, or undefined for He initialization per layer
 */
export function buildTuned(backend: Backend, rng: Rng, initStd?: number): Sequential {
  const std = (fanIn: number) => initStd ?? heStd(fanIn);
  return new Sequential([
    new Conv2D(backend, 1, 32, 3, { pad: 1, initStd: std(1 * 9), rng, name: "conv1" }),
    new Relu(backend, { name: "relu1" }),
    new MaxPool2D(backend, 2, { name: "pool1" }),
    new Conv2D(backend, 32, 64, 3, { pad: 1, initStd: std(32 * 9), rng, name: "conv2" }),
    new Relu(backend, { name: "relu2" }),
    new MaxPool2D(backend, 2, { name: "pool2" }),
    new Reshape([3136], { name: "flatten" }),
    new Linear(backend, 3136, 128, { initStd: std(3136), rng, name: "fc1" }),
    new Relu(backend, { name: "relu3" }),
    new Linear(backend, 128, 10, { initStd: std(128), rng, name: "fc2" }),
  ], { name: "tuned" });
}

/** Build the network named `name`. */
export function buildCnn(
  backend: Backend,
  name: ModelName,
  rng: Rng,
  initStd?: number,
): Sequential {
  return name === "skeleton"
    ? buildSkeleton(backend, rng, initStd)
    : buildTuned(backend, rng, initStd);
}

/** Describe a network's layers in one line for tables and logs. */
export function describeCnn(name: ModelName): string {
  return name === "skeleton"
    ? "conv 1→4 3×3, ReLU, avg-pool 2, conv 4→4 3×3, ReLU, avg-pool 2, Linear 196→10"
    : "conv 1→32 3×3, ReLU, max-pool 2, conv 32→64 3×3, ReLU, max-pool 2, Linear 3136→128, ReLU, " +
      "Linear 128→10";
}

/**
 * Build the HW1 MLP, 784-512-512-10 with ReLU, behind a reshape so that it reads the same
 * `[N, 1, 28, 28]` batches as the CNNs.
 */
export function buildMlpBaseline(backend: Backend, rng: Rng, initStd: number): Sequential {
  const layers: Layer[] = [
    new Reshape([784], { name: "flatten" }),
    new Linear(backend, 784, 512, { initStd, rng, name: "fc1" }),
    new Relu(backend, { name: "relu1" }),
    new Linear(backend, 512, 512, { initStd, rng, name: "fc2" }),
    new Relu(backend, { name: "relu2" }),
    new Linear(backend, 512, 10, { initStd, rng, name: "fc3" }),
  ];
  return new Sequential(layers, { name: "mlp" });
}
