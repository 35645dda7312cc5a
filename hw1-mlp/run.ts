/**
 * One HW1 training run: build the MLP, train it epoch by epoch, evaluate on the test set after
 * every epoch, and return every number the report needs. Silent: progress goes to callbacks.
 *
 * @module
 */

import {
  type Backend,
  BatchIterator,
  countParameters,
  type EpochRecord,
  fit,
  type FitCallbacks,
  type FitResult,
  MomentumSGD,
  Rng,
} from "@nn/core";
import { type ActivationName, buildLoss, buildMlp, type LossName } from "./model.ts";

/** Hyperparameters of one run, as the flags of `deno task hw1` set them. */
export interface Hw1Config {
  hidden: number[];
  activation: ActivationName;
  loss: LossName;
  epochs: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
  initStd: number;
  seed: number;
  /** Log the mean loss and accuracy every this many iterations. */
  dispFreq: number;
}

/** The seed network and its hyperparameters: the defaults of `deno task hw1`. */
export const DEFAULT_CONFIG: Readonly<Hw1Config> = Object.freeze({
  hidden: [512, 512],
  activation: "relu",
  loss: "softmax",
  epochs: 20,
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 1e-4,
  batchSize: 100,
  initStd: 0.05,
  seed: 1,
  dispFreq: 100,
});

/** Images `[N, D]` (already normalized) and labels `[N]` of the two splits. */
export interface Hw1Data {
  trainImages: Float32Array;
  trainLabels: Uint8Array;
  testImages: Float32Array;
  testLabels: Uint8Array;
  /** Input features D. */
  inputSize: number;
  classes: number;
}

export type { EpochRecord };

/** Outcome of {@linkcode runMlp}: the fit result with the configuration and model size. */
export interface RunResult extends FitResult {
  config: Hw1Config;
  parameters: number;
}

/** Train and evaluate one MLP on `data` with `config`. */
export function runMlp(
  backend: Backend,
  data: Hw1Data,
  config: Hw1Config,
  callbacks: FitCallbacks = {},
): RunResult {
  const rng = new Rng(config.seed);
  const model = buildMlp(backend, {
    inputSize: data.inputSize,
    hidden: config.hidden,
    classes: data.classes,
    activation: config.activation,
    initStd: config.initStd,
  }, rng);
  const loss = buildLoss(backend, config.loss);
  const optimizer = new MomentumSGD(backend, model.params(), {
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
  });
  const train = new BatchIterator(backend, data.trainImages, data.trainLabels, {
    batchSize: config.batchSize,
    numClasses: data.classes,
    rng,
  });
  const test = new BatchIterator(backend, data.testImages, data.testLabels, {
    batchSize: Math.max(config.batchSize, 500),
    numClasses: data.classes,
  });

  const result = fit({
    model,
    loss,
    optimizer,
    train,
    test,
    epochs: config.epochs,
    dispFreq: config.dispFreq,
    callbacks,
  });
  return { ...result, config, parameters: countParameters(model.params()) };
}
