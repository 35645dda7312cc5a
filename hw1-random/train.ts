/**
 * `deno task hw1-random`: compare feedback alignment with backpropagation on MNIST and write
 * `reports/hw1-random.md`.
 *
 * The command runs three studies in turn:
 * 1. backpropagation and feedback alignment on the HW1 seed network, with the same seed, initial
 *    weights and data order, measuring the angle between the two rules' teaching signals;
 * 2. a sweep over the initial scales of `W` and `B`, a few epochs per cell;
 * 3. Lillicrap et al.'s MNIST network, 784-1000-10 with sigmoid hidden and output units and the
 *    squared error, trained by both rules.
 *
 * @module
 */

import { join } from "node:path";
import {
  type Backend,
  BACKEND_CHOICES,
  configBlock,
  createBackend,
  flag,
  type FlagSpec,
  formatDuration,
  formatNumber,
  formatPercent,
  loadMnist,
  markdownTable,
  parseFlags,
  parsePositiveNumber,
  Progress,
  runMain,
  UsageError,
  UserError,
  writeFileAtomic,
} from "@nn/core";
import { DEFAULT_EXPLOSION_FACTOR } from "./divergence.ts";
import { FEEDBACK_DISTRIBUTIONS } from "./feedback_linear.ts";
import { ACTIVATIONS, describeFeedback, describeNetwork, LOSSES } from "./model.ts";
import {
  DEFAULT_CONFIG,
  FEEDBACK_DEFAULTS,
  type MnistData,
  prepareMnist,
  type RunConfig,
  runStudy,
} from "./run.ts";
import {
  angleTable,
  comparisonTable,
  describeDivergence,
  epochTable,
  formatAngle,
  lastEpochAngles,
  type NamedRun,
  sweepAccuracyTable,
  sweepAngleTable,
  type SweepCell,
  writeAnglePlot,
  writeLossPlot,
  writeRunLogs,
  writeSweepCsv,
  writeTestAccuracyPlot,
  writeTestErrorPlot,
} from "./report.ts";

/** Test error that Lillicrap et al. (2016) report for feedback alignment on MNIST, in percent. */
export const PAPER_FA_ERROR_PERCENT = 2.1;
/**
 * Test accuracies that an earlier reimplementation of Lillicrap et al. on this network reported,
 * without its hyperparameters, by learning rule.
 */
export const EARLIER_REPORTED = { backprop: "98%", feedback: "95%" } as const;

/**
 * Parse comma-separated positive numbers, such as `0.001,0.01,0.1,1`.
 *
 * @throws {UsageError} naming the flag and the value
 */
export function parseNumberList(flagName: string, value: string): number[] {
  const items = value.split(",");
  try {
    return items.map((item) => parsePositiveNumber(flagName, item));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    throw new UsageError(
      `Invalid ${flagName} ${JSON.stringify(value)}: expected comma-separated positive numbers`,
    );
  }
}

function numberListFlag(help: string, defaultValue: number[]): FlagSpec<number[]> {
  return { help, default: defaultValue, parse: parseNumberList, valueName: "LIST" };
}

const d = DEFAULT_CONFIG;

/** Flags of `deno task hw1-random`. */
export const COMMAND = {
  usage: "deno task hw1-random [flags]",
  description: "Train the HW1 MLP on MNIST by backpropagation and by feedback alignment (fixed " +
    "random feedback weights B), measure the angle between their teaching signals, sweep the " +
    "initial scales of W and B, train Lillicrap et al.'s 784-1000-10 sigmoid network, and write " +
    "a report. The defaults train about 200 epochs of MNIST in all.",
  flags: {
    hidden: flag.intList("hidden layer widths of the main comparison and the sweep", d.hidden),
    activation: flag.choice("hidden-layer activation", ACTIVATIONS, d.activation),
    loss: flag.choice("loss: softmax cross-entropy or Euclidean", LOSSES, d.loss),
    epochs: flag.positiveInt("passes over the training set, backpropagation", d.epochs),
    lr: flag.positiveNumber("learning rate, backpropagation", d.lr),
    faEpochs: flag.positiveInt(
      "passes over the training set, feedback alignment",
      FEEDBACK_DEFAULTS.epochs,
    ),
    faLr: flag.positiveNumber(
      "learning rate, feedback alignment and the sweep",
      FEEDBACK_DEFAULTS.lr,
    ),
    momentum: flag.probability("momentum of SGD, below 1", d.momentum),
    weightDecay: flag.nonNegativeNumber("weight decay (L2 coefficient)", d.weightDecay),
    batchSize: flag.positiveInt("examples per batch", d.batchSize),
    initStd: flag.positiveNumber("standard deviation of the normal initialization of W", d.initStd),
    bDist: flag.choice(
      "distribution of B: normal(0, scale²) or uniform(−scale, scale)",
      FEEDBACK_DISTRIBUTIONS,
      d.feedback.distribution,
    ),
    bScale: flag.positiveNumber(
      "standard deviation (normal) or half-width (uniform) of B",
      d.feedback.scale,
    ),
    seed: flag.nonNegativeInt("random seed of initialization and shuffling", d.seed),
    dispFreq: flag.positiveInt("log the mean loss and accuracy every N iterations", d.dispFreq),
    angleFreq: flag.positiveInt("measure the signal angles every N iterations", d.angleFreq),
    explosionFactor: flag.positiveNumber(
      "stop a run whose batch loss exceeds this factor times its first batch loss",
      DEFAULT_EXPLOSION_FACTOR,
    ),
    sweepScales: numberListFlag(
      "initial scales of W (std) and B (scale) that the sweep crosses",
      [0.001, 0.01, 0.1, 1],
    ),
    sweepEpochs: flag.positiveInt("passes over the training set per sweep cell", 3),
    paperHidden: flag.positiveInt("hidden units of Lillicrap et al.'s network", 1000),
    paperEpochs: flag.positiveInt("passes over the training set, Lillicrap et al.'s network", 40),
    paperLr: flag.positiveNumber("learning rate, Lillicrap et al.'s network", 0.02),
    paperMomentum: flag.probability("momentum of SGD, Lillicrap et al.'s network, below 1", 0.9),
    skipSweep: flag.boolean("leave out the sweep of initial scales"),
    skipPaper: flag.boolean("leave out Lillicrap et al.'s network"),
    backend: flag.choice(
      "compute backend; auto tries blas, then wasm, then ts (default: NN_BACKEND, else auto)",
      BACKEND_CHOICES,
      undefined,
    ),
    dataDir: flag.string("folder with the four MNIST IDX files (.gz or raw)", undefined, {
      valueName: "DIR",
    }),
    out: flag.string(
      "output folder: the report goes to DIR/hw1-random.md, logs and plots to DIR/hw1-random/",
      "reports",
      { valueName: "DIR" },
    ),
    targetAcc: flag.probability(
      "exit with status 1 when either rule's final test accuracy on the main network is below " +
        "this fraction",
      undefined,
    ),
  },
};

type Flags = ReturnType<typeof parseFlags<typeof COMMAND.flags>>;

/** Return the two runs of the main comparison: same network, seed and data order, one per rule. */
export function mainConfigs(flags: Flags): { backprop: RunConfig; feedback: RunConfig } {
  const base: RunConfig = {
    rule: "backprop",
    hidden: flags.hidden,
    activation: flags.activation,
    sigmoidOutput: false,
    loss: flags.loss,
    epochs: flags.epochs,
    lr: flags.lr,
    momentum: flags.momentum,
    weightDecay: flags.weightDecay,
    batchSize: flags.batchSize,
    initStd: flags.initStd,
    feedback: { distribution: flags.bDist, scale: flags.bScale },
    seed: flags.seed,
    dispFreq: flags.dispFreq,
    angleFreq: flags.angleFreq,
    explosionFactor: flags.explosionFactor,
  };
  return {
    backprop: base,
    feedback: { ...base, rule: "feedback", epochs: flags.faEpochs, lr: flags.faLr },
  };
}

/** One planned run of the sweep. */
export interface SweepPlan {
  /** Prefix of the run's log files. */
  name: string;
  label: string;
  /** Standard deviation of the initial `W`. */
  initStd: number;
  /** Scale of `B`, or null for the backpropagation run. */
  feedbackScale: number | null;
  config: RunConfig;
}

/**
 * Return the sweep's runs: for every initial `W` scale, one backpropagation run and one
 * feedback-alignment run per `B` scale, each for `sweepEpochs` epochs with `feedback`'s learning
 * rate and other settings.
 */
export function sweepConfigs(
  feedback: RunConfig,
  scales: readonly number[],
  sweepEpochs: number,
): SweepPlan[] {
  const cells: SweepPlan[] = [];
  for (const initStd of scales) {
    const base = { ...feedback, initStd, epochs: sweepEpochs };
    cells.push({
      name: `sweep-w${initStd}-backprop`,
      label: `sweep W ${initStd} backprop`,
      initStd,
      feedbackScale: null,
      config: { ...base, rule: "backprop" },
    });
    for (const scale of scales) {
      cells.push({
        name: `sweep-w${initStd}-b${scale}`,
        label: `sweep W ${initStd} B ${scale}`,
        initStd,
        feedbackScale: scale,
        config: { ...base, feedback: { ...base.feedback, scale } },
      });
    }
  }
  return cells;
}

/** Return the two runs on Lillicrap et al.'s network: 784-H-10, sigmoid units, squared error. */
export function paperConfigs(
  flags: Flags,
  feedback: RunConfig,
): { backprop: RunConfig; feedback: RunConfig } {
  const base: RunConfig = {
    ...feedback,
    hidden: [flags.paperHidden],
    activation: "sigmoid",
    sigmoidOutput: true,
    loss: "euclidean",
    epochs: flags.paperEpochs,
    lr: flags.paperLr,
    momentum: flags.paperMomentum,
  };
  return { backprop: { ...base, rule: "backprop" }, feedback: base };
}

/**
 * Train one configuration and return the named run. Each epoch shows a progress bar on stderr,
 * then prints one line of results to stdout.
 */
function trainWithProgress(
  backend: Backend,
  data: MnistData,
  name: string,
  label: string,
  config: RunConfig,
): NamedRun {
  const perEpoch = Math.ceil(data.trainLabels.length / config.batchSize);
  const epochLabel = (epoch: number) => `${label} epoch ${epoch}/${config.epochs}`;
  // A bar per epoch, ended before the epoch's line is printed, so the two never share a line.
  let bar: Progress | null = null;
  const result = runStudy(backend, data, config, {
    onIteration: (record, epoch) => {
      bar ??= new Progress({ total: perEpoch, label: epochLabel(epoch) });
      bar.update(record.iteration - (epoch - 1) * perEpoch, `loss ${formatNumber(record.loss)}`);
    },
    onEpoch: (e) => {
      bar?.done();
      bar = null;
      const columns = [
        `${label} epoch ${String(e.epoch).padStart(String(config.epochs).length)}/${config.epochs}`,
        `train ${formatNumber(e.trainLoss).padEnd(8)} ${formatPercent(e.trainAcc).padStart(6)}`,
        `test ${formatNumber(e.testLoss).padEnd(8)} ${formatPercent(e.testAcc).padStart(6)}`,
        formatDuration(e.seconds),
      ];
      console.log(columns.join(" | "));
    },
  });
  if (result.divergence !== null) {
    console.log(`${label} | stopped: ${describeDivergence(result.divergence)}`);
  }
  return { name, label, result };
}

/** Return the command line as a user would type it, for the config block and the report. */
function commandLine(): string {
  return ["deno task hw1-random", ...Deno.args].join(" ");
}

/** Return `1 epoch` or `n epochs`. */
function epochs(count: number): string {
  return `${count} ${count === 1 ? "epoch" : "epochs"}`;
}

/** Describe a run's hyperparameters in one sentence for the report. */
function describeHyperparameters(config: RunConfig): string {
  return `lr ${config.lr}, momentum ${config.momentum}, weight decay ${config.weightDecay}, ` +
    `batch ${config.batchSize}, W init std ${config.initStd}, ${epochs(config.epochs)}`;
}

/** One section of the report: its markdown lines and the log files that the Logs list names. */
interface Section {
  lines: string[];
  logs: string[];
}

/** Train both rules on the main network and return the report's comparison and angle sections. */
async function mainSection(
  backend: Backend,
  data: MnistData,
  flags: Flags,
  logs: string,
): Promise<{ section: Section; runs: NamedRun[] }> {
  const configs = mainConfigs(flags);
  const spec = { ...configs.backprop, inputSize: data.inputSize, classes: data.classes };
  const network = describeNetwork(spec);
  const runs = [
    trainWithProgress(backend, data, "main-backprop", "backprop", configs.backprop),
    trainWithProgress(backend, data, "main-feedback", "feedback alignment", configs.feedback),
  ];
  const files: string[] = [];
  for (const run of runs) files.push(...await writeRunLogs(logs, run));

  const accPlot = await writeTestAccuracyPlot(
    logs,
    "main-test-acc.svg",
    `Test accuracy, ${network}`,
    runs,
  );
  const lossPlot = await writeLossPlot(logs, "main-loss.svg", `Training loss, ${network}`, runs);
  const anglePlot = await writeAnglePlot(logs, "main-angles.svg", runs[1]);
  const perEpoch = Math.ceil(data.trainLabels.length / configs.feedback.batchSize);
  const fa = runs[1].result;
  const lastAngles = lastEpochAngles(fa, perEpoch);
  const topLayer = Math.max(...lastAngles.keys());
  const lossName = configs.backprop.loss === "softmax" ? "softmax cross-entropy" : "Euclidean";

  const lines = [
    "## Backpropagation and feedback alignment on the HW1 network",
    "",
    `Network ${network}, ${lossName} loss. Both runs start from the same W (seed ` +
    `${configs.backprop.seed}) and see the batches in the same order. Feedback alignment draws ` +
    `every B once (${describeFeedback(configs.feedback.feedback)}) from a generator of its own, ` +
    "and never updates it.",
    "",
    `- backprop: ${describeHyperparameters(configs.backprop)};`,
    `- feedback alignment: ${describeHyperparameters(configs.feedback)}.`,
    "",
    ...(configs.feedback.lr === configs.backprop.lr ? [] : [
      "Feedback alignment has a learning rate of its own (`--fa-lr`) because at HW1's lr 0.05, " +
      "with B of the default scale, its training loss on this network passes 100 within the " +
      "first epoch. At a lower rate it learns more slowly than backprop, hence its own number " +
      "of epochs (`--fa-epochs`).",
      "",
    ]),
    comparisonTable(runs, [EARLIER_REPORTED.backprop, EARLIER_REPORTED.feedback]),
    "",
    "The last column repeats the accuracies that an earlier reimplementation reported on the " +
    "same network. Its hyperparameters and epochs are not known.",
    "",
    `![test accuracy](hw1-random/${accPlot})`,
    "",
    `![training loss](hw1-random/${lossPlot})`,
    "",
    "## Angle between the teaching signals",
    "",
    "Every " + `${configs.feedback.angleFreq} iterations (and on the first), on the current ` +
    "batch, the feedback-alignment run also computes the signal that backpropagation would " +
    "send down with the same weights: `dY·Wᵀ` chained through the same layers and ReLU masks. " +
    "At each hidden layer it records the angle between that signal and the one feedback " +
    "alignment sends (`dY·Bᵀ` chained the same way), both `[N, H]` matrices taken as one " +
    "vector. At the top hidden layer the angle is below 90° exactly when " +
    "`Σ_batch e·Wᵀ·B·eᵀ > 0` for the output errors `e`, the condition under which B's signal " +
    "lowers the loss.",
    "",
    `![angles](hw1-random/${anglePlot})`,
    "",
    angleTable(fa, perEpoch),
    "",
    `At the end the top hidden layer's signal is ${
      formatAngle(lastAngles.get(topLayer)?.angle ?? NaN)
    } from backprop's. The per-example column averages the angle of each example's own ` +
    "`[H]` signal.",
    "",
    "### Epochs",
    "",
    "Backpropagation:",
    "",
    epochTable(runs[0].result),
    "",
    "Feedback alignment:",
    "",
    epochTable(fa),
    "",
  ];
  return { section: { lines, logs: files }, runs };
}

/** Run the sweep of initial scales and return its report section. */
async function sweepSection(
  backend: Backend,
  data: MnistData,
  flags: Flags,
  feedback: RunConfig,
  logs: string,
): Promise<Section> {
  const scales = flags.sweepScales;
  const cells: SweepCell[] = [];
  for (const cell of sweepConfigs(feedback, scales, flags.sweepEpochs)) {
    const run = trainWithProgress(backend, data, cell.name, cell.label, cell.config);
    await writeRunLogs(logs, run);
    cells.push({ run, initStd: cell.initStd, feedbackScale: cell.feedbackScale });
  }
  const perEpoch = Math.ceil(data.trainLabels.length / feedback.batchSize);
  const summary = await writeSweepCsv(logs, cells, perEpoch);
  const stopped = cells.filter((c) => c.run.result.divergence !== null).length;

  const lines = [
    "## Initial scales of W and B",
    "",
    `Each cell trains the same network for ${epochs(flags.sweepEpochs)} (a short budget, to keep ` +
    `the sweep affordable) with lr ${feedback.lr}, and otherwise the settings above: ` +
    `W ~ N(0, std²) in every layer and, for feedback alignment, every B ~ ${
      feedback.feedback.distribution === "normal" ? "N(0, scale²)" : "U(−scale, scale)"
    }. A run stops early when a batch loss is NaN or infinite (**diverged**) or exceeds ` +
    `${flags.explosionFactor} times its first batch loss (**exploded**); the stopping batch ` +
    "takes no update step. The accuracy is that of the test set after the last epoch.",
    "",
    sweepAccuracyTable(cells, scales, scales),
    "",
    `${stopped} of ${cells.length} runs stopped early.`,
    "",
    "Angle between the signals at the top hidden layer, mean over the last epoch of each " +
    "feedback-alignment run that finished:",
    "",
    sweepAngleTable(cells, scales, scales, perEpoch),
    "",
    `[${summary}](hw1-random/${summary}) has one row per cell. Each cell's own logs are ` +
    "`sweep-w<W std>-b<B scale>-{train,epochs,angles}.csv` for feedback alignment and " +
    "`sweep-w<W std>-backprop-{train,epochs}.csv` for backprop.",
    "",
  ];
  return { lines, logs: [summary] };
}

/** Train both rules on Lillicrap et al.'s network and return its report section. */
async function paperSection(
  backend: Backend,
  data: MnistData,
  flags: Flags,
  feedback: RunConfig,
  logs: string,
): Promise<Section> {
  const configs = paperConfigs(flags, feedback);
  const network = describeNetwork({ ...configs.feedback, inputSize: data.inputSize, classes: 10 });
  const runs = [
    trainWithProgress(backend, data, "paper-backprop", "paper net, backprop", configs.backprop),
    trainWithProgress(backend, data, "paper-feedback", "paper net, FA", configs.feedback),
  ];
  const files: string[] = [];
  for (const run of runs) files.push(...await writeRunLogs(logs, run));
  const plot = await writeTestErrorPlot(
    logs,
    "paper-test-error.svg",
    `Test error, ${network}, Euclidean loss`,
    runs,
    { label: `reported FA ${PAPER_FA_ERROR_PERCENT}%`, errorPercent: PAPER_FA_ERROR_PERCENT },
  );

  const lines = [
    "## Lillicrap et al.'s MNIST network",
    "",
    `Network ${network}: sigmoid hidden units, a sigmoid after the last Linear layer, and the ` +
    "Euclidean loss `Σ (t − y)² / (2N)` on its outputs against one-hot targets, as in " +
    'Lillicrap et al., "Random synaptic feedback weights support error backpropagation for ' +
    'deep learning", Nature Communications 7:13276 (2016). Both rules use ' +
    `${describeHyperparameters(configs.feedback)}; feedback alignment uses ` +
    `B ${describeFeedback(configs.feedback.feedback)}.`,
    "",
    "Sigmoid outputs trained on the squared error learn slowly. The gradient at an output, " +
    "`(y − t)·y·(1 − y)/N`, vanishes as the unit saturates, and the nine zero targets of every " +
    "example first push all ten outputs down together. With momentum an output unit can " +
    "overshoot into saturation and recover only epochs later, so the test error falls in steps. " +
    "Compare the two rules with each other here: the default epochs fit this report's time " +
    "budget and stop before convergence.",
    "",
    markdownTable(
      ["learning rule", "epochs", "test error", "best test error (epoch)", "Lillicrap et al."],
      runs.map(({ label, result }, i) => {
        const best = result.epochs.reduce((a, b) => (b.testAcc > a.testAcc ? b : a));
        return [
          label,
          result.divergence === null
            ? result.epochs.length
            : `${result.epochs.length} (${describeDivergence(result.divergence)})`,
          formatPercent(1 - result.testAcc),
          `${formatPercent(1 - best.testAcc)} (${best.epoch})`,
          i === 1 ? `${PAPER_FA_ERROR_PERCENT}%` : "-",
        ];
      }),
      ["left"],
    ),
    "",
    `![test error](hw1-random/${plot})`,
    "",
  ];
  return { lines, logs: files };
}

/** Write `out/hw1-random.md` from the header facts and the sections, and return its path. */
async function writeReport(
  out: string,
  header: {
    backend: string;
    dataSource: string;
    seed: number;
    seconds: number;
    testImages: number;
  },
  sections: Section[],
): Promise<string> {
  const path = join(out, "hw1-random.md");
  const logs = sections.flatMap((s) => s.logs);
  const text = [
    "# HW1-random: feedback alignment on MNIST",
    "",
    markdownTable(["", ""], [
      ["command", `\`${commandLine()}\``],
      ["seed", header.seed],
      ["backend", header.backend],
      ["data", header.dataSource],
      ["date", new Date().toISOString()],
      ["wall time", formatDuration(header.seconds)],
    ], ["left", "left"]),
    "",
    "Feedback alignment trains a network with the true gradients `dW = Xᵀ·dY` and " +
    "`db = Σ_rows dY` in every layer, but sends `dY·Bᵀ` to the layer below in place of " +
    "backpropagation's `dY·Wᵀ`, where B is a random matrix of W's shape, drawn once and never " +
    "trained. Pixels are scaled as (p − 128) / 255. Every test accuracy is measured on the " +
    `${header.testImages.toLocaleString("en-US")} MNIST test images.`,
    "",
    ...sections.flatMap((s) => s.lines),
    "## Logs",
    "",
    "Every plot and table above comes from the CSV logs in `hw1-random/`. `<run>-train.csv` " +
    "holds the mean training loss and accuracy of each display window, `<run>-epochs.csv` one " +
    "row per epoch, and `<run>-angles.csv` one row per angle measurement and hidden layer.",
    "",
    ...logs.map((name) => `- [${name}](hw1-random/${name})`),
    "",
  ].join("\n");
  // Tables end with a line break of their own, so joining leaves double blank lines to squeeze.
  await writeFileAtomic(path, text.replace(/\n{3,}/g, "\n\n"));
  return path;
}

async function main(): Promise<number> {
  const flags = parseFlags(COMMAND, Deno.args);
  const momenta: [string, number][] = [
    ["--momentum", flags.momentum],
    ["--paper-momentum", flags.paperMomentum],
  ];
  for (const [name, momentum] of momenta) {
    if (momentum >= 1) {
      throw new UsageError(`Invalid ${name} ${momentum}: expected a value below 1`);
    }
  }
  if (flags.hidden.length === 0) {
    throw new UsageError(
      "Invalid --hidden none: feedback alignment needs at least one hidden layer",
    );
  }
  if (flags.explosionFactor <= 1) {
    throw new UsageError(
      `Invalid --explosion-factor ${flags.explosionFactor}: expected a number above 1`,
    );
  }
  const backend = await createBackend(flags.backend);
  const configs = mainConfigs(flags);
  console.log(configBlock({
    command: commandLine(),
    network: describeNetwork({ ...configs.backprop, inputSize: 784, classes: 10 }),
    loss: flags.loss,
    epochs: `${flags.epochs} backprop, ${flags.faEpochs} feedback alignment`,
    lr: `${flags.lr} backprop, ${flags.faLr} feedback alignment`,
    momentum: flags.momentum,
    weightDecay: flags.weightDecay,
    batchSize: flags.batchSize,
    initStd: flags.initStd,
    feedback: describeFeedback(configs.feedback.feedback),
    angleFreq: flags.angleFreq,
    sweep: flags.skipSweep
      ? "skipped"
      : `scales ${flags.sweepScales.join(",")}, ${epochs(flags.sweepEpochs)} per cell`,
    paper: flags.skipPaper
      ? "skipped"
      : `784-${flags.paperHidden}-10 sigmoid, ${epochs(flags.paperEpochs)}, ` +
        `lr ${flags.paperLr}, momentum ${flags.paperMomentum}`,
    seed: flags.seed,
    backend: backend.description,
    targetAcc: flags.targetAcc,
  }));

  const start = performance.now();
  const mnist = await loadMnist({ dataDir: flags.dataDir });
  const data = prepareMnist(mnist);
  console.log(`data:    ${mnist.source}\n`);

  const logs = join(flags.out, "hw1-random");
  const { section, runs } = await mainSection(backend, data, flags, logs);
  const sections = [section];
  if (!flags.skipSweep) {
    sections.push(await sweepSection(backend, data, flags, configs.feedback, logs));
  }
  if (!flags.skipPaper) {
    sections.push(await paperSection(backend, data, flags, configs.feedback, logs));
  }
  const seconds = (performance.now() - start) / 1000;
  const path = await writeReport(flags.out, {
    backend: backend.description,
    dataSource: mnist.source,
    seed: flags.seed,
    seconds,
    testImages: data.testLabels.length,
  }, sections);
  console.log(
    `\nbackprop ${formatPercent(runs[0].result.testAcc)}, feedback alignment ${
      formatPercent(runs[1].result.testAcc)
    } (${formatDuration(seconds)}); report: ${path}`,
  );

  if (flags.targetAcc !== undefined) {
    for (const run of runs) {
      const acc = Number.isNaN(run.result.testAcc) ? 0 : run.result.testAcc;
      if (!(acc >= flags.targetAcc)) {
        throw new UserError(
          `Test accuracy of ${run.label} ${formatPercent(acc)} is below --target-acc ${
            formatPercent(flags.targetAcc)
          }`,
        );
      }
    }
    console.log(`target accuracy ${formatPercent(flags.targetAcc)} reached by both rules`);
  }
  return 0;
}

if (import.meta.main) await runMain(main);
