/**
 * Files that HW1 runs leave behind: per-run CSV logs, SVG curves and a markdown report.
 *
 * @module
 */

import { join } from "node:path";
import {
  CsvLog,
  formatDuration,
  formatNumber,
  formatPercent,
  linePlot,
  markdownTable,
  type PlotSeries,
  writeFileAtomic,
} from "@nn/core";
import { describeMlp } from "./model.ts";
import type { RunResult } from "./run.ts";

/** A finished run and the name its files use, such as `2-relu-softmax`. */
export interface NamedRun {
  name: string;
  /** Human-readable label for tables and legends. */
  label: string;
  result: RunResult;
  /** Loss and accuracy means of every `dispFreq` iterations, as logged during training. */
  display: { iteration: number; epoch: number; loss: number; acc: number }[];
}

/** Facts printed at the top of a report. */
export interface ReportHeader {
  title: string;
  command: string;
  backend: string;
  dataSource: string;
  date: string;
}

/** Write `<name>-train.csv` (display windows) and `<name>-epochs.csv` into `dir`. */
export async function writeRunLogs(dir: string, run: NamedRun): Promise<void> {
  const train = new CsvLog(join(dir, `${run.name}-train.csv`), [
    "iteration",
    "epoch",
    "loss",
    "acc",
  ]);
  for (const row of run.display) train.append(row);
  await train.close();

  const epochs = new CsvLog(join(dir, `${run.name}-epochs.csv`), [
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "seconds",
  ]);
  for (const e of run.result.epochs) {
    epochs.append([e.epoch, e.trainLoss, e.trainAcc, e.testLoss, e.testAcc, e.seconds]);
  }
  await epochs.close();
}

/** Write the loss and accuracy plots of `runs` into `dir` and return their file names. */
export async function writePlots(
  dir: string,
  prefix: string,
  runs: readonly NamedRun[],
): Promise<{ loss: string; trainAcc: string; testAcc: string }> {
  const names = {
    loss: `${prefix}loss.svg`,
    trainAcc: `${prefix}train-acc.svg`,
    testAcc: `${prefix}test-acc.svg`,
  };
  const series = (pick: (d: NamedRun["display"][number]) => number): PlotSeries[] =>
    runs.map((run) => ({
      name: run.label,
      x: run.display.map((d) => d.iteration),
      y: run.display.map(pick),
    }));

  await writeFileAtomic(
    join(dir, names.loss),
    linePlot({
      series: series((d) => d.loss),
      title: "Training loss (mean of each display window)",
      xLabel: "iteration",
      yLabel: "loss",
      logY: true,
    }),
  );
  await writeFileAtomic(
    join(dir, names.trainAcc),
    linePlot({
      series: series((d) => 100 * d.acc),
      title: "Training accuracy (mean of each display window)",
      xLabel: "iteration",
      yLabel: "accuracy (%)",
    }),
  );
  await writeFileAtomic(
    join(dir, names.testAcc),
    linePlot({
      series: runs.map((run) => ({
        name: run.label,
        x: run.result.epochs.map((e) => e.epoch),
        y: run.result.epochs.map((e) => 100 * e.testAcc),
      })),
      title: "Test accuracy after each epoch",
      xLabel: "epoch",
      yLabel: "accuracy (%)",
    }),
  );
  return names;
}

/** Return the results table: one row per run. */
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
      const best = result.epochs.reduce(
        (a, b) => (b.testAcc > a.testAcc ? b : a),
        result.epochs[0],
      );
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
  );
}

/** Return the per-epoch table of one run. */
export function epochTable(result: RunResult): string {
  return markdownTable(
    ["epoch", "train loss", "train accuracy", "test loss", "test accuracy", "time"],
    result.epochs.map((e) => [
      e.epoch,
      formatNumber(e.trainLoss),
      formatPercent(e.trainAcc),
      formatNumber(e.testLoss),
      formatPercent(e.testAcc),
      formatDuration(e.seconds),
    ]),
  );
}

/** Return the lines that state how a report was made. */
export function headerLines(header: ReportHeader, seed: number): string {
  return [
    `# ${header.title}`,
    "",
    markdownTable(["", ""], [
      ["command", `\`${header.command}\``],
      ["seed", seed],
      ["backend", header.backend],
      ["data", header.dataSource],
      ["date", header.date],
    ], ["left", "left"]).trimEnd(),
    "",
  ].join("\n");
}
