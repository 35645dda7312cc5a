/**
 * The CNN epoch that `deno task bench` and `deno task compare:numpy-cnn` time on this engine, and
 * the call of its NumPy twin, `scripts/numpy_cnn_epoch.py`.
 *
 * The network is the course's HW2 skeleton CNN with its `deno task hw2` defaults: conv 1→4 3×3,
 * ReLU, avg-pool 2, conv 4→4 3×3, ReLU, avg-pool 2, Linear 196→10, softmax cross-entropy, batch
 * 100 and momentum SGD, over 60,000 examples. Both sides train on random data of MNIST's shape,
 * because the cost of an epoch does not depend on the pixel values.
 *
 * @module
 */

import { type Backend, Rng } from "@nn/core";
import { defaultConfig, type Hw2Data, runNetwork } from "../hw2-cnn/run.ts";

/** Return 60,000 random training images `[N, 784]` in [-0.5, 0.5) with random labels. */
export function randomCnnData(): Hw2Data {
  const rng = new Rng(0);
  const n = 60000;
  const trainImages = rng.fillUniform(new Float32Array(n * 784), -0.5, 0.5);
  const trainLabels = new Uint8Array(n).map(() => rng.int(10));
  return {
    trainImages,
    trainLabels,
    testImages: trainImages.subarray(0, 100 * 784),
    testLabels: trainLabels.subarray(0, 100),
  };
}

/**
 * Train the skeleton CNN on `backend` for `epochs` epochs over `data`, and return the wall time of
 * each epoch's training in seconds, without the test pass.
 */
export function cnnEpochSeconds(backend: Backend, data: Hw2Data, epochs: number): number[] {
  const result = runNetwork(backend, data, { ...defaultConfig("skeleton"), epochs });
  return result.epochs.map((e) => e.seconds);
}

/**
 * Run `scripts/numpy_cnn_epoch.py` for `epochs` epochs with extra environment variables (such as
 * `OPENBLAS_NUM_THREADS`), and return its epoch times in seconds. Throws `Deno.errors.NotFound`
 * when the interpreter is missing, and an `Error` with the exit code when the script fails.
 */
export async function numpyCnnEpochSeconds(
  python: string,
  epochs: number,
  env: Record<string, string> = {},
): Promise<number[]> {
  const script = new URL("./numpy_cnn_epoch.py", import.meta.url).pathname;
  const output = await new Deno.Command(python, {
    args: [script, "--epochs", String(epochs)],
    env,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!output.success) throw new Error(`${python} ${script} failed with exit code ${output.code}`);
  const line = new TextDecoder().decode(output.stdout).trim().split("\n").pop() ?? "";
  return JSON.parse(line).epoch_seconds;
}
