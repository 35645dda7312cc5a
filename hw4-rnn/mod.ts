/**
 * HW4: recurrent networks for 5-class sentence sentiment on the Stanford Sentiment Treebank.
 * The cells, the encoder, the attention and the training loop are written out here. Tensors,
 * matrix products, the linear layer, the loss, checkpoints and reports come from `@nn/core`.
 *
 * @module
 */

export { SelfAttention, type SelfAttentionOptions } from "./attention.ts";
export { BasicRnn } from "./basic_rnn.ts";
export { type EncodedSentence, type PackedBatch, SentenceBatches } from "./batches.ts";
export {
  encodeSentences,
  type PhraseSet,
  prepareData,
  type PreparedData,
  type PrepareOptions,
  trainingPhrases,
} from "./data.ts";
export { Dropout } from "./dropout.ts";
export { Embedding, type EmbeddingOptions } from "./embedding.ts";
export {
  createRecurrentLayer,
  type EncoderResult,
  type EncoderSpec,
  RecurrentEncoder,
} from "./encoder.ts";
export { Gru } from "./gru.ts";
export { Lstm } from "./lstm.ts";
export {
  type LossBreakdown,
  type NetworkOptions,
  type NetworkSpec,
  type PoolingName,
  POOLINGS,
  SentimentNetwork,
} from "./model.ts";
export { ClippedSgd, type ClippedSgdOptions, type SparseParam, type StepInfo } from "./optim.ts";
export {
  type CellName,
  CELLS,
  type FinalStateGrad,
  type RecurrentGrads,
  type RecurrentLayer,
  type RecurrentLayerOptions,
  type RecurrentResult,
  type RecurrentState,
} from "./recurrent.ts";
export {
  bestRecord,
  CLASSES,
  DEFAULT_CONFIG,
  type EpochRecord,
  evaluate,
  type EvaluateResult,
  type Hw4Config,
  type Hw4Data,
  PHRASE_BUCKET_BATCHES,
  type RunResult,
  runTraining,
} from "./run.ts";
export {
  CHECKPOINT_FORMAT,
  type Hw4Checkpoint,
  parseHw4Checkpoint,
  readHw4Checkpoint,
} from "./checkpoint.ts";
export {
  type LabeledSentence,
  loadSst,
  type LoadSstOptions,
  parseTree,
  parseTreeFile,
  type Phrase,
  type Sst,
  SST_URL,
  SST_ZIP_SHA256,
  TreeSyntaxError,
} from "./sst.ts";
export { buildVocabulary, normalizeToken, PAD, readEmbeddings, UNK, Vocabulary } from "./vocab.ts";
