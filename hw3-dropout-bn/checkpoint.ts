/**
 * Training checkpoints of HW3: everything a run needs to continue exactly where it stopped.
 *
 * A checkpoint holds, in core's checkpoint format:
 * - params: every parameter of the network, by name;
 * - state: the batch-norm running statistics (`bn1.running_mean`, …) and Adam's moment estimates
 *   (`adam.m/fc1.W`, …);
 * - meta: `kind` ({@linkcode CHECKPOINT_KIND}), `version`, the run's `config`, and its `training`
 *   state: completed epochs, learning rate, Adam's step count, the generator's state, the
 *   learning-rate decays so far, the best validation accuracy and the history of the curves.
 *
 * @module
 */

import {
  type Adam,
  type Checkpoint,
  CheckpointError,
  type DisplayRecord,
  type JsonValue,
  restoreParams,
  restoreState,
  Rng,
  type RngState,
  saveCheckpoint,
  type Sequential,
} from "@nn/core";
import { CONFIG_KEYS, type Hw3Config, MAX_SHIFT, VALIDATION_SIZE } from "./config.ts";
import { MODEL_KINDS, modelState, PADDINGS } from "./model.ts";

/** Value of `meta.kind` in every HW3 training checkpoint. */
export const CHECKPOINT_KIND = "hw3-training";
/** Value of `meta.version`. A reader rejects other versions. */
export const CHECKPOINT_VERSION = 1;

/** Numbers of one epoch. */
export interface EpochRecord {
  epoch: number;
  /** Mean training loss and accuracy over the epoch's iterations, in training mode. */
  trainLoss: number;
  trainAcc: number;
  /** Loss and accuracy on the validation set after the epoch, in evaluation mode. */
  valLoss: number;
  valAcc: number;
  /** Learning rate during the epoch. */
  lr: number;
  /** Wall time of the epoch's training, without the validation pass, in seconds. */
  seconds: number;
}

/** Progress of a run after a completed epoch, which a resumed run continues from. */
export interface TrainingState {
  /** Completed epochs. */
  epoch: number;
  /** Learning rate of the next epoch. */
  lr: number;
  /** Adam's step count. */
  adamSteps: number;
  /** State of the generator that shuffles and draws the dropout masks and the shifts. */
  rng: RngState;
  /** Epochs after which the learning rate was multiplied by `lrDecay`. */
  lrDecayEpochs: number[];
  /** Best validation accuracy so far, and its epoch (0 before the first epoch). */
  bestValAcc: number;
  bestEpoch: number;
  /** One record per completed epoch. */
  epochs: EpochRecord[];
  /** Mean training loss and accuracy of every display window so far. */
  display: DisplayRecord[];
}

/** Metadata of a checkpoint, besides its tensors. */
export interface CheckpointMeta {
  config: Hw3Config;
  training: TrainingState;
}

/**
 * Write the network's parameters and state, Adam's moments and the run's meta to `path`,
 * through a temporary file and a rename.
 */
export async function saveTrainingCheckpoint(
  path: string,
  model: Sequential,
  optimizer: Adam,
  meta: CheckpointMeta,
): Promise<void> {
  await saveCheckpoint(path, {
    params: model.params(),
    state: { ...modelState(model), ...optimizer.state() },
    meta: {
      kind: CHECKPOINT_KIND,
      version: CHECKPOINT_VERSION,
      config: meta.config as unknown as JsonValue,
      training: meta.training as unknown as JsonValue,
    },
  });
}

/**
 * Return the config and training state of a checkpoint, after checking that it is an HW3
 * training checkpoint of this version with well-formed meta.
 *
 * @throws {CheckpointError} naming the file and the first field that is missing or invalid
 */
export function readCheckpointMeta(checkpoint: Checkpoint): CheckpointMeta {
  const meta = checkpoint.meta;
  const fail = (problem: string): never => {
    throw new CheckpointError(
      `Checkpoint ${checkpoint.path} is not a usable HW3 training checkpoint: ${problem}`,
      { hint: "Pass a last.ckpt or best.ckpt written by deno task hw3." },
    );
  };
  if (meta.kind !== CHECKPOINT_KIND) {
    return fail(`meta.kind is ${JSON.stringify(meta.kind)}, expected "${CHECKPOINT_KIND}"`);
  }
  if (meta.version !== CHECKPOINT_VERSION) {
    return fail(`meta.version is ${JSON.stringify(meta.version)}, expected ${CHECKPOINT_VERSION}`);
  }
  const config = meta.config as Record<string, JsonValue> | null;
  const training = meta.training as Record<string, JsonValue> | null;
  if (!isRecord(config)) return fail("meta.config is missing");
  if (!isRecord(training)) return fail("meta.training is missing");
  // Checkpoints written before `validation` and `shift` were stored held out the default 10,000
  // images and moved none.
  const withDefaults = { validation: VALIDATION_SIZE, shift: 0, ...config };

  const checks: [string, boolean][] = [
    ["config.kind", MODEL_KINDS.includes(config.kind as never)],
    ["config.hidden", isPositiveInt(config.hidden)],
    [
      "config.channels",
      Array.isArray(config.channels) && config.channels.length === 2 &&
      config.channels.every(isPositiveInt),
    ],
    [
      "config.kernelSize",
      isPositiveInt(config.kernelSize) && (config.kernelSize as number) % 2 === 1,
    ],
    ["config.padding", PADDINGS.includes(config.padding as never)],
    [
      "config.dropRate",
      typeof config.dropRate === "number" && config.dropRate >= 0 && config.dropRate < 1,
    ],
    ["config.batchNorm", typeof config.batchNorm === "boolean"],
    [
      "config.shift",
      Number.isInteger(withDefaults.shift) && (withDefaults.shift as number) >= 0 &&
      (withDefaults.shift as number) <= MAX_SHIFT,
    ],
    ["config.epochs", isPositiveInt(config.epochs)],
    ["config.lr", isPositiveNumber(config.lr)],
    ["config.lrDecay", isPositiveNumber(config.lrDecay)],
    ["config.batchSize", isPositiveInt(config.batchSize)],
    ["config.seed", Number.isInteger(config.seed)],
    ["config.dispFreq", isPositiveInt(config.dispFreq)],
    ["config.validation", isPositiveInt(withDefaults.validation)],
    ["training.epoch", Number.isInteger(training.epoch) && (training.epoch as number) >= 0],
    ["training.lr", isPositiveNumber(training.lr)],
    ["training.adamSteps", Number.isInteger(training.adamSteps)],
    ["training.rng", isRecord(training.rng) && Array.isArray(training.rng.words)],
    ["training.lrDecayEpochs", Array.isArray(training.lrDecayEpochs)],
    ["training.bestValAcc", typeof training.bestValAcc === "number"],
    ["training.bestEpoch", Number.isInteger(training.bestEpoch)],
    [
      "training.epochs",
      Array.isArray(training.epochs) && training.epochs.length === training.epoch,
    ],
    ["training.display", Array.isArray(training.display)],
  ];
  for (const [field, valid] of checks) {
    if (!valid) return fail(`meta.${field} is missing or invalid`);
  }
  const extra = Object.keys(config).filter((key) => !CONFIG_KEYS.includes(key as never));
  if (extra.length > 0) return fail(`meta.config has unknown settings ${extra.join(", ")}`);
  return {
    config: withDefaults as unknown as Hw3Config,
    training: training as unknown as TrainingState,
  };
}

/**
 * Copy a checkpoint's tensors into `model` and `optimizer`, and its generator state into `rng`;
 * return its training state.
 *
 * The tensors are checked before anything is copied: the parameter names, the state names and
 * every shape must match. The network must already have the checkpoint's architecture.
 *
 * @throws {CheckpointError} as {@linkcode readCheckpointMeta}, or listing the missing, unexpected
 *   and mismatched tensors when the network does not fit the checkpoint
 */
export function restoreTraining(
  checkpoint: Checkpoint,
  model: Sequential,
  optimizer: Adam,
  rng: Rng,
): TrainingState {
  const { training } = readCheckpointMeta(checkpoint);
  // Check the generator state on a scratch generator first, so that a bad one changes nothing.
  try {
    new Rng(0).setState(training.rng);
  } catch (error) {
    throw new CheckpointError(
      `Checkpoint ${checkpoint.path} has an invalid generator state: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }
  restoreParams(checkpoint, model.params());
  restoreState(checkpoint, { ...modelState(model), ...optimizer.state() });
  optimizer.lr = training.lr;
  optimizer.stepCount = training.adamSteps;
  rng.setState(training.rng);
  return training;
}

function isRecord(value: unknown): value is Record<string, JsonValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isPositiveInt(value: unknown): boolean {
  return Number.isInteger(value) && (value as number) > 0;
}

function isPositiveNumber(value: unknown): boolean {
  return typeof value === "number" && Number.isFinite(value) && value > 0;
}
