/**
 * `deno task hw4`: 5-class sentence sentiment on the Stanford Sentiment Treebank with
 * recurrent networks, and its report.
 *
 * - Default: the report. It trains one-layer RNN, GRU and LSTM classifiers on the last state (the
 *   cell comparison), then the final network from the flags. It writes `hw4.md`, CSV logs, SVG
 *   curves and the final network's test predictions into `--out` (default `reports`).
 * - `--single`: one run with the flags' configuration, its report in `--out` (default
 *   `runs/hw4`); `--resume` continues it from a `last.ckpt`.
 * - `--predict CKPT`: load a checkpoint and write one predicted label per test sentence.
 *
 * Every run writes `last.ckpt` after each epoch and `best.ckpt` at its best dev accuracy into
 * `--checkpoints/<run>`.
 *
 * @module
 */

import { dirname, join, resolve } from "node:path";
import {
  type Backend,
  BACKEND_CHOICES,
  type Checkpoint,
  CheckpointError,
  configBlock,
  createBackend,
  flag,
  formatDuration,
  formatNumber,
  formatPercent,
  markdownTable,
  parseFlags,
  prepareOutputFolder,
  Progress,
  restoreParams,
  Rng,
  runMain,
  UsageError,
  UserError,
  writeFileAtomic,
} from "@nn/core";
import { type Hw4Checkpoint, readHw4Checkpoint } from "./checkpoint.ts";
import { encodeSentences, prepareData, type PreparedData } from "./data.ts";
import {
  belowOneFlag,
  DEFAULT_EMBEDDING_SIZE,
  DEFAULT_VOCAB_SIZE,
  parseDecayFactor,
  resolveConfig,
  type RunSettings,
  TRAINING_SETS,
  vocabSizeFlag,
} from "./flags.ts";
import { POOLINGS, SentimentNetwork } from "./model.ts";
import { CELLS } from "./recurrent.ts";
import {
  describeNetwork,
  epochTable,
  type NamedRun,
  resultsTable,
  writeComparisonPlots,
  writeRunLogs,
  writeRunPlots,
} from "./report.ts";
import {
  bestRecord,
  DEFAULT_CONFIG,
  evaluate,
  type Hw4Config,
  PHRASE_BUCKET_BATCHES,
  runTraining,
} from "./run.ts";
import { loadSst, type Sst } from "./sst.ts";
import type { Vocabulary } from "./vocab.ts";

export { TRAINING_SETS } from "./flags.ts";

const d = DEFAULT_CONFIG;

/** Folder of the runs' checkpoints when `--checkpoints` is not given. */
const DEFAULT_CHECKPOINTS = "runs/hw4";

/** Settings of the report's cell comparison when its flags are unset. */
const COMPARE_DEFAULTS = Object.freeze({ epochs: 3, hidden: 150, lr: 0.01 });

/** Flags of `deno task hw4`. */
export const COMMAND = {
  usage: "deno task hw4 [flags]",
  description: "Classify the sentences of the Stanford Sentiment Treebank into 5 sentiment " +
    "classes with recurrent networks written by hand. Without --single or --predict, run the " +
    "cell comparison (one-layer RNN, GRU, LSTM) and the final network and write hw4.md.",
  flags: {
    dataDir: flag.string(
      "SST source: a folder with train/dev/test.txt (raw or .gz) or trainDevTestTrees_PTB.zip, " +
        "or the zip (default: the download cache)",
      undefined,
      { valueName: "PATH" },
    ),
    embeddings: flag.string(
      "pretrained word vectors in GloVe text format, raw or .gz (default: random vectors)",
      undefined,
      { valueName: "PATH" },
    ),
    embeddingSize: flag.positiveInt(
      `features of random embeddings, without --embeddings (default: ${DEFAULT_EMBEDDING_SIZE})`,
      undefined,
    ),
    vocabSize: vocabSizeFlag(
      "largest vocabulary, _PAD and _UNK included, at least 3 " +
        `(default: ${DEFAULT_VOCAB_SIZE})`,
      undefined,
    ),
    freezeEmbeddings: flag.boolean("keep the embedding table fixed during training"),
    trainOn: flag.choice(
      "training examples. phrases: every distinct labeled phrase of the training trees, whole " +
        "sentences included. sentences: only each tree's root label and leaves. The " +
        "vocabulary, dev and test are the same either way " +
        `(default: ${d.trainPhrases ? "phrases" : "sentences"})`,
      TRAINING_SETS,
      undefined,
    ),
    cell: flag.choice(`recurrent cell (default: ${d.cell})`, CELLS, undefined),
    hidden: flag.positiveInt(`hidden units per direction (default: ${d.hidden})`, undefined),
    layers: flag.positiveInt(`stacked recurrent layers (default: ${d.layers})`, undefined),
    direction: flag.choice(
      "read each sentence both ways or forward only (default: bi)",
      ["bi", "uni"],
      undefined,
    ),
    pooling: flag.choice(
      `sentence vector: structured self-attention or the last state (default: ${d.pooling})`,
      POOLINGS,
      undefined,
    ),
    attentionHidden: flag.positiveInt(
      `attention hidden units d_a (default: ${d.attentionHidden})`,
      undefined,
    ),
    attentionHops: flag.positiveInt(`attention hops r (default: ${d.attentionHops})`, undefined),
    penalty: flag.nonNegativeNumber(
      `weight of the attention penalty ‖AAᵀ − I‖²_F (default: ${d.penalty})`,
      undefined,
    ),
    dropout: belowOneFlag(
      `dropout rate on embeddings and sentence vector, below 1 (default: ${d.dropout})`,
    ),
    epochs: flag.positiveInt(
      `passes over the training set, counting those before --resume (default: ${d.epochs})`,
      undefined,
    ),
    lr: flag.positiveNumber(`learning rate of the first epoch (default: ${d.lr})`, undefined),
    lrDecay: {
      ...flag.positiveNumber(
        "factor in (0, 1] applied to the learning rate after each epoch " +
          `(default: ${d.lrDecay})`,
        undefined,
      ),
      parse: parseDecayFactor,
    },
    momentum: belowOneFlag(`momentum, below 1; 0 for plain SGD (default: ${d.momentum})`),
    clipNorm: flag.nonNegativeNumber(
      `global gradient-norm bound; 0 turns clipping off (default: ${d.clipNorm})`,
      undefined,
    ),
    batchSize: flag.positiveInt(
      "training examples per batch: phrases or sentences, as --train-on sets " +
        `(default: ${d.batchSize})`,
      undefined,
    ),
    seed: flag.nonNegativeInt(
      `random seed of initialization, shuffling and dropout (default: ${d.seed})`,
      undefined,
    ),
    dispFreq: flag.positiveInt(
      `log the mean training loss every N iterations (default: ${d.dispFreq})`,
      undefined,
    ),
    compareEpochs: flag.positiveInt(
      `epochs of each run of the cell comparison (default: ${COMPARE_DEFAULTS.epochs})`,
      undefined,
    ),
    compareHidden: flag.positiveInt(
      `hidden units of the cell comparison's networks (default: ${COMPARE_DEFAULTS.hidden})`,
      undefined,
    ),
    compareLr: flag.positiveNumber(
      `learning rate of the cell comparison's networks (default: ${COMPARE_DEFAULTS.lr})`,
      undefined,
    ),
    backend: flag.choice(
      "compute backend; auto tries blas, then wasm, then ts (default: NN_BACKEND, else auto)",
      BACKEND_CHOICES,
      undefined,
    ),
    out: flag.string(
      "output folder (default: reports, or runs/hw4 with --single)",
      undefined,
      { valueName: "DIR" },
    ),
    checkpoints: flag.string(
      "folder of each run's checkpoints (default: runs/hw4; with --resume, the resumed " +
        "checkpoint's run keeps writing beside it)",
      undefined,
      { valueName: "DIR" },
    ),
    targetAcc: flag.probability(
      "exit with status 1 when the best dev accuracy of the final or single run is below this",
      undefined,
    ),
    single: flag.boolean("train one network with the flags above instead of the full report"),
    resume: flag.string(
      "with --single: continue from this last.ckpt; unset flags take the checkpoint's settings",
      undefined,
      { valueName: "CKPT" },
    ),
    predict: flag.string(
      "load this checkpoint and write one predicted label per test sentence to --result",
      undefined,
      { valueName: "CKPT" },
    ),
    result: flag.string("predictions file of --predict", "result.txt", { valueName: "PATH" }),
  },
};

type Flags = ReturnType<typeof parseFlags<typeof COMMAND.flags>>;

/** Settings of the cell comparison that its flags override. */
interface CompareSettings {
  epochs: number;
  hidden: number;
  lr: number;
}

/** Return the cell comparison's settings: the flags given, else {@linkcode COMPARE_DEFAULTS}. */
function compareSettings(flags: Flags): CompareSettings {
  return {
    epochs: flags.compareEpochs ?? COMPARE_DEFAULTS.epochs,
    hidden: flags.compareHidden ?? COMPARE_DEFAULTS.hidden,
    lr: flags.compareLr ?? COMPARE_DEFAULTS.lr,
  };
}

/** Flags that `--predict` rejects (training and report flags), by their command-line names. */
const NOT_PREDICT_FLAGS: readonly [keyof Flags, string][] = [
  ["single", "--single"],
  ["resume", "--resume"],
  ["embeddings", "--embeddings"],
  ["embeddingSize", "--embedding-size"],
  ["vocabSize", "--vocab-size"],
  ["freezeEmbeddings", "--freeze-embeddings"],
  ["trainOn", "--train-on"],
  ["cell", "--cell"],
  ["hidden", "--hidden"],
  ["layers", "--layers"],
  ["direction", "--direction"],
  ["pooling", "--pooling"],
  ["attentionHidden", "--attention-hidden"],
  ["attentionHops", "--attention-hops"],
  ["penalty", "--penalty"],
  ["dropout", "--dropout"],
  ["epochs", "--epochs"],
  ["lr", "--lr"],
  ["lrDecay", "--lr-decay"],
  ["momentum", "--momentum"],
  ["clipNorm", "--clip-norm"],
  ["batchSize", "--batch-size"],
  ["seed", "--seed"],
  ["dispFreq", "--disp-freq"],
  ["targetAcc", "--target-acc"],
  ["out", "--out"],
  ["checkpoints", "--checkpoints"],
  ["compareEpochs", "--compare-epochs"],
  ["compareHidden", "--compare-hidden"],
  ["compareLr", "--compare-lr"],
];

/** Return the given flags that `--predict` rejects. */
function givenNonPredictFlags(flags: Flags): string[] {
  return NOT_PREDICT_FLAGS
    .filter(([key]) => flags[key] !== undefined && flags[key] !== false)
    .map(([, name]) => name);
}

/** Return the runs of the cell comparison: one-layer, one-direction, last-state classifiers. */
export function compareConfigs(
  base: Hw4Config,
  epochs: number,
  hidden: number,
  lr: number,
): { name: string; label: string; config: Hw4Config }[] {
  return CELLS.map((cell) => ({
    name: `compare-${cell}`,
    label: { rnn: "BasicRNN", gru: "GRU", lstm: "LSTM" }[cell],
    config: {
      ...base,
      cell,
      hidden,
      layers: 1,
      bidirectional: false,
      pooling: "last",
      epochs,
      lr,
      lrDecay: 1,
    },
  }));
}

function commandLine(): string {
  return ["deno task hw4", ...Deno.args].join(" ");
}

/**
 * Load SST and prepare the vocabulary, ids and embeddings. A resumed run passes its checkpoint,
 * whose vocabulary and embedding size it uses. The prepared table is then random and unused,
 * because the checkpoint's trained table replaces it, and `embeddingsSource` names the checkpoint.
 */
async function loadData(
  flags: Flags,
  config: Hw4Config,
  resumed?: Hw4Checkpoint,
): Promise<PreparedData & { sst: Sst }> {
  const sst = await loadSst({
    dataDir: flags.dataDir,
    onProgress: (message) => console.error(message),
  });
  const prepared = await prepareData(sst, {
    vocabSize: flags.vocabSize ?? DEFAULT_VOCAB_SIZE,
    embeddingsPath: resumed === undefined ? flags.embeddings : undefined,
    embeddingSize: resumed?.spec.embeddingSize ?? flags.embeddingSize ?? DEFAULT_EMBEDDING_SIZE,
    seed: config.seed,
    vocab: resumed?.vocab,
    trainPhrases: config.trainPhrases,
  });
  if (resumed !== undefined) {
    prepared.embeddingsSource = `from the checkpoint ${resumed.checkpoint.path}, ` +
      `${resumed.spec.embeddingSize} features, as trained until epoch ${resumed.epoch}`;
  }
  console.log(`data:       ${sst.source}`);
  console.log(
    `sentences:  ${sst.train.length} train, ${sst.dev.length} dev, ${sst.test.length} test`,
  );
  const phrases = prepared.phrases;
  if (phrases !== undefined) {
    const dropped = phrases.conflicts === 1 ? "was" : "were";
    console.log(
      `phrases:    ${phrases.examples.length} distinct training phrases (${phrases.tokens} ` +
        `tokens) replace the training sentences; ${plural(phrases.conflicts, "repeat")} with ` +
        `another label ${dropped} dropped`,
    );
  }
  console.log(`vocabulary: ${prepared.data.vocab.size} words`);
  console.log(`embeddings: ${prepared.embeddingsSource}\n`);
  return { ...prepared, sst };
}

/** Train one configuration with a progress bar and a line per epoch, then test its best epoch. */
async function trainWithProgress(
  backend: Backend,
  prepared: PreparedData,
  name: string,
  label: string,
  config: Hw4Config,
  checkpointDir: string,
  resume?: { last: Checkpoint; best?: Checkpoint },
): Promise<NamedRun> {
  const { data } = prepared;
  const perEpoch = Math.ceil(data.train.length / config.batchSize);
  const trainName = config.trainPhrases ? "train phrases" : "train";
  // A resumed run starts the bar after its checkpoint's epochs, so the rate counts this run only.
  const doneEpochs = typeof resume?.last.meta.epoch === "number" ? resume.last.meta.epoch : 0;
  const progress = new Progress({
    total: perEpoch * config.epochs,
    label,
    initial: perEpoch * doneEpochs,
  });
  const result = await runTraining(backend, data, config, {
    checkpointDir,
    resume: resume?.last,
    resumeBest: resume?.best,
    callbacks: {
      onIteration: (iteration, epoch, loss) => {
        progress.update(iteration, `epoch ${epoch}/${config.epochs} loss ${formatNumber(loss)}`);
      },
      onEpoch: (e) => {
        // Erase the bar on a terminal so the epoch line starts clean; the next update redraws it.
        if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
        console.log(
          `${label} | epoch ${String(e.epoch).padStart(2)}/${config.epochs}  ` +
            `${trainName} loss ${formatNumber(e.trainLoss)} acc ${formatPercent(e.trainAcc)}  ` +
            `dev loss ${formatNumber(e.devLoss)} acc ${formatPercent(e.devAcc)}  ` +
            formatDuration(e.seconds),
        );
      },
    },
  });
  progress.done();
  if (result.diverged) {
    console.log(`${label} | diverged: the loss became NaN or infinite; training stopped there`);
  }
  const test = evaluate(backend, result.network, data.test);
  console.log(
    `${label} | best dev accuracy ${formatPercent(result.best.devAcc)} at epoch ` +
      `${result.best.epoch}; test accuracy there ${formatPercent(test.acc)}\n`,
  );
  return { name, label, result, testAcc: test.acc, testLoss: test.loss };
}

/**
 * Rebuild the network and vocabulary of a read HW4 checkpoint from its metadata.
 *
 * @throws {CheckpointError} when the checkpoint's parameters do not fit its network
 */
function loadNetwork(
  backend: Backend,
  saved: Hw4Checkpoint,
): { checkpoint: Checkpoint; network: SentimentNetwork; vocab: Vocabulary } {
  const { checkpoint, spec, vocab } = saved;
  const network = new SentimentNetwork(backend, spec, new Rng(0), {
    embeddings: new Float32Array(spec.vocabSize * spec.embeddingSize),
    freezeEmbeddings: true,
    penaltyWeight: 0,
  });
  restoreParams(checkpoint, network.params());
  return { checkpoint, network, vocab };
}

/** Predict every test sentence with the checkpoint's network and write one label per line. */
async function predictTest(
  backend: Backend,
  saved: Hw4Checkpoint,
  sst: Sst,
  resultPath: string,
): Promise<{ acc: number; epoch: number; trainPhrases: boolean }> {
  const { checkpoint, network, vocab } = loadNetwork(backend, saved);
  const result = evaluate(backend, network, encodeSentences(vocab, sst.test));
  await writeFileAtomic(resultPath, [...result.predictions].join("\n") + "\n");
  return {
    acc: result.acc,
    epoch: checkpoint.meta.epoch as number,
    trainPhrases: savedTrainPhrases(checkpoint),
  };
}

/**
 * Return whether the checkpoint's run trained on phrases. Files written before phrase training
 * existed lack the field, and those runs trained on sentences.
 */
export function savedTrainPhrases(checkpoint: Checkpoint): boolean {
  const config = checkpoint.meta.config as { trainPhrases?: boolean } | null | undefined;
  return config?.trainPhrases ?? false;
}

/**
 * Describe what training read, e.g. `8544 sentences (--train-on sentences)` or
 * `156817 distinct labeled phrases of the training trees, 1132560 tokens (--train-on phrases)`.
 */
function trainingExamples(prepared: PreparedData): string {
  const phrases = prepared.phrases;
  if (phrases === undefined) {
    return `${prepared.data.train.length} sentences (--train-on sentences)`;
  }
  return `${phrases.examples.length} distinct labeled phrases of the training trees, ` +
    `${phrases.tokens} tokens (--train-on phrases)`;
}

/** Return the report's sentences on which training examples every run of the report read. */
function trainingExamplesUse(prepared: PreparedData): string {
  const phrases = prepared.phrases;
  if (phrases === undefined) {
    return "With --train-on sentences, every run, the cell comparison included, trained on " +
      "each training tree's root label and leaves only, so the phrase labels inside the trees " +
      "are not used.";
  }
  return "With --train-on phrases, every run, the cell comparison included, trained on every " +
    `distinct labeled phrase of the training trees: ${phrases.examples.length} phrases, whole ` +
    `sentences included, with ${phrases.tokens} tokens. Phrases are distinct by their ` +
    "normalized tokens, and when the same tokens carry several labels the first seen is kept " +
    `(${plural(phrases.conflicts, "repeat")} dropped). Dev and test are whole sentences ` +
    "either way.";
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

function headerTable(rows: [string, string | number][]): string {
  return markdownTable(["", ""], rows, ["left", "left"]);
}

async function runReport(flags: Flags, config: Hw4Config, backend: Backend): Promise<NamedRun> {
  const start = performance.now();
  const compare = compareSettings(flags);
  const vocabCap = flags.vocabSize ?? DEFAULT_VOCAB_SIZE;
  const out = flags.out ?? "reports";
  const logs = join(out, "hw4");
  const comparison = compareConfigs(
    config,
    compare.epochs,
    compare.hidden,
    compare.lr,
  );
  await prepareOutputFolder(out, "--out");
  await prepareOutputFolder(logs, "--out");
  const checkpoints = flags.checkpoints ?? DEFAULT_CHECKPOINTS;
  await prepareOutputFolder(checkpoints, "--checkpoints");
  for (const name of [...comparison.map((run) => run.name), "final"]) {
    await prepareOutputFolder(join(checkpoints, name), "--checkpoints");
  }
  const prepared = await loadData(flags, config);

  const compared: NamedRun[] = [];
  for (const run of comparison) {
    const checkpointDir = join(checkpoints, run.name);
    compared.push(
      await trainWithProgress(backend, prepared, run.name, run.label, run.config, checkpointDir),
    );
  }
  const finalLabel = "final";
  const finalDir = join(checkpoints, "final");
  const final = await trainWithProgress(
    backend,
    prepared,
    "final",
    finalLabel,
    config,
    finalDir,
  );

  // The test number of the report comes from the saved best checkpoint, as --predict computes
  // it, so it also checks that the checkpoint restores the network.
  const bestPath = join(finalDir, "best.ckpt");
  const resultPath = join(logs, "result.txt");
  const predicted = await predictTest(
    backend,
    await readHw4Checkpoint(bestPath),
    prepared.sst,
    resultPath,
  );
  const logFiles: string[] = [];
  for (const run of [...compared, final]) logFiles.push(...await writeRunLogs(logs, run));
  const comparePlots = await writeComparisonPlots(logs, "compare-", compared, "Cell comparison");
  const finalPlots = await writeRunPlots(logs, "final-", final, "Final network");
  const seconds = (performance.now() - start) / 1000;

  const spec = final.result.spec;
  const bestCompared = compared.reduce((
    a,
    b,
  ) => (b.result.best.devAcc > a.result.best.devAcc ? b : a));
  const predictCommand = `deno task hw4 --predict ${bestPath}` +
    (flags.dataDir ? ` --data-dir ${flags.dataDir}` : "");
  const report = [
    "# HW4: RNN, GRU and LSTM sentiment classification on the Stanford Sentiment Treebank",
    "",
    headerTable([
      ["command", `\`${commandLine()}\``],
      ["seed", config.seed],
      ["backend", backend.description],
      ["data", prepared.sst.source],
      ["embeddings", prepared.embeddingsSource],
      ["date", new Date().toISOString()],
      ["wall time", formatDuration(seconds)],
    ]),
    "",
    "Task: 5-class sentiment (0 very negative … 4 very positive) of whole sentences. A " +
    "sentence's label is the root label of its tree and its words are the leaves. " +
    trainingExamplesUse(prepared) + " Splits: " +
    `${prepared.sst.train.length} train, ${prepared.sst.dev.length} dev, ` +
    `${prepared.sst.test.length} test sentences. Words are lower-cased, and \`\\/\`, \`\\*\` ` +
    `unescaped. The vocabulary contains the ${prepared.data.vocab.size - 2} most frequent ` +
    `training words (--vocab-size ${vocabCap} counts \`_PAD\` and \`_UNK\` too) plus ` +
    "`_PAD` and `_UNK`.",
    "",
    "## Results",
    "",
    resultsTable([...compared, final]),
    "",
    `Final network: best dev accuracy **${formatPercent(final.result.best.devAcc)}** at epoch ` +
    `${final.result.best.epoch}, test accuracy **${formatPercent(predicted.acc)}** with that ` +
    "epoch's checkpoint. Every test accuracy in the table is measured once, with the " +
    "parameters of the run's best dev epoch; test data never chose an epoch or a " +
    "hyperparameter.",
    "",
    `- dev accuracy: \`${commandLine()}\` (this report)`,
    `- test accuracy: \`${predictCommand}\`, which prints the accuracy and writes one ` +
    `predicted label per test sentence to \`result.txt\` (this run's copy: ` +
    "[`hw4/result.txt`](hw4/result.txt))",
    "",
    "## Cell comparison",
    "",
    `One recurrent layer of ${compare.hidden} units reading forward, with the last state ` +
    `fed to a linear layer, trained for ${plural(compare.epochs, "epoch")} each` +
    (compare.epochs < config.epochs
      ? ` (fewer than the final network's ${config.epochs}, to keep the report affordable). `
      : ". ") +
    `Training examples (${config.trainPhrases ? "phrases" : "sentences"}), embeddings, ` +
    "dropout, momentum, clipping and seed are the final network's, but the learning rate is " +
    `a constant ${compare.lr}, ` +
    "because in a trial at 0.1 the basic RNN's training loss blew up to about 9. " +
    `Best on dev: ${bestCompared.label} with ` +
    `${formatPercent(bestCompared.result.best.devAcc)}.`,
    "",
    "| training (mean over each epoch, with dropout) | dev (after each epoch) |",
    "| --- | --- |",
    `| ![training loss](hw4/${comparePlots.trainLoss}) | ![dev loss](hw4/${comparePlots.devLoss}) |`,
    `| ![training accuracy](hw4/${comparePlots.trainAcc}) | ![dev accuracy](hw4/${comparePlots.devAcc}) |`,
    "",
    "## Final network",
    "",
    `${describeNetwork(spec)}, ${final.result.parameters} parameters:`,
    "",
    `1. Embeddings ${spec.vocabSize} × ${spec.embeddingSize}` +
    (config.freezeEmbeddings ? ", frozen" : ", trained with sparse row updates") +
    `, dropout ${spec.dropout}.`,
    `2. ${spec.bidirectional ? "Bidirectional " : ""}${spec.cell.toUpperCase()}, ` +
    `${spec.layers} layer${spec.layers === 1 ? "" : "s"} of ${spec.hiddenSize} units per ` +
    "direction (TensorFlow 1.x cell equations); the backward direction reads each sentence " +
    "reversed within its own length, and padded steps are never computed.",
    spec.pooling === "attention"
      ? `3. Structured self-attention (Lin et al. 2017): A = softmax(Ws2·tanh(Ws1·Hᵀ)) with ` +
        `d_a ${spec.attentionHidden} and r ${spec.attentionHops} hops, padded words masked ` +
        `out of the softmax; M = A·H flattened; penalty ‖AAᵀ − I‖²_F weighted ${config.penalty}.`
      : "3. The last states of both directions.",
    `4. Dropout ${spec.dropout}, then a linear layer to ${spec.classes} classes, softmax ` +
    "cross-entropy.",
    "",
    `Training: SGD, learning rate ${config.lr}` +
    (config.lrDecay === 1 ? "" : ` multiplied by ${config.lrDecay} after each epoch`) +
    `, momentum ${config.momentum}, global-norm clipping at ${config.clipNorm}, batch ` +
    `${config.batchSize} ` +
    (config.trainPhrases
      ? `(training phrases shuffled each epoch, then grouped into buckets of ` +
        `${PHRASE_BUCKET_BATCHES} batches of similar lengths, padded to the batch's longest ` +
        "phrase), "
      : "(shuffled each epoch, padded to the batch's longest sentence), ") +
    `${plural(config.epochs, "epoch")}, with a checkpoint after each. The best dev epoch's ` +
    "checkpoint gives the test number.",
    "",
    `![final network loss](hw4/${finalPlots.loss})`,
    "",
    `![final network accuracy](hw4/${finalPlots.acc})`,
    "",
    epochTable(final.result),
    "",
    "## Logs",
    "",
    "CSV logs in `hw4/`: `<run>-epochs.csv` has one row per epoch, `<run>-train.csv` the mean " +
    `training loss and accuracy of every ${config.dispFreq} iterations. Files: ` +
    logFiles.map((f) => `[\`${f}\`](hw4/${f})`).join(", ") + ".",
    "",
  ].join("\n");
  await writeFileAtomic(join(out, "hw4.md"), report);
  console.log(
    `test accuracy of the final network's best checkpoint (epoch ${predicted.epoch}): ` +
      `${formatPercent(predicted.acc)}\nreport: ${join(out, "hw4.md")} ` +
      `(${formatDuration(seconds)})`,
  );
  return final;
}

async function runSingle(
  flags: Flags,
  config: Hw4Config,
  backend: Backend,
  resumed?: Hw4Checkpoint,
): Promise<NamedRun> {
  const out = flags.out ?? "runs/hw4";
  // A resumed run keeps writing beside the checkpoint it continues, unless --checkpoints sets
  // another folder, so it never overwrites another run's files in the default folder.
  const checkpointDir = flags.checkpoints !== undefined
    ? join(flags.checkpoints, "single")
    : resumed !== undefined
    ? dirname(resumed.checkpoint.path)
    : join(DEFAULT_CHECKPOINTS, "single");
  await prepareOutputFolder(out, "--out");
  await prepareOutputFolder(dirname(checkpointDir), "--checkpoints");
  await prepareOutputFolder(checkpointDir, "--checkpoints");
  let resume: { last: Checkpoint; best?: Checkpoint } | undefined;
  if (resumed !== undefined) {
    resume = await resumeCheckpoints(resumed, checkpointDir);
    console.log(`resuming:   ${resumed.checkpoint.path} after epoch ${resumed.epoch}`);
  }
  const prepared = await loadData(flags, config, resumed);

  const run = await trainWithProgress(
    backend,
    prepared,
    "run",
    "run",
    config,
    checkpointDir,
    resume,
  );

  await writeRunLogs(out, run);
  const plots = await writeRunPlots(out, "", run, "HW4 run");
  const report = [
    `# HW4 run: ${describeNetwork(run.result.spec)}`,
    "",
    headerTable([
      ["command", `\`${commandLine()}\``],
      ["seed", config.seed],
      ["backend", backend.description],
      ["data", prepared.sst.source],
      ["embeddings", prepared.embeddingsSource],
      ["training examples", trainingExamples(prepared)],
      ["checkpoints", checkpointDir],
      ["date", new Date().toISOString()],
    ]),
    "",
    resultsTable([run]),
    "",
    `![loss](${plots.loss})`,
    "",
    `![accuracy](${plots.acc})`,
    "",
    epochTable(run.result),
    "",
  ].join("\n");
  await writeFileAtomic(join(out, "report.md"), report);
  console.log(`report: ${join(out, "report.md")}`);
  return run;
}

/**
 * Return the checkpoints that resume a run: `resumed` and, when the run's best dev epoch came
 * before it, the `best.ckpt` beside it. The best epoch's file is copied to `checkpointDir`'s
 * `best.ckpt`, so that a new folder has it too.
 *
 * @throws {CheckpointError} when that `best.ckpt` is needed but missing or of another epoch
 */
async function resumeCheckpoints(
  resumed: Hw4Checkpoint,
  checkpointDir: string,
): Promise<{ last: Checkpoint; best?: Checkpoint }> {
  const path = resumed.checkpoint.path;
  const bestEpoch = bestRecord(resumed.history?.epochs ?? [])?.epoch ?? resumed.epoch;
  let bestPath = path;
  let best: Checkpoint | undefined;
  if (bestEpoch !== resumed.epoch) {
    bestPath = join(dirname(path), "best.ckpt");
    if (!(await pathExists(bestPath))) {
      throw new CheckpointError(
        `Checkpoint ${bestPath} not found: resuming ${path} needs the best.ckpt of its run, ` +
          `written at its best dev epoch ${bestEpoch}`,
      );
    }
    const loaded = await readHw4Checkpoint(bestPath);
    if (loaded.epoch !== bestEpoch) {
      throw new CheckpointError(
        `Checkpoint ${bestPath} was written at epoch ${loaded.epoch}, but the best dev epoch of ` +
          `${path} is ${bestEpoch}, so it belongs to another run`,
      );
    }
    best = loaded.checkpoint;
  }
  const target = join(checkpointDir, "best.ckpt");
  if (resolve(bestPath) !== resolve(target)) await Deno.copyFile(bestPath, target);
  return { last: resumed.checkpoint, best };
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}

async function runPredict(flags: Flags, path: string, backend: Backend): Promise<void> {
  if ((await pathExists(flags.result)) && (await Deno.stat(flags.result)).isDirectory) {
    throw new UsageError(
      `--result ${flags.result} is a folder, expected a file name such as ` +
        join(flags.result, "result.txt"),
    );
  }
  // Reading the checkpoint first reports a missing or damaged file before SST is loaded, which
  // may mean a download.
  const saved = await readHw4Checkpoint(path);
  await prepareOutputFolder(dirname(flags.result), "--result");
  const sst = await loadSst({ dataDir: flags.dataDir });
  const predicted = await predictTest(backend, saved, sst, flags.result);
  const trainedOn = predicted.trainPhrases ? "phrases" : "sentences";
  console.log(
    `test accuracy ${formatPercent(predicted.acc)} (${sst.test.length} sentences, checkpoint ` +
      `of epoch ${predicted.epoch}, trained on ${trainedOn}); ` +
      `predictions: ${resolve(flags.result)}`,
  );
}

/**
 * Return the config of a run: the flags given, and for the others the settings of the resumed
 * checkpoint, else the defaults.
 *
 * @throws {CheckpointError} naming every given flag that differs from the checkpoint's setting,
 *   and when the checkpoint lacks its config or history
 * @throws {UsageError} when `--epochs` is below the checkpoint's epochs
 * @throws {UserError} when the checkpoint already has all the epochs of the run
 */
function runConfig(flags: Flags, resumed?: Hw4Checkpoint): Hw4Config {
  const requested: Partial<RunSettings> = {
    cell: flags.cell,
    hidden: flags.hidden,
    layers: flags.layers,
    direction: flags.direction,
    pooling: flags.pooling,
    attentionHidden: flags.attentionHidden,
    attentionHops: flags.attentionHops,
    penalty: flags.penalty,
    dropout: flags.dropout,
    epochs: flags.epochs,
    lr: flags.lr,
    lrDecay: flags.lrDecay,
    momentum: flags.momentum,
    clipNorm: flags.clipNorm,
    batchSize: flags.batchSize,
    seed: flags.seed,
    // A switch can only be given as on, so off means unset.
    freezeEmbeddings: flags.freezeEmbeddings ? true : undefined,
    dispFreq: flags.dispFreq,
    trainOn: flags.trainOn,
  };
  if (resumed === undefined) return resolveConfig(requested).config;

  const path = resumed.checkpoint.path;
  if (resumed.config === undefined || resumed.history === undefined) {
    throw new CheckpointError(
      `Checkpoint ${path} cannot be resumed: its metadata lacks the run's config or history`,
    );
  }
  const { config, differences } = resolveConfig(requested, resumed.config);
  const savedSize = resumed.spec.embeddingSize;
  if (flags.embeddingSize !== undefined && flags.embeddingSize !== savedSize) {
    differences.push(
      `embedding-size is ${savedSize} in the checkpoint but ${flags.embeddingSize} here`,
    );
  }
  if (differences.length > 0) {
    throw new CheckpointError(
      `Checkpoint ${path} does not fit the flags: ${differences.join("; ")}`,
      { hint: "Leave those flags out to take the checkpoint's settings." },
    );
  }
  const done = resumed.epoch;
  if (config.epochs < done) {
    throw new UsageError(
      `Invalid --epochs ${config.epochs}: checkpoint ${path} has already trained ${done} ` +
        `epochs, and --epochs counts them, so pass more than ${done}`,
    );
  }
  if (config.epochs === done) {
    throw new UserError(
      `Checkpoint ${path} has already trained all ${plural(done, "epoch")} of its run: ` +
        `pass --epochs above ${done} to train more`,
    );
  }
  return config;
}

async function main(): Promise<number> {
  const flags = parseFlags(COMMAND, Deno.args);
  if (flags.predict !== undefined) {
    const extra = givenNonPredictFlags(flags);
    if (extra.length > 0) {
      throw new UsageError(
        `--predict takes only --result, --data-dir and --backend, but ${extra.join(", ")} ` +
          `${extra.length === 1 ? "was" : "were"} given: the checkpoint fixes the network`,
      );
    }
  }
  if (flags.resume !== undefined && !flags.single) {
    throw new UserError("--resume continues a --single run: add --single");
  }
  if (flags.resume !== undefined) {
    // The checkpoint contains the vocabulary and the trained embedding table.
    const fixed = [
      flags.embeddings !== undefined ? "--embeddings" : "",
      flags.vocabSize !== undefined ? "--vocab-size" : "",
    ].filter((name) => name !== "");
    if (fixed.length > 0) {
      throw new UsageError(
        `${fixed.join(" and ")} cannot change with --resume: the vocabulary and the embeddings ` +
          `come from the checkpoint ${flags.resume}`,
      );
    }
  }
  const resumed = flags.resume === undefined ? undefined : await readHw4Checkpoint(flags.resume);
  const config = runConfig(flags, resumed);
  const backend = await createBackend(flags.backend);

  if (flags.predict !== undefined) {
    console.log(configBlock({
      command: commandLine(),
      mode: "predict",
      checkpoint: flags.predict,
      backend: backend.description,
    }));
    await runPredict(flags, flags.predict, backend);
    return 0;
  }

  console.log(configBlock({
    command: commandLine(),
    mode: flags.single ? "single run" : "report: cell comparison, then the final network",
    cell: config.cell,
    hidden: config.hidden,
    layers: config.layers,
    direction: config.bidirectional ? "bi" : "uni",
    pooling: config.pooling,
    attention: config.pooling === "attention"
      ? `d_a ${config.attentionHidden}, r ${config.attentionHops}, penalty ${config.penalty}`
      : "none",
    dropout: config.dropout,
    epochs: config.epochs,
    lr: config.lr,
    lrDecay: config.lrDecay,
    momentum: config.momentum,
    clipNorm: config.clipNorm,
    batchSize: config.batchSize,
    trainingExamples: config.trainPhrases
      ? `distinct labeled phrases of the training trees, in buckets of ${PHRASE_BUCKET_BATCHES} ` +
        "batches of similar lengths"
      : "training sentences",
    seed: config.seed,
    backend: backend.description,
    targetAcc: flags.targetAcc,
  }));
  console.log();

  const run = flags.single
    ? await runSingle(flags, config, backend, resumed)
    : await runReport(flags, config, backend);

  if (flags.targetAcc !== undefined) {
    const acc = Number.isNaN(run.result.best.devAcc) ? 0 : run.result.best.devAcc;
    if (!(acc >= flags.targetAcc)) {
      throw new UserError(
        `Best dev accuracy ${formatPercent(acc)} is below --target-acc ` +
          formatPercent(flags.targetAcc),
      );
    }
    console.log(`target accuracy ${formatPercent(flags.targetAcc)} reached`);
  }
  return 0;
}

if (import.meta.main) await runMain(main);
