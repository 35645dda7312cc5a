/**
 * `deno task hw2`: train the course's skeleton CNN and the tuned CNN on MNIST, compare them with
 * the HW1 MLP, draw the first convolution layer's feature maps, and write `reports/hw2.md`.
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
  formatDuration,
  formatNumber,
  formatPercent,
  loadMnist,
  markdownTable,
  normalizeImages,
  parseFlags,
  Progress,
  runMain,
  UsageError,
  UserError,
  writeFileAtomic,
} from "@nn/core";
import { describeCnn, MODEL_NAMES, type ModelName } from "./model.ts";
import { SCHEDULES } from "./optim.ts";
import {
  defaultConfig,
  firstLayerMaps,
  type Hw2Config,
  type Hw2Data,
  NETWORK_DEFAULTS,
  type NetworkName,
  runNetwork,
  SHARED_DEFAULTS,
} from "./run.ts";
import {
  type Baseline,
  type ComparisonRow,
  comparisonTable,
  epochTable,
  featureMapPicture,
  headerLines,
  MLP_PARAMETERS,
  type NamedRun,
  parseEpochsCsv,
  writePlots,
  writeRunLogs,
} from "./report.ts";

const s = NETWORK_DEFAULTS.skeleton, t = NETWORK_DEFAULTS.tuned;
const perNetwork = (what: string, skeleton: unknown, tuned: unknown) =>
  `${what} (default: ${skeleton} for skeleton, ${tuned} for tuned)`;

/** Flags of `deno task hw2`. */
export const COMMAND = {
  usage: "deno task hw2 [flags]",
  description: "Train CNNs on MNIST (60,000 train / 10,000 test images) with momentum SGD, " +
    "compare them with the HW1 MLP and write a report with the first convolution layer's " +
    "feature maps. The defaults train the course's skeleton network and the tuned network.",
  flags: {
    model: flag.choice("networks to train", [...MODEL_NAMES, "both"], "both"),
    epochs: flag.positiveInt(
      perNetwork("passes over the training set", s.epochs, t.epochs),
      undefined,
    ),
    lr: flag.positiveNumber(perNetwork("learning rate of the first step", s.lr, t.lr), undefined),
    schedule: flag.choice(
      perNetwork("learning-rate schedule over the run", s.schedule, t.schedule),
      SCHEDULES,
      undefined,
    ),
    momentum: flag.probability("momentum of SGD, below 1", SHARED_DEFAULTS.momentum),
    weightDecay: flag.nonNegativeNumber(
      perNetwork("weight decay (L2 coefficient)", s.weightDecay, t.weightDecay),
      undefined,
    ),
    batchSize: flag.positiveInt("examples per batch", SHARED_DEFAULTS.batchSize),
    initStd: flag.positiveNumber(
      "standard deviation of every initial weight (default: He, √(2 / fan-in) per layer)",
      undefined,
    ),
    seed: flag.nonNegativeInt("random seed of initialization and shuffling", SHARED_DEFAULTS.seed),
    dispFreq: flag.positiveInt(
      "log the mean loss and accuracy every N iterations",
      SHARED_DEFAULTS.dispFreq,
    ),
    baseline: flag.choice(
      "HW1 MLP numbers: auto reads --baseline-csv when it exists and trains the MLP otherwise",
      ["auto", "train", "none"],
      "auto",
    ),
    baselineCsv: flag.string(
      "epochs CSV log of the HW1 MLP 784-512-512-10 ReLU softmax run",
      "reports/hw1/2-relu-softmax-epochs.csv",
      { valueName: "FILE" },
    ),
    backend: flag.choice(
      "compute backend; auto tries blas, then wasm, then ts (default: NN_BACKEND, else auto)",
      BACKEND_CHOICES,
      undefined,
    ),
    dataDir: flag.string("folder with the four MNIST IDX files (.gz or raw)", undefined, {
      valueName: "DIR",
    }),
    out: flag.string(
      "output folder of hw2.md and its hw2/ folder of logs and pictures",
      "reports",
      {
        valueName: "DIR",
      },
    ),
    targetAcc: flag.probability(
      "exit with status 1 when a CNN's final test accuracy is below this fraction",
      undefined,
    ),
  },
};

type Flags = ReturnType<typeof parseFlags<typeof COMMAND.flags>>;

/** Return the configuration of `network`: its defaults, overridden by the flags given. */
export function configFor(network: NetworkName, flags: Flags): Hw2Config {
  const d = defaultConfig(network);
  return {
    network,
    epochs: flags.epochs ?? d.epochs,
    lr: flags.lr ?? d.lr,
    momentum: flags.momentum,
    weightDecay: flags.weightDecay ?? d.weightDecay,
    batchSize: flags.batchSize,
    initStd: flags.initStd ?? d.initStd,
    schedule: flags.schedule ?? d.schedule,
    seed: flags.seed,
    dispFreq: flags.dispFreq,
  };
}

const LABELS: Record<NetworkName, string> = {
  skeleton: "skeleton CNN",
  tuned: "tuned CNN",
  mlp: "HW1 MLP",
};

async function loadData(dataDir: string | undefined): Promise<{ data: Hw2Data; source: string }> {
  const mnist = await loadMnist({ dataDir });
  return {
    source: mnist.source,
    data: {
      trainImages: normalizeImages(mnist.train.images),
      trainLabels: mnist.train.labels,
      testImages: normalizeImages(mnist.test.images),
      testLabels: mnist.test.labels,
    },
  };
}

/** Train one configuration with a progress bar and a line per epoch; return the named run. */
function trainWithProgress(backend: Backend, data: Hw2Data, config: Hw2Config): NamedRun {
  const label = LABELS[config.network];
  const perEpoch = Math.ceil(data.trainLabels.length / config.batchSize);
  const display: NamedRun["display"] = [];
  const progress = new Progress({ total: perEpoch * config.epochs, label });
  const result = runNetwork(backend, data, config, {
    onIteration: (record, epoch) => {
      progress.update(
        record.iteration,
        `epoch ${epoch}/${config.epochs} loss ${formatNumber(record.loss)}`,
      );
    },
    onDisplay: (record, epoch) => display.push({ ...record, epoch }),
    onEpoch: (e) => {
      // Erase the bar on a terminal so the epoch line starts clean; the next update redraws it.
      if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
      console.log(
        `${label} | epoch ${String(e.epoch).padStart(2)}/${config.epochs}  ` +
          `train loss ${formatNumber(e.trainLoss)} acc ${formatPercent(e.trainAcc)}  ` +
          `test loss ${formatNumber(e.testLoss)} acc ${formatPercent(e.testAcc)}  ` +
          formatDuration(e.seconds),
      );
    },
  });
  progress.done();
  if (result.diverged) {
    console.log(`${label} | diverged: the loss became NaN or infinite; training stopped there`);
  }
  return { name: config.network, label, result, display };
}

/** Return the HW1 MLP's numbers from its CSV log, or train it, or null for `--baseline none`. */
async function loadBaseline(
  flags: Flags,
  backend: Backend,
  data: Hw2Data,
  runs: NamedRun[],
): Promise<Baseline | null> {
  if (flags.baseline === "none") return null;
  if (flags.baseline === "auto") {
    try {
      const epochs = parseEpochsCsv(await Deno.readTextFile(flags.baselineCsv));
      return {
        label: LABELS.mlp,
        source: `\`${flags.baselineCsv}\` (the HW1 report's run)`,
        parameters: MLP_PARAMETERS,
        epochs,
      };
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new UserError(`Cannot read --baseline-csv ${flags.baselineCsv}: ${error}`);
      }
      console.log(`${flags.baselineCsv} not found: training the HW1 MLP for the comparison`);
    }
  }
  const config = { ...defaultConfig("mlp"), seed: flags.seed, batchSize: flags.batchSize };
  const run = trainWithProgress(backend, data, config);
  runs.push(run);
  return {
    label: LABELS.mlp,
    source: `trained by this command with the \`deno task hw1\` defaults (lr ${config.lr}, ` +
      `momentum ${config.momentum}, weight decay ${config.weightDecay}, init std ` +
      `${config.initStd}, ${config.epochs} epochs)`,
    parameters: run.result.parameters,
    epochs: run.result.epochs,
  };
}

/** Return the first `count` test images whose labels differ from each other, as `[count, 784]`. */
export function distinctDigits(
  data: Hw2Data,
  count: number,
): { images: Float32Array; labels: number[] } {
  const chosen: number[] = [];
  const labels: number[] = [];
  for (let i = 0; i < data.testLabels.length && chosen.length < count; i++) {
    if (labels.includes(data.testLabels[i])) continue;
    chosen.push(i);
    labels.push(data.testLabels[i]);
  }
  const images = new Float32Array(chosen.length * 784);
  chosen.forEach((example, row) => {
    images.set(data.testImages.subarray(example * 784, (example + 1) * 784), row * 784);
  });
  return { images, labels };
}

/** Return `deno task hw2` with the given arguments, but `--model` set to `model`. */
export function reproduceCommand(args: readonly string[], model: ModelName): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--model") {
      i++;
      continue;
    }
    if (args[i].startsWith("--model=")) continue;
    kept.push(args[i]);
  }
  return ["deno task hw2", "--model", model, ...kept].join(" ");
}

/** Return a markdown file without its `#` title line, or null when the file does not exist. */
async function readTableBody(path: string): Promise<string | null> {
  try {
    const text = await Deno.readTextFile(path);
    return text.replace(/^# .*\n+/, "").trim();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

function hyperparameterTable(runs: readonly NamedRun[]): string {
  return markdownTable(
    ["network", "epochs", "lr", "schedule", "momentum", "weight decay", "batch", "init"],
    runs.map(({ label, result: { config } }) => [
      label,
      config.epochs,
      config.lr,
      config.schedule,
      config.momentum,
      config.weightDecay,
      config.batchSize,
      config.initStd === undefined ? "He, √(2 / fan-in)" : `normal, std ${config.initStd}`,
    ]),
    ["left"],
  );
}

async function main(): Promise<number> {
  const flags = parseFlags(COMMAND, Deno.args);
  if (flags.momentum >= 1) {
    throw new UsageError(`Invalid --momentum ${flags.momentum}: expected a value below 1`);
  }
  const models: ModelName[] = flags.model === "both" ? [...MODEL_NAMES] : [flags.model];
  const configs = models.map((model) => configFor(model, flags));
  const backend = await createBackend(flags.backend);
  const command = ["deno task hw2", ...Deno.args].join(" ");
  console.log(configBlock({
    command,
    networks: models.join(", "),
    epochs: configs.map((c) => c.epochs).join(", "),
    lr: configs.map((c) => c.lr).join(", "),
    schedule: configs.map((c) => c.schedule).join(", "),
    momentum: flags.momentum,
    weightDecay: configs.map((c) => c.weightDecay).join(", "),
    batchSize: flags.batchSize,
    initStd: flags.initStd ?? "He",
    seed: flags.seed,
    backend: backend.description,
    out: flags.out,
    targetAcc: flags.targetAcc,
  }));

  const { data, source } = await loadData(flags.dataDir);
  console.log(`data:    ${source}\n`);

  // Train, then write each network's logs and feature-map picture.
  const logs = join(flags.out, "hw2");
  const digits = distinctDigits(data, 4);
  const runs: NamedRun[] = [];
  const pictures: { run: NamedRun; file: string; predicted: number[] }[] = [];
  for (const config of configs) {
    const run = trainWithProgress(backend, data, config);
    runs.push(run);
    await writeRunLogs(logs, run);
    const maps = firstLayerMaps(backend, run.result.model, digits.images);
    const channels = maps.maps.shape[1];
    const file = `${run.name}-conv1-maps.png`;
    await writeFileAtomic(
      join(logs, file),
      featureMapPicture(maps, {
        mapsPerRow: Math.min(channels, 16),
        scale: channels <= 8 ? 4 : 2,
      }),
    );
    pictures.push({ run, file, predicted: maps.predicted });
  }
  const cnnRuns = [...runs];
  const baseline = await loadBaseline(flags, backend, data, runs);
  if (runs.length > cnnRuns.length) await writeRunLogs(logs, runs[runs.length - 1]);

  // The report.
  const plots = await writePlots(logs, cnnRuns, baseline);
  const rows: ComparisonRow[] = cnnRuns.map((run) => ({
    label: run.label,
    layers: describeCnn(run.name as ModelName),
    parameters: run.result.parameters,
    epochs: run.result.epochs,
    command: `\`${reproduceCommand(Deno.args, run.name as ModelName)}\``,
  }));
  if (baseline !== null) {
    rows.push({
      label: baseline.label,
      layers: "Linear 784→512, ReLU, Linear 512→512, ReLU, Linear 512→10",
      parameters: baseline.parameters,
      epochs: baseline.epochs,
      command: baseline.source,
    });
  }
  const speed = await readTableBody(join(logs, "numpy-comparison.md"));
  const pictureSections = pictures.flatMap(({ run, file, predicted }) => [
    `### ${run.label}`,
    "",
    `![first convolution layer of the ${run.label} after ReLU](hw2/${file})`,
    "",
    `Rows from top: ${
      digits.labels.map((label, i) => `digit ${label} (predicted ${predicted[i]})`).join(", ")
    }. The first column is the input image; the others are the ${
      run.result.model.layers[0].params()[0].value.shape[0]
    } channels of conv1 after ReLU${
      run.name === "tuned" ? ", 16 per picture row, so each digit takes two rows" : ""
    }.`,
    "",
  ]);
  const report = [
    headerLines({
      title: "HW2: convolutional networks on MNIST",
      command,
      seed: flags.seed,
      backend: backend.description,
      dataSource: source,
      date: new Date().toISOString(),
    }),
    "The CNNs are trained with softmax cross-entropy and momentum SGD on the " +
    `${data.trainLabels.length.toLocaleString("en-US")} training images and tested on the ` +
    `${data.testLabels.length.toLocaleString("en-US")} test images after every epoch. ` +
    "Pixels are scaled as " +
    "(p − 128) / 255. Convolution is cross-correlation computed as im2col plus one matrix " +
    "product; average pooling counts padded zeros.",
    "",
    "## Results",
    "",
    comparisonTable(rows),
    "",
    "Test accuracy is that of the last epoch. Time per epoch is the median wall time of an " +
    "epoch's training, without the test pass, on the backend above. A 2018 student solution " +
    "of this homework reached 97.31% with the skeleton network and 98.38% with its own " +
    "tuned network.",
    "",
    "## Curves",
    "",
    `![training loss](hw2/${plots.loss})`,
    "",
    `![training accuracy](hw2/${plots.trainAcc})`,
    "",
    `![test accuracy](hw2/${plots.testAcc})`,
    "",
    "## What the first convolution layer sees",
    "",
    "Each picture shows four test digits of different classes and the output of the first " +
    "convolution layer after ReLU. Black is 0, and each channel is scaled to its largest value " +
    "over the four digits, so one channel's maps compare across digits. A map that is bright " +
    "along one side of every stroke comes from an edge detector of one orientation; a map with " +
    "a bright background and dark strokes comes from a filter that responds to the absence of " +
    "ink. Because pixels are scaled to (p − 128) / 255, the background is not 0 but −0.5, so " +
    "the background of a map is the response to a uniform −0.5 patch.",
    "",
    ...pictureSections,
    "## Speed",
    "",
    "`deno task compare:numpy-cnn --out reports/hw2/numpy-comparison.md` times one epoch of the " +
    "skeleton network on this engine and in NumPy (`scripts/numpy_cnn_epoch.py`, also im2col) " +
    "on the same machine, one after the other.",
    "",
    ...(speed === null ? ["That table has not been written yet.", ""] : [speed, ""]),
    "## Hyperparameters",
    "",
    hyperparameterTable(cnnRuns),
    "",
    "The cosine schedule lowers the learning rate after every batch, as " +
    "lr · ½(1 + cos(π·t / T)) for step t of T.",
    "",
    "## Epochs",
    "",
    ...cnnRuns.flatMap((run) => [`### ${run.label}`, "", epochTable(run.result.epochs), ""]),
    "## Logs",
    "",
    "Each run's CSV logs are in `hw2/`: `<network>-train.csv` holds the mean loss and accuracy " +
    `of every ${flags.dispFreq} iterations, \`<network>-epochs.csv\` one row per epoch.`,
    "",
  ].join("\n");
  await writeFileAtomic(join(flags.out, "hw2.md"), report);
  console.log(`\nreport: ${join(flags.out, "hw2.md")}`);

  if (flags.targetAcc !== undefined) {
    for (const run of cnnRuns) {
      const acc = Number.isNaN(run.result.testAcc) ? 0 : run.result.testAcc;
      if (!(acc >= flags.targetAcc)) {
        throw new UserError(
          `Test accuracy of the ${run.label} ${formatPercent(acc)} is below --target-acc ${
            formatPercent(flags.targetAcc)
          }`,
        );
      }
    }
    console.log(`target accuracy ${formatPercent(flags.targetAcc)} reached`);
  }
  return 0;
}

if (import.meta.main) await runMain(main);
