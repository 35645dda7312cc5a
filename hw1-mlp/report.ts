/**
 * The HW1 results table. Logs, plots and the other report parts come from `@nn/core`.
 *
 * @module
 */

import {
  bestEpoch,
  formatDuration,
  formatNumber,
  formatPercent,
  markdownTable,
  type TrainingLog,
} from "@nn/core";
import { describeMlp } from "./model.ts";
import type { RunResult } from "./run.ts";

/** A finished run with the names its files and tables use. */
export interface NamedRun extends TrainingLog {
  result: RunResult;
}

/** Return the results table, one row per run, without a trailing line break. */
export function resultsTable(runs: readonly NamedRun[]): string {
  return markdownTable(
    [
      "configuration",
      "network",
      "loss",
      "parameters",
      "epochs",
      "test accuracy",
      "best test accuracy (epoch)",
      "final train loss",
      "wall time",
    ],
    runs.map(({ label, result }) => {
      const best = bestEpoch(result.epochs);
      return [
        label,
        describeMlp({ inputSize: 784, classes: 10, ...result.config }),
        result.config.loss === "softmax" ? "softmax cross-entropy" : "Euclidean",
        result.parameters,
        result.diverged ? `${result.epochs.length} (diverged)` : result.epochs.length,
        formatPercent(result.testAcc),
        best ? `${formatPercent(best.testAcc)} (${best.epoch})` : "-",
        formatNumber(result.trainLoss),
        formatDuration(result.seconds),
      ];
    }),
    ["left", "left", "left"],
  ).trimEnd();
}
