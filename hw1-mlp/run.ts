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
  evaluate,
  type IterationRecord,
  MomentumSGD,
  Rng,
  trainEpoch,
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

/** Outcome of {@linkcode runMlp}. */
export interface RunResult {
  config: Hw1Config;
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
}

/** Progress callbacks of {@linkcode runMlp}. */
export interface RunCallbacks {
  onIteration?: (record: IterationRecord, epoch: number) => void;
  onDisplay?: (record: IterationRecord, epoch: number) => void;
  onEpoch?: (record: EpochRecord) => void;
}

/** Train and evaluate one MLP on `data` with `config`. */
export function runMlp(
  backend: Backend,
  data: Hw1Data,
  config: Hw1Config,
  callbacks: RunCallbacks = {},
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
  };
}
