/**
 * Files that HW3 runs leave behind: CSV logs, SVG curves and markdown tables.
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
import { describeModel } from "./model.ts";
import type { RunResult } from "./run.ts";

/** Image size of every plot, wide enough for legends such as `MLP, BN + dropout, validation`. */
const SIZE = { width: 860, height: 420 };

/** A finished run with the names its files and legends use. */
export interface NamedRun {
  /** File-name stem, such as `mlp-no-bn`. */
  name: string;
  /** Label for tables and legends, such as `MLP, no BN`. */
  label: string;
  /** Command that reproduces the run. */
  command: string;
  result: RunResult;
}

/**
 * Write `<name>-train.csv` (mean training loss and accuracy of every display window) and
 * `<name>-epochs.csv` (one row per epoch, with the validation numbers) into `dir`.
 */
export async function writeRunLogs(dir: string, run: NamedRun): Promise<void> {
  const train = new CsvLog(join(dir, `${run.name}-train.csv`), [
    "iteration",
    "epoch",
    "loss",
    "acc",
  ]);
  for (const d of run.result.display) train.append([d.iteration, d.epoch, d.loss, d.acc]);
  await train.close();

  const epochs = new CsvLog(join(dir, `${run.name}-epochs.csv`), [
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "seconds",
  ]);
  for (const e of run.result.epochs) {
    epochs.append([e.epoch, e.trainLoss, e.trainAcc, e.valLoss, e.valAcc, e.lr, e.seconds]);
  }
  await epochs.close();
}

/**
 * Return an SVG of the training loss of every display window (solid) and the validation loss
 * after every epoch (dashed, at the epoch's last iteration) of each run, on a log scale.
 */
export function lossPlot(runs: readonly NamedRun[], title: string): string {
  const series: PlotSeries[] = [];
  for (const run of runs) {
    const { display, epochs, iterationsPerEpoch } = run.result;
    series.push({
      name: `${run.label}, training`,
      x: display.map((d) => d.iteration),
      y: display.map((d) => d.loss),
    });
    series.push({
      name: `${run.label}, validation`,
      x: epochs.map((e) => e.epoch * iterationsPerEpoch),
      y: epochs.map((e) => e.valLoss),
      dashed: true,
    });
  }
  return linePlot({ series, title, xLabel: "iteration", yLabel: "loss", logY: true, ...SIZE });
}

/** Return an SVG of the validation accuracy after every epoch of each run. */
export function valAccPlot(runs: readonly NamedRun[], title: string): string {
  return linePlot({
    series: runs.map((run) => ({
      name: run.label,
      x: run.result.epochs.map((e) => e.epoch),
      y: run.result.epochs.map((e) => 100 * e.valAcc),
    })),
    title,
    xLabel: "epoch",
    yLabel: "validation accuracy (%)",
    ...SIZE,
  });
}

/**
 * Return an SVG of the last epoch's training loss (training mode) and validation loss
 * (evaluation mode) of each run against its drop rate.
 */
export function sweepPlot(runs: readonly NamedRun[]): string {
  const last = (run: NamedRun) => run.result.epochs[run.result.epochs.length - 1];
  const rates = runs.map((run) => run.result.config.dropRate);
  return linePlot({
    series: [
      { name: "training loss (dropout on)", x: rates, y: runs.map((r) => last(r)?.trainLoss) },
      {
        name: "validation loss (dropout off)",
        x: rates,
        y: runs.map((r) => last(r)?.valLoss),
        dashed: true,
      },
    ],
    title: "MLP: loss after the last epoch against the drop rate",
    xLabel: "drop rate",
    yLabel: "loss",
    logY: true,
    ...SIZE,
  });
}

/** Write `svg` to `dir/name` and return `name`. */
export async function writePlot(dir: string, name: string, svg: string): Promise<string> {
  await writeFileAtomic(join(dir, name), svg);
  return name;
}

/** Return the results table: one row per run, without a trailing line break. */
export function resultsTable(runs: readonly NamedRun[]): string {
  return markdownTable(
    [
      "run",
      "network",
      "parameters",
      "epochs",
      "best validation accuracy (epoch)",
      "test accuracy at that checkpoint",
      "last train loss",
      "last validation loss",
      "training time",
    ],
    runs.map(({ label, result }) => {
      const last = result.epochs[result.epochs.length - 1];
      return [
        label,
        describeModel(result.config),
        result.parameters,
        result.diverged ? `${result.epochs.length} (diverged)` : result.epochs.length,
        result.bestEpoch > 0 ? `${formatPercent(result.bestValAcc)} (${result.bestEpoch})` : "-",
        formatPercent(result.testAcc),
        last ? formatNumber(last.trainLoss) : "-",
        last ? formatNumber(last.valLoss) : "-",
        formatDuration(sumSeconds(result)),
      ];
    }),
    ["left", "left"],
  ).trimEnd();
}

/** Return the per-epoch table of one run, without a trailing line break. */
export function epochTable(result: RunResult): string {
  return markdownTable(
    [
      "epoch",
      "train loss",
      "train accuracy",
      "validation loss",
      "validation accuracy",
      "lr",
      "time",
    ],
    result.epochs.map((e) => [
      e.epoch === result.bestEpoch ? `**${e.epoch}**` : e.epoch,
      formatNumber(e.trainLoss),
      formatPercent(e.trainAcc),
      formatNumber(e.valLoss),
      formatPercent(e.valAcc),
      Number(e.lr.toPrecision(6)),
      formatDuration(e.seconds),
    ]),
  ).trimEnd();
}

/** Return the training seconds of every epoch of a run, resumed ones included. */
export function sumSeconds(result: RunResult): number {
  return result.epochs.reduce((sum, e) => sum + e.seconds, 0);
}
