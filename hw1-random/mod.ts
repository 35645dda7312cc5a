/**
 * HW1 follow-up: feedback alignment (Lillicrap et al., "Random synaptic feedback weights support
 * error backpropagation for deep learning", Nature Communications 7:13276, 2016) on the HW1 MLP.
 * The layers other than {@linkcode FeedbackLinear}, the losses and the training loop come from
 * `@nn/core`.
 *
 * @module
 */

export {
  AlignmentProbe,
  type AlignmentProbeOptions,
  angleDegrees,
  type AngleRecord,
  meanRowAngleDegrees,
} from "./alignment.ts";
export {
  DEFAULT_EXPLOSION_FACTOR,
  type Explosion,
  ExplosionGuard,
  type ExplosionGuardOptions,
} from "./divergence.ts";
export {
  FEEDBACK_DISTRIBUTIONS,
  type FeedbackDistribution,
  type FeedbackInit,
  FeedbackLinear,
  type FeedbackLinearOptions,
} from "./feedback_linear.ts";
export {
  type ActivationName,
  ACTIVATIONS,
  buildLoss,
  buildNetwork,
  describeFeedback,
  describeNetwork,
  LOSSES,
  type LossName,
  type NetworkSpec,
  type Rule,
  RULES,
} from "./model.ts";
export {
  DEFAULT_CONFIG,
  type DisplayRecord,
  type Divergence,
  type EpochRecord,
  FEEDBACK_DEFAULTS,
  feedbackSeed,
  type MnistData,
  prepareMnist,
  type RunCallbacks,
  type RunConfig,
  type RunResult,
  runStudy,
} from "./run.ts";
