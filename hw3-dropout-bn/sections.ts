/**
 * The markdown of `reports/hw3.md`: one function per section, each quoting the numbers of the
 * runs that it discusses.
 *
 * @module
 */

import { formatDuration, formatNumber, formatPercent, markdownTable, reportHeader } from "@nn/core";
import { MODE_LADDER, type Score } from "./analysis.ts";
import { cnnSizes, describeModel, layerChain } from "./model.ts";
import { epochTable, type NamedRun, resultsTable, sumSeconds } from "./report.ts";
import type { ResumeDemoResult } from "./resume_demo.ts";

/** Loss and accuracy of one network in each layer mode, on training and validation images. */
export interface Breakdown {
  run: NamedRun;
  /** Number of training images scored. */
  trainImages: number;
  /** Scores per rung of {@linkcode MODE_LADDER}, on the training and the validation images. */
  train: Score[];
  val: Score[];
}

/** Everything the report quotes. */
export interface ReportInputs {
  /** Command line, seed, backend description, data source and date of the report. */
  header: { command: string; seed: number; backend: string; dataSource: string; date: string };
  validation: number;
  /** Number of test images. */
  test: number;
  main: { mlp: NamedRun; cnn: NamedRun; mlpNoBn: NamedRun; cnnNoBn: NamedRun };
  /** The drop-rate sweep, in increasing rate. */
  sweep: NamedRun[];
  breakdowns: Breakdown[];
  demo: ResumeDemoResult;
  /** File names of the plots in the `hw3/` folder. */
  plots: Record<"loss" | "bnLoss" | "bnAcc" | "sweepLoss" | "sweepAcc", string>;
  /** Wall time of the whole report, in seconds. */
  seconds: number;
}

/** Return the markdown of the report. */
export function reportMarkdown(inputs: ReportInputs): string {
  const { mlp, cnn, mlpNoBn, cnnNoBn } = inputs.main;
  const plots = inputs.plots;
  const config = mlp.result.config;
  const trainCount = mlp.result.iterationsPerEpoch * config.batchSize;
  return [
    reportHeader({ title: "HW3: dropout and batch normalization on MNIST", ...inputs.header }),
    "",
    `Every run trains with Adam (learning rate ${config.lr}, β1 0.9, β2 0.999, ε 1e-8), batch ` +
    `${config.batchSize}, on the first ${trainCount.toLocaleString("en")} MNIST training images, ` +
    `and validates on the last ${
      inputs.validation.toLocaleString("en")
    } after every epoch. As in ` +
    `the course, the learning rate is multiplied by ${config.lrDecay} after an epoch whose ` +
    "training loss exceeds the largest of the previous three. The checkpoint with the best " +
    `validation accuracy is scored once on the ${inputs.test.toLocaleString("en")} test images. ` +
    "Pixels are scaled as " +
    "(p − 128) / 255. Drop rates are probabilities of dropping a unit (TensorFlow's `keep_prob` " +
    `is 1 − rate). ${shiftText(cnn.result.config.shift)}The whole report took ${
      formatDuration(inputs.seconds)
    }.`,
    "",
    "## Results",
    "",
    resultsTable([mlp, cnn, mlpNoBn, cnnNoBn]),
    "",
    acceptanceText(mlp, cnn),
    "",
    "The command of each run reproduces it (the same digits need the same backend and thread " +
    "count):",
    "",
    ...[mlp, cnn, mlpNoBn, cnnNoBn].map((run) => `- ${run.label}: \`${run.command}\``),
    "",
    "## Networks",
    "",
    networksTable([mlp, cnn]),
    "",
    "Batch norm uses eps 1e-5 and momentum 0.1 (`running = 0.9·running + 0.1·batch`, with the " +
    "unbiased batch variance in the running variance). Weights start from He initialization " +
    "(normal with standard deviation √(2 / fan-in)), and the last Linear layer from " +
    "√(1 / fan-in). The bias of a Linear or convolution layer before a batch norm gets no " +
    "gradient, because batch norm subtracts the batch mean. It is kept so that the networks with " +
    "and without batch norm share their layers.",
    "",
    "## Training and validation loss",
    "",
    `Solid lines: mean training loss of every ${config.dispFreq} iterations, in training mode. ` +
    "Dashed: validation loss after each epoch, in evaluation mode.",
    "",
    `![training and validation loss](hw3/${plots.loss})`,
    "",
    ...epochSections([mlp, cnn]),
    "## MLP vs CNN",
    "",
    mlpVsCnnText(mlp, cnn),
    "",
    "## With and without batch normalization",
    "",
    batchNormText([[mlp, mlpNoBn], [cnn, cnnNoBn]]),
    "",
    `![loss with and without batch norm](hw3/${plots.bnLoss})`,
    "",
    `![validation accuracy with and without batch norm](hw3/${plots.bnAcc})`,
    "",
    "## Drop-rate sweep (MLP)",
    "",
    sweepText(inputs.sweep),
    "",
    `![loss against drop rate](hw3/${plots.sweepLoss})`,
    "",
    `![validation accuracy by drop rate](hw3/${plots.sweepAcc})`,
    "",
    "## Why training and validation loss differ",
    "",
    breakdownText(inputs.breakdowns),
    "",
    "## Killing a run and resuming it",
    "",
    demoText(inputs.demo),
    "",
    "## Logs",
    "",
    "`hw3/<run>-train.csv` holds the mean training loss and accuracy of every display window, " +
    "`hw3/<run>-epochs.csv` one row per epoch (training and validation loss and accuracy, " +
    "learning rate, seconds). Runs: " +
    [mlp, cnn, mlpNoBn, cnnNoBn, ...inputs.sweep].map((r) => `\`${r.name}\``).join(", ") + ".",
    "",
  ].join("\n");
}

/** Describe the CNN's random shifts, an addition to the course's recipe, or nothing without. */
function shiftText(shift: number): string {
  if (shift === 0) return "";
  return `Unlike the course, both CNN runs move each training image by a random whole number ` +
    `of pixels, from −${shift} to ${shift} along each axis, drawn anew every epoch from the ` +
    "run's seeded generator; the blank border is filled with the background value. Validation " +
    "and test images are never moved, and the MLP runs see the images as they are. ";
}

function acceptanceText(mlp: NamedRun, cnn: NamedRun): string {
  return `Test accuracy at the best-validation checkpoint: MLP **${
    formatPercent(mlp.result.testAcc)
  }** (epoch ${mlp.result.bestEpoch}, target 98.0%), CNN **${
    formatPercent(cnn.result.testAcc)
  }** (epoch ${cnn.result.bestEpoch}, target 99.4%). A published 2018 student solution of this ` +
    "homework in TensorFlow reached 95.95% and 99.20%.";
}

function networksTable(runs: readonly NamedRun[]): string {
  return markdownTable(
    ["network", "layers", "widths", "drop rate", "random shift", "parameters"],
    runs.map((run) => {
      const c = run.result.config;
      const widths = c.kind === "mlp"
        ? `784 → ${c.hidden} → 10`
        : `conv ${c.kernelSize}×${c.kernelSize} (${c.padding} padding): 1 → ` +
          `${c.channels[0]} → ${c.channels[1]} channels, max-pool 2×2 after each, maps ` +
          `${cnnSizes(c).join(" → ")}, Linear ${c.channels[1] * cnnSizes(c)[3] ** 2} → 10`;
      const shift = c.shift === 0 ? "none" : `up to ${c.shift} px`;
      return [run.label, layerChain(c), widths, c.dropRate, shift, run.result.parameters];
    }),
    ["left", "left", "left"],
  ).trimEnd();
}

function epochSections(runs: readonly NamedRun[]): string[] {
  const lines: string[] = [];
  for (const run of runs) {
    lines.push(
      `<details><summary>${run.label}: every epoch (bold: the best validation accuracy)</summary>`,
      "",
      epochTable(run.result),
      "",
      "</details>",
      "",
    );
  }
  return lines;
}

function lastEpoch(run: NamedRun) {
  return run.result.epochs[run.result.epochs.length - 1];
}

function meanEpochSeconds(run: NamedRun): number {
  return sumSeconds(run.result) / Math.max(1, run.result.epochs.length);
}

function minValLoss(run: NamedRun): number {
  return Math.min(...run.result.epochs.map((e) => e.valLoss));
}

function mlpVsCnnText(mlp: NamedRun, cnn: NamedRun): string {
  const m = mlp.result, c = cnn.result;
  const fewer = m.parameters > c.parameters
    ? `${(m.parameters / c.parameters).toFixed(0)}× fewer than`
    : "more than";
  return [
    `The CNN has ${c.parameters.toLocaleString("en")} parameters, ${fewer} the MLP's ` +
    `${m.parameters.toLocaleString("en")}. It misclassifies ` +
    `${formatPercent(1 - c.testAcc)} of the test images against the MLP's ` +
    `${formatPercent(1 - m.testAcc)}, and its lowest validation loss is ` +
    `${formatNumber(minValLoss(cnn))} against ${formatNumber(minValLoss(mlp))}. A convolution ` +
    "applies the same small kernels at every position, and max pooling tolerates shifts of a " +
    "pixel or two, so the CNN learns a stroke once for the whole image. The MLP has a separate " +
    "weight for every pixel and must see a stroke at each position to learn it there.",
    "",
    `The price is time: an epoch took ${formatDuration(meanEpochSeconds(cnn))} for the CNN and ` +
    `${formatDuration(meanEpochSeconds(mlp))} for the MLP. Each kernel is applied at every ` +
    "position, so the CNN does far more arithmetic per parameter, and its batch-norm and dropout " +
    "layers process whole feature maps.",
  ].join("\n");
}

function batchNormText(pairs: readonly [NamedRun, NamedRun][]): string {
  const rows = pairs.flatMap(([withBn, withoutBn]) => {
    // Compare the pair at the last epoch that both ran.
    const common = Math.min(withBn.result.epochs.length, withoutBn.result.epochs.length);
    return [withBn, withoutBn].map((run) => {
      const r = run.result;
      const atCommon = r.epochs[common - 1];
      return [
        run.label,
        r.epochs.length,
        formatPercent(r.epochs[0]?.valAcc ?? NaN),
        `${formatPercent(atCommon?.valAcc ?? NaN)} (${common})`,
        `${formatNumber(atCommon?.trainLoss ?? NaN)} (${common})`,
        `${formatPercent(r.bestValAcc)} (${r.bestEpoch})`,
        formatPercent(r.testAcc),
      ];
    });
  });
  const findings = pairs.map(([withBn, withoutBn]) => {
    const a = withBn.result, b = withoutBn.result;
    const common = Math.min(a.epochs.length, b.epochs.length);
    const kind = a.config.kind.toUpperCase();
    const first = compareWord(a.epochs[0].valAcc, b.epochs[0].valAcc, "higher", "lower");
    const later = compareWord(
      a.epochs[common - 1].valAcc,
      b.epochs[common - 1].valAcc,
      "higher",
      "lower",
    );
    return `${kind}: after one epoch the validation accuracy is ` +
      `${formatPercent(a.epochs[0].valAcc)} with batch norm and ` +
      `${formatPercent(b.epochs[0].valAcc)} without (${first} with it), and after epoch ` +
      `${common} it is ${formatPercent(a.epochs[common - 1].valAcc)} and ` +
      `${formatPercent(b.epochs[common - 1].valAcc)} (${later} with it).`;
  });
  return [
    "Same seed, data order and drop rate. Only the batch-norm layers are removed. The CNN " +
    "without batch norm may run fewer epochs to save time, so each pair is also compared at " +
    "the last epoch that both ran (in brackets).",
    "",
    markdownTable(
      [
        "run",
        "epochs",
        "validation accuracy after epoch 1",
        "validation accuracy (epoch)",
        "training loss (epoch)",
        "best validation accuracy (epoch)",
        "test accuracy at the best",
      ],
      rows,
      ["left"],
    ).trimEnd(),
    "",
    ...findings.map((line) => `- ${line}`),
    "",
    "Batch norm re-centres and re-scales every hidden unit on each batch, so the layer after it " +
    "sees inputs of a stable scale while the weights before it change. Each example's " +
    "normalized value also depends on the other examples of its batch, a source of noise that " +
    "adds to the regularization of dropout.",
  ].join("\n");
}

/** Return `more` when `a > b`, `less` when `a < b`, else `the same`. */
function compareWord(a: number, b: number, more: string, less: string): string {
  if (a > b) return more;
  if (a < b) return less;
  return "the same";
}

function sweepText(sweep: readonly NamedRun[]): string {
  const last = sweep.map((run) => lastEpoch(run));
  const rows = sweep.map((run, i) => [
    run.result.config.dropRate,
    formatNumber(last[i].trainLoss),
    formatNumber(last[i].valLoss),
    formatNumber(last[i].trainLoss - last[i].valLoss),
    formatPercent(last[i].trainAcc),
    `${formatPercent(run.result.bestValAcc)} (${run.result.bestEpoch})`,
    formatPercent(run.result.testAcc),
  ]);
  const rates = sweep.map((run) => run.result.config.dropRate);
  const best = sweep.reduce((a, b) => (b.result.bestValAcc > a.result.bestValAcc ? b : a));
  const lowestVal = last.reduce((a, b, i) => (b.valLoss < last[a].valLoss ? i : a), 0);
  const crossing = last.findIndex((e) => e.valLoss < e.trainLoss);
  const n = sweep.length - 1;
  const epochs = sweep[0].result.epochs.length;
  const sentences = [
    `With dropout active, the training loss of the last epoch goes from ` +
    `${formatNumber(last[0].trainLoss)} at rate ${rates[0]} to ${
      formatNumber(last[n].trainLoss)
    } ` +
    `at rate ${rates[n]}: each update trains a thinner random sub-network, whose survivors are ` +
    "scaled by 1 / (1 − rate).",
    `The validation loss, measured on the whole network, goes from ${
      formatNumber(last[0].valLoss)
    } to ${formatNumber(last[n].valLoss)}, with its lowest value, ` +
    `${formatNumber(last[lowestVal].valLoss)}, at rate ${rates[lowestVal]}.`,
    crossing < 0
      ? "At every rate the validation loss stays above the training loss."
      : `From rate ${rates[crossing]} on, the validation loss is below the training loss, ` +
        "because the training loss is measured on the weakened network.",
    `The best validation accuracy, ${formatPercent(best.result.bestValAcc)}, comes with rate ` +
    `${best.result.config.dropRate}, which the MLP runs above therefore use.`,
  ];
  if (lowestVal < n && last[n].valLoss > last[lowestVal].valLoss) {
    sentences.push(
      `At rate ${rates[n]} so few units survive each step that the network underfits in ` +
        `${epochs} ${epochs === 1 ? "epoch" : "epochs"}: its validation loss is ` +
        `${formatNumber(last[n].valLoss)}, above the minimum.`,
    );
  }
  return [
    `The MLP with batch norm (${
      describeModel(sweep[0].result.config).replace(/, dropout .*/, "")
    }), ${epochs} ${
      epochs === 1 ? "epoch" : "epochs"
    } per rate, the same seed for every rate. The training loss is the mean ` +
    "over the last epoch's iterations with dropout active, and the validation loss is measured " +
    "after that epoch with dropout off.",
    "",
    markdownTable(
      [
        "drop rate",
        "last training loss",
        "last validation loss",
        "training − validation",
        "last training accuracy",
        "best validation accuracy (epoch)",
        "test accuracy",
      ],
      rows,
    ).trimEnd(),
    "",
    sentences.join(" "),
  ].join("\n");
}

function breakdownText(breakdowns: readonly Breakdown[]): string {
  const parts: string[] = [
    "The training curve and the validation curve are not measured the same way. To separate the " +
    "reasons, the best checkpoint of each network is scored on the first " +
    `${breakdowns[0].trainImages.toLocaleString("en")} training images and on the ` +
    "validation images, in batches of the training batch size, with the layers switched from " +
    "training mode to evaluation mode one at a time.",
    "",
  ];
  for (const b of breakdowns) {
    parts.push(...breakdownSection(b), "");
  }
  return parts.join("\n").trimEnd();
}

function breakdownSection(b: Breakdown): string[] {
  const result = b.run.result;
  const best = result.epochs[result.bestEpoch - 1];
  const [t1, t2, t3] = b.train, [v1, v2, v3] = b.val;
  const components: [string, number, string][] = [
    [
      "weights changing during the epoch, and the training subset" +
      (result.config.shift > 0 ? " (the epoch's images were shifted, these are not)" : ""),
      best.trainLoss - t1.loss,
      `${formatNumber(best.trainLoss)} logged over the epoch, ${
        formatNumber(t1.loss)
      } for the final weights in training mode`,
    ],
    [
      "dropout on against off",
      t1.loss - t2.loss,
      `${formatNumber(t1.loss)} → ${formatNumber(t2.loss)} on training images`,
    ],
    [
      "batch statistics against running statistics",
      t2.loss - t3.loss,
      `${formatNumber(t2.loss)} → ${formatNumber(t3.loss)} on training images (${
        formatNumber(v2.loss)
      } → ${formatNumber(v3.loss)} on validation images)`,
    ],
    [
      "training images against validation images (generalization)",
      t3.loss - v3.loss,
      `${formatNumber(t3.loss)} against ${formatNumber(v3.loss)}, both in evaluation mode`,
    ],
  ];
  const largest = components.reduce((a, c) => (Math.abs(c[1]) > Math.abs(a[1]) ? c : a));
  return [
    `**${b.run.label}**, epoch ${result.bestEpoch}:`,
    "",
    markdownTable(
      [
        "layer modes",
        "loss on training images",
        "loss on validation images",
        "accuracy (training / validation)",
      ],
      MODE_LADDER.map((rung, i) => [
        rung.name,
        formatNumber(b.train[i].loss),
        formatNumber(b.val[i].loss),
        `${formatPercent(b.train[i].acc)} / ${formatPercent(b.val[i].acc)}`,
      ]),
      ["left"],
    ).trimEnd(),
    "",
    `The curves of that epoch show a training loss of ${formatNumber(best.trainLoss)} and a ` +
    `validation loss of ${formatNumber(best.valLoss)}, a difference of ` +
    `${signed(best.trainLoss - best.valLoss)}. It adds up from these parts:`,
    "",
    markdownTable(
      ["part", "share of training − validation loss", "numbers"],
      components.map(([name, value, numbers]) => [name, signed(value), numbers]),
      ["left", "right", "left"],
    ).trimEnd(),
    "",
    `The largest part is ${largest[0]} (${signed(largest[1])}). With both data sets in training ` +
    `mode the losses are ${formatNumber(t1.loss)} (training images) and ${
      formatNumber(v1.loss)
    } (validation images), and in evaluation mode ${formatNumber(t3.loss)} and ${
      formatNumber(v3.loss)
    }.`,
  ];
}

function signed(value: number): string {
  return `${value >= 0 ? "+" : "−"}${formatNumber(Math.abs(value))}`;
}

function demoText(demo: ResumeDemoResult): string {
  const w = demo.whole, r = demo.resumed;
  const identical = demo.differences.length === 0;
  const rows = w.epochs.map((e, i) => {
    const o = r.epochs[i];
    return [
      e.epoch,
      `${formatNumber(e.trainLoss, 8)} / ${o ? formatNumber(o.trainLoss, 8) : "-"}`,
      `${formatNumber(e.valLoss, 8)} / ${o ? formatNumber(o.valLoss, 8) : "-"}`,
      `${formatPercent(e.valAcc)} / ${o ? formatPercent(o.valAcc) : "-"}`,
      e.epoch <= demo.checkpointEpoch ? "before the kill" : "after the resume",
    ];
  });
  const into = Math.round(100 * Math.min(1, demo.killedAfterSeconds / demo.epochOneSeconds));
  return [
    `A ${w.epochs.length}-epoch MLP run on the training split ran as three separate ` +
    "processes:",
    "",
    `1. uninterrupted: \`${demo.commands.whole}\`;`,
    `2. the same command in another folder, killed with ${demo.signal} ` +
    `${demo.killedAfterSeconds.toFixed(1)} s after epoch 1 ended (epoch 1 trained in ` +
    `${demo.epochOneSeconds.toFixed(1)} s, so about ${into}% into epoch 2): ` +
    `\`${demo.commands.killed}\`. Its \`last.ckpt\` then contained epoch ` +
    `${demo.checkpointEpoch}, so no completed epoch was lost;`,
    `3. resumed: \`${demo.commands.resumed}\`.`,
    "",
    markdownTable(
      [
        "epoch",
        "training loss (uninterrupted / killed and resumed)",
        "validation loss",
        "validation accuracy",
        "trained in the killed run",
      ],
      rows,
    ).trimEnd(),
    "",
    `Test accuracy of best.ckpt: ${formatPercent(w.testAcc)} uninterrupted and ` +
    `${formatPercent(r.testAcc)} killed and resumed (test loss ${formatNumber(w.testLoss, 8)} ` +
    `and ${formatNumber(r.testLoss, 8)}). ` +
    (identical
      ? "Every per-epoch number, every training-loss window and all " +
        `${demo.tensorsCompared} tensors of last.ckpt and best.ckpt ` +
        `(${demo.valuesCompared.toLocaleString("en")} float32 values: parameters, batch-norm ` +
        "running statistics and Adam moments) are bit-for-bit identical."
      : `**The runs differ** in: ${demo.differences.join(", ")}.`),
    "",
    "The checkpoint written after each epoch contains the parameters, the running statistics, " +
    "Adam's moments and step count, the learning rate and its decay history, the best " +
    "validation accuracy, the curves so far, and the state of the one generator that shuffles " +
    "the data and draws the dropout masks and the random shifts. It is written to a temporary " +
    "file and renamed, so a kill during the write leaves the previous checkpoint whole.",
  ].join("\n");
}
