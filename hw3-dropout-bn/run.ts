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
  randomShift,
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
import { configDifferences, type Hw3Config, VALIDATION_SIZE } from "./config.ts";
import { buildModel, cnnSizes } from "./model.ts";

export { VALIDATION_SIZE };

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

/**
 * Return the number of examples in the smallest training batch of an epoch: the short last
 * batch when `trainCount` is not a multiple of `batchSize`.
 */
export function smallestBatchSize(trainCount: number, batchSize: number): number {
  if (trainCount < batchSize) return trainCount;
  const rest = trainCount % batchSize;
  return rest === 0 ? batchSize : rest;
}

/**
 * Return the fewest values that a batch-norm layer of `config` normalizes per channel in one
 * training batch over `trainCount` images, or Infinity without batch norm. Batch norm needs 2,
 * because the unbiased running variance divides by count − 1. The MLP's BatchNorm1d normalizes
 * one value per example and channel, and the CNN's BatchNorm2d H·W of them, at least 4 at conv2.
 */
export function minBatchNormValues(config: Hw3Config, trainCount: number): number {
  if (!config.batchNorm) return Infinity;
  const perExample = config.kind === "mlp" ? 1 : cnnSizes(config)[2] ** 2;
  return smallestBatchSize(trainCount, config.batchSize) * perExample;
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
  /** Generator of the initialization, the shuffles, the dropout masks and the shifts. */
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

/** Value of a blank MNIST pixel after {@linkcode normalizeImages}: (0 − 128) / 255. */
const BACKGROUND = -128 / 255;

/**
 * Return a batch iterator over `split` with images shaped `[1, 28, 28]`. With `rng` the batches
 * are shuffled, and with `shift` > 0 as well each image is moved by up to `shift` pixels
 * along each axis (see {@linkcode randomShift}), drawing from the same `rng`.
 */
export function batches(
  backend: Backend,
  split: Split,
  batchSize: number,
  rng?: Rng,
  shift = 0,
): BatchIterator {
  if (shift > 0 && rng === undefined) {
    throw new RangeError(`batches: shift ${shift} needs an rng to draw the translations`);
  }
  return new BatchIterator(backend, split.images, split.labels, {
    batchSize,
    numClasses: 10,
    exampleShape: [1, 28, 28],
    rng,
    augment: shift > 0 ? randomShift([1, 28, 28], shift, BACKGROUND, rng!) : undefined,
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
 * When resuming, `best.ckpt` in `options.checkpointDir` must be the best checkpoint of the
 * resumed run (see {@linkcode assertBestCheckpoint}), because the test score comes from it even
 * when no later epoch improves. A caller that moves a run to another folder copies it first.
 *
 * @throws {CheckpointError} when `options.resume` does not fit `config`, or when resuming and
 *   `best.ckpt` is missing or belongs to another run
 * @throws {RangeError} when `data.val` does not hold `config.validation` images, or when a
 *   training batch would give batch norm fewer than 2 values per channel
 */
export async function runTraining(
  backend: Backend,
  data: Hw3Data,
  config: Hw3Config,
  options: RunOptions,
): Promise<RunResult> {
  const start = performance.now();
  const trainCount = data.train.labels.length;
  if (data.val.labels.length !== config.validation) {
    throw new RangeError(
      `runTraining: data.val contains ${data.val.labels.length} images but config.validation is ` +
        `${config.validation}`,
    );
  }
  if (minBatchNormValues(config, trainCount) < 2) {
    throw new RangeError(
      `runTraining: ${trainCount} training images in batches of ${config.batchSize} leave a ` +
        `batch of ${smallestBatchSize(trainCount, config.batchSize)}, too few for batch norm`,
    );
  }
  const { model, optimizer, rng, loss } = buildRun(backend, config);
  const train = batches(backend, data.train, config.batchSize, rng, config.shift);
  const val = batches(backend, data.val, config.batchSize);
  const lastCheckpoint = join(options.checkpointDir, "last.ckpt");
  const bestCheckpoint = join(options.checkpointDir, "best.ckpt");
  const callbacks = options.callbacks ?? {};

  // Continue from the checkpoint, or start at epoch 0.
  let state: TrainingState;
  if (options.resume !== undefined) {
    assertResumable(options.resume, config);
    if (readCheckpointMeta(options.resume).training.bestEpoch > 0) {
      assertBestCheckpoint(
        await loadBestCheckpoint(bestCheckpoint, options.resume),
        options.resume,
      );
    }
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
    // NOTE: a best.ckpt one epoch ahead of the resumed last.ckpt passes the check at the start,
    // because redoing that epoch rewrites it. A run that ends before redoing it stops here.
    const bestEpoch = readCheckpointMeta(best).training.epoch;
    if (bestEpoch !== state.bestEpoch) {
      throw new CheckpointError(
        `Checkpoint ${bestCheckpoint} contains epoch ${bestEpoch}, but the best epoch of this run ` +
          `is ${state.bestEpoch}`,
        { hint: "Resume with more epochs, or score the checkpoint with deno task hw3 evaluate." },
      );
    }
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
 * Check that `checkpoint` continues a run of `config`: the same settings except `epochs`, which
 * may not be below the epochs the checkpoint has completed.
 *
 * @throws {CheckpointError} listing every setting that differs, or naming both epoch counts
 */
export function assertResumable(checkpoint: Checkpoint, config: Hw3Config): void {
  const { config: saved, training } = readCheckpointMeta(checkpoint);
  const differences = configDifferences(saved, config, ["epochs"]);
  if (differences.length > 0) {
    throw new CheckpointError(
      `Checkpoint ${checkpoint.path} does not fit this run: ${differences.join("; ")}`,
      { hint: "Resume with the settings the checkpoint was saved with, or leave them unset." },
    );
  }
  if (config.epochs < training.epoch) {
    throw new CheckpointError(
      `Checkpoint ${checkpoint.path} has completed ${training.epoch} epochs, but this run ` +
        `asks for ${config.epochs} in total`,
      { hint: `Pass --epochs ${training.epoch} or more, or leave it unset.` },
    );
  }
}

/**
 * Read `path`, the best checkpoint that a run resumed from `resume` needs for its test score.
 *
 * @throws {CheckpointError} naming the file, and the run and epoch it should hold, when it is
 *   missing or unreadable
 */
export async function loadBestCheckpoint(path: string, resume: Checkpoint): Promise<Checkpoint> {
  try {
    return await loadCheckpoint(path);
  } catch (error) {
    if (!(error instanceof CheckpointError) || !(error.cause instanceof Deno.errors.NotFound)) {
      throw error;
    }
    const { bestEpoch } = readCheckpointMeta(resume).training;
    throw new CheckpointError(
      `Checkpoint ${path} not found: the run of ${resume.path} is scored on the test set with ` +
        `its best checkpoint, that of epoch ${bestEpoch}`,
      { hint: "Resume from a folder that contains the run's best.ckpt.", cause: error },
    );
  }
}

/**
 * Check that `best` is the best checkpoint of the run that `resume` continues: the same settings
 * except `epochs`, the same history over the epochs both have, and the best epoch of `resume`.
 * A best.ckpt one epoch past `resume` also passes, because a run writes best.ckpt before
 * last.ckpt and can be killed between the two writes.
 *
 * @throws {CheckpointError} naming both files and the first difference
 */
export function assertBestCheckpoint(best: Checkpoint, resume: Checkpoint): void {
  const r = readCheckpointMeta(resume);
  const b = readCheckpointMeta(best);
  const fail = (problem: string): never => {
    throw new CheckpointError(
      `Checkpoint ${best.path} is not the best checkpoint of the run of ${resume.path}: ` +
        problem,
      { hint: "Resume from a folder whose best.ckpt belongs to the same run." },
    );
  };
  const differences = configDifferences(r.config, b.config, ["epochs"]);
  if (differences.length > 0) {
    const named = differences.map((d) =>
      d.replace(" in the checkpoint but ", " in the resumed checkpoint but ")
        .replace(/ here$/, " in best.ckpt")
    );
    return fail(`other settings: ${named.join("; ")}`);
  }
  const shared = Math.min(b.training.epoch, r.training.epoch);
  const history = (epochs: EpochRecord[]) => JSON.stringify(epochs.slice(0, shared));
  if (history(b.training.epochs) !== history(r.training.epochs)) {
    return fail("its epoch records differ, so another run wrote it");
  }
  const ahead = b.training.epoch === r.training.epoch + 1;
  if (b.training.epoch !== r.training.bestEpoch && !ahead) {
    return fail(
      `it contains epoch ${b.training.epoch}, but the best epoch is ${r.training.bestEpoch}`,
    );
  }
}
