/**
 * The HW4 sentence classifier: embeddings → recurrent encoder → structured self-attention or
 * the last state → linear layer to K classes.
 *
 * Shape legend: V vocabulary, D embedding features, T time steps, N batch, H hidden units per
 * direction, E encoder features (H or 2H), R attention hops, K classes.
 *
 * @module
 */

import {
  type Backend,
  Linear,
  type Param,
  type Rng,
  SoftmaxCrossEntropyLoss,
  type Tensor,
} from "@nn/core";
import { SelfAttention } from "./attention.ts";
import type { PackedBatch } from "./batches.ts";
import { Dropout } from "./dropout.ts";
import { Embedding } from "./embedding.ts";
import { RecurrentEncoder } from "./encoder.ts";
import type { CellName } from "./recurrent.ts";

/** Pooling methods, as `--pooling` names them, that make one vector per sentence. */
export const POOLINGS = ["attention", "last"] as const;
export type PoolingName = typeof POOLINGS[number];

/** Architecture of a {@linkcode SentimentNetwork}; checkpoints store it. */
export interface NetworkSpec {
  /** Vocabulary size V, including `_PAD` and `_UNK`. */
  vocabSize: number;
  /** Embedding features D. */
  embeddingSize: number;
  cell: CellName;
  /** Hidden units H per direction. */
  hiddenSize: number;
  /** Stacked recurrent layers. */
  layers: number;
  bidirectional: boolean;
  /** `attention`: structured self-attention; `last`: the encoder's final states. */
  pooling: PoolingName;
  /** Attention hidden units d_a. */
  attentionHidden: number;
  /** Attention hops r. */
  attentionHops: number;
  /** Classes K. */
  classes: number;
  /** Dropout rate on the embeddings and on the sentence vector, in `[0, 1)`. */
  dropout: number;
}

/** Training options of a {@linkcode SentimentNetwork} that a checkpoint does not need. */
export interface NetworkOptions {
  /** Initial embedding table `[V·D]`. */
  embeddings: Float32Array;
  /** Keep the embedding table fixed. */
  freezeEmbeddings: boolean;
  /** Weight of the attention penalty `‖A·Aᵀ − I‖²_F` in the loss. */
  penaltyWeight: number;
}

/** The loss of one batch, split into its terms. */
export interface LossBreakdown {
  /** `crossEntropy + penaltyWeight · penalty`, the value that training minimizes. */
  total: number;
  /** Mean softmax cross-entropy. */
  crossEntropy: number;
  /** Mean attention penalty `‖A·Aᵀ − I‖²_F`, 0 without attention. */
  penalty: number;
}

/**
 * The sentence classifier:
 *
 * ```
 * X = dropout(embedding[ids])          [T, N, D]
 * Hs, final = encoder(X)               [T, N, E], [N, E]
 * v = dropout(attention(Hs) or final)  [N, R·E] or [N, E]
 * logits = v·W + b                     [N, K]
 * loss = crossEntropy(logits) + penaltyWeight · ‖A·Aᵀ − I‖²_F
 * ```
 *
 * Parameters: `embedding.table`, `encoder.l<i>.{fw,bw}.*`, `attention.Ws1`, `attention.Ws2`,
 * `classifier.W` (Glorot normal) and `classifier.b` (zeros).
 */
export class SentimentNetwork {
  readonly spec: Readonly<NetworkSpec>;
  readonly penaltyWeight: number;
  readonly embedding: Embedding;
  readonly encoder: RecurrentEncoder;
  readonly attention: SelfAttention | null;
  readonly classifier: Linear;

  readonly #inputDropout: Dropout;
  readonly #featureDropout: Dropout;
  readonly #loss: SoftmaxCrossEntropyLoss;
  #penalty = 0;

  constructor(backend: Backend, spec: NetworkSpec, rng: Rng, options: NetworkOptions) {
    this.spec = Object.freeze({ ...spec });
    this.penaltyWeight = options.penaltyWeight;
    this.embedding = new Embedding(backend, spec.vocabSize, spec.embeddingSize, {
      initial: options.embeddings,
      trainable: !options.freezeEmbeddings,
    });
    this.#inputDropout = new Dropout(backend, spec.dropout, "embedding dropout");
    this.encoder = new RecurrentEncoder(backend, {
      cell: spec.cell,
      inputSize: spec.embeddingSize,
      hiddenSize: spec.hiddenSize,
      layers: spec.layers,
      bidirectional: spec.bidirectional,
    }, rng);
    this.attention = spec.pooling === "attention"
      ? new SelfAttention(backend, this.encoder.outputSize, {
        hidden: spec.attentionHidden,
        hops: spec.attentionHops,
        rng,
      })
      : null;
    this.#featureDropout = new Dropout(backend, spec.dropout, "feature dropout");
    const features = this.attention?.outputSize ?? this.encoder.outputSize;
    this.classifier = new Linear(backend, features, spec.classes, {
      initStd: Math.sqrt(2 / (features + spec.classes)),
      rng,
      name: "classifier",
    });
    this.#loss = new SoftmaxCrossEntropyLoss(backend);
  }

  /** Set the generator of the dropout masks, e.g. a fresh one per epoch. */
  setDropoutRng(rng: Rng): void {
    this.#inputDropout.rng = rng;
    this.#featureDropout.rng = rng;
  }

  /** Return every parameter, the frozen embedding table included: what a checkpoint stores. */
  params(): Param[] {
    return [
      ...this.embedding.params(),
      ...this.encoder.params(),
      ...(this.attention?.params() ?? []),
      ...this.classifier.params(),
    ];
  }

  /** Return the parameters that training updates. */
  trainableParams(): Param[] {
    return this.params().filter((p) => p !== this.embedding.table || this.embedding.trainable);
  }

  /** Return the logits `[N, K]` of a batch; `training` turns dropout on. */
  forward(batch: PackedBatch, training: boolean): Tensor {
    const x = this.embedding.forward(batch.ids, batch.lengths, batch.steps, batch.size);
    const encoded = this.encoder.forward(this.#inputDropout.forward(x, training), batch.lengths);
    let features: Tensor;
    if (this.attention !== null) {
      features = this.attention.forward(encoded.outputs, batch.lengths);
      this.#penalty = this.attention.penalty;
    } else {
      features = encoded.final;
      this.#penalty = 0;
    }
    return this.classifier.forward(this.#featureDropout.forward(features, training), training);
  }

  /** Return the loss of the logits of the last forward pass against `batch.target`. */
  loss(logits: Tensor, batch: PackedBatch): LossBreakdown {
    const crossEntropy = this.#loss.forward(logits, batch.target);
    return {
      total: crossEntropy + this.penaltyWeight * this.#penalty,
      crossEntropy,
      penalty: this.#penalty,
    };
  }

  /** Set the gradient of every trainable parameter from the last `loss`. */
  backward(): void {
    const dLogits = this.#loss.backward();
    const dFeatures = this.#featureDropout.backward(this.classifier.backward(dLogits)!);
    const dX = this.attention !== null
      ? this.encoder.backward(this.attention.backward(dFeatures, this.penaltyWeight), null)
      : this.encoder.backward(null, dFeatures);
    if (this.embedding.trainable) this.embedding.backward(this.#inputDropout.backward(dX));
  }
}
