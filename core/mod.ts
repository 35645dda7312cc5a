/**
 * The engine shared by every homework: tensors, backends, layers, data, training and reports.
 *
 * @module
 */

export { assertShape, formatShape, sameShape, shapeSize, Tensor } from "./tensor.ts";
export * from "./backend/mod.ts";
export { Rng, type RngState } from "./random.ts";
export { scalarSigmoid, scalarTanh } from "./backend/scalar.ts";
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
export { Conv2D, type Conv2DOptions } from "./layers/conv.ts";
export {
  AvgPool2D,
  type AvgPool2DOptions,
  MaxPool2D,
  type MaxPool2DOptions,
} from "./layers/pooling.ts";
export { Reshape, type ReshapeOptions } from "./layers/reshape.ts";
export { EuclideanLoss, type LossOptions, SoftmaxCrossEntropyLoss } from "./layers/losses.ts";
export { countParameters, Sequential, type SequentialOptions } from "./layers/sequential.ts";
export { accuracy, argmax, countCorrect } from "./metrics.ts";
export { type Batch, BatchIterator, type BatchIteratorOptions } from "./train/data.ts";
export { type ExampleTransform, randomShift, shiftImage } from "./train/augment.ts";
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
export { prepareOutputFolder, writeFileAtomic } from "./io.ts";
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
export {
  encodePng,
  type GrayImage,
  type GrayTile,
  tileGrid,
  type TileGridOptions,
} from "./report/image.ts";
export { formatEta, Progress, type ProgressOptions } from "./report/progress.ts";
export {
  encodeZip,
  listZipEntries,
  readZip,
  readZipEntry,
  type ZipEntry,
  type ZipMember,
} from "./zip.ts";
export { Dropout, type DropoutOptions } from "./layers/dropout.ts";
export { BatchNorm1d, BatchNorm2d, type BatchNormOptions } from "./layers/batchnorm.ts";
export { Adam, type AdamOptions } from "./train/adam.ts";
export {
  type Checkpoint,
  CHECKPOINT_MAGIC,
  type CheckpointContents,
  CheckpointError,
  decodeCheckpoint,
  encodeCheckpoint,
  type JsonValue,
  loadCheckpoint,
  restoreParams,
  restoreState,
  saveCheckpoint,
  type StoredTensor,
} from "./checkpoint.ts";
export {
  type DisplayRecord,
  type EpochRecord,
  fit,
  type FitCallbacks,
  type FitOptions,
  type FitResult,
} from "./train/fit.ts";
export {
  bestEpoch,
  consoleProgress,
  type CurvePlots,
  epochTable,
  type ReportHeader,
  reportHeader,
  type TrainingLog,
  writeCurvePlots,
  writeTrainingLogs,
} from "./report/training.ts";
