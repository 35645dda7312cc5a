/**
 * Why training and validation loss differ: the same weights scored with dropout and batch norm
 * in each of their modes, on training and validation images.
 *
 * @module
 */

import {
  type BatchIterator,
  BatchNorm1d,
  BatchNorm2d,
  countCorrect,
  Dropout,
  type Loss,
  type Sequential,
  type Tensor,
} from "@nn/core";
import { modelState } from "./model.ts";

/** Modes of dropout and batch norm in a forward pass. */
export interface LayerModes {
  /** Whether dropout layers drop units (training) or pass their input through (evaluation). */
  dropout: boolean;
  /** Whether batch norm uses each batch's statistics (training) or the running ones. */
  batchStatistics: boolean;
}

/** The three combinations that separate the effects, from training mode to evaluation mode. */
export const MODE_LADDER: readonly { name: string; modes: LayerModes }[] = [
  {
    name: "training mode (dropout on, batch statistics)",
    modes: { dropout: true, batchStatistics: true },
  },
  { name: "dropout off, batch statistics", modes: { dropout: false, batchStatistics: true } },
  {
    name: "evaluation mode (dropout off, running statistics)",
    modes: { dropout: false, batchStatistics: false },
  },
];

/** Mean loss and accuracy over a data set. */
export interface Score {
  loss: number;
  acc: number;
}

/**
 * Return the mean loss and accuracy of `model` over `data` (read in order) with dropout and
 * batch norm in the given modes. Every other layer runs in evaluation mode, and no weight
 * changes.
 *
 * Batch norm with batch statistics normalizes each batch of `data` by its own mean and variance,
 * as in training, so the batch size of `data` matters. The running statistics that such passes
 * update are restored afterwards. Dropout draws its masks from the model's generator, so call
 * this on a network whose generator no training run still needs.
 */
export function scoreWithModes(
  model: Sequential,
  loss: Loss,
  data: BatchIterator,
  modes: LayerModes,
): Score {
  const state = modelState(model);
  const saved = Object.entries(state).map(([name, tensor]) =>
    [name, Float32Array.from(tensor.data)] as const
  );
  let lossSum = 0, correct = 0, count = 0;
  try {
    for (const batch of data.epoch(false)) {
      let out: Tensor = batch.x;
      for (const layer of model.layers) {
        let training = false;
        if (layer instanceof Dropout) training = modes.dropout;
        if (layer instanceof BatchNorm1d || layer instanceof BatchNorm2d) {
          training = modes.batchStatistics;
        }
        out = layer.forward(out, training);
      }
      const batchSize = batch.labels.length;
      lossSum += loss.forward(out, batch.target) * batchSize;
      correct += countCorrect(out, batch.labels);
      count += batchSize;
    }
  } finally {
    for (const [name, values] of saved) state[name].data.set(values);
  }
  return { loss: lossSum / count, acc: correct / count };
}
