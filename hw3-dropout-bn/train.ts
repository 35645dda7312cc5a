/**
 * `deno task hw3`: dropout and batch normalization in an MLP and a CNN on MNIST.
 *
 * Three commands:
 * - `report` (the default): run every experiment of the homework and write `reports/hw3.md`;
 * - `train`: train one network, with checkpoints, and continue a run with `--resume PATH`;
 * - `evaluate`: score a checkpoint on the test set.
 *
 * @module
 */

import { dirname, join } from "node:path";
import {
  BACKEND_CHOICES,
  type Checkpoint,
  configBlock,
  createBackend,
  evaluate,
  flag,
  formatNumber,
  formatPercent,
  parseFlags,
  prepareOutputFolder,
  runMain,
  UsageError,
  UserError,
  writeFileAtomic,
} from "@nn/core";
import {
  assertBatchesFitBatchNorm,
  commandLine,
  loadCheckpointFlag,
  loadData,
  trainFlags,
  trainWithConsole,
} from "./console.ts";
import { readCheckpointMeta, restoreTraining } from "./checkpoint.ts";
import {
  defaultConfig,
  type Hw3Config,
  KIND_DEFAULTS,
  MAX_SHIFT,
  SHARED_DEFAULTS,
} from "./config.ts";
import { cnnSizes, describeModel, MODEL_KINDS, PADDINGS } from "./model.ts";
import { writeReport } from "./experiments.ts";
import {
  assertBestCheckpoint,
  assertResumable,
  batches,
  buildRun,
  loadBestCheckpoint,
  VALIDATION_SIZE,
} from "./run.ts";
import {
  epochTable,
  lossPlot,
  type NamedRun,
  resultsTable,
  writePlot,
  writeRunLogs,
} from "./report.ts";

const s = SHARED_DEFAULTS;
const perKind = (what: string, mlp: unknown, cnn: unknown) =>
  `${what} (default: ${mlp} for mlp, ${cnn} for cnn)`;

/** Flags shared by every command. */
const COMMON_FLAGS = {
  backend: flag.choice(
    "compute backend; auto tries blas, then wasm, then ts (default: NN_BACKEND, else auto)",
    BACKEND_CHOICES,
    undefined,
  ),
  dataDir: flag.string("folder with the four MNIST IDX files (.gz or raw)", undefined, {
    valueName: "DIR",
  }),
};

const VALIDATION_HELP =
  "training images held out for validation, taken from the end of the training set";

/** Flags of `deno task hw3 train`. Settings left unset come from `--resume`, else the defaults. */
export const TRAIN_COMMAND = {
  usage: "deno task hw3 train [flags]",
  description: "Train an MLP or a CNN with batch normalization and dropout on MNIST with Adam. " +
    "The first 50,000 training images train, the last 10,000 validate after every epoch; " +
    "last.ckpt is written after every epoch and best.ckpt at each new best validation " +
    "accuracy, whose test accuracy ends the run. With --resume, unset flags take the " +
    "checkpoint's settings and the outputs go to the checkpoint's folder unless --out is set.",
  flags: {
    model: flag.choice("network (default: mlp)", MODEL_KINDS, undefined),
    hidden: flag.positiveInt(`width of the MLP's hidden layer (default: ${s.hidden})`, undefined),
    channels: flag.intList(
      `output channels of the CNN's two convolutions (default: ${s.channels.join(",")})`,
      undefined,
    ),
    kernelSize: flag.positiveInt(
      `odd kernel size of the CNN's convolutions (default: ${s.kernelSize})`,
      undefined,
    ),
    padding: flag.choice(
      "padding of the CNN's convolutions: same keeps the size, valid shrinks it by K − 1 " +
        `(default: ${s.padding})`,
      PADDINGS,
      undefined,
    ),
    dropRate: flag.probability(
      perKind(
        "probability of DROPPING each unit in every dropout layer, below 1 (keep_prob = 1 − rate)",
        KIND_DEFAULTS.mlp.dropRate,
        KIND_DEFAULTS.cnn.dropRate,
      ),
      undefined,
    ),
    shift: flag.nonNegativeInt(
      perKind(
        "move each training image by a random whole number of pixels in [−N, N] along each " +
          "axis, drawn every epoch; 0 turns this augmentation off, and 27 is the maximum for " +
          "28×28 images",
        KIND_DEFAULTS.mlp.shift,
        KIND_DEFAULTS.cnn.shift,
      ),
      undefined,
    ),
    bn: flag.choice(
      "batch normalization after each hidden layer (default: on)",
      ["on", "off"],
      undefined,
    ),
    epochs: flag.positiveInt(
      perKind(
        "epochs in total, counting those before --resume",
        KIND_DEFAULTS.mlp.epochs,
        KIND_DEFAULTS.cnn.epochs,
      ),
      undefined,
    ),
    lr: flag.positiveNumber(`initial learning rate of Adam (default: ${s.lr})`, undefined),
    lrDecay: flag.positiveNumber(
      "factor applied to the learning rate after an epoch whose training loss exceeds the " +
        `largest of the previous three, so from the fourth epoch on (default: ${s.lrDecay})`,
      undefined,
    ),
    batchSize: flag.positiveInt(
      "examples per batch; with batch norm the MLP needs at least 2 in every batch, the last " +
        `one included (default: ${s.batchSize})`,
      undefined,
    ),
    seed: flag.nonNegativeInt(
      `seed of the initialization, shuffles, dropout masks and shifts (default: ${s.seed})`,
      undefined,
    ),
    dispFreq: flag.positiveInt(
      `log the mean training loss every N iterations (default: ${s.dispFreq})`,
      undefined,
    ),
    resume: flag.string(
      "continue the run of this checkpoint: its last.ckpt, or its best.ckpt to continue from " +
        "the best epoch; the run's best.ckpt must be in the same folder",
      undefined,
      { valueName: "PATH" },
    ),
    out: flag.string(
      "folder of the checkpoints, logs, result.json and report.md (default: the folder of " +
        "--resume, else runs/hw3/<model>); with --resume, the run's best.ckpt is copied there",
      undefined,
      { valueName: "DIR" },
    ),
    targetAcc: flag.probability(
      "exit with status 1 when the test accuracy of best.ckpt is below this fraction",
      undefined,
    ),
    validation: flag.positiveInt(`${VALIDATION_HELP} (default: ${VALIDATION_SIZE})`, undefined),
    ...COMMON_FLAGS,
  },
};

/** Flags of `deno task hw3 evaluate`. */
export const EVALUATE_COMMAND = {
  usage: "deno task hw3 evaluate --checkpoint PATH [flags]",
  description: "Score a checkpoint written by `deno task hw3 train` on its validation images " +
    "and on the 10,000 MNIST test images, in evaluation mode (dropout off, batch norm with its " +
    "running statistics).",
  flags: {
    checkpoint: flag.string("checkpoint to score (best.ckpt or last.ckpt)", undefined, {
      valueName: "PATH",
    }),
    targetAcc: flag.probability(
      "exit with status 1 when the test accuracy is below this fraction",
      undefined,
    ),
    validation: flag.positiveInt(
      `${VALIDATION_HELP}, scored before the test set; at most the checkpoint's count, which ` +
        `is the default (usually ${VALIDATION_SIZE})`,
      undefined,
    ),
    ...COMMON_FLAGS,
  },
};

/** Flags of `deno task hw3 report`. */
export const REPORT_COMMAND = {
  usage: "deno task hw3 [report] [flags]\n       deno task hw3 train|evaluate [flags]",
  description: "Run the homework's experiments on MNIST and write hw3.md with its logs and " +
    "plots: the MLP and the CNN with batch normalization and dropout, both without batch " +
    "normalization, a drop-rate sweep on the MLP, the loss of the best checkpoints in each " +
    "layer mode, and a run killed with SIGKILL and resumed. `deno task hw3 train --help` " +
    "and `deno task hw3 evaluate --help` describe the other two commands.",
  flags: {
    epochsMlp: flag.positiveInt(
      "epochs of the MLP with and without batch norm",
      KIND_DEFAULTS.mlp.epochs,
    ),
    epochsCnn: flag.positiveInt("epochs of the CNN", KIND_DEFAULTS.cnn.epochs),
    epochsCnnNoBn: flag.positiveInt(
      "epochs of the CNN without batch norm, at most --epochs-cnn",
      4,
    ),
    epochsSweep: flag.positiveInt(
      "epochs of each run of the MLP's drop-rate sweep, which picks the MLP's rate",
      10,
    ),
    epochsDemo: flag.positiveInt("epochs of the kill-and-resume demonstration (>= 2)", 3),
    seed: flag.nonNegativeInt("seed of every run", s.seed),
    out: flag.string("folder of hw3.md and its hw3/ folder of logs and plots", "reports", {
      valueName: "DIR",
    }),
    runs: flag.string("folder of the runs' checkpoints", "runs/hw3/report", {
      valueName: "DIR",
    }),
    validation: flag.positiveInt(VALIDATION_HELP, VALIDATION_SIZE),
    ...COMMON_FLAGS,
  },
};

/** Return the configuration of `train`: flags, then the checkpoint's settings, then defaults. */
function trainConfig(
  flags: ReturnType<typeof parseFlags<typeof TRAIN_COMMAND.flags>>,
  saved: Hw3Config | undefined,
): Hw3Config {
  const kind = flags.model ?? saved?.kind ?? "mlp";
  const base = saved !== undefined && saved.kind === kind ? saved : defaultConfig(kind);
  if (flags.channels !== undefined && flags.channels.length !== 2) {
    throw new UsageError(
      `Invalid --channels ${flags.channels.join(",")}: expected two channel counts, e.g. 32,64`,
    );
  }
  if (flags.kernelSize !== undefined && flags.kernelSize % 2 === 0) {
    throw new UsageError(
      `Invalid --kernel-size ${flags.kernelSize}: expected an odd size such as 3 or 5`,
    );
  }
  if (flags.dropRate !== undefined && flags.dropRate >= 1) {
    throw new UsageError(`Invalid --drop-rate ${flags.dropRate}: expected a value below 1`);
  }
  if (flags.shift !== undefined && flags.shift > MAX_SHIFT) {
    throw new UsageError(
      `Invalid --shift ${flags.shift}: expected an integer from 0 to ${MAX_SHIFT}, because a ` +
        "larger shift would move every pixel out of the 28×28 image",
    );
  }
  return {
    kind,
    hidden: flags.hidden ?? base.hidden,
    channels: flags.channels !== undefined
      ? [flags.channels[0], flags.channels[1]]
      : [...base.channels],
    kernelSize: flags.kernelSize ?? base.kernelSize,
    padding: flags.padding ?? base.padding,
    dropRate: flags.dropRate ?? base.dropRate,
    batchNorm: flags.bn === undefined ? base.batchNorm : flags.bn === "on",
    shift: flags.shift ?? base.shift,
    epochs: flags.epochs ?? base.epochs,
    lr: flags.lr ?? base.lr,
    lrDecay: flags.lrDecay ?? base.lrDecay,
    batchSize: flags.batchSize ?? base.batchSize,
    seed: flags.seed ?? base.seed,
    dispFreq: flags.dispFreq ?? base.dispFreq,
    validation: flags.validation ?? base.validation,
  };
}

/** Check that the CNN's kernel leaves at least one pixel after pool2. */
function assertCnnFits(config: Hw3Config): void {
  if (config.kind !== "cnn" || cnnSizes(config)[3] >= 1) return;
  let largest = 1;
  while (cnnSizes({ ...config, kernelSize: largest + 2 })[3] >= 1) largest += 2;
  const stages = ["conv1", "pool1", "conv2", "pool2"];
  const sizes = cnnSizes(config);
  const empty = sizes.findIndex((size) => size < 1);
  const before = empty === 0 ? "at the input" : `after ${stages[empty - 1]}`;
  const size = empty === 0 ? 28 : sizes[empty - 1];
  throw new UsageError(
    `Invalid --kernel-size ${config.kernelSize} with --padding ${config.padding}: the images ` +
      `are ${size}×${size} ${before}, which leaves no pixel after ${stages[empty]}`,
    { hint: `Pass --kernel-size ${largest} or less, or --padding same.` },
  );
}

async function trainCommand(args: string[]): Promise<number> {
  // Check the flags, the checkpoint and the output folder before anything prints.
  const flags = parseFlags(TRAIN_COMMAND, args);
  const resume = flags.resume === undefined
    ? undefined
    : await loadCheckpointFlag("--resume", flags.resume);
  const saved = resume === undefined ? undefined : readCheckpointMeta(resume).config;
  const config = trainConfig(flags, saved);
  if (resume !== undefined) assertResumable(resume, config);
  assertCnnFits(config);
  const out = flags.out ??
    (flags.resume === undefined ? join("runs", "hw3", config.kind) : dirname(flags.resume));
  await prepareOutputFolder(out, "--out");
  if (resume !== undefined && flags.resume !== undefined) {
    await copyBestCheckpoint(resume, dirname(flags.resume), out);
  }
  const backend = await createBackend(flags.backend);
  console.log(configBlock({
    command: commandLine(),
    network: describeModel(config),
    shift: config.shift === 0 ? "none" : `random, up to ${config.shift} px along each axis`,
    epochs: config.epochs,
    lr: config.lr,
    lrDecay: config.lrDecay,
    batchSize: config.batchSize,
    seed: config.seed,
    resume: flags.resume,
    out,
    backend: backend.description,
  }));
  const { data, source } = await loadData({
    dataDir: flags.dataDir,
    validation: config.validation,
  });
  console.log(`data:    ${source}\n`);
  assertBatchesFitBatchNorm(config, data.train.labels.length);

  const result = await trainWithConsole(backend, data, config, config.kind, out, resume);
  const run: NamedRun = {
    name: config.kind,
    label: config.kind.toUpperCase(),
    command: ["deno task hw3 train", ...trainFlags(config)].join(" "),
    result,
  };
  await writeRunLogs(out, run);
  await writeFileAtomic(join(out, "result.json"), JSON.stringify(result, null, 2) + "\n");
  const plot = await writePlot(out, "loss.svg", lossPlot([run], "Training and validation loss"));
  await writeFileAtomic(
    join(out, "report.md"),
    [
      `# HW3 run: ${describeModel(config)}`,
      "",
      `Command: \`${commandLine()}\`; seed ${config.seed}; backend ${backend.description}; ` +
      `data ${source}; ${new Date().toISOString()}.`,
      "",
      resultsTable([run]),
      "",
      `![training and validation loss](${plot})`,
      "",
      epochTable(result),
      "",
    ].join("\n"),
  );
  console.log(`\nreport: ${join(out, "report.md")}`);
  return checkTarget(flags.targetAcc, result.testAcc);
}

/**
 * Copy the best checkpoint of the resumed run from `from` to `out`, through a temporary file and
 * a rename, so that the test score of a run moved to another folder still comes from its own
 * best epoch. Nothing is copied when `out` is `from`.
 *
 * @throws {CheckpointError} when the run has a best epoch but `from` has no best.ckpt of it
 */
async function copyBestCheckpoint(resume: Checkpoint, from: string, out: string): Promise<void> {
  if (await samePath(from, out)) return;
  if (readCheckpointMeta(resume).training.bestEpoch === 0) return;
  const best = await loadBestCheckpoint(join(from, "best.ckpt"), resume);
  assertBestCheckpoint(best, resume);
  await writeFileAtomic(join(out, "best.ckpt"), await Deno.readFile(best.path));
}

/** Return whether two existing folders are the same, following symbolic links. */
async function samePath(a: string, b: string): Promise<boolean> {
  return await Deno.realPath(a) === await Deno.realPath(b);
}

async function evaluateCommand(args: string[]): Promise<number> {
  const flags = parseFlags(EVALUATE_COMMAND, args);
  if (flags.checkpoint === undefined) {
    throw new UsageError(
      "Missing --checkpoint: write --checkpoint PATH, e.g. runs/hw3/mlp/best.ckpt",
    );
  }

  // Rebuild the network that the checkpoint describes and load its weights.
  const checkpoint = await loadCheckpointFlag("--checkpoint", flags.checkpoint);
  const { config, training } = readCheckpointMeta(checkpoint);
  if (flags.validation !== undefined && flags.validation > config.validation) {
    throw new UsageError(
      `Invalid --validation ${flags.validation}: the checkpoint's run held out only the last ` +
        `${config.validation} training images and trained on the others, so they would count ` +
        "as validation images",
      { hint: `Pass --validation ${config.validation} or less, or leave it unset.` },
    );
  }
  const backend = await createBackend(flags.backend);
  const parts = buildRun(backend, config);
  restoreTraining(checkpoint, parts.model, parts.optimizer, parts.rng);
  console.log(configBlock({
    checkpoint: flags.checkpoint,
    network: describeModel(config),
    epoch: training.epoch,
    valAcc: formatPercent(training.epochs[training.epoch - 1]?.valAcc ?? NaN),
    backend: backend.description,
  }));

  // Score it in evaluation mode on the validation images, then on the test images.
  const validation = flags.validation ?? config.validation;
  const { data, source } = await loadData({ ...flags, validation });
  console.log(`data:       ${source}\n`);
  const validated = evaluate({
    model: parts.model,
    loss: parts.loss,
    data: batches(backend, data.val, config.batchSize),
  });
  console.log(
    `validation accuracy ${formatPercent(validated.acc)} (loss ${
      formatNumber(validated.loss)
    }) on the last ${validated.count} training images`,
  );
  const tested = evaluate({
    model: parts.model,
    loss: parts.loss,
    data: batches(backend, data.test, config.batchSize),
  });
  console.log(
    `test accuracy ${formatPercent(tested.acc)} (loss ${formatNumber(tested.loss)}) on ` +
      `${tested.count} images`,
  );
  return checkTarget(flags.targetAcc, tested.acc);
}

function checkTarget(target: number | undefined, acc: number): number {
  if (target === undefined) return 0;
  if (!(acc >= target)) {
    throw new UserError(
      `Test accuracy ${formatPercent(acc)} is below --target-acc ${formatPercent(target)}`,
    );
  }
  console.log(`target accuracy ${formatPercent(target)} reached`);
  return 0;
}

async function reportCommand(args: string[]): Promise<number> {
  const flags = parseFlags(REPORT_COMMAND, args);
  if (flags.epochsDemo < 2) {
    throw new UsageError(
      `Invalid --epochs-demo ${flags.epochsDemo}: the run is killed during epoch 2, so it needs 2 or more`,
    );
  }
  const backend = await createBackend(flags.backend);
  console.log(configBlock({
    command: commandLine(),
    epochsMlp: flags.epochsMlp,
    epochsCnn: flags.epochsCnn,
    epochsCnnNoBn: flags.epochsCnnNoBn,
    epochsSweep: flags.epochsSweep,
    epochsDemo: flags.epochsDemo,
    seed: flags.seed,
    out: flags.out,
    runs: flags.runs,
    backend: backend.description,
  }));
  await writeReport(backend, flags);
  return 0;
}

async function main(): Promise<number> {
  const [command, ...rest] = Deno.args;
  switch (command) {
    case "train":
      return await trainCommand(rest);
    case "evaluate":
      return await evaluateCommand(rest);
    case "report":
      return await reportCommand(rest);
    default:
      if (command !== undefined && !command.startsWith("-")) {
        throw new UsageError(
          `Unknown command ${JSON.stringify(command)}: expected report, train or evaluate`,
        );
      }
      return await reportCommand(Deno.args);
  }
}

if (import.meta.main) await runMain(main);
