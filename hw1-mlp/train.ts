/**
 * `deno task hw1`: train the course's MLP on MNIST and write a report.
 *
 * Without `--grid`, one run with the flags' configuration writes its logs, plots and
 * `report.md` into `--out`. With `--grid`, the course's eight experiments (1 vs 2 hidden layers ×
 * Sigmoid vs ReLU × Euclidean vs softmax cross-entropy) write `reports/hw1.md`.
 *
 * @module
 */

import { join } from "node:path";
import {
  type Backend,
  BACKEND_CHOICES,
  configBlock,
  consoleProgress,
  createBackend,
  epochTable,
  flag,
  formatDuration,
  formatPercent,
  loadMnist,
  normalizeImages,
  parseFlags,
  reportHeader,
  runMain,
  UsageError,
  UserError,
  writeCurvePlots,
  writeFileAtomic,
  writeTrainingLogs,
} from "@nn/core";
import { type ActivationName, ACTIVATIONS, describeMlp, LOSSES, type LossName } from "./model.ts";
import { DEFAULT_CONFIG, type Hw1Config, type Hw1Data, runMlp, type RunResult } from "./run.ts";
import { type NamedRun, resultsTable } from "./report.ts";

const d = DEFAULT_CONFIG;

/** Flags of `deno task hw1`. */
export const COMMAND = {
  usage: "deno task hw1 [flags]",
  description:
    "Train an MLP on MNIST (60,000 train / 10,000 test images) with momentum SGD and write a " +
    "report. The defaults train the seed network 784-512-512-10 with ReLU and softmax " +
    "cross-entropy.",
  flags: {
    hidden: flag.intList("hidden layer widths, comma-separated, or none", d.hidden),
    activation: flag.choice("hidden-layer activation", ACTIVATIONS, d.activation),
    loss: flag.choice("loss: Euclidean or softmax cross-entropy", LOSSES, d.loss),
    epochs: flag.positiveInt("passes over the training set", d.epochs),
    lr: flag.positiveNumber("learning rate", d.lr),
    momentum: flag.probability("momentum of SGD, below 1", d.momentum),
    weightDecay: flag.nonNegativeNumber("weight decay (L2 coefficient)", d.weightDecay),
    batchSize: flag.positiveInt("examples per batch", d.batchSize),
    initStd: flag.positiveNumber("standard deviation of the normal initialization of W", d.initStd),
    seed: flag.nonNegativeInt("random seed of initialization and shuffling", d.seed),
    dispFreq: flag.positiveInt("log the mean loss and accuracy every N iterations", d.dispFreq),
    backend: flag.choice(
      "compute backend; auto tries blas, then wasm, then ts (default: NN_BACKEND, else auto)",
      BACKEND_CHOICES,
      undefined,
    ),
    dataDir: flag.string("folder with the four MNIST IDX files (.gz or raw)", undefined, {
      valueName: "DIR",
    }),
    out: flag.string(
      "output folder (default: runs/hw1, or reports with --grid)",
      undefined,
      { valueName: "DIR" },
    ),
    targetAcc: flag.probability(
      "exit with status 1 when the final test accuracy is below this fraction",
      undefined,
    ),
    grid: flag.boolean("run the course's 8 experiments and write hw1.md into the output folder"),
  },
};

type Flags = ReturnType<typeof parseFlags<typeof COMMAND.flags>>;

/** Return the course's experiments: 1 vs 2 hidden layers × Sigmoid vs ReLU × Euclidean vs softmax. */
export function gridConfigs(base: Hw1Config): { name: string; label: string; config: Hw1Config }[] {
  const runs = [];
  for (const layers of [1, 2]) {
    for (const activation of ["sigmoid", "relu"] as ActivationName[]) {
      for (const loss of ["euclidean", "softmax"] as LossName[]) {
        const hidden = base.hidden.length > 0 ? base.hidden.slice(0, 1) : [512];
        const config = {
          ...base,
          hidden: layers === 1 ? hidden : [hidden[0], hidden[0]],
          activation,
          loss,
        };
        runs.push({
          name: `${layers}-${activation}-${loss}`,
          // Short enough for the plot legends: "2×512 relu, softmax CE".
          label: `${layers}×${config.hidden[0]} ${activation}, ${
            loss === "softmax" ? "softmax CE" : "Euclidean"
          }`,
          config,
        });
      }
    }
  }
  return runs;
}

async function loadData(dataDir: string | undefined): Promise<{ data: Hw1Data; source: string }> {
  const mnist = await loadMnist({ dataDir });
  return {
    source: mnist.source,
    data: {
      trainImages: normalizeImages(mnist.train.images),
      trainLabels: mnist.train.labels,
      testImages: normalizeImages(mnist.test.images),
      testLabels: mnist.test.labels,
      inputSize: mnist.train.rows * mnist.train.cols,
      classes: 10,
    },
  };
}

/** Train one configuration with a progress bar and a line per epoch; return the named run. */
function trainWithProgress(
  backend: Backend,
  data: Hw1Data,
  name: string,
  label: string,
  config: Hw1Config,
): NamedRun {
  const perEpoch = Math.ceil(data.trainLabels.length / config.batchSize);
  const progress = consoleProgress(label, config.epochs, perEpoch);
  const result = runMlp(backend, data, config, progress);
  progress.done();
  if (result.diverged) {
    console.log(`${label} | diverged: the loss became NaN or infinite; training stopped there`);
  }
  return { name, label, result, epochs: result.epochs, display: result.display };
}

function commandLine(): string {
  return ["deno task hw1", ...Deno.args].join(" ");
}

async function runSingle(flags: Flags, config: Hw1Config, backend: Backend): Promise<RunResult> {
  const out = flags.out ?? "runs/hw1";
  const { data, source } = await loadData(flags.dataDir);
  console.log(`data:    ${source}\n`);

  const run = trainWithProgress(
    backend,
    data,
    "run",
    describeMlp({ ...config, inputSize: 784, classes: 10 }),
    config,
  );
  await writeTrainingLogs(out, run);
  const plots = await writeCurvePlots(out, [run]);
  const report = [
    reportHeader({
      title: `HW1 MLP run: ${run.label}, ${
        config.loss === "softmax" ? "softmax cross-entropy" : "Euclidean"
      } loss`,
      command: commandLine(),
      backend: backend.description,
      dataSource: source,
      date: new Date().toISOString(),
      seed: config.seed,
    }),
    "",
    "## Result",
    "",
    resultsTable([run]),
    "",
    "## Curves",
    "",
    `![training loss](${plots.loss})`,
    "",
    `![training accuracy](${plots.trainAcc})`,
    "",
    `![test accuracy](${plots.testAcc})`,
    "",
    "## Epochs",
    "",
    epochTable(run.result.epochs),
    "",
  ].join("\n");
  await writeFileAtomic(join(out, "report.md"), report);
  console.log(
    `\ntest accuracy ${formatPercent(run.result.testAcc)} after ${run.result.epochs.length} epoch${
      run.result.epochs.length === 1 ? "" : "s"
    } ` +
      `(${formatDuration(run.result.seconds)}); report: ${join(out, "report.md")}`,
  );
  return run.result;
}

async function runGrid(flags: Flags, base: Hw1Config, backend: Backend): Promise<RunResult[]> {
  const out = flags.out ?? "reports";
  const logs = join(out, "hw1");
  const { data, source } = await loadData(flags.dataDir);
  console.log(`data:    ${source}\n`);

  const runs: NamedRun[] = [];
  for (const { name, label, config } of gridConfigs(base)) {
    const run = trainWithProgress(backend, data, name, label, config);
    await writeTrainingLogs(logs, run);
    runs.push(run);
  }
  const plots = await writeCurvePlots(logs, runs);
  const best = runs.reduce((a, b) => (b.result.testAcc > a.result.testAcc ? b : a));
  const report = [
    reportHeader({
      title: "HW1: multilayer perceptron on MNIST",
      command: commandLine(),
      backend: backend.description,
      dataSource: source,
      date: new Date().toISOString(),
      seed: base.seed,
    }),
    "",
    "Every run uses the same seed, data order and hyperparameters " +
    `(lr ${base.lr}, momentum ${base.momentum}, weight decay ${base.weightDecay}, ` +
    `batch ${base.batchSize}, init std ${base.initStd}, ${base.epochs} epochs); only the ` +
    "number of hidden layers, the activation and the loss change. Pixels are scaled as " +
    "(p − 128) / 255. Test accuracy is measured on the 10,000 test images after the last epoch.",
    "",
    "## Results",
    "",
    resultsTable(runs),
    "",
    `Best: **${best.label}** with ${formatPercent(best.result.testAcc)}.`,
    "",
    "## Curves",
    "",
    `![training loss](hw1/${plots.loss})`,
    "",
    `![training accuracy](hw1/${plots.trainAcc})`,
    "",
    `![test accuracy](hw1/${plots.testAcc})`,
    "",
    "## Logs",
    "",
    "Each run's CSV logs are in `hw1/`: `<run>-train.csv` holds the mean loss and accuracy of " +
    `every ${base.dispFreq} iterations, \`<run>-epochs.csv\` one row per epoch.`,
    "",
  ].join("\n");
  await writeFileAtomic(join(out, "hw1.md"), report);
  console.log(`\nreport: ${join(out, "hw1.md")}`);
  return runs.map((r) => r.result);
}

async function main(): Promise<number> {
  const flags = parseFlags(COMMAND, Deno.args);
  const config: Hw1Config = {
    hidden: flags.hidden,
    activation: flags.activation,
    loss: flags.loss,
    epochs: flags.epochs,
    lr: flags.lr,
    momentum: flags.momentum,
    weightDecay: flags.weightDecay,
    batchSize: flags.batchSize,
    initStd: flags.initStd,
    seed: flags.seed,
    dispFreq: flags.dispFreq,
  };
  if (config.momentum >= 1) {
    throw new UsageError(`Invalid --momentum ${config.momentum}: expected a value below 1`);
  }
  const backend = await createBackend(flags.backend);
  console.log(configBlock({
    command: commandLine(),
    mode: flags.grid ? "grid (8 experiments)" : "single run",
    network: flags.grid ? "see grid" : describeMlp({ ...config, inputSize: 784, classes: 10 }),
    loss: flags.grid ? "see grid" : config.loss,
    epochs: config.epochs,
    lr: config.lr,
    momentum: config.momentum,
    weightDecay: config.weightDecay,
    batchSize: config.batchSize,
    initStd: config.initStd,
    seed: config.seed,
    backend: backend.description,
    targetAcc: flags.targetAcc,
  }));

  const results = flags.grid
    ? await runGrid(flags, config, backend)
    : [await runSingle(flags, config, backend)];

  if (flags.targetAcc !== undefined) {
    const acc = Math.max(...results.map((r) => (Number.isNaN(r.testAcc) ? 0 : r.testAcc)));
    if (!(acc >= flags.targetAcc)) {
      throw new UserError(
        `Test accuracy ${formatPercent(acc)} is below --target-acc ${
          formatPercent(flags.targetAcc)
        }`,
      );
    }
    console.log(`target accuracy ${formatPercent(flags.targetAcc)} reached`);
  }
  return 0;
}

if (import.meta.main) await runMain(main);
