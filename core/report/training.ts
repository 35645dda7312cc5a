/**
 * Files and console lines that training scripts share: per-run CSV logs, curve plots, epoch
 * tables, the report header, and a progress bar with one line per epoch.
 *
 * @module
 */

import { join } from "node:path";
import { writeFileAtomic } from "../io.ts";
import type { DisplayRecord, EpochRecord, FitCallbacks } from "../train/fit.ts";
import { CsvLog } from "./csv.ts";
import { formatDuration, formatNumber, formatPercent, markdownTable } from "./markdown.ts";
import { Progress } from "./progress.ts";
import { linePlot, type PlotSeries } from "./svg.ts";

/** A finished run as its logs and plots see it. */
export interface TrainingLog {
  /** File-name stem, such as `2-relu-softmax`. */
  name: string;
  /** Label for legends and tables, such as `2×512 relu, softmax CE`. */
  label: string;
  epochs: readonly EpochRecord[];
  /** Means of every display window of iterations. */
  display: readonly DisplayRecord[];
}

/** Facts at the top of every report: how it was made. */
export interface ReportHeader {
  title: string;
  command: string;
  seed: number;
  backend: string;
  dataSource: string;
  /** ISO 8601 date of the run. */
  date: string;
}

/** Write `<name>-train.csv` (display windows) and `<name>-epochs.csv` into `dir`. */
export async function writeTrainingLogs(dir: string, log: TrainingLog): Promise<void> {
  const train = new CsvLog(join(dir, `${log.name}-train.csv`), [
    "iteration",
    "epoch",
    "loss",
    "acc",
  ]);
  for (const d of log.display) train.append([d.iteration, d.epoch, d.loss, d.acc]);
  await train.close();

  const epochs = new CsvLog(join(dir, `${log.name}-epochs.csv`), [
    "epoch",
    "train_loss",
    "train_acc",
    "test_loss",
    "test_acc",
    "seconds",
  ]);
  for (const e of log.epochs) {
    epochs.append([e.epoch, e.trainLoss, e.trainAcc, e.testLoss, e.testAcc, e.seconds]);
  }
  await epochs.close();
}

/** File names of {@linkcode writeCurvePlots}. */
export interface CurvePlots {
  loss: string;
  trainAcc: string;
  testAcc: string;
}

/**
 * Write the training loss (log scale) and training accuracy of each display window, and the
 * held-out accuracy of each epoch, of every run into `dir`; return the file names.
 *
 * @param prefix file-name prefix, such as `cnn-`
 * @param heldOut name of the held-out set in titles, such as `Test` or `Validation`
 */
export async function writeCurvePlots(
  dir: string,
  logs: readonly TrainingLog[],
  prefix = "",
  heldOut = "Test",
): Promise<CurvePlots> {
  const names = {
    loss: `${prefix}loss.svg`,
    trainAcc: `${prefix}train-acc.svg`,
    testAcc: `${prefix}test-acc.svg`,
  };
  const windows = (pick: (d: DisplayRecord) => number): PlotSeries[] =>
    logs.map((log) => ({
      name: log.label,
      x: log.display.map((d) => d.iteration),
      y: log.display.map(pick),
    }));

  await writeFileAtomic(
    join(dir, names.loss),
    linePlot({
      series: windows((d) => d.loss),
      title: "Training loss (mean of each display window)",
      xLabel: "iteration",
      yLabel: "loss",
      logY: true,
    }),
  );
  await writeFileAtomic(
    join(dir, names.trainAcc),
    linePlot({
      series: windows((d) => 100 * d.acc),
      title: "Training accuracy (mean of each display window)",
      xLabel: "iteration",
      yLabel: "accuracy (%)",
    }),
  );
  await writeFileAtomic(
    join(dir, names.testAcc),
    linePlot({
      series: logs.map((log) => ({
        name: log.label,
        x: log.epochs.map((e) => e.epoch),
        y: log.epochs.map((e) => 100 * e.testAcc),
      })),
      title: `${heldOut} accuracy after each epoch`,
      xLabel: "epoch",
      yLabel: "accuracy (%)",
    }),
  );
  return names;
}

/** Return the per-epoch table of one run, without a trailing line break. */
export function epochTable(epochs: readonly EpochRecord[], heldOut = "test"): string {
  return markdownTable(
    ["epoch", "train loss", "train accuracy", `${heldOut} loss`, `${heldOut} accuracy`, "time"],
    epochs.map((e) => [
      e.epoch,
      formatNumber(e.trainLoss),
      formatPercent(e.trainAcc),
      formatNumber(e.testLoss),
      formatPercent(e.testAcc),
      formatDuration(e.seconds),
    ]),
  ).trimEnd();
}

/** Return the report's title and the table of how it was made, without a trailing line break. */
export function reportHeader(header: ReportHeader): string {
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
  ].join("\n");
}

/** Return the best epoch by held-out accuracy, or undefined when none ran. */
export function bestEpoch(epochs: readonly EpochRecord[]): EpochRecord | undefined {
  let best: EpochRecord | undefined;
  for (const e of epochs) if (best === undefined || e.testAcc > best.testAcc) best = e;
  return best;
}

/**
 * Return fit callbacks that draw one progress bar over the whole run (so its ETA covers every
 * remaining epoch) on stderr and print one line per epoch on stdout, prefixed by `label`.
 * Call `done()` after training to end the bar.
 */
export function consoleProgress(
  label: string,
  epochs: number,
  iterationsPerEpoch: number,
): FitCallbacks & { done(): void } {
  const progress = new Progress({ total: epochs * iterationsPerEpoch, label });
  return {
    onIteration(record, epoch) {
      progress.update(
        record.iteration,
        `epoch ${epoch}/${epochs} loss ${formatNumber(record.loss)}`,
      );
    },
    onEpoch(e) {
      // Erase the bar on a terminal so the epoch line starts clean; the next update redraws it.
      if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
      console.log(
        `${label} | epoch ${String(e.epoch).padStart(2)}/${epochs}  ` +
          `train loss ${formatNumber(e.trainLoss)} acc ${formatPercent(e.trainAcc)}  ` +
          `test loss ${formatNumber(e.testLoss)} acc ${formatPercent(e.testAcc)}  ` +
          formatDuration(e.seconds),
      );
    },
    done() {
      progress.done();
    },
  };
}
