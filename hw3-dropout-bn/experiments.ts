/**
 * The experiments of `deno task hw3 report`: the trainings, the loss breakdown of the best
 * checkpoints, the kill-and-resume demonstration, and the files of the report.
 *
 * @module
 */

import { join } from "node:path";
import { type Backend, formatDuration, loadCheckpoint, writeFileAtomic } from "@nn/core";
import { MODE_LADDER, scoreWithModes } from "./analysis.ts";
import { restoreTraining } from "./checkpoint.ts";
import { defaultConfig, type Hw3Config } from "./config.ts";
import {
  assertBatchesFitBatchNorm,
  commandLine,
  loadData,
  trainFlags,
  trainWithConsole,
} from "./console.ts";
import {
  lossPlot,
  type NamedRun,
  sweepPlot,
  valAccPlot,
  writePlot,
  writeRunLogs,
} from "./report.ts";
import { runResumeDemo } from "./resume_demo.ts";
import { batches, buildRun, type Hw3Data } from "./run.ts";
import { type Breakdown, reportMarkdown } from "./sections.ts";

/** Drop rates of the sweep on the MLP. */
export const SWEEP_RATES: readonly number[] = [0, 0.1, 0.3, 0.5, 0.7, 0.9];

/** Training images scored in the loss breakdown: the first ones of the training split. */
const BREAKDOWN_TRAIN_IMAGES = 10_000;

/** Settings of the report, as the flags of `deno task hw3 report` give them. */
export interface ReportSettings {
  epochsMlp: number;
  epochsCnn: number;
  /** Epochs of the CNN without batch norm, at most `epochsCnn`. */
  epochsCnnNoBn: number;
  epochsSweep: number;
  epochsDemo: number;
  seed: number;
  /** Folder of hw3.md; logs and plots go to its `hw3/` subfolder. */
  out: string;
  /** Folder of the runs' checkpoints. */
  runs: string;
  backend?: string;
  dataDir?: string;
  validation: number;
}

/** Run every experiment and write `hw3.md`, its CSV logs and its plots. */
export async function writeReport(backend: Backend, settings: ReportSettings): Promise<void> {
  const start = performance.now();
  const { data, source } = await loadData(settings);
  console.log(`data:    ${source}\n`);
  const logs = join(settings.out, "hw3");

  const runs = new Map<string, NamedRun>();
  const train = async (name: string, label: string, config: Hw3Config) => {
    const dir = join(settings.runs, name);
    const result = await trainWithConsole(backend, data, config, name, dir);
    const command = ["deno task hw3 train", ...trainFlags(config)].join(" ");
    const run: NamedRun = { name, label, command, result };
    await writeRunLogs(logs, run);
    runs.set(name, run);
    return run;
  };
  const get = (name: string) => runs.get(name)!;

  // 1. The drop-rate sweep on the MLP, whose best validation accuracy picks the MLP's rate.
  const base: Hw3Config = {
    ...defaultConfig("mlp"),
    seed: settings.seed,
    validation: settings.validation,
  };
  // Every run uses the default batch size, so the MLP's check covers the CNN's too.
  assertBatchesFitBatchNorm(base, data.train.labels.length);
  const sweep: NamedRun[] = [];
  for (const rate of SWEEP_RATES) {
    const config = { ...base, dropRate: rate, epochs: settings.epochsSweep };
    sweep.push(await train(`mlp-drop-${rate}`, `drop rate ${rate}`, config));
  }
  const chosen = bestRun(sweep).result.config.dropRate;
  console.log(`\nMLP drop rate ${chosen}: the best validation accuracy of the sweep\n`);

  // 2. Both networks with batch norm and dropout, then without batch norm.
  const mlp: Hw3Config = { ...base, dropRate: chosen, epochs: settings.epochsMlp };
  const cnn: Hw3Config = {
    ...defaultConfig("cnn"),
    epochs: settings.epochsCnn,
    seed: settings.seed,
    validation: settings.validation,
  };
  await train("mlp", "MLP, BN + dropout", mlp);
  await train("cnn", "CNN, BN + dropout", cnn);
  await train("mlp-no-bn", "MLP, dropout only", { ...mlp, batchNorm: false });
  await train("cnn-no-bn", "CNN, dropout only", {
    ...cnn,
    batchNorm: false,
    epochs: Math.min(cnn.epochs, settings.epochsCnnNoBn),
  });

  // 3. The best checkpoints of the two main runs, scored in each layer mode.
  const breakdowns = [
    await lossBreakdown(backend, data, get("mlp")),
    await lossBreakdown(backend, data, get("cnn")),
  ];

  // 4. Kill a short MLP run in the middle of an epoch and resume it.
  console.log("\nkill-and-resume demonstration");
  const demo = await runResumeDemo({
    dir: join(settings.runs, "resume-demo"),
    trainArgs: [
      ...trainFlags({ ...mlp, epochs: settings.epochsDemo }),
      "--backend",
      backend.name,
      ...(settings.dataDir === undefined ? [] : ["--data-dir", settings.dataDir]),
    ],
    log: (line) => console.log(`  ${line}`),
  });
  console.log(
    `  ${
      demo.differences.length === 0 ? "identical" : `differences: ${demo.differences.join(", ")}`
    }`,
  );

  // 5. Plots and the markdown report.
  const plots = {
    loss: await writePlot(
      logs,
      "loss.svg",
      lossPlot([get("mlp"), get("cnn")], "Training and validation loss, with BN and dropout"),
    ),
    bnLoss: await writePlot(
      logs,
      "bn-loss.svg",
      lossPlot(
        [get("mlp"), get("mlp-no-bn"), get("cnn"), get("cnn-no-bn")],
        "With and without batch normalization",
      ),
    ),
    bnAcc: await writePlot(
      logs,
      "bn-val-acc.svg",
      valAccPlot(
        [get("mlp"), get("mlp-no-bn"), get("cnn"), get("cnn-no-bn")],
        "Validation accuracy after each epoch",
      ),
    ),
    sweepLoss: await writePlot(
      logs,
      "sweep-loss.svg",
      sweepPlot(SWEEP_RATES.map((rate) => get(`mlp-drop-${rate}`))),
    ),
    sweepAcc: await writePlot(
      logs,
      "sweep-val-acc.svg",
      valAccPlot(
        SWEEP_RATES.map((rate) => get(`mlp-drop-${rate}`)),
        `MLP: validation accuracy after each epoch, by drop rate`,
      ),
    ),
  };
  const seconds = (performance.now() - start) / 1000;
  const markdown = reportMarkdown({
    header: {
      command: commandLine(),
      seed: settings.seed,
      backend: backend.description,
      dataSource: source,
      date: new Date().toISOString(),
    },
    validation: settings.validation,
    test: data.test.labels.length,
    main: {
      mlp: get("mlp"),
      cnn: get("cnn"),
      mlpNoBn: get("mlp-no-bn"),
      cnnNoBn: get("cnn-no-bn"),
    },
    sweep: SWEEP_RATES.map((rate) => get(`mlp-drop-${rate}`)),
    breakdowns,
    demo,
    plots,
    seconds,
  });
  await writeFileAtomic(join(settings.out, "hw3.md"), markdown);
  console.log(`\nreport: ${join(settings.out, "hw3.md")} (${formatDuration(seconds)})`);
}

/** Return the run with the best validation accuracy, the first one on a tie. */
function bestRun(runs: readonly NamedRun[]): NamedRun {
  return runs.reduce((a, b) => (b.result.bestValAcc > a.result.bestValAcc ? b : a));
}

/** Score the best checkpoint of `run` in every rung of the mode ladder. */
async function lossBreakdown(backend: Backend, data: Hw3Data, run: NamedRun): Promise<Breakdown> {
  const config = run.result.config;
  // Build a fresh network, because the dropout masks drawn here must not advance the generator
  // of a run that continues.
  const parts = buildRun(backend, config);
  restoreTraining(
    await loadCheckpoint(run.result.bestCheckpoint),
    parts.model,
    parts.optimizer,
    parts.rng,
  );
  const trainImages = Math.min(BREAKDOWN_TRAIN_IMAGES, data.train.labels.length);
  const trainSubset = {
    images: data.train.images.subarray(0, trainImages * 784),
    labels: data.train.labels.subarray(0, trainImages),
  };
  const score = (split: typeof trainSubset) =>
    MODE_LADDER.map(({ modes }) =>
      scoreWithModes(parts.model, parts.loss, batches(backend, split, config.batchSize), modes)
    );
  return { run, trainImages, train: score(trainSubset), val: score(data.val) };
}
