/**
 * HW1: the course's multilayer perceptron on MNIST. The layers, losses and training loop live in
 * `@nn/core`; this package builds the network, runs the experiments and writes the report.
 *
 * @module
 */

export {
  type ActivationName,
  ACTIVATIONS,
  buildLoss,
  buildMlp,
  describeMlp,
  LOSSES,
  type LossName,
  type MlpSpec,
} from "./model.ts";
export {
  DEFAULT_CONFIG,
  type EpochRecord,
  type Hw1Config,
  type Hw1Data,
  runMlp,
  type RunResult,
} from "./run.ts";
