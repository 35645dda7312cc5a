/**
 * HW3: dropout and batch normalization in an MLP and a CNN on MNIST, trained with Adam on a
 * training/validation split, with checkpoints that a run resumes from exactly. The layers and
 * Adam live in `@nn/core`; this package builds the networks, runs the experiments and writes the
 * report.
 *
 * @module
 */

export { type LayerModes, MODE_LADDER, type Score, scoreWithModes } from "./analysis.ts";
export {
  CHECKPOINT_KIND,
  CHECKPOINT_VERSION,
  type CheckpointMeta,
  type EpochRecord,
  readCheckpointMeta,
  restoreTraining,
  saveTrainingCheckpoint,
  type TrainingState,
} from "./checkpoint.ts";
export {
  configDifferences,
  defaultConfig,
  type Hw3Config,
  KIND_DEFAULTS,
  SHARED_DEFAULTS,
} from "./config.ts";
export {
  buildCnn,
  buildMlp,
  buildModel,
  describeModel,
  MODEL_KINDS,
  type ModelKind,
  type ModelSpec,
  modelState,
} from "./model.ts";
export {
  assertBestCheckpoint,
  assertResumable,
  batches,
  buildRun,
  type Hw3Data,
  loadBestCheckpoint,
  minBatchNormValues,
  type RunCallbacks,
  type RunOptions,
  type RunParts,
  type RunResult,
  runTraining,
  shouldDecayLr,
  smallestBatchSize,
  type Split,
  splitMnist,
  VALIDATION_SIZE,
} from "./run.ts";
