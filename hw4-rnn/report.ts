/**
 * Files that HW4 runs leave behind: CSV logs, SVG curves and the markdown tables of a report.
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
import type { NetworkSpec } from "./model.ts";
import type { RunResult } from "./run.ts";

/** A finished run, the name its files use (e.g. `compare-gru`) and its test result. */
export interface NamedRun {
  name: string;
  /** Human-readable label for tables and legends. */
  label: string;
  result: RunResult;
  /** Test accuracy and loss of the best dev epoch's parameters. */
  testAcc: number;
  testLoss: number;
}

/** Write `<name>-epochs.csv` (one row per epoch) and `<name>-train.csv` (display windows). */
export async function writeRunLogs(dir: string, run: NamedRun): Promise<string[]> {
  const epochsName = `${run.name}-epochs.csv`;
  const epochs = new CsvLog(join(dir, epochsName), [
    "epoch",
    "train_loss",
    "train_acc",
    "dev_loss",
    "dev_acc",
    "clipped_fraction",
    "seconds",
  ]);
  for (const e of run.result.epochs) {
    epochs.append([e.epoch, e.trainLoss, e.trainAcc, e.devLoss, e.devAcc, e.clipped, e.seconds]);
  }
  await epochs.close();

  const trainName = `${run.name}-train.csv`;
  const train = new CsvLog(join(dir, trainName), ["iteration", "epoch", "loss", "acc"]);
  for (const w of run.result.windows) train.append([w.iteration, w.epoch, w.loss, w.acc]);
  await train.close();
  return [epochsName, trainName];
}

/** A per-epoch quantity of a run, with its axis label, e.g. dev accuracy in percent. */
interface Metric {
  title: string;
  yLabel: string;
  pick: (e: RunResult["epochs"][number]) => number;
}

const METRICS = {
  trainLoss: { title: "training loss", yLabel: "cross-entropy", pick: (e) => e.trainLoss },
  devLoss: { title: "dev loss", yLabel: "cross-entropy", pick: (e) => e.devLoss },
  trainAcc: { title: "training accuracy", yLabel: "accuracy (%)", pick: (e) => 100 * e.trainAcc },
  devAcc: { title: "dev accuracy", yLabel: "accuracy (%)", pick: (e) => 100 * e.devAcc },
} satisfies Record<string, Metric>;

/**
 * Return `title` with "training" replaced by "training-phrase" when every run trained on
 * phrases, e.g. `training-phrase loss`.
 */
function phraseTitle(title: string, runs: readonly NamedRun[]): string {
  const phrases = runs.length > 0 && runs.every((run) => run.result.config.trainPhrases);
  return phrases ? title.replace("training", "training-phrase") : title;
}

/**
 * Write one plot per metric with one line per run, `<prefix><metric>.svg`, so that each run
 * keeps its color in all four. Returns the file names by metric.
 */
export async function writeComparisonPlots(
  dir: string,
  prefix: string,
  runs: readonly NamedRun[],
  title: string,
): Promise<Record<keyof typeof METRICS, string>> {
  const names = {} as Record<keyof typeof METRICS, string>;
  for (const [key, metric] of Object.entries(METRICS) as [keyof typeof METRICS, Metric][]) {
    const name = `${prefix}${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}.svg`;
    await writeFileAtomic(
      join(dir, name),
      linePlot({
        series: runs.map((run) => ({
          name: run.label,
          x: run.result.epochs.map((e) => e.epoch),
          y: run.result.epochs.map(metric.pick),
        })),
        title: `${title}: ${phraseTitle(metric.title, runs)} per epoch`,
        xLabel: "epoch",
        yLabel: metric.yLabel,
      }),
    );
    names[key] = name;
  }
  return names;
}

/**
 * Write `<prefix>loss.svg` and `<prefix>acc.svg` for one run: training (solid, the mean over
 * each epoch's sentences or phrases, with dropout) and dev (dashed, after each epoch). Returns
 * the two file names.
 */
export async function writeRunPlots(
  dir: string,
  prefix: string,
  run: NamedRun,
  title: string,
): Promise<{ loss: string; acc: string }> {
  const names = { loss: `${prefix}loss.svg`, acc: `${prefix}acc.svg` };
  const x = run.result.epochs.map((e) => e.epoch);
  const trainName = run.result.config.trainPhrases ? "training phrases" : "train";
  const pair = (train: Metric, dev: Metric): PlotSeries[] => [
    { name: trainName, x, y: run.result.epochs.map(train.pick) },
    { name: "dev", x, y: run.result.epochs.map(dev.pick), dashed: true },
  ];
  await writeFileAtomic(
    join(dir, names.loss),
    linePlot({
      series: pair(METRICS.trainLoss, METRICS.devLoss),
      title: `${title}: loss per epoch`,
      xLabel: "epoch",
      yLabel: "cross-entropy",
    }),
  );
  await writeFileAtomic(
    join(dir, names.acc),
    linePlot({
      series: pair(METRICS.trainAcc, METRICS.devAcc),
      title: `${title}: accuracy per epoch`,
      xLabel: "epoch",
      yLabel: "accuracy (%)",
    }),
  );
  return names;
}

/** Describe an architecture, e.g. `bi-LSTM 150, 1 layer, self-attention (d_a 150, r 10)`. */
export function describeNetwork(spec: NetworkSpec): string {
  const direction = spec.bidirectional ? "bi-" : "";
  const layers = `${spec.layers} layer${spec.layers === 1 ? "" : "s"}`;
  const pooling = spec.pooling === "attention"
    ? `self-attention (d_a ${spec.attentionHidden}, r ${spec.attentionHops})`
    : "last state";
  return `${direction}${spec.cell.toUpperCase()} ${spec.hiddenSize}, ${layers}, ${pooling}`;
}

/** Return the results table: one row per run. */
export function resultsTable(runs: readonly NamedRun[]): string {
  return markdownTable(
    [
      "run",
      "network",
      "parameters (embeddings included)",
      "epochs",
      "best dev accuracy (epoch)",
      "test accuracy at that epoch",
      "training time",
    ],
    runs.map(({ label, result, testAcc }) => [
      label,
      describeNetwork(result.spec),
      result.parameters,
      result.diverged ? `${result.epochs.length} (diverged)` : result.epochs.length,
      `${formatPercent(result.best.devAcc)} (${result.best.epoch})`,
      formatPercent(testAcc),
      formatDuration(result.seconds),
    ]),
    ["left", "left"],
  );
}

/**
 * Return the per-epoch table of one run, with the best dev epoch in bold. Its training columns
 * are headed "loss on training phrases" and "accuracy on training phrases" when the run trained
 * on phrases.
 */
export function epochTable(result: RunResult): string {
  const [trainLoss, trainAcc] = result.config.trainPhrases
    ? ["loss on training phrases", "accuracy on training phrases"]
    : ["train loss", "train accuracy"];
  return markdownTable(
    ["epoch", trainLoss, trainAcc, "dev loss", "dev accuracy", "clipped steps", "time"],
    result.epochs.map((e) => {
      const dev = formatPercent(e.devAcc);
      return [
        e.epoch,
        formatNumber(e.trainLoss),
        formatPercent(e.trainAcc),
        formatNumber(e.devLoss),
        e.epoch === result.best.epoch ? `**${dev}**` : dev,
        formatPercent(e.clipped, 0),
        formatDuration(e.seconds),
      ];
    }),
  );
}
