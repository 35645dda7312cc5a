/**
 * Files that the study leaves behind: per-run CSV logs, SVG plots and the markdown tables of
 * `reports/hw1-random.md`.
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
import type { AngleRecord } from "./alignment.ts";
import type { Divergence, RunResult } from "./run.ts";

/** A finished run, the prefix of its log files and its label in tables and legends. */
export interface NamedRun {
  /** File prefix, such as `main-feedback` or `sweep-w0.01-b0.1`. */
  name: string;
  /** Label for tables and legends, such as `feedback alignment`. */
  label: string;
  result: RunResult;
}

/**
 * Write `<name>-train.csv` (means of each display window), `<name>-epochs.csv` (one row per epoch)
 * and, for feedback alignment, `<name>-angles.csv` (one row per measurement and hidden layer) into
 * `dir`, and return the file names.
 */
export async function writeRunLogs(dir: string, run: NamedRun): Promise<string[]> {
  const names = [`${run.name}-train.csv`, `${run.name}-epochs.csv`];
  const train = new CsvLog(join(dir, names[0]), ["iteration", "epoch", "loss", "acc"]);
  for (const d of run.result.display) train.append([d.iteration, d.epoch, d.loss, d.acc]);
  await train.close();

  const epochs = new CsvLog(join(dir, names[1]), [
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

  if (run.result.config.rule === "feedback") {
    names.push(`${run.name}-angles.csv`);
    const angles = new CsvLog(join(dir, names[2]), [
      "iteration",
      "hidden_layer",
      "angle_deg",
      "example_angle_deg",
    ]);
    for (const a of run.result.angles) {
      angles.append([a.iteration, a.hiddenLayer, a.angle, a.exampleAngle]);
    }
    await angles.close();
  }
  return names;
}

/** Write the SVG `linePlot(options)` to `dir/name` and return `name`. */
async function writePlot(
  dir: string,
  name: string,
  options: Parameters<typeof linePlot>[0],
): Promise<string> {
  await writeFileAtomic(join(dir, name), linePlot(options));
  return name;
}

/** Write the test-accuracy curves of `runs` (one point per epoch) and return the file name. */
export function writeTestAccuracyPlot(
  dir: string,
  name: string,
  title: string,
  runs: readonly NamedRun[],
): Promise<string> {
  return writePlot(dir, name, {
    series: runs.map((run) => ({
      name: run.label,
      x: run.result.epochs.map((e) => e.epoch),
      y: run.result.epochs.map((e) => 100 * e.testAcc),
    })),
    title,
    xLabel: "epoch",
    yLabel: "test accuracy (%)",
  });
}

/** Write the test-error curves of `runs` on a log axis and return the file name. */
export function writeTestErrorPlot(
  dir: string,
  name: string,
  title: string,
  runs: readonly NamedRun[],
  reference?: { label: string; errorPercent: number },
): Promise<string> {
  const series: PlotSeries[] = runs.map((run) => ({
    name: run.label,
    x: run.result.epochs.map((e) => e.epoch),
    y: run.result.epochs.map((e) => 100 * (1 - e.testAcc)),
  }));
  const lastEpoch = Math.max(1, ...runs.map((run) => run.result.epochs.length));
  if (reference !== undefined) {
    series.push({
      name: reference.label,
      x: [1, lastEpoch],
      y: [reference.errorPercent, reference.errorPercent],
      dashed: true,
    });
  }
  return writePlot(dir, name, {
    series,
    title,
    xLabel: "epoch",
    yLabel: "test error (%)",
    logY: true,
  });
}

/** Write the training-loss curves (means of each display window) and return the file name. */
export function writeLossPlot(
  dir: string,
  name: string,
  title: string,
  runs: readonly NamedRun[],
): Promise<string> {
  return writePlot(dir, name, {
    series: runs.map((run) => ({
      name: run.label,
      x: run.result.display.map((d) => d.iteration),
      y: run.result.display.map((d) => d.loss),
    })),
    title,
    xLabel: "iteration",
    yLabel: "training loss",
    logY: true,
  });
}

/** Write the angle of every hidden layer against the iteration, with a 90° line, and return the file name. */
export function writeAnglePlot(dir: string, name: string, run: NamedRun): Promise<string> {
  const angles = run.result.angles;
  const layers = [...new Set(angles.map((a) => a.hiddenLayer))].sort((a, b) => a - b);
  const series: PlotSeries[] = layers.map((layer) => {
    const rows = angles.filter((a) => a.hiddenLayer === layer);
    return {
      name: `hidden layer ${layer}`,
      x: rows.map((a) => a.iteration),
      y: rows.map((a) => a.angle),
    };
  });
  const lastIteration = Math.max(1, ...angles.map((a) => a.iteration));
  series.push({ name: "90° (orthogonal)", x: [1, lastIteration], y: [90, 90], dashed: true });
  return writePlot(dir, name, {
    series,
    title: "Angle between the feedback-alignment and backprop signals",
    xLabel: "iteration",
    yLabel: "angle (degrees)",
    yMin: 0,
    yMax: 120,
  });
}

/** Return the best test accuracy of a run and its epoch, or null for a run without epochs. */
function bestEpoch(result: RunResult): { acc: number; epoch: number } | null {
  let best: { acc: number; epoch: number } | null = null;
  for (const e of result.epochs) {
    if (best === null || e.testAcc > best.acc) best = { acc: e.testAcc, epoch: e.epoch };
  }
  return best;
}

/** Describe why a run stopped, for table cells: `exploded at iteration 9 (loss 5136 > 2337)`. */
export function describeDivergence(divergence: Divergence): string {
  return divergence.reason === "exploding"
    ? `exploded at iteration ${divergence.iteration} (loss ${formatNumber(divergence.loss)} > ${
      formatNumber(divergence.limit)
    })`
    : `diverged at iteration ${divergence.iteration} (loss ${divergence.loss})`;
}

/**
 * Return the table that compares learning rules, one row per run, with the earlier accuracy in
 * `reported` for each run.
 */
export function comparisonTable(
  runs: readonly NamedRun[],
  reported: readonly string[],
): string {
  return markdownTable(
    [
      "learning rule",
      "lr",
      "epochs",
      "test accuracy",
      "best test accuracy (epoch)",
      "earlier reimplementation",
      "final train loss",
      "wall time",
    ],
    runs.map(({ label, result }, i) => {
      const best = bestEpoch(result);
      return [
        label,
        result.config.lr,
        result.divergence === null
          ? result.epochs.length
          : `${result.epochs.length} (${describeDivergence(result.divergence)})`,
        formatPercent(result.testAcc),
        best === null ? "-" : `${formatPercent(best.acc)} (${best.epoch})`,
        reported[i] ?? "-",
        formatNumber(result.trainLoss),
        formatDuration(result.seconds),
      ];
    }),
    ["left", "right", "left"],
  );
}

/** Mean of the whole-batch and per-example angles of `records`, NaN when there are none. */
function meanAngles(records: readonly AngleRecord[]): { angle: number; exampleAngle: number } {
  const finite = records.filter((r) => Number.isFinite(r.angle));
  const mean = (pick: (r: AngleRecord) => number) =>
    finite.length === 0 ? NaN : finite.reduce((sum, r) => sum + pick(r), 0) / finite.length;
  return { angle: mean((r) => r.angle), exampleAngle: mean((r) => r.exampleAngle) };
}

/**
 * Return the mean angle of every hidden layer over the measurements of the last epoch that ran,
 * keyed by hidden layer. `iterationsPerEpoch` places the measurements in epochs.
 */
export function lastEpochAngles(
  result: RunResult,
  iterationsPerEpoch: number,
): Map<number, { angle: number; exampleAngle: number }> {
  const lastEpoch = result.epochs.length;
  const from = (lastEpoch - 1) * iterationsPerEpoch;
  const means = new Map<number, { angle: number; exampleAngle: number }>();
  const layers = [...new Set(result.angles.map((a) => a.hiddenLayer))].sort((a, b) => a - b);
  for (const layer of layers) {
    means.set(
      layer,
      meanAngles(result.angles.filter((a) => a.hiddenLayer === layer && a.iteration > from)),
    );
  }
  return means;
}

/** Format an angle in degrees with one decimal, or `-` when it is NaN. */
export function formatAngle(degrees: number): string {
  return Number.isFinite(degrees) ? `${degrees.toFixed(1)}°` : "-";
}

/**
 * Return the angle table of a feedback-alignment run: per hidden layer, the angle at the first
 * iteration, the mean over the first and the last epoch, and the last epoch's per-example mean.
 */
export function angleTable(result: RunResult, iterationsPerEpoch: number): string {
  const layers = [...new Set(result.angles.map((a) => a.hiddenLayer))].sort((a, b) => b - a);
  const last = lastEpochAngles(result, iterationsPerEpoch);
  return markdownTable(
    [
      "hidden layer",
      "width",
      "iteration 1",
      "mean over epoch 1",
      `mean over epoch ${result.epochs.length}`,
      `per-example mean, epoch ${result.epochs.length}`,
    ],
    layers.map((layer) => {
      const rows = result.angles.filter((a) => a.hiddenLayer === layer);
      const first = rows.find((a) => a.iteration === 1);
      const epoch1 = meanAngles(rows.filter((a) => a.iteration <= iterationsPerEpoch));
      return [
        layer,
        result.config.hidden[layer - 1],
        formatAngle(first?.angle ?? NaN),
        formatAngle(epoch1.angle),
        formatAngle(last.get(layer)?.angle ?? NaN),
        formatAngle(last.get(layer)?.exampleAngle ?? NaN),
      ];
    }),
  );
}

/** One cell of the initial-scale sweep: the run and the scales it started from. */
export interface SweepCell {
  run: NamedRun;
  /** Standard deviation of the initial `W`. */
  initStd: number;
  /** Scale of `B`, or null for the backpropagation column. */
  feedbackScale: number | null;
}

/** Return the sweep cell's accuracy, or why it stopped. */
function sweepAccuracyCell(cell: SweepCell | undefined): string {
  if (cell === undefined) return "-";
  const { divergence, testAcc } = cell.run.result;
  if (divergence === null) return formatPercent(testAcc);
  return divergence.reason === "exploding"
    ? `**exploded** (iteration ${divergence.iteration})`
    : `**diverged** (iteration ${divergence.iteration})`;
}

/**
 * Return the sweep table of final test accuracies: one row per initial `W` scale, a
 * backpropagation column and one feedback-alignment column per `B` scale.
 */
export function sweepAccuracyTable(
  cells: readonly SweepCell[],
  initStds: readonly number[],
  feedbackScales: readonly number[],
): string {
  const find = (initStd: number, scale: number | null) =>
    cells.find((c) => c.initStd === initStd && c.feedbackScale === scale);
  return markdownTable(
    ["W init std", "backprop", ...feedbackScales.map((s) => `FA, B scale ${s}`)],
    initStds.map((initStd) => [
      initStd,
      sweepAccuracyCell(find(initStd, null)),
      ...feedbackScales.map((s) => sweepAccuracyCell(find(initStd, s))),
    ]),
    ["left", "right", ...feedbackScales.map(() => "right" as const)],
  );
}

/**
 * Return the sweep table of the top hidden layer's angle, averaged over the last epoch, for the
 * feedback-alignment cells that did not stop early.
 */
export function sweepAngleTable(
  cells: readonly SweepCell[],
  initStds: readonly number[],
  feedbackScales: readonly number[],
  iterationsPerEpoch: number,
): string {
  return markdownTable(
    ["W init std", ...feedbackScales.map((s) => `B scale ${s}`)],
    initStds.map((initStd) => [
      initStd,
      ...feedbackScales.map((s) => {
        const cell = cells.find((c) => c.initStd === initStd && c.feedbackScale === s);
        if (cell === undefined || cell.run.result.divergence !== null) return "-";
        const angles = lastEpochAngles(cell.run.result, iterationsPerEpoch);
        const top = Math.max(...angles.keys());
        return formatAngle(angles.get(top)?.angle ?? NaN);
      }),
    ]),
    ["left", ...feedbackScales.map(() => "right" as const)],
  );
}

/** Write `sweep.csv`, one row per sweep cell, into `dir` and return its file name. */
export async function writeSweepCsv(
  dir: string,
  cells: readonly SweepCell[],
  iterationsPerEpoch: number,
): Promise<string> {
  const name = "sweep.csv";
  const log = new CsvLog(join(dir, name), [
    "w_init_std",
    "rule",
    "b_scale",
    "epochs",
    "test_acc",
    "status",
    "stop_iteration",
    "stop_loss",
    "angle_top_hidden_deg",
    "log_prefix",
  ]);
  for (const { run, initStd, feedbackScale } of cells) {
    const { divergence, epochs, testAcc } = run.result;
    const angles = lastEpochAngles(run.result, iterationsPerEpoch);
    const top = angles.size === 0 ? NaN : angles.get(Math.max(...angles.keys()))?.angle ?? NaN;
    log.append([
      initStd,
      run.result.config.rule,
      feedbackScale ?? "",
      epochs.length,
      testAcc,
      divergence === null ? "ok" : divergence.reason,
      divergence?.iteration ?? "",
      divergence?.loss ?? "",
      top,
      run.name,
    ]);
  }
  await log.close();
  return name;
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
