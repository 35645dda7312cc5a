/**
 * One HW2 training run: build a network, train it epoch by epoch, evaluate on the test set after
 * every epoch, and return every number the report needs. Silent: progress goes to callbacks.
 *
 * @module
 */

import {
  type Backend,
  BatchIterator,
  countParameters,
  evaluate,
  type IterationRecord,
  Rng,
  type Sequential,
  SoftmaxCrossEntropyLoss,
  Tensor,
  trainEpoch,
} from "@nn/core";
import { buildCnn, buildMlpBaseline, type ModelName } from "./model.ts";
import { type Schedule, ScheduledSGD } from "./optim.ts";

/** A network that HW2 trains: one of the CNNs, or the HW1 MLP as a baseline. */
export type NetworkName = ModelName | "mlp";

/** Hyperparameters of one run, as the flags of `deno task hw2` set them. */
export interface Hw2Config {
  network: NetworkName;
  epochs: number;
  /** Learning rate of the first step. */
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
  /** Standard deviation of every initial weight, or undefined for He initialization. */
  initStd: number | undefined;
  schedule: Schedule;
  seed: number;
  /** Log the mean loss and accuracy every this many iterations. */
  dispFreq: number;
}

/** Hyperparameters that differ between the networks; the rest are shared. */
export interface NetworkDefaults {
  epochs: number;
  lr: number;
  weightDecay: number;
  initStd: number | undefined;
  schedule: Schedule;
}

/**
 * Defaults of each network. The MLP's are those of `deno task hw1`, so its numbers compare with
 * the HW1 report.
 */
export const NETWORK_DEFAULTS: Readonly<Record<NetworkName, Readonly<NetworkDefaults>>> = Object
  .freeze({
    skeleton: { epochs: 80, lr: 0.1, weightDecay: 1e-4, initStd: undefined, schedule: "cosine" },
    tuned: { epochs: 10, lr: 0.05, weightDecay: 5e-4, initStd: undefined, schedule: "cosine" },
    mlp: { epochs: 20, lr: 0.05, weightDecay: 1e-4, initStd: 0.05, schedule: "constant" },
  });

/** Hyperparameters shared by every network. */
export const SHARED_DEFAULTS = Object.freeze({
  momentum: 0.9,
  batchSize: 100,
  seed: 1,
  dispFreq: 100,
});

/** Return the default configuration of `network`. */
export function defaultConfig(network: NetworkName): Hw2Config {
  return { network, ...SHARED_DEFAULTS, ...NETWORK_DEFAULTS[network] };
}

/** Images `[N, 784]` (already normalized) and labels `[N]` of the two splits. */
export interface Hw2Data {
  trainImages: Float32Array;
  trainLabels: Uint8Array;
  testImages: Float32Array;
  testLabels: Uint8Array;
}

/** Numbers of one epoch. */
export interface EpochRecord {
  epoch: number;
  /** Mean training loss and accuracy over the epoch's iterations. */
  trainLoss: number;
  trainAcc: number;
  testLoss: number;
  testAcc: number;
  /** Wall time of the epoch's training, without the test pass. */
  seconds: number;
}

/** Outcome of {@linkcode runNetwork}. */
export interface RunResult {
  config: Hw2Config;
  parameters: number;
  epochs: EpochRecord[];
  /** Loss and accuracy of every training iteration, numbered across epochs. */
  iterations: IterationRecord[];
  /** Test accuracy and loss after the last epoch that ran. */
  testAcc: number;
  testLoss: number;
  /** Training loss of the last epoch. */
  trainLoss: number;
  /** Wall time of training and testing, in seconds. */
  seconds: number;
  /** True when a loss became NaN or infinite; training stopped there. */
  diverged: boolean;
  /** The trained network, for the feature-map pictures. */
  model: Sequential;
}

/** Progress callbacks of {@linkcode runNetwork}. */
export interface RunCallbacks {
  onIteration?: (record: IterationRecord, epoch: number) => void;
  onDisplay?: (record: IterationRecord, epoch: number) => void;
  onEpoch?: (record: EpochRecord) => void;
}

/** Build the network of `config` with its initialization. */
export function buildNetwork(backend: Backend, config: Hw2Config, rng: Rng): Sequential {
  if (config.network === "mlp") return buildMlpBaseline(backend, rng, config.initStd ?? 0.05);
  return buildCnn(backend, config.network, rng, config.initStd);
}

/** Train and evaluate one network on `data` with `config`. */
export function runNetwork(
  backend: Backend,
  data: Hw2Data,
  config: Hw2Config,
  callbacks: RunCallbacks = {},
): RunResult {
  const rng = new Rng(config.seed);
  const model = buildNetwork(backend, config, rng);
  const loss = new SoftmaxCrossEntropyLoss(backend);
  const exampleShape = [1, 28, 28];
  const train = new BatchIterator(backend, data.trainImages, data.trainLabels, {
    batchSize: config.batchSize,
    numClasses: 10,
    exampleShape,
    rng,
  });
  // The test batches have the training batch size, so the layers keep one set of buffers.
  const test = new BatchIterator(backend, data.testImages, data.testLabels, {
    batchSize: config.batchSize,
    numClasses: 10,
    exampleShape,
  });
  const optimizer = new ScheduledSGD(
    backend,
    model.params(),
    {
      lr: config.lr,
      momentum: config.momentum,
      weightDecay: config.weightDecay,
    },
    config.schedule,
    config.epochs * train.batchesPerEpoch,
  );

  const start = performance.now();
  const epochs: EpochRecord[] = [];
  const iterations: IterationRecord[] = [];
  let diverged = false;
  for (let epoch = 1; epoch <= config.epochs && !diverged; epoch++) {
    const epochStart = performance.now();
    const result = trainEpoch({
      model,
      loss,
      optimizer,
      data: train,
      dispFreq: config.dispFreq,
      iterationOffset: iterations.length,
      onIteration: (record) => callbacks.onIteration?.(record, epoch),
      onDisplay: (record) => callbacks.onDisplay?.(record, epoch),
    });
    const seconds = (performance.now() - epochStart) / 1000;
    iterations.push(...result.records);
    diverged = result.diverged;
    const tested = evaluate({ model, loss, data: test });
    const record: EpochRecord = {
      epoch,
      trainLoss: result.loss,
      trainAcc: result.acc,
      testLoss: tested.loss,
      testAcc: tested.acc,
      seconds,
    };
    epochs.push(record);
    callbacks.onEpoch?.(record);
  }

  const last = epochs[epochs.length - 1];
  return {
    config,
    parameters: countParameters(model.params()),
    epochs,
    iterations,
    testAcc: last?.testAcc ?? NaN,
    testLoss: last?.testLoss ?? NaN,
    trainLoss: last?.trainLoss ?? NaN,
    seconds: (performance.now() - start) / 1000,
    diverged,
    model,
  };
}

/** Post-ReLU output of a network's first convolution for a few images. */
export interface FeatureMaps {
  /** Images `[B, 1, 28, 28]`, copied. */
  images: Tensor;
  /** Feature maps `[B, C, H, W]`, copied. */
  maps: Tensor;
  /** Class that the whole network predicts for each image. */
  predicted: number[];
}

/**
 * Run `images [B, 784]` through the first two layers of `model` (conv1 and its ReLU) and through
 * the whole network, and return copies of the feature maps and the predicted classes.
 */
export function firstLayerMaps(
  backend: Backend,
  model: Sequential,
  images: Float32Array,
): FeatureMaps {
  const count = images.length / 784;
  const x = backend.zeros([count, 1, 28, 28]);
  x.copyFrom(images);
  const [conv1, relu1] = model.layers;
  const maps = relu1.forward(conv1.forward(x, false), false);
  const mapsCopy = Tensor.from(maps.shape, maps.data);

  const logits = model.forward(x, false);
  const predicted: number[] = [];
  for (let i = 0; i < count; i++) {
    const row = Array.from(logits.data.subarray(i * 10, (i + 1) * 10));
    predicted.push(row.indexOf(Math.max(...row)));
  }
  return { images: Tensor.from(x.shape, x.data), maps: mapsCopy, predicted };
}
