/**
 * The engine shared by every homework: tensors, backends, layers, data, training and reports.
 *
 * @module
 */

export { assertShape, formatShape, sameShape, shapeSize, Tensor } from "./tensor.ts";
export * from "./backend/mod.ts";
export { Rng } from "./random.ts";
export { type Layer, type Loss, Param } from "./layer.ts";
export {
  DataError,
  encodeIdx,
  gunzipIfCompressed,
  IDX_IMAGES_MAGIC,
  IDX_LABELS_MAGIC,
  type IdxArray,
  parseIdx,
  readIdxFile,
} from "./idx.ts";
export {
  defaultMnistCacheDir,
  loadMnist,
  type LoadMnistOptions,
  type Mnist,
  MNIST_FILES,
  MNIST_MIRROR,
  MNIST_SHA256,
  type MnistSplit,
  normalizeImages,
  oneHot,
} from "./mnist.ts";
export { type ActivationOptions, Relu, Sigmoid } from "./layers/activations.ts";
export { Linear, type LinearOptions } from "./layers/linear.ts";
export { EuclideanLoss, type LossOptions, SoftmaxCrossEntropyLoss } from "./layers/losses.ts";
export { countParameters, Sequential, type SequentialOptions } from "./layers/sequential.ts";
export { accuracy, argmax, countCorrect } from "./metrics.ts";
export { type Batch, BatchIterator, type BatchIteratorOptions } from "./train/data.ts";
export { MomentumSGD, type Optimizer } from "./train/optim.ts";
export {
  evaluate,
  type EvaluateOptions,
  type EvaluateResult,
  type IterationRecord,
  trainEpoch,
  type TrainEpochOptions,
  type TrainEpochResult,
} from "./train/loop.ts";
export { writeFileAtomic } from "./io.ts";
export {
  type CommandSpec,
  configBlock,
  type ConfigValue,
  flag,
  flagName,
  type FlagSpec,
  type FlagSpecs,
  type FlagValues,
  formatHelp,
  HelpRequested,
  parseChoice,
  parseFlags,
  parseIntList,
  parseNonNegativeInt,
  parseNonNegativeNumber,
  parsePositiveInt,
  parsePositiveNumber,
  parseProbability,
  runMain,
  UsageError,
  UserError,
} from "./cli.ts";
export { csvColumn, CsvLog, type CsvTable, parseCsv, toCsv } from "./report/csv.ts";
export { formatDuration, formatNumber, formatPercent, markdownTable } from "./report/markdown.ts";
export { linePlot, type LinePlotOptions, niceTicks, type PlotSeries } from "./report/svg.ts";
export { formatEta, Progress, type ProgressOptions } from "./report/progress.ts";
