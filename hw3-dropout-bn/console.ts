/**
 * Helpers of the hw3 commands: loading and splitting MNIST, the command line, console progress
 * for a training run, and the `train` flags that reproduce a configuration.
 *
 * @module
 */

import { join } from "node:path";
import {
  type Backend,
  type Checkpoint,
  CheckpointError,
  formatDuration,
  formatNumber,
  formatPercent,
  loadCheckpoint,
  loadMnist,
  Progress,
  UsageError,
  UserError,
} from "@nn/core";
import { readCheckpointMeta } from "./checkpoint.ts";
import { defaultConfig, type Hw3Config } from "./config.ts";
import {
  type Hw3Data,
  minBatchNormValues,
  type RunCallbacks,
  type RunResult,
  runTraining,
  smallestBatchSize,
  splitMnist,
} from "./run.ts";

/** Data flags shared by every command. */
export interface DataFlags {
  dataDir?: string;
  /** Training images held out for validation. */
  validation: number;
}

/** Load MNIST, split it, and return the splits with the data source. */
export async function loadData(
  flags: DataFlags,
): Promise<{ data: Hw3Data; source: string }> {
  const mnist = await loadMnist({ dataDir: flags.dataDir });
  try {
    return { data: splitMnist(mnist, flags.validation), source: mnist.source };
  } catch (error) {
    if (error instanceof RangeError) {
      throw new UsageError(`Invalid --validation ${flags.validation}: ${error.message}`);
    }
    throw error;
  }
}

/**
 * Read the checkpoint that `flag` names, rejecting a folder with a hint at the files inside.
 *
 * @throws {CheckpointError} when `path` is a folder, is missing or cannot be read, or as
 *   {@linkcode loadCheckpoint}
 */
export async function loadCheckpointFlag(flag: string, path: string): Promise<Checkpoint> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CheckpointError(`Checkpoint ${path} not found`, { cause: error });
    }
    throw new CheckpointError(`Cannot read checkpoint ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (info.isDirectory) {
    throw new CheckpointError(`Invalid ${flag} ${path}: it is a folder, not a checkpoint file`, {
      hint: `Pass a file in it, such as ${join(path, "last.ckpt")} or ${join(path, "best.ckpt")}.`,
    });
  }
  try {
    return await loadCheckpoint(path);
  } catch (error) {
    if (error instanceof UserError) throw error;
    throw new CheckpointError(`Cannot read checkpoint ${path}: ${errorMessage(error)}`, {
      cause: error,
    });
  }
}

/**
 * Check that every training batch gives batch norm at least 2 values per channel. The MLP's
 * BatchNorm1d fails on a batch of 1 image, such as the short last batch of 50,001 images in
 * batches of 100.
 *
 * @throws {UsageError} naming the image count, the batch size and the flags to change
 */
export function assertBatchesFitBatchNorm(config: Hw3Config, trainCount: number): void {
  if (minBatchNormValues(config, trainCount) >= 2) return;
  const smallest = smallestBatchSize(trainCount, config.batchSize);
  throw new UsageError(
    `Invalid --batch-size ${config.batchSize} for ${trainCount} training images ` +
      `(--validation ${config.validation}): the smallest batch contains ${smallest} image, and ` +
      "batch norm needs at least 2 per batch",
    {
      hint: "Change --batch-size or --validation so that no batch contains a single image, or " +
        "pass --bn off.",
    },
  );
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Return the command line of this process as a user would type it. */
export function commandLine(): string {
  return ["deno task hw3", ...Deno.args].join(" ");
}

/**
 * Return callbacks that draw a progress bar over the remaining epochs on stderr and print one
 * line per epoch, prefixed by `label`, on stdout. Call `done()` after the run.
 */
export function consoleCallbacks(
  label: string,
  config: Hw3Config,
  iterationsPerEpoch: number,
  startEpoch: number,
): RunCallbacks & { done(): void } {
  const remaining = config.epochs - startEpoch;
  const progress = new Progress({ total: Math.max(1, remaining * iterationsPerEpoch), label });
  const firstIteration = startEpoch * iterationsPerEpoch;
  return {
    onIteration(record, epoch) {
      progress.update(
        record.iteration - firstIteration,
        `epoch ${epoch}/${config.epochs} loss ${formatNumber(record.loss)}`,
      );
    },
    onEpoch(e) {
      // Erase the bar on a terminal so that the epoch line starts clean. The next update redraws it.
      if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
      console.log(
        `${label} | epoch ${String(e.epoch).padStart(2)}/${config.epochs}  ` +
          `train loss ${formatNumber(e.trainLoss)} acc ${formatPercent(e.trainAcc)}  ` +
          `val loss ${formatNumber(e.valLoss)} acc ${formatPercent(e.valAcc)}  ` +
          `lr ${e.lr.toPrecision(4)}  ${formatDuration(e.seconds)}`,
      );
    },
    done() {
      progress.done();
    },
  };
}

/** Train one configuration with console output and return the finished run. */
export async function trainWithConsole(
  backend: Backend,
  data: Hw3Data,
  config: Hw3Config,
  label: string,
  checkpointDir: string,
  resume?: Checkpoint,
): Promise<RunResult> {
  const startEpoch = resume === undefined ? 0 : readCheckpointMeta(resume).training.epoch;
  const iterationsPerEpoch = Math.ceil(data.train.labels.length / config.batchSize);
  const console_ = consoleCallbacks(label, config, iterationsPerEpoch, startEpoch);
  if (resume !== undefined) {
    console.log(`${label} | resuming after epoch ${startEpoch} from ${resume.path}`);
  }
  const result = await runTraining(backend, data, config, {
    checkpointDir,
    resume,
    callbacks: console_,
  });
  console_.done();
  if (result.diverged) {
    console.log(`${label} | diverged: the loss became NaN or infinite; training stopped there`);
  }
  console.log(
    `${label} | best validation accuracy ${formatPercent(result.bestValAcc)} at epoch ` +
      `${result.bestEpoch}; its test accuracy ${formatPercent(result.testAcc)} ` +
      `(loss ${formatNumber(result.testLoss)})`,
  );
  return result;
}

/**
 * Return the `train` flags that reproduce `config`: those that differ from the defaults of its
 * kind, after `--model`.
 */
export function trainFlags(config: Hw3Config): string[] {
  const d = defaultConfig(config.kind);
  const args = ["--model", config.kind];
  if (config.kind === "mlp" && config.hidden !== d.hidden) {
    args.push("--hidden", `${config.hidden}`);
  }
  if (config.kind === "cnn" && config.channels.join() !== d.channels.join()) {
    args.push("--channels", config.channels.join(","));
  }
  if (config.kind === "cnn" && config.kernelSize !== d.kernelSize) {
    args.push("--kernel-size", `${config.kernelSize}`);
  }
  if (config.kind === "cnn" && config.padding !== d.padding) {
    args.push("--padding", config.padding);
  }
  if (config.dropRate !== d.dropRate) args.push("--drop-rate", `${config.dropRate}`);
  if (config.batchNorm !== d.batchNorm) args.push("--bn", config.batchNorm ? "on" : "off");
  if (config.shift !== d.shift) args.push("--shift", `${config.shift}`);
  if (config.epochs !== d.epochs) args.push("--epochs", `${config.epochs}`);
  if (config.lr !== d.lr) args.push("--lr", `${config.lr}`);
  if (config.lrDecay !== d.lrDecay) args.push("--lr-decay", `${config.lrDecay}`);
  if (config.batchSize !== d.batchSize) args.push("--batch-size", `${config.batchSize}`);
  if (config.seed !== d.seed) args.push("--seed", `${config.seed}`);
  if (config.dispFreq !== d.dispFreq) args.push("--disp-freq", `${config.dispFreq}`);
  if (config.validation !== d.validation) args.push("--validation", `${config.validation}`);
  return args;
}
