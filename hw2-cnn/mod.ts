/**
 * HW2: convolutional networks on MNIST. The layers (`Conv2D`, `AvgPool2D`, `MaxPool2D`,
 * `Reshape`) and their kernels live in `@nn/core`; this package builds the networks, trains them
 * and writes the report.
 *
 * @module
 */

export {
  buildCnn,
  buildMlpBaseline,
  buildSkeleton,
  buildTuned,
  describeCnn,
  heStd,
  MODEL_NAMES,
  type ModelName,
} from "./model.ts";
export { type Schedule, scheduledLr, ScheduledSGD, SCHEDULES } from "./optim.ts";
export {
  buildNetwork,
  defaultConfig,
  type EpochRecord,
  type FeatureMaps,
  firstLayerMaps,
  type Hw2Config,
  type Hw2Data,
  NETWORK_DEFAULTS,
  type NetworkDefaults,
  type NetworkName,
  type RunCallbacks,
  runNetwork,
  type RunResult,
  SHARED_DEFAULTS,
} from "./run.ts";
