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
  /** Batches per length bucket of a shuffled epoch; 1 turns bucketing off. */
  readonly bucketBatches: number;
  readonly #backend: Backend;
  readonly #sentences: readonly EncodedSentence[];
  /** One-hot target tensors by batch size, reused between batches. */
  readonly #targets = new Map<number, Tensor>();

  /**
   * `bucketBatches` (default 1) groups a shuffled epoch by length, as {@linkcode epoch} describes.
   *
   * @throws {RangeError} when there are no sentences, the batch size or `bucketBatches` is not a
   *   positive integer, a sentence is empty or a label is not below `classes`
   */
  constructor(
    backend: Backend,
    sentences: readonly EncodedSentence[],
    options: { batchSize: number; classes: number; bucketBatches?: number },
  ) {
    if (sentences.length === 0) throw new RangeError("SentenceBatches: no sentences");
    for (const name of ["batchSize", "bucketBatches"] as const) {
      const value = options[name] ?? 1;
      if (!Number.isInteger(value) || value < 1) {
        throw new RangeError(`SentenceBatches: ${name} must be a positive integer, got ${value}`);
      }
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
    this.bucketBatches = options.bucketBatches ?? 1;
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
   *
   * With `rng` and `bucketBatches` B > 1, the shuffled order is cut into buckets of B batches'
   * sentences, each bucket is sorted by length and cut into batches, and the batches of the
   * whole epoch are then shuffled. Batches then hold sentences of similar lengths, so the work
   * done on padded steps stays small when lengths vary a lot. Every bucket but the epoch's last
   * yields only full batches, so at most one batch is short.
   */
  *epoch(rng?: Rng): Generator<PackedBatch, void, undefined> {
    const order = rng ? rng.permutation(this.size) : Uint32Array.from(this.#sentences.keys());
    if (rng === undefined || this.bucketBatches === 1) {
      for (let start = 0; start < order.length; start += this.batchSize) {
        yield this.pack(order.subarray(start, start + this.batchSize));
      }
      return;
    }

    const bucketSize = this.bucketBatches * this.batchSize;
    const batches: number[][] = [];
    for (let from = 0; from < order.length; from += bucketSize) {
      // A stable sort, so sentences of equal length keep their shuffled order.
      const bucket = Array.from(order.subarray(from, from + bucketSize)).sort(
        (a, b) => this.#sentences[b].ids.length - this.#sentences[a].ids.length,
      );
      for (let start = 0; start < bucket.length; start += this.batchSize) {
        batches.push(bucket.slice(start, start + this.batchSize));
      }
    }
    for (const i of rng.permutation(batches.length)) yield this.pack(batches[i]);
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
