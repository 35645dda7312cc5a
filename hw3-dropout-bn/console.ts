/**
 * Helpers of the hw3 commands: loading and splitting MNIST, the command line, console progress
 * for a training run, and the `train` flags that reproduce a configuration.
 *
 * @module
 */

import {
  type Backend,
  type Checkpoint,
  formatDuration,
  formatNumber,
  formatPercent,
  loadMnist,
  Progress,
  UsageError,
} from "@nn/core";
import { readCheckpointMeta } from "./checkpoint.ts";
import { defaultConfig, type Hw3Config } from "./config.ts";
import { type Hw3Data, type RunCallbacks, type RunResult, runTraining, splitMnist } from "./run.ts";

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
  if (config.epochs !== d.epochs) args.push("--epochs", `${config.epochs}`);
  if (config.lr !== d.lr) args.push("--lr", `${config.lr}`);
  if (config.lrDecay !== d.lrDecay) args.push("--lr-decay", `${config.lrDecay}`);
  if (config.batchSize !== d.batchSize) args.push("--batch-size", `${config.batchSize}`);
  if (config.seed !== d.seed) args.push("--seed", `${config.seed}`);
  if (config.dispFreq !== d.dispFreq) args.push("--disp-freq", `${config.dispFreq}`);
  return args;
}
