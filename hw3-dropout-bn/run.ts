/**
 * One HW3 training run: Adam on the training split, validation after every epoch, a checkpoint
 * after every epoch (and another for the best validation accuracy), resume from a checkpoint,
 * and the test score of the best checkpoint. Silent: progress goes to callbacks.
 *
 * @module
 */

import { join } from "node:path";
import {
  Adam,
  type Backend,
  BatchIterator,
  type Checkpoint,
  CheckpointError,
  countParameters,
  type DisplayRecord,
  evaluate,
  type IterationRecord,
  loadCheckpoint,
  type Mnist,
  normalizeImages,
  Rng,
  type Sequential,
  SoftmaxCrossEntropyLoss,
  trainEpoch,
} from "@nn/core";
import {
  type EpochRecord,
  readCheckpointMeta,
  restoreTraining,
  saveTrainingCheckpoint,
  type TrainingState,
} from "./checkpoint.ts";
import { configDifferences, type Hw3Config } from "./config.ts";
import { buildModel } from "./model.ts";

/** Images `[N, 784]`, normalized, and labels `[N]` of one split. */
export interface Split {
  images: Float32Array;
  labels: Uint8Array;
}

/** The three splits of a run. */
export interface Hw3Data {
  train: Split;
  val: Split;
  test: Split;
}

/** Number of MNIST training images kept for validation: the last 10,000 of the 60,000. */
export const VALIDATION_SIZE = 10_000;

/**
 * Split MNIST as the course does: the first `60,000 − validationSize` training images train, the
 * last `validationSize` validate, and the 10,000 test images are scored only at the end.
 *
 * @throws {RangeError} when `validationSize` leaves no training image
 */
export function splitMnist(mnist: Mnist, validationSize = VALIDATION_SIZE): Hw3Data {
  const n = mnist.train.labels.length;
  const d = mnist.train.rows * mnist.train.cols;
  if (!Number.isInteger(validationSize) || validationSize < 1 || validationSize >= n) {
    throw new RangeError(
      `splitMnist: validationSize must be an integer in [1, ${n - 1}], got ${validationSize}`,
    );
  }
  const trainCount = n - validationSize;
  const images = normalizeImages(mnist.train.images);
  return {
    train: {
      images: images.subarray(0, trainCount * d),
      labels: mnist.train.labels.subarray(0, trainCount),
    },
    val: {
      images: images.subarray(trainCount * d),
      labels: mnist.train.labels.subarray(trainCount),
    },
    test: { images: normalizeImages(mnist.test.images), labels: mnist.test.labels },
  };
}

/**
 * Return whether the learning rate decays after the last of `trainLosses`, the course's rule:
 * when it exceeds the largest of the three before it. False before the fourth epoch.
 */
export function shouldDecayLr(trainLosses: readonly number[]): boolean {
  const n = trainLosses.length;
  if (n < 4) return false;
  return trainLosses[n - 1] > Math.max(trainLosses[n - 4], trainLosses[n - 3], trainLosses[n - 2]);
}

/** Progress callbacks of {@linkcode runTraining}. */
export interface RunCallbacks {
  onIteration?: (record: IterationRecord, epoch: number) => void;
  onDisplay?: (record: DisplayRecord) => void;
  /** Receive each finished epoch, after its checkpoints are written. */
  onEpoch?: (record: EpochRecord, state: TrainingState) => void;
}

/** Options of {@linkcode runTraining}. */
export interface RunOptions {
  /** Folder of `last.ckpt` (after every epoch) and `best.ckpt` (best validation accuracy). */
  checkpointDir: string;
  /**
   * Checkpoint to continue from. Its config must equal `config` except for `epochs`, because a
   * different setting would not reproduce the interrupted run.
   */
  resume?: Checkpoint;
  callbacks?: RunCallbacks;
}

/** Outcome of {@linkcode runTraining}. */
export interface RunResult {
  config: Hw3Config;
  parameters: number;
  /** Training iterations per epoch, so epoch e ends at iteration `e · iterationsPerEpoch`. */
  iterationsPerEpoch: number;
  /** Every epoch of the run, including those before a resume. */
  epochs: EpochRecord[];
  display: DisplayRecord[];
  /** Epochs after which the learning rate was multiplied by `lrDecay`. */
  lrDecayEpochs: number[];
  /** Epoch whose weights `best.ckpt` contains and its validation accuracy, or 0 and NaN. */
  bestEpoch: number;
  bestValAcc: number;
  /** Test loss and accuracy of `best.ckpt`, or NaN when no epoch completed. */
  testLoss: number;
  testAcc: number;
  /** Completed epochs that the run resumed after, 0 for a fresh run. */
  resumedAfter: number;
  /** Wall time of this process's share of the run, in seconds. */
  seconds: number;
  /** True when a training loss became NaN or infinite; training stopped there. */
  diverged: boolean;
  /** Paths of the two checkpoints. */
  lastCheckpoint: string;
  bestCheckpoint: string;
}

/** The objects of a run, built from its config. */
export interface RunParts {
  model: Sequential;
  optimizer: Adam;
  /** Generator of the initialization, the shuffles and the dropout masks. */
  rng: Rng;
  loss: SoftmaxCrossEntropyLoss;
}

/** Build the network, Adam and the run's generator for `config`. */
export function buildRun(backend: Backend, config: Hw3Config): RunParts {
  const rng = new Rng(config.seed);
  const model = buildModel(backend, config, rng);
  return {
    model,
    optimizer: new Adam(model.params(), { lr: config.lr }),
    rng,
    loss: new SoftmaxCrossEntropyLoss(backend),
  };
}

/** Return a batch iterator over `split` with images shaped `[1, 28, 28]`. */
export function batches(
  backend: Backend,
  split: Split,
  batchSize: number,
  rng?: Rng,
): BatchIterator {
  return new BatchIterator(backend, split.images, split.labels, {
    batchSize,
    numClasses: 10,
    exampleShape: [1, 28, 28],
    rng,
  });
}

/**
 * Train one network with `config`, or continue the run of `options.resume`, then score the
 * best checkpoint on the test set.
 *
 * After every epoch the run writes `last.ckpt`, and `best.ckpt` first when the validation
 * accuracy improved, each through a temporary file and a rename. A run killed at any point thus
 * leaves the checkpoint of its last completed epoch, and resuming from it gives the same numbers
 * as a run that was never interrupted (same backend, same thread count).
 *
 * @throws {CheckpointError} when `options.resume` does not fit `config`
 */
export async function runTraining(
  backend: Backend,
  data: Hw3Data,
  config: Hw3Config,
  options: RunOptions,
): Promise<RunResult> {
  const start = performance.now();
  const { model, optimizer, rng, loss } = buildRun(backend, config);
  const train = batches(backend, data.train, config.batchSize, rng);
  const val = batches(backend, data.val, config.batchSize);
  const lastCheckpoint = join(options.checkpointDir, "last.ckpt");
  const bestCheckpoint = join(options.checkpointDir, "best.ckpt");
  const callbacks = options.callbacks ?? {};

  // Continue from the checkpoint, or start at epoch 0.
  let state: TrainingState;
  if (options.resume !== undefined) {
    assertResumable(options.resume, config);
    state = restoreTraining(options.resume, model, optimizer, rng);
  } else {
    state = {
      epoch: 0,
      lr: config.lr,
      adamSteps: 0,
      rng: rng.state(),
      lrDecayEpochs: [],
      bestValAcc: 0,
      bestEpoch: 0,
      epochs: [],
      display: [],
    };
  }
  const resumedAfter = state.epoch;

  let diverged = false;
  for (let epoch = state.epoch + 1; epoch <= config.epochs; epoch++) {
    // Train one epoch in training mode: dropout on, batch statistics in batch norm.
    const lr = optimizer.lr;
    const epochStart = performance.now();
    const trained = trainEpoch({
      model,
      loss,
      optimizer,
      data: train,
      dispFreq: config.dispFreq,
      iterationOffset: (epoch - 1) * train.batchesPerEpoch,
      onIteration: (record) => callbacks.onIteration?.(record, epoch),
      onDisplay: (record) => {
        state.display.push({ ...record, epoch });
        callbacks.onDisplay?.({ ...record, epoch });
      },
    });
    const seconds = (performance.now() - epochStart) / 1000;
    if (trained.diverged) {
      diverged = true;
      break;
    }

    // Validate in evaluation mode, then apply the course's learning-rate rule.
    const validated = evaluate({ model, loss, data: val });
    const record: EpochRecord = {
      epoch,
      trainLoss: trained.loss,
      trainAcc: trained.acc,
      valLoss: validated.loss,
      valAcc: validated.acc,
      lr,
      seconds,
    };
    state.epochs.push(record);
    if (shouldDecayLr(state.epochs.map((e) => e.trainLoss))) {
      optimizer.lr = lr * config.lrDecay;
      state.lrDecayEpochs.push(epoch);
    }
    const improved = validated.acc > state.bestValAcc;
    if (improved) {
      state.bestValAcc = validated.acc;
      state.bestEpoch = epoch;
    }
    state.epoch = epoch;
    state.lr = optimizer.lr;
    state.adamSteps = optimizer.stepCount;
    state.rng = rng.state();

    // Write best.ckpt first. A crash between the two writes then leaves last.ckpt one epoch
    // behind, and the resumed run redoes that epoch and writes the same best.ckpt again.
    const meta = { config, training: state };
    if (improved) await saveTrainingCheckpoint(bestCheckpoint, model, optimizer, meta);
    await saveTrainingCheckpoint(lastCheckpoint, model, optimizer, meta);
    callbacks.onEpoch?.(record, state);
  }

  // Score the weights of the best validation accuracy on the test set.
  let testLoss = NaN, testAcc = NaN;
  if (state.bestEpoch > 0) {
    const best = await loadCheckpoint(bestCheckpoint);
    restoreTraining(best, model, optimizer, rng);
    const tested = evaluate({ model, loss, data: batches(backend, data.test, config.batchSize) });
    testLoss = tested.loss;
    testAcc = tested.acc;
  }

  return {
    config,
    parameters: countParameters(model.params()),
    iterationsPerEpoch: train.batchesPerEpoch,
    epochs: state.epochs,
    display: state.display,
    lrDecayEpochs: state.lrDecayEpochs,
    bestEpoch: state.bestEpoch,
    bestValAcc: state.bestEpoch > 0 ? state.bestValAcc : NaN,
    testLoss,
    testAcc,
    resumedAfter,
    seconds: (performance.now() - start) / 1000,
    diverged,
    lastCheckpoint,
    bestCheckpoint,
  };
}

/**
 * Check that `checkpoint` continues a run of `config`: the same settings except `epochs`.
 *
 * @throws {CheckpointError} listing every setting that differs
 */
export function assertResumable(checkpoint: Checkpoint, config: Hw3Config): void {
  const saved = readCheckpointMeta(checkpoint).config;
  const differences = configDifferences(saved, config, ["epochs"]);
  if (differences.length > 0) {
    throw new CheckpointError(
      `Checkpoint ${checkpoint.path} does not fit this run: ${differences.join("; ")}`,
      { hint: "Resume with the settings the checkpoint was saved with, or leave them unset." },
    );
  }
}
