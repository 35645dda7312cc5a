/**
 * Files that HW2 runs leave behind: per-run CSV logs, SVG curves, feature-map pictures and the
 * tables of the markdown report.
 *
 * @module
 */

import { join } from "node:path";
import {
  csvColumn,
  CsvLog,
  encodePng,
  formatDuration,
  formatNumber,
  formatPercent,
  type GrayTile,
  linePlot,
  markdownTable,
  parseCsv,
  type PlotSeries,
  tileGrid,
  writeFileAtomic,
} from "@nn/core";
import type { EpochRecord, FeatureMaps, RunResult } from "./run.ts";

/** A finished run and the name its files use, such as `skeleton`. */
export interface NamedRun {
  name: string;
  /** Human-readable label for tables and legends. */
  label: string;
  result: RunResult;
  /** Loss and accuracy means of every `dispFreq` iterations, as logged during training. */
  display: { iteration: number; epoch: number; loss: number; acc: number }[];
}

/** The HW1 MLP's numbers, from the HW1 report's CSV log or from a run of this command. */
export interface Baseline {
  label: string;
  /** Source of the numbers, for the report. */
  source: string;
  parameters: number;
  epochs: EpochRecord[];
}

/** Number of parameters of the 784-512-512-10 MLP. */
export const MLP_PARAMETERS = 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10;

/**
 * Read an epochs CSV log of HW1 (`epoch,train_loss,train_acc,test_loss,test_acc,seconds`) as
 * epoch records.
 *
 * @throws {TypeError} or {RangeError} from the CSV parser when the file is not such a log
 */
export function parseEpochsCsv(text: string): EpochRecord[] {
  const table = parseCsv(text);
  const epoch = csvColumn(table, "epoch");
  const trainLoss = csvColumn(table, "train_loss"), trainAcc = csvColumn(table, "train_acc");
  const testLoss = csvColumn(table, "test_loss"), testAcc = csvColumn(table, "test_acc");
  const seconds = csvColumn(table, "seconds");
  return epoch.map((e, i) => ({
    epoch: e,
    trainLoss: trainLoss[i],
    trainAcc: trainAcc[i],
    testLoss: testLoss[i],
    testAcc: testAcc[i],
    seconds: seconds[i],
  }));
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

/**
 * Write the loss and accuracy plots into `dir` and return their file names. The test-accuracy
 * plot also shows the baseline, when there is one.
 */
export async function writePlots(
  dir: string,
  runs: readonly NamedRun[],
  baseline: Baseline | null,
): Promise<{ loss: string; trainAcc: string; testAcc: string }> {
  const names = { loss: "loss.svg", trainAcc: "train-acc.svg", testAcc: "test-acc.svg" };
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
  const testSeries: PlotSeries[] = runs.map((run) => ({
    name: run.label,
    x: run.result.epochs.map((e) => e.epoch),
    y: run.result.epochs.map((e) => 100 * e.testAcc),
  }));
  if (baseline !== null) {
    testSeries.push({
      name: baseline.label,
      x: baseline.epochs.map((e) => e.epoch),
      y: baseline.epochs.map((e) => 100 * e.testAcc),
      dashed: true,
    });
  }
  await writeFileAtomic(
    join(dir, names.testAcc),
    linePlot({
      series: testSeries,
      title: "Test accuracy after each epoch",
      xLabel: "epoch",
      yLabel: "accuracy (%)",
      yMin: 95,
      yMax: 100,
    }),
  );
  return names;
}

/** A row of the comparison table. */
export interface ComparisonRow {
  label: string;
  layers: string;
  parameters: number;
  epochs: readonly EpochRecord[];
  /** The command that reproduces the row, or where its numbers come from. */
  command: string;
}

/** Return the comparison table: one row per network. */
export function comparisonTable(rows: readonly ComparisonRow[]): string {
  return markdownTable(
    [
      "network",
      "layers",
      "parameters",
      "epochs",
      "test accuracy",
      "best test accuracy (epoch)",
      "time per epoch",
      "reproduce with",
    ],
    rows.map((row) => {
      const last = row.epochs[row.epochs.length - 1];
      const best = row.epochs.reduce((a, b) => (b.testAcc > a.testAcc ? b : a), row.epochs[0]);
      return [
        row.label,
        row.layers,
        row.parameters,
        row.epochs.length,
        last ? formatPercent(last.testAcc) : "-",
        best ? `${formatPercent(best.testAcc)} (${best.epoch})` : "-",
        row.epochs.length > 0 ? formatDuration(medianSeconds(row.epochs)) : "-",
        row.command,
      ];
    }),
    ["left", "left"],
  );
}

/** Return the median training time of the epochs, which ignores a slow first epoch. */
export function medianSeconds(epochs: readonly EpochRecord[]): number {
  const sorted = epochs.map((e) => e.seconds).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Return the per-epoch table of one run. */
export function epochTable(epochs: readonly EpochRecord[]): string {
  return markdownTable(
    ["epoch", "train loss", "train accuracy", "test loss", "test accuracy", "time"],
    epochs.map((e) => [
      e.epoch,
      formatNumber(e.trainLoss),
      formatPercent(e.trainAcc),
      formatNumber(e.testLoss),
      formatPercent(e.testAcc),
      formatDuration(e.seconds),
    ]),
  );
}

/** Options of {@linkcode featureMapPicture}. */
export interface FeatureMapPictureOptions {
  /** Feature maps per picture row; a digit with more channels takes several rows. */
  mapsPerRow: number;
  /** Enlargement of each pixel, e.g. 4 for 28×28 maps shown as 112×112. */
  scale: number;
}

/**
 * Draw each image followed by its feature maps, one digit per block of rows, as a PNG.
 *
 * Inputs are shown from black (the lowest pixel value) to white (the highest). Each channel is
 * scaled by its largest value over all the images, so a channel's maps compare across digits:
 * black is 0 (ReLU's floor) and white that largest value.
 */
export function featureMapPicture(
  maps: FeatureMaps,
  options: FeatureMapPictureOptions,
): Uint8Array {
  const [count, channels, h, w] = maps.maps.shape;
  const plane = h * w;

  const channelMax = new Float64Array(channels);
  for (let i = 0; i < count; i++) {
    for (let c = 0; c < channels; c++) {
      const start = (i * channels + c) * plane;
      for (let p = start; p < start + plane; p++) {
        channelMax[c] = Math.max(channelMax[c], maps.maps.data[p]);
      }
    }
  }

  const rows: (GrayTile | null)[][] = [];
  for (let i = 0; i < count; i++) {
    const image = maps.images.data.subarray(i * 784, (i + 1) * 784);
    let low = Infinity, high = -Infinity;
    for (const v of image) [low, high] = [Math.min(low, v), Math.max(high, v)];
    const input: GrayTile = {
      width: 28,
      height: 28,
      values: Array.from(image, (v) => (high > low ? (v - low) / (high - low) : 0)),
    };

    for (let first = 0; first < channels; first += options.mapsPerRow) {
      const row: (GrayTile | null)[] = [first === 0 ? input : null];
      for (let c = first; c < Math.min(channels, first + options.mapsPerRow); c++) {
        const start = (i * channels + c) * plane;
        const scale = channelMax[c] > 0 ? 1 / channelMax[c] : 0;
        row.push({
          width: w,
          height: h,
          values: Array.from(maps.maps.data.subarray(start, start + plane), (v) => v * scale),
        });
      }
      rows.push(row);
    }
  }
  return encodePng(tileGrid(rows, { scale: options.scale, gap: 4, background: 200 }));
}

/** Facts printed at the top of a report. */
export interface ReportHeader {
  title: string;
  command: string;
  seed: number;
  backend: string;
  dataSource: string;
  date: string;
}

/** Return the lines that state how a report was made. */
export function headerLines(header: ReportHeader): string {
  return [
    `# ${header.title}`,
    "",
    markdownTable(["", ""], [
      ["command", `\`${header.command}\``],
      ["seed", header.seed],
      ["backend", header.backend],
      ["data", header.dataSource],
      ["date", header.date],
    ], ["left", "left"]).trimEnd(),
    "",
  ].join("\n");
}
