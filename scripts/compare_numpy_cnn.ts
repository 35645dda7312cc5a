/**
 * Time one epoch of the course's HW2 skeleton CNN on this engine and in NumPy, one after the
 * other on the same machine, and print a markdown table with the ratio. The network is conv 1→4,
 * avg-pool, conv 4→4, avg-pool, Linear 196→10 with softmax cross-entropy, batch 100 and momentum
 * SGD; the NumPy side (`scripts/numpy_cnn_epoch.py`) computes convolution with im2col too.
 *
 * Usage: `deno task compare:numpy-cnn [--epochs N]`. Both sides train on random data of MNIST's
 * shape, because the cost of an epoch does not depend on the pixel values. The engine runs the
 * wasm backend with 1 thread and with every core, and the blas backend when it loads; NumPy runs
 * with its BLAS limited to 1 thread and with its default threads. Each side reports its fastest
 * epoch.
 *
 * @module
 */

import { type Backend, createBackend, flag, parseFlags, runMain, writeFileAtomic } from "@nn/core";
import { createWasmBackend } from "../core/backend/wasm.ts";
import { cnnEpochSeconds, numpyCnnEpochSeconds, randomCnnData } from "./cnn_epoch.ts";
import { assertNumpy } from "./numpy_check.ts";

const COMMAND = {
  usage: "deno task compare:numpy-cnn [flags]",
  description: "Time one epoch of the HW2 skeleton CNN on this engine and in NumPy, side by side.",
  flags: {
    epochs: flag.positiveInt("epochs timed on each side; the fastest counts", 3),
    python: flag.string("Python interpreter with NumPy", "python3"),
    out: flag.string("also write the table to this markdown file", undefined, {
      valueName: "FILE",
    }),
  },
};

async function main(): Promise<void> {
  const flags = parseFlags(COMMAND, Deno.args);
  await assertNumpy(flags.python);
  const data = randomCnnData();
  const rows: [string, number][] = [];

  const cores = navigator.hardwareConcurrency || 1;
  const backends: Backend[] = [];
  for (const threads of [...new Set([1, cores])]) {
    backends.push(await createWasmBackend({ threads }));
  }
  try {
    backends.push(await createBackend("blas"));
  } catch (error) {
    console.error(`blas skipped: ${error instanceof Error ? error.message : error}`);
  }
  for (const backend of backends) {
    const seconds = cnnEpochSeconds(backend, data, flags.epochs);
    rows.push([backend.description, Math.min(...seconds)]);
    console.error(`${backend.description}: ${seconds.map((s) => s.toFixed(2))} s`);
  }

  const oneThread = { OPENBLAS_NUM_THREADS: "1", OMP_NUM_THREADS: "1", MKL_NUM_THREADS: "1" };
  const numpyRows: [string, Record<string, string>][] = [
    ["NumPy im2col, BLAS 1 thread (scripts/numpy_cnn_epoch.py)", oneThread],
    ["NumPy im2col, BLAS default threads", {}],
  ];
  let reference = NaN;
  for (const [name, env] of numpyRows) {
    const seconds = await numpyCnnEpochSeconds(flags.python, flags.epochs, env);
    console.error(`${name}: ${seconds.map((s) => s.toFixed(2))} s`);
    rows.push([name, Math.min(...seconds)]);
    if (Number.isNaN(reference)) reference = Math.min(...seconds);
  }

  const lines = [
    "# HW2 skeleton CNN: one epoch on this engine and in NumPy",
    "",
    "One epoch of the HW2 skeleton CNN at batch 100 (60,000 examples), fastest of " +
    `${flags.epochs}, measured by \`deno task compare:numpy-cnn\` on ${new Date().toISOString()}` +
    ` (${cores} cores):`,
    "",
    "| implementation | seconds | × NumPy 1 thread |",
    "| --- | ---: | ---: |",
    ...rows.map(([name, seconds]) =>
      `| ${name} | ${seconds.toFixed(2)} | ${(seconds / reference).toFixed(2)} |`
    ),
  ];
  console.log(lines.join("\n"));
  if (flags.out !== undefined) await writeFileAtomic(flags.out, lines.join("\n") + "\n");
}

if (import.meta.main) await runMain(main);
