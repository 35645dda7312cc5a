/**
 * One training epoch and one evaluation pass, the course's `train_net` and `test_net`.
 *
 * Both functions are silent: progress goes to an optional callback, results are returned.
 *
 * @module
 */

import type { Layer, Loss } from "../layer.ts";
import { countCorrect } from "../metrics.ts";
import type { BatchIterator } from "./data.ts";
import type { Optimizer } from "./optim.ts";

/** Loss and accuracy of one iteration, or means over several. */
export interface IterationRecord {
  /** 1-based iteration number, counted across epochs when `iterationOffset` is given. */
  iteration: number;
  /** Mean loss over the examples. */
  loss: number;
  /** Fraction of the examples classified correctly, in `[0, 1]`. */
  acc: number;
}

/** Inputs of {@linkcode trainEpoch}. */
export interface TrainEpochOptions {
  model: Layer;
  loss: Loss;
  optimizer: Optimizer;
  /** Training data with an Rng, because the epoch shuffles it. */
  data: BatchIterator;
  /** Report the means of every `dispFreq` iterations to `onDisplay`. */
  dispFreq: number;
  /** Receive the mean loss and accuracy of the last `dispFreq` iterations. */
  onDisplay?: (record: IterationRecord) => void;
  /** Receive the loss and accuracy of every iteration, e.g. to drive a progress bar. */
  onIteration?: (record: IterationRecord) => void;
  /** Iterations run before this epoch, added to every iteration number, default 0. */
  iterationOffset?: number;
}

/** Outcome of {@linkcode trainEpoch}. */
export interface TrainEpochResult {
  /** Mean loss over the examples of the iterations that ran. */
  loss: number;
  /** Accuracy over the examples of the iterations that ran. */
  acc: number;
  /** Number of iterations that ran, including a diverged one. */
  iterations: number;
  /** Loss and accuracy of each iteration that ran, for CSV logs and plots. */
  records: IterationRecord[];
  /**
   * True when a batch loss was NaN or infinite. The epoch then stopped before that batch's
   * backward pass and update, so the parameters are those that produced the bad loss.
   */
  diverged: boolean;
}

/**
 * Train `model` for one epoch over shuffled batches of `data`.
 *
 * Each iteration runs forward (training mode), the loss, backward, and one optimizer step. Every
 * `dispFreq` iterations `onDisplay` receives the mean loss and accuracy of those iterations,
 * weighted by batch size. A non-finite loss stops the epoch with `diverged` set instead of
 * throwing.
 *
 * @throws {RangeError} when `dispFreq` is not a positive integer
 */
export function trainEpoch(options: TrainEpochOptions): TrainEpochResult {
  const { model, loss, optimizer, data, dispFreq, onDisplay, onIteration, iterationOffset = 0 } =
    options;
  if (!Number.isInteger(dispFreq) || dispFreq <= 0) {
    throw new RangeError(`trainEpoch: dispFreq must be a positive integer, got ${dispFreq}`);
  }

  const records: IterationRecord[] = [];
  const epoch = new RunningMeans();
  const window = new RunningMeans();
  let diverged = false;

  for (const batch of data.epoch(true)) {
    const iteration = iterationOffset + records.length + 1;
    const batchSize = batch.labels.length;

    const output = model.forward(batch.x, true);
    const lossValue = loss.forward(output, batch.target);
    const acc = countCorrect(output, batch.labels) / batchSize;
    records.push({ iteration, loss: lossValue, acc });
    epoch.add(lossValue, acc, batchSize);
    if (!Number.isFinite(lossValue)) {
      diverged = true;
      break;
    }

    model.backward(loss.backward(), false);
    optimizer.step();

    onIteration?.(records[records.length - 1]);
    window.add(lossValue, acc, batchSize);
    if (records.length % dispFreq === 0) {
      onDisplay?.({ iteration, loss: window.loss, acc: window.acc });
      window.reset();
    }
  }

  return { loss: epoch.loss, acc: epoch.acc, iterations: records.length, records, diverged };
}

/** Inputs of {@linkcode evaluate}. */
export interface EvaluateOptions {
  model: Layer;
  loss: Loss;
  /** Evaluation data, read in order. */
  data: BatchIterator;
}

/** Outcome of {@linkcode evaluate}. */
export interface EvaluateResult {
  /** Mean loss over all examples; NaN or infinite when the model diverged. */
  loss: number;
  /** Fraction of all examples classified correctly, in `[0, 1]`. */
  acc: number;
  /** Number of examples evaluated. */
  count: number;
}

/**
 * Return the mean loss and accuracy of `model` over the whole of `data`, in batches, unshuffled,
 * with `training = false`.
 *
 * NOTE: the means are over examples. The course's `test_net` averages the batch means instead,
 * which differs only when the last batch is short.
 */
export function evaluate(options: EvaluateOptions): EvaluateResult {
  const { model, loss, data } = options;
  const means = new RunningMeans();
  for (const batch of data.epoch(false)) {
    const output = model.forward(batch.x, false);
    const lossValue = loss.forward(output, batch.target);
    const batchSize = batch.labels.length;
    means.add(lossValue, countCorrect(output, batch.labels) / batchSize, batchSize);
  }
  return { loss: means.loss, acc: means.acc, count: means.count };
}

/** Means of batch losses and accuracies, weighted by batch size. */
class RunningMeans {
  #lossSum = 0;
  #accSum = 0;
  #count = 0;

  add(loss: number, acc: number, batchSize: number): void {
    this.#lossSum += loss * batchSize;
    this.#accSum += acc * batchSize;
    this.#count += batchSize;
  }

  /** Number of examples added since the last reset. */
  get count(): number {
    return this.#count;
  }

  get loss(): number {
    return this.#lossSum / this.#count;
  }

  get acc(): number {
    return this.#accSum / this.#count;
  }

  reset(): void {
    this.#lossSum = 0;
    this.#accSum = 0;
    this.#count = 0;
  }
}
