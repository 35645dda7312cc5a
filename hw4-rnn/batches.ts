/**
 * Mini-batches of sentences, padded to the batch's longest and sorted by length.
 *
 * Shape legend: T time steps (the longest sentence of the batch), N batch, K classes.
 *
 * @module
 */

import type { Backend, Rng, Tensor } from "@nn/core";

/** A sentence as word ids, with its label. */
export interface EncodedSentence {
  /** Vocabulary ids of the words, at least one. */
  ids: Int32Array;
  /** Class label, 0 to K − 1. */
  label: number;
}

/**
 * One padded batch. Rows are sorted by non-increasing length, so the sentences still running at
 * step t are the first rows. `indices` maps each row back to its sentence.
 *
 * NOTE: `target` is reused by the next batch of the same size, so a caller that keeps a batch
 * beyond the next step must copy it.
 */
export interface PackedBatch {
  /** Word ids `[T·N]`, time-major: the id of row n at step t is `ids[t·N + n]`; 0 pads. */
  ids: Int32Array;
  /** Sentence lengths `[N]`, non-increasing. */
  lengths: Int32Array;
  /** Labels `[N]`. */
  labels: Uint8Array;
  /** One-hot labels `[N, K]`. */
  target: Tensor;
  /** Position of each row's sentence in the data set `[N]`. */
  indices: Uint32Array;
  /** Time steps T: the length of the longest sentence. */
  steps: number;
  /** Batch size N. */
  size: number;
}

/**
 * Batches of `sentences` in a given or shuffled order, each padded and sorted by length.
 *
 * @example
 * ```ts
 * import { createTsBackend, Rng } from "@nn/core";
 * import { SentenceBatches } from "./batches.ts";
 * const sentences = [{ ids: Int32Array.of(2, 3), label: 1 }, { ids: Int32Array.of(4), label: 0 }];
 * const data = new SentenceBatches(createTsBackend(), sentences, { batchSize: 16, classes: 5 });
 * for (const batch of data.epoch(new Rng(1))) console.log(batch.steps, batch.lengths);
 * ```
 */
export class SentenceBatches {
  readonly batchSize: number;
  readonly classes: number;
  readonly #backend: Backend;
  readonly #sentences: readonly EncodedSentence[];
  /** One-hot target tensors by batch size, reused between batches. */
  readonly #targets = new Map<number, Tensor>();

  /**
   * @throws {RangeError} when there are no sentences, the batch size is not a positive integer,
   *   a sentence is empty or a label is not below `classes`
   */
  constructor(
    backend: Backend,
    sentences: readonly EncodedSentence[],
    options: { batchSize: number; classes: number },
  ) {
    if (sentences.length === 0) throw new RangeError("SentenceBatches: no sentences");
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) {
      throw new RangeError(
        `SentenceBatches: batchSize must be a positive integer, got ${options.batchSize}`,
      );
    }
    for (const [i, s] of sentences.entries()) {
      if (s.ids.length === 0) throw new RangeError(`SentenceBatches: sentence ${i} has no words`);
      if (!(s.label >= 0 && s.label < options.classes)) {
        throw new RangeError(
          `SentenceBatches: label ${s.label} of sentence ${i} is not below ${options.classes}`,
        );
      }
    }
    this.#backend = backend;
    this.#sentences = sentences;
    this.batchSize = options.batchSize;
    this.classes = options.classes;
  }

  /** Number of sentences. */
  get size(): number {
    return this.#sentences.length;
  }

  /** Number of batches per epoch, counting a short last batch. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.size / this.batchSize);
  }

  /**
   * Yield one epoch of batches covering every sentence once: in data-set order without `rng`,
   * in a fresh random order with it. The last batch is short when the count is not a multiple
   * of the batch size.
   */
  *epoch(rng?: Rng): Generator<PackedBatch, void, undefined> {
    const order = rng ? rng.permutation(this.size) : Uint32Array.from(this.#sentences.keys());
    for (let start = 0; start < order.length; start += this.batchSize) {
      yield this.pack(order.subarray(start, start + this.batchSize));
    }
  }

  /** Pack the sentences at `indices` into one batch, sorted by non-increasing length. */
  pack(indices: ArrayLike<number>): PackedBatch {
    // A stable sort keeps sentences of equal length in their given order.
    const rows = Array.from(indices).sort(
      (a, b) => this.#sentences[b].ids.length - this.#sentences[a].ids.length,
    );
    const size = rows.length;
    const steps = this.#sentences[rows[0]].ids.length;
    const ids = new Int32Array(steps * size);
    const lengths = new Int32Array(size);
    const labels = new Uint8Array(size);
    let target = this.#targets.get(size);
    if (target === undefined) {
      target = this.#backend.zeros([size, this.classes]);
      this.#targets.set(size, target);
    }
    target.data.fill(0);
    for (let n = 0; n < size; n++) {
      const sentence = this.#sentences[rows[n]];
      lengths[n] = sentence.ids.length;
      labels[n] = sentence.label;
      target.data[n * this.classes + sentence.label] = 1;
      for (let t = 0; t < sentence.ids.length; t++) ids[t * size + n] = sentence.ids[t];
    }
    return { ids, lengths, labels, target, indices: Uint32Array.from(rows), steps, size };
  }
}
