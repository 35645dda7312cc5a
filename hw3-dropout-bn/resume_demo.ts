/**
 * The kill-and-resume demonstration of the report. It trains once without interruption, then
 * trains again and kills that process with SIGKILL in the middle of an epoch. It resumes the
 * killed run from its last checkpoint and compares every number and stored tensor of the two runs.
 *
 * Each run is a separate `deno task hw3 train` process, as a user would run it.
 *
 * @module
 */

import { join } from "node:path";
import { type Checkpoint, loadCheckpoint } from "@nn/core";
import { readCheckpointMeta } from "./checkpoint.ts";
import type { RunResult } from "./run.ts";

/** Options of {@linkcode runResumeDemo}. */
export interface ResumeDemoOptions {
  /** Folder for the two runs' outputs; `whole/` and `killed/` are created in it. */
  dir: string;
  /** Flags of `train` shared by every process, e.g. `["--model", "mlp", "--epochs", "3"]`. */
  trainArgs: readonly string[];
  /** Fraction of the first epoch's training time to wait into the second epoch, default 0.5. */
  killFraction?: number;
  /** Receive one line per step, for the console. */
  log?: (line: string) => void;
}

/** Evidence that the demonstration collected. */
export interface ResumeDemoResult {
  /** Command lines of the three processes. */
  commands: { whole: string; killed: string; resumed: string };
  /** Training seconds of epoch 1 in the killed process, as its checkpoint records. */
  epochOneSeconds: number;
  /** Seconds between the end of epoch 1 (its log line) and the kill. */
  killedAfterSeconds: number;
  /** Signal that ended the killed process, e.g. `SIGKILL`. */
  signal: string;
  /** Completed epochs in `last.ckpt` after the kill: what the resumed run starts from. */
  checkpointEpoch: number;
  /** Results that each run wrote to its `result.json`. */
  whole: RunResult;
  resumed: RunResult;
  /** Names of the per-epoch numbers and tensors that differ between the runs; empty if none. */
  differences: string[];
  /** Number of tensors, and of float32 values, compared in `last.ckpt` and `best.ckpt`. */
  tensorsCompared: number;
  valuesCompared: number;
}

/**
 * Run the demonstration and return its evidence.
 *
 * @throws {Error} when a process fails, or when the killed process completes no epoch before it
 *   is killed or finishes before the kill
 */
export async function runResumeDemo(options: ResumeDemoOptions): Promise<ResumeDemoResult> {
  const { dir, trainArgs, killFraction = 0.5, log = () => {} } = options;
  const wholeDir = join(dir, "whole"), killedDir = join(dir, "killed");
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  const wholeArgs = [...trainArgs, "--out", wholeDir];
  const killedArgs = [...trainArgs, "--out", killedDir];
  const resumedArgs = [...killedArgs, "--resume", join(killedDir, "last.ckpt")];

  // 1. The uninterrupted run.
  log(`uninterrupted run: ${commandLine(wholeArgs)}`);
  await runToEnd(wholeArgs);

  // 2. The same run, killed with SIGKILL partway through epoch 2.
  log(`run to kill: ${commandLine(killedArgs)}`);
  // Only stdout's epoch lines matter here, and an unread stderr pipe could fill and block.
  const child = spawnTrain(killedArgs, "piped", "null");
  const lines = readLines(child.stdout);
  let epochOneEnded = false;
  for await (const line of lines) {
    if (/\| epoch +1\/\d+ /.test(line)) {
      epochOneEnded = true;
      break;
    }
  }
  if (!epochOneEnded) {
    const status = await child.status;
    throw new Error(`The run to kill ended with code ${status.code} before finishing epoch 1`);
  }
  const epochOneEndedAt = performance.now();
  const afterEpochOne = await loadCheckpoint(join(killedDir, "last.ckpt"));
  const epochOneSeconds = readCheckpointMeta(afterEpochOne).training.epochs[0].seconds;
  await sleep(killFraction * epochOneSeconds * 1000);
  child.kill("SIGKILL");
  const killedAfterSeconds = (performance.now() - epochOneEndedAt) / 1000;
  // Drain the rest of its output so the pipe closes.
  for await (const _ of lines) { /* discard */ }
  const status = await child.status;
  if (status.signal === null) {
    throw new Error(`The run to kill exited with code ${status.code} before the kill`);
  }
  const checkpointEpoch = readCheckpointMeta(await loadCheckpoint(join(killedDir, "last.ckpt")))
    .training.epoch;
  log(
    `killed with ${status.signal} ${killedAfterSeconds.toFixed(1)} s after epoch 1 ended ` +
      `(epoch 1 trained in ${epochOneSeconds.toFixed(1)} s); last.ckpt holds epoch ` +
      checkpointEpoch,
  );

  // 3. Resume from the killed run's last checkpoint.
  log(`resumed run: ${commandLine(resumedArgs)}`);
  await runToEnd(resumedArgs);

  // 4. Compare the numbers and the stored tensors.
  const whole = await readResult(wholeDir);
  const resumed = await readResult(killedDir);
  const differences = compareResults(whole, resumed);
  let tensorsCompared = 0, valuesCompared = 0;
  for (const file of ["last.ckpt", "best.ckpt"]) {
    const a = await loadCheckpoint(join(wholeDir, file));
    const b = await loadCheckpoint(join(killedDir, file));
    const compared = compareTensors(a, b, file, differences);
    tensorsCompared += compared.tensors;
    valuesCompared += compared.values;
  }
  return {
    commands: {
      whole: commandLine(wholeArgs),
      killed: commandLine(killedArgs),
      resumed: commandLine(resumedArgs),
    },
    epochOneSeconds,
    killedAfterSeconds,
    signal: status.signal,
    checkpointEpoch,
    whole,
    resumed,
    differences,
    tensorsCompared,
    valuesCompared,
  };
}

/** Return the command a user would type for `train` with `args`. */
function commandLine(args: readonly string[]): string {
  return ["deno task hw3 train", ...args].join(" ");
}

function spawnTrain(
  args: readonly string[],
  stdout: "piped" | "null",
  stderr: "piped" | "null",
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net",
      "--allow-ffi",
      new URL("./train.ts", import.meta.url).pathname,
      "train",
      ...args,
    ],
    stdin: "null",
    stdout,
    stderr,
  }).spawn();
}

async function runToEnd(args: readonly string[]): Promise<void> {
  const { code, stderr } = await spawnTrain(args, "null", "piped").output();
  if (code !== 0) {
    const message = new TextDecoder().decode(stderr).trim().split("\n").slice(-3).join("\n");
    throw new Error(`${commandLine(args)} exited with code ${code}:\n${message}`);
  }
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffered = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
  if (buffered !== "") yield buffered;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function readResult(dir: string): Promise<RunResult> {
  return JSON.parse(await Deno.readTextFile(join(dir, "result.json")));
}

/** List the numbers that differ between two runs' results; timings are left out. */
function compareResults(a: RunResult, b: RunResult): string[] {
  const differences: string[] = [];
  const same = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  const withoutTime = (r: RunResult) => r.epochs.map(({ seconds: _, ...rest }) => rest);
  if (!same(withoutTime(a), withoutTime(b))) differences.push("per-epoch numbers");
  if (!same(a.display, b.display)) differences.push("training-loss windows");
  for (const key of ["bestEpoch", "bestValAcc", "testLoss", "testAcc", "lrDecayEpochs"] as const) {
    if (!same(a[key], b[key])) differences.push(key);
  }
  return differences;
}

/** Compare every tensor of two checkpoints bit for bit, appending differences. */
function compareTensors(
  a: Checkpoint,
  b: Checkpoint,
  file: string,
  differences: string[],
): { tensors: number; values: number } {
  let tensors = 0, values = 0;
  for (const group of ["params", "state"] as const) {
    for (const [name, tensor] of a[group]) {
      const other = b[group].get(name);
      tensors++;
      values += tensor.data.length;
      const bitsA = new Uint32Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.length);
      const bitsB = other &&
        new Uint32Array(other.data.buffer, other.data.byteOffset, other.data.length);
      if (
        bitsB === undefined || bitsA.length !== bitsB.length || bitsA.some((v, i) => v !== bitsB[i])
      ) {
        differences.push(`${file} ${name}`);
      }
    }
    if (b[group].size !== a[group].size) differences.push(`${file} ${group} count`);
  }
  return { tensors, values };
}
