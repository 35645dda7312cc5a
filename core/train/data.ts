/**
 * Mini-batches of a labeled data set, the course's `data_iterator` plus one-hot encoding.
 *
 * Shape legend: N examples in the set, B examples in a batch, D values per example, K classes.
 *
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import type { Rng } from "../random.ts";
import { shapeSize, type Tensor } from "../tensor.ts";
import type { ExampleTransform } from "./augment.ts";

/**
 * One mini-batch. NOTE: the tensors and arrays are reused by the next batch of the same size, so
 * a caller that keeps a batch beyond the next step must copy it.
 */
export interface Batch {
  /** Examples `[B, ...exampleShape]`, e.g. `[B, D]`. */
  x: Tensor;
  /** One-hot targets `[B, K]`. */
  target: Tensor;
  /** Class labels `[B]`. */
  labels: Uint8Array;
  /** Positions of the batch's examples in the data set `[B]`. */
  indices: Uint32Array;
}

/** Options of {@linkcode BatchIterator}. */
export interface BatchIteratorOptions {
  /** Examples per batch. When N is not a multiple, the last batch of an epoch is shorter. */
  batchSize: number;
  /** Number of classes K, the width of the one-hot targets, at most 256 for uint8 labels. */
  numClasses: number;
  /** Shape of one example, e.g. `[784]` or `[1, 28, 28]`, default `[images.length / N]`. */
  exampleShape?: readonly number[];
  /** Generator for shuffling, required by `epoch(true)`. */
  rng?: Rng;
  /**
   * Applied to every example as it is copied into its batch, e.g. {@linkcode randomShift} for a
   * training set. The stored examples stay unchanged.
   */
  augment?: ExampleTransform;
}

/** Tensors of one batch size, allocated once on the backend. */
interface BatchBuffers {
  x: Tensor;
  target: Tensor;
  labels: Uint8Array;
}

/**
 * Mini-batches over `images` (N examples of D values, row-major) and `labels [N]`.
 *
 * Each batch is copied into tensors allocated once per batch size with `backend.zeros`, so an
 * epoch allocates nothing after its first full and short batch.
 *
 * @example
 * ```ts
 * import { BatchIterator, createTsBackend, Rng } from "@nn/core";
 * const images = new Float32Array(10 * 4), labels = new Uint8Array(10);
 * const data = new BatchIterator(createTsBackend(), images, labels, {
 *   batchSize: 4,
 *   numClasses: 3,
 *   rng: new Rng(1),
 * });
 * for (const batch of data.epoch(true)) console.log(batch.x.shape); // [4, 4], [4, 4], [2, 4]
 * ```
 */
export class BatchIterator {
  /** Number of examples N. */
  readonly size: number;
  readonly batchSize: number;
  readonly numClasses: number;
  /** Shape of one example, whose product is D. */
  readonly exampleShape: readonly number[];

  readonly #backend: Backend;
  readonly #images: Float32Array;
  readonly #labels: Uint8Array;
  readonly #rng: Rng | undefined;
  readonly #augment: ExampleTransform | undefined;
  /** Order of the examples in the current epoch. */
  readonly #order: Uint32Array;
  #fullBuffers: BatchBuffers | null = null;
  #lastBuffers: BatchBuffers | null = null;

  /**
   * @throws {RangeError} when the set is empty, `batchSize` is not a positive integer,
   *   `numClasses` is not in `[1, 256]`, or a label is not below `numClasses`
   * @throws {TypeError} when `images.length` is not N times the example size
   */
  constructor(
    backend: Backend,
    images: Float32Array,
    labels: Uint8Array,
    options: BatchIteratorOptions,
  ) {
    const n = labels.length;
    const { batchSize, numClasses } = options;
    if (n === 0) throw new RangeError("BatchIterator: the data set has no labels");
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new RangeError(`BatchIterator: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (!Number.isInteger(numClasses) || numClasses < 1 || numClasses > 256) {
      throw new RangeError(
        `BatchIterator: numClasses must be an integer in [1, 256], got ${numClasses}`,
      );
    }
    if (options.exampleShape === undefined && images.length % n !== 0) {
      throw new TypeError(
        `BatchIterator: images has ${images.length} values, not a multiple of ${n} labels`,
      );
    }
    const exampleShape = options.exampleShape ?? [images.length / n];
    if (images.length !== n * shapeSize(exampleShape)) {
      throw new TypeError(
        `BatchIterator: images has ${images.length} values, expected ${n} examples of shape ` +
          `[${exampleShape}]`,
      );
    }
    for (let i = 0; i < n; i++) {
      if (labels[i] >= numClasses) {
        throw new RangeError(
          `BatchIterator: label ${labels[i]} at index ${i} is not below numClasses ${numClasses}`,
        );
      }
    }

    this.size = n;
    this.batchSize = batchSize;
    this.numClasses = numClasses;
    this.exampleShape = Object.freeze([...exampleShape]);
    this.#backend = backend;
    this.#images = images;
    this.#labels = labels;
    this.#rng = options.rng;
    this.#augment = options.augment;
    this.#order = new Uint32Array(n);
  }

  /** Number of batches in one epoch, counting a short last batch. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.size / this.batchSize);
  }

  /**
   * Yield one epoch of batches, every example exactly once, the last batch short when N is not a
   * multiple of the batch size. With `shuffle`, the order is a fresh permutation drawn from the
   * Rng. Without it, the examples come in data-set order. The `augment` option, when set, is
   * applied to each example after the shuffle.
   *
   * @throws {Error} when `shuffle` is true but the iterator has no Rng
   */
  *epoch(shuffle: boolean): Generator<Batch, void, undefined> {
    const order = this.#order;
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (shuffle) {
      if (this.#rng === undefined) {
        throw new Error("BatchIterator: epoch(true) needs the rng option to shuffle");
      }
      this.#rng.shuffle(order);
    }

    const d = this.#images.length / this.size;
    const k = this.numClasses;
    for (let start = 0; start < this.size; start += this.batchSize) {
      const b = Math.min(this.batchSize, this.size - start);
      const buffers = this.#buffersFor(b);
      const indices = order.subarray(start, start + b);

      // Copy each example's row and label, and write its one-hot target row.
      buffers.target.data.fill(0);
      for (let row = 0; row < b; row++) {
        const example = indices[row];
        const source = this.#images.subarray(example * d, (example + 1) * d);
        if (this.#augment === undefined) buffers.x.data.set(source, row * d);
        else this.#augment(source, buffers.x.data.subarray(row * d, (row + 1) * d));
        const label = this.#labels[example];
        buffers.labels[row] = label;
        buffers.target.data[row * k + label] = 1;
      }
      yield { x: buffers.x, target: buffers.target, labels: buffers.labels, indices };
    }
  }

  /** Return the buffers for batch size `b`, allocating them on first use. */
  #buffersFor(b: number): BatchBuffers {
    const isFull = b === this.batchSize;
    const existing = isFull ? this.#fullBuffers : this.#lastBuffers;
    if (existing !== null) return existing;

    const buffers: BatchBuffers = {
      x: this.#backend.zeros([b, ...this.exampleShape]),
      target: this.#backend.zeros([b, this.numClasses]),
      labels: new Uint8Array(b),
    };
    if (isFull) this.#fullBuffers = buffers;
    else this.#lastBuffers = buffers;
    return buffers;
  }
}
