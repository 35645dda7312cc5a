/**
 * The epoch loop every homework shares: train an epoch, evaluate on held-out data, record.
 *
 * @module
 */

import type { Layer, Loss } from "../layer.ts";
import type { BatchIterator } from "./data.ts";
import { evaluate, type IterationRecord, trainEpoch } from "./loop.ts";
import type { Optimizer } from "./optim.ts";

/** Numbers of one epoch. */
export interface EpochRecord {
  epoch: number;
  /** Mean training loss and accuracy over the epoch's iterations. */
  trainLoss: number;
  trainAcc: number;
  /** Loss and accuracy on the held-out data after the epoch. */
  testLoss: number;
  testAcc: number;
  /** Wall time of the epoch's training, without the evaluation, in seconds. */
  seconds: number;
}

/** Mean loss and accuracy of a display window, with the epoch it ended in. */
export interface DisplayRecord extends IterationRecord {
  epoch: number;
}

/** Progress callbacks of {@linkcode fit}. */
export interface FitCallbacks {
  /** Receive every training iteration. */
  onIteration?: (record: IterationRecord, epoch: number) => void;
  /** Receive the means of every `dispFreq` iterations. */
  onDisplay?: (record: DisplayRecord) => void;
  /** Receive each finished epoch. */
  onEpoch?: (record: EpochRecord) => void;
}

/** Inputs of {@linkcode fit}. */
export interface FitOptions {
  model: Layer;
  loss: Loss;
  optimizer: Optimizer;
  /** Training data, shuffled every epoch. */
  train: BatchIterator;
  /** Held-out data evaluated after every epoch (the test or validation set). */
  test: BatchIterator;
  epochs: number;
  /** Report the means of every `dispFreq` iterations through `onDisplay`. */
  dispFreq: number;
  callbacks?: FitCallbacks;
}

/** Outcome of {@linkcode fit}. */
export interface FitResult {
  epochs: EpochRecord[];
  /** Loss and accuracy of every training iteration, numbered across epochs. */
  iterations: IterationRecord[];
  /** Means of every `dispFreq` iterations, as `onDisplay` received them. */
  display: DisplayRecord[];
  /** Held-out accuracy and loss after the last epoch that ran; NaN when none ran. */
  testAcc: number;
  testLoss: number;
  /** Training loss of the last epoch. */
  trainLoss: number;
  /** Wall time of training and evaluation, in seconds. */
  seconds: number;
  /** True when a loss became NaN or infinite; training stopped after that epoch's evaluation. */
  diverged: boolean;
}

/** Train `model` for `epochs` epochs, evaluating on `test` after each one. */
export function fit(options: FitOptions): FitResult {
  const { model, loss, optimizer, train, test, dispFreq, callbacks = {} } = options;
  const start = performance.now();
  const epochs: EpochRecord[] = [];
  const iterations: IterationRecord[] = [];
  const display: DisplayRecord[] = [];
  let diverged = false;

  for (let epoch = 1; epoch <= options.epochs && !diverged; epoch++) {
    const epochStart = performance.now();
    const result = trainEpoch({
      model,
      loss,
      optimizer,
      data: train,
      dispFreq,
      iterationOffset: iterations.length,
      onIteration: (record) => callbacks.onIteration?.(record, epoch),
      onDisplay: (record) => {
        display.push({ ...record, epoch });
        callbacks.onDisplay?.({ ...record, epoch });
      },
    });
    const seconds = (performance.now() - epochStart) / 1000;
    iterations.push(...result.records);
    diverged = result.diverged;

    const tested = evaluate({ model, loss, data: test });
    const record: EpochRecord = {
      epoch,
      trainLoss: result.loss,
      trainAcc: result.acc,
      testLoss: tested.loss,
      testAcc: tested.acc,
      seconds,
    };
    epochs.push(record);
    callbacks.onEpoch?.(record);
  }

  const last = epochs[epochs.length - 1];
  return {
    epochs,
    iterations,
    display,
    testAcc: last?.testAcc ?? NaN,
    testLoss: last?.testLoss ?? NaN,
    trainLoss: last?.trainLoss ?? NaN,
    seconds: (performance.now() - start) / 1000,
    diverged,
  };
}
