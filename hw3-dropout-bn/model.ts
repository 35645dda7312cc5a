/**
 * The HW3 networks: the course's MLP and CNN with batch normalization and dropout.
 *
 * Shape legend: N batch, C channels, H/W height and width, D features, K classes (10).
 * Every network takes images `[N, 1, 28, 28]` and returns logits `[N, 10]`.
 *
 * @module
 */

import {
  type Backend,
  BatchNorm1d,
  BatchNorm2d,
  Conv2D,
  Dropout,
  type Layer,
  Linear,
  MaxPool2D,
  Relu,
  Reshape,
  type Rng,
  Sequential,
  type Tensor,
} from "@nn/core";

/** Padding modes of the CNN's convolutions, accepted by `--padding`. */
export const PADDINGS = ["same", "valid"] as const;
export type Padding = typeof PADDINGS[number];

/** Network kinds accepted by `--model`. */
export const MODEL_KINDS = ["mlp", "cnn"] as const;
export type ModelKind = typeof MODEL_KINDS[number];

/**
 * Architecture of an HW3 network: everything that decides the names and shapes of its
 * parameters and state, plus the drop rate. Checkpoints store it to rebuild the network.
 */
export interface ModelSpec {
  kind: ModelKind;
  /** Width of the MLP's hidden layer, which the CNN ignores. */
  hidden: number;
  /** Output channels of the CNN's two convolutions, which the MLP ignores. */
  channels: [number, number];
  /** Odd kernel size K of both convolutions, which the MLP ignores. */
  kernelSize: number;
  /**
   * Padding of both convolutions, which the MLP ignores: `same` pads `(K − 1) / 2` zeros on every
   * side so the output keeps the input's size, `valid` pads none so it shrinks by `K − 1`.
   */
  padding: Padding;
  /** Probability of dropping a unit in every Dropout layer, in `[0, 1)`. */
  dropRate: number;
  /** Whether a batch-norm layer follows each hidden Linear or Conv2D layer. */
  batchNorm: boolean;
}

/**
 * Return the standard deviation of He initialization, `√(2 / fanIn)`, which keeps the variance
 * of ReLU activations about constant from layer to layer.
 */
export function heStd(fanIn: number): number {
  return Math.sqrt(2 / fanIn);
}

/**
 * Return `√(1 / fanIn)`, the standard deviation of the last Linear layer. No ReLU follows it, so
 * this gives logits of about the variance of its inputs, where He's factor 2 would double it.
 */
export function logitStd(fanIn: number): number {
  return Math.sqrt(1 / fanIn);
}

/**
 * Build the MLP: reshape to 784, Linear 784→H, [BatchNorm1d], ReLU, Dropout, Linear H→10.
 *
 * Layer names: `flatten, fc1, bn1, relu1, drop1, fc2`. With batch norm, `fc1.b` gets a zero
 * gradient in training, because batch norm subtracts the batch mean and with it any bias. It is
 * kept so that the networks with and without batch norm have the same Linear layers.
 *
 * @param rng draws the initial weights and, later, the dropout masks
 */
export function buildMlp(backend: Backend, spec: ModelSpec, rng: Rng): Sequential {
  const h = spec.hidden;
  const layers: Layer[] = [
    new Reshape([784], { name: "flatten" }),
    new Linear(backend, 784, h, { initStd: heStd(784), rng, name: "fc1" }),
  ];
  if (spec.batchNorm) layers.push(new BatchNorm1d(backend, h, { name: "bn1" }));
  layers.push(
    new Relu(backend, { name: "relu1" }),
    new Dropout(backend, spec.dropRate, { rng, name: "drop1" }),
    new Linear(backend, h, 10, { initStd: logitStd(h), rng, name: "fc2" }),
  );
  return new Sequential(layers, { name: "mlp" });
}

/**
 * Return the height (and width) of each stage of the CNN for 28×28 images: after conv1, pool1,
 * conv2 and pool2. Pooling halves a size and drops an odd row.
 */
export function cnnSizes(spec: Pick<ModelSpec, "kernelSize" | "padding">): number[] {
  const shrink = spec.padding === "same" ? 0 : spec.kernelSize - 1;
  const conv1 = 28 - shrink;
  const pool1 = Math.floor(conv1 / 2);
  const conv2 = pool1 - shrink;
  return [conv1, pool1, conv2, Math.floor(conv2 / 2)];
}

/**
 * Build the CNN: two blocks of Conv2D K×K, [BatchNorm2d], ReLU, Dropout, MaxPool2D 2, then
 * reshape and Linear to 10, the course's order.
 *
 * Shapes with channels `[C1, C2]` and the sizes S1…S4 of {@linkcode cnnSizes}: `[N, 1, 28, 28]`
 * → conv1 `[N, C1, S1, S1]` → pool1 `[N, C1, S2, S2]` → conv2 `[N, C2, S3, S3]` → pool2
 * `[N, C2, S4, S4]` → `[N, C2·S4²]` → `[N, 10]`. With `same` padding S1…S4 are 28, 14, 14, 7;
 * with `valid` padding and K = 5 they are 24, 12, 8, 4. Layer names: `conv1, bn1, relu1, drop1,
 * pool1, conv2, bn2, relu2, drop2, pool2, flatten, fc`.
 *
 * @throws {RangeError} when the kernel is too large for the images to survive both blocks
 *
 * @param rng draws the initial weights and, later, the dropout masks
 */
export function buildCnn(backend: Backend, spec: ModelSpec, rng: Rng): Sequential {
  const [c1, c2] = spec.channels;
  const k = spec.kernelSize;
  const sizes = cnnSizes(spec);
  if (sizes[3] < 1) {
    throw new RangeError(
      `buildCnn: kernel size ${k} with ${spec.padding} padding leaves no pixel after pool2 ` +
        `(sizes ${sizes.join(", ")})`,
    );
  }
  const features = c2 * sizes[3] * sizes[3];
  const layers: Layer[] = [];
  for (const [block, inChannels, outChannels] of [[1, 1, c1], [2, c1, c2]]) {
    layers.push(
      new Conv2D(backend, inChannels, outChannels, k, {
        pad: spec.padding === "same" ? (k - 1) / 2 : 0,
        initStd: heStd(inChannels * k * k),
        rng,
        name: `conv${block}`,
      }),
    );
    if (spec.batchNorm) layers.push(new BatchNorm2d(backend, outChannels, { name: `bn${block}` }));
    layers.push(
      new Relu(backend, { name: `relu${block}` }),
      new Dropout(backend, spec.dropRate, { rng, name: `drop${block}` }),
      new MaxPool2D(backend, 2, { name: `pool${block}` }),
    );
  }
  layers.push(
    new Reshape([features], { name: "flatten" }),
    new Linear(backend, features, 10, { initStd: logitStd(features), rng, name: "fc" }),
  );
  return new Sequential(layers, { name: "cnn" });
}

/** Build the network that `spec` describes. */
export function buildModel(backend: Backend, spec: ModelSpec, rng: Rng): Sequential {
  return spec.kind === "mlp" ? buildMlp(backend, spec, rng) : buildCnn(backend, spec, rng);
}

/**
 * Return the named state tensors of every batch-norm layer in `model`, e.g.
 * `bn1.running_mean`: the tensors themselves, so that a checkpoint can save or restore them.
 */
export function modelState(model: Sequential): Record<string, Tensor> {
  const state: Record<string, Tensor> = {};
  for (const layer of model.layers) {
    if (layer instanceof BatchNorm1d || layer instanceof BatchNorm2d) {
      Object.assign(state, layer.state());
    }
  }
  return state;
}

/** Describe an architecture in one line, e.g. `MLP 784-1024-10, BN, dropout 0.3`. */
export function describeModel(spec: ModelSpec): string {
  const bn = spec.batchNorm ? "BN" : "no BN";
  let body: string;
  if (spec.kind === "mlp") {
    body = `MLP 784-${spec.hidden}-10`;
  } else {
    const k = `${spec.kernelSize}×${spec.kernelSize}`;
    const [c1, c2] = spec.channels;
    const s4 = cnnSizes(spec)[3];
    body = `CNN conv${k} ${c1}, conv${k} ${c2} (${spec.padding}), Linear ${c2 * s4 * s4}→10`;
  }
  return `${body}, ${bn}, dropout ${spec.dropRate}`;
}

/** List the layers of `spec` in order, e.g. `Linear → BN → ReLU → Dropout → Linear`. */
export function layerChain(spec: ModelSpec): string {
  const bn = spec.batchNorm ? " → BN" : "";
  if (spec.kind === "mlp") return `Linear${bn} → ReLU → Dropout → Linear`;
  const block = `Conv${bn} → ReLU → Dropout → MaxPool`;
  return `${block} → ${block} → Linear`;
}
