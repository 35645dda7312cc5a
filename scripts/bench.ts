/**
 * `deno task bench`: fixed workloads on every available backend, side by side with NumPy (and
 * PyTorch when it is installed) in the same invocation, printed as markdown tables.
 *
 * Workloads: matmul GFLOPS for the three products of a 784→512 Linear layer at batch 100 and for
 * 512³; one epoch of the HW1 MLP (784-512-512-10, ReLU, softmax cross-entropy, batch 100,
 * momentum SGD); one epoch of the HW2 skeleton CNN (see `cnn_epoch.ts`). The epochs run over
 * 60,000 random examples of MNIST's shape, since the cost does not depend on pixel values. Each
 * figure is the best of several timed repetitions.
 *
 * @module
 */

import {
  type Backend,
  createTsBackend,
  flag,
  type MatmulOptions,
  parseFlags,
  Rng,
  runMain,
  UserError,
} from "@nn/core";
import { createWasmBackend } from "../core/backend/wasm.ts";
import { createBlasBackend } from "../core/backend/blas.ts";
import { DEFAULT_CONFIG, type Hw1Data, runMlp } from "../hw1-mlp/run.ts";
import { cnnEpochSeconds, numpyCnnEpochSeconds, randomCnnData } from "./cnn_epoch.ts";

const COMMAND = {
  usage: "deno task bench [flags]",
  description:
    "Time matmuls, one MLP epoch and one CNN epoch on every backend, beside NumPy and PyTorch. " +
    "Every backend is timed whatever NN_BACKEND says; the wasm rows use 1 thread and all cores " +
    "(at most 8), and NN_THREADS sets only the blas row's threads. Run it on an otherwise idle " +
    "machine: other jobs slow NumPy and the two-thread rows far more than the rest.",
  flags: {
    epochs: flag.positiveInt(
      "MLP and CNN epochs timed per implementation, the fastest counts; ts times one CNN epoch " +
        "and no MLP epoch",
      2,
    ),
    python: flag.string("Python interpreter with NumPy", "python3"),
    skipEpoch: flag.boolean("time the matmuls only, no MLP or CNN epoch"),
    skipCnn: flag.boolean("leave out the CNN epoch"),
    threshold: flag.boolean(
      "time 1 against 2 wasm threads over product sizes, to place the parallel threshold",
    ),
  },
};

/** The products of the benchmark: `op(a) [M, K] · op(b) [K, N]`, as in numpy_bench.py. */
const PRODUCTS: { name: string; m: number; n: number; k: number; options: MatmulOptions }[] = [
  { name: "X·W 100x784 · 784x512", m: 100, n: 512, k: 784, options: {} },
  { name: "Xᵀ·dY 784x100 · 100x512", m: 784, n: 512, k: 100, options: { transA: true } },
  { name: "dY·Wᵀ 100x512 · 512x784", m: 100, n: 784, k: 512, options: { transB: true } },
  { name: "512³", m: 512, n: 512, k: 512, options: {} },
];

/** Return the best GFLOPS of three timed batches of repeated calls, each batch ≥ 0.1 s. */
function bestGflops(run: () => void, flops: number): number {
  for (let i = 0; i < 3; i++) run();
  let reps = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) run();
    if (performance.now() - start >= 100) break;
    reps *= 2;
  }
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) run();
    best = Math.min(best, (performance.now() - start) / 1000 / reps);
  }
  return flops / best / 1e9;
}

function matmulGflops(backend: Backend): Record<string, number> {
  const rng = new Rng(0);
  const result: Record<string, number> = {};
  for (const { name, m, n, k, options } of PRODUCTS) {
    const a = backend.zeros(options.transA ? [k, m] : [m, k]);
    const b = backend.zeros(options.transB ? [n, k] : [k, n]);
    rng.fillNormal(a.data, 1);
    rng.fillNormal(b.data, 1);
    const out = backend.zeros([m, n]);
    result[name] = bestGflops(() => backend.matmul(a, b, out, options), 2 * m * n * k);
  }
  return result;
}

/** The CNN epoch's random images and labels, with the fields the MLP reads. */
function randomMnistShapedData(): Hw1Data {
  return { ...randomCnnData(), inputSize: 784, classes: 10 };
}

/** Run a Python script of this folder and return its last stdout line as JSON, or null. */
async function pythonJson(interpreter: string, script: string, args: string[]): Promise<unknown> {
  const path = new URL(`./${script}`, import.meta.url).pathname;
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(interpreter, {
      args: [path, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
  } catch {
    // The interpreter is not installed.
    return null;
  }
  if (!output.success) return null;
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  const last = lines[lines.length - 1] || "null";
  try {
    return JSON.parse(last);
  } catch {
    throw new UserError(
      `${interpreter} ${script} printed no JSON on its last line (got ${
        JSON.stringify(last.slice(0, 80))
      }): ` +
        "pass --python with an interpreter that has NumPy",
    );
  }
}

async function machine(): Promise<string> {
  let cpu = "unknown CPU";
  try {
    // Deno reads /proc only with --allow-all, so ask cat, which --allow-run covers.
    const output = await new Deno.Command("cat", { args: ["/proc/cpuinfo"], stdout: "piped" })
      .output();
    const info = new TextDecoder().decode(output.stdout);
    cpu = info.match(/model name\s*:\s*(.*)/)?.[1] ?? cpu;
    if (/\bavx512f\b/.test(info)) cpu += ", AVX-512";
  } catch {
    // Not Linux, or cat is missing: keep the generic name.
  }
  return `${cpu}, ${navigator.hardwareConcurrency} cores, ${Deno.build.os}, Deno ${Deno.version.deno}`;
}

function ratio(value: number, base: number | undefined): string {
  return base ? (value / base).toFixed(2) : "-";
}

/** One row of an epoch table: the fastest epoch in seconds, or why none was timed. */
interface EpochRow {
  name: string;
  seconds: number | string;
}

function printEpochTable(title: string, rows: EpochRow[], numpySeconds?: number): void {
  console.log(`\n${title}\n`);
  console.log("| implementation | seconds | × NumPy |");
  console.log("| --- | ---: | ---: |");
  for (const { name, seconds } of rows) {
    const cells = typeof seconds === "number"
      ? [seconds.toFixed(2), ratio(seconds, numpySeconds)]
      : [seconds, "-"];
    console.log(`| ${name} | ${cells.join(" | ")} |`);
  }
}

/** Time `epochs` HW1 MLP epochs on every backend but ts and in NumPy, and print the table. */
async function mlpEpochs(backends: Backend[], python: string, epochs: number): Promise<void> {
  const data = randomMnistShapedData();
  const rows: EpochRow[] = [];
  for (const backend of backends) {
    if (backend.name === "ts") {
      // An estimate: about 2e11 flops of matrix products at the 1.5-3 GFLOPS that ts reaches.
      rows.push({ name: backend.description, seconds: "not timed (over a minute)" });
      continue;
    }
    console.error(`timing MLP epochs on ${backend.description}`);
    const result = runMlp(backend, data, { ...DEFAULT_CONFIG, epochs });
    rows.push({
      name: backend.description,
      seconds: Math.min(...result.epochs.map((e) => e.seconds)),
    });
  }
  const numpy = await pythonJson(python, "numpy_mlp_epoch.py", ["--epochs", String(epochs)]) as
    | { epoch_seconds: number[] }
    | null;
  const numpySeconds = numpy ? Math.min(...numpy.epoch_seconds) : undefined;
  if (numpySeconds) {
    rows.push({ name: "NumPy (scripts/numpy_mlp_epoch.py)", seconds: numpySeconds });
  }
  printEpochTable(
    `One epoch of 784-512-512-10 at batch 100 (60,000 examples), fastest of ${epochs}:`,
    rows,
    numpySeconds,
  );
}

/**
 * Time `epochs` HW2 skeleton CNN epochs on every backend and in NumPy, and print the table. The ts
 * backend runs a single epoch, which took 15 s on the 2-core AMD EPYC machine.
 */
async function cnnEpochs(backends: Backend[], python: string, epochs: number): Promise<void> {
  const data = randomCnnData();
  const rows: EpochRow[] = [];
  for (const backend of backends) {
    const count = backend.name === "ts" ? 1 : epochs;
    console.error(`timing CNN epochs on ${backend.description}`);
    const seconds = cnnEpochSeconds(backend, data, count);
    const name = count === epochs ? backend.description : `${backend.description}, one epoch`;
    rows.push({ name, seconds: Math.min(...seconds) });
  }
  let numpySeconds: number | undefined;
  try {
    numpySeconds = Math.min(...await numpyCnnEpochSeconds(python, epochs));
    rows.push({ name: "NumPy (scripts/numpy_cnn_epoch.py)", seconds: numpySeconds });
  } catch (error) {
    console.log(`\nNumPy CNN epoch failed: ${error instanceof Error ? error.message : error}`);
  }
  printEpochTable(
    "One epoch of the HW2 skeleton CNN (conv 1→4, avg-pool, conv 4→4, avg-pool, Linear 196→10) " +
      `at batch 100 (60,000 examples), fastest of ${epochs}:`,
    rows,
    numpySeconds,
  );
}

/**
 * Print the GFLOPS of square-ish products on one thread and on two threads that always split,
 * from 2^12 to 2^22 multiply-adds, so the smallest size where two threads win can be read off.
 */
async function thresholdSweep(): Promise<void> {
  const one = await createWasmBackend({ threads: 1 });
  const two = await createWasmBackend({ threads: 2, parallelMinMacs: 0 });
  console.log("Products [M, K]·[K, N] on wasm in GFLOPS. Two threads always split here.\n");
  console.log("| M×N×K | multiply-adds | 1 thread | 2 threads | 2 / 1 |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  for (let log2 = 12; log2 <= 22; log2++) {
    // M = N = 8·s and K = s give 64·s³ = 2^log2 multiply-adds; round s to an integer.
    const side = Math.max(1, Math.round(Math.cbrt(2 ** log2 / 64)));
    const [m, n, k] = [8 * side, 8 * side, side];
    const cells: number[] = [];
    for (const backend of [one, two]) {
      const a = backend.zeros([m, k]), b = backend.zeros([k, n]), out = backend.zeros([m, n]);
      cells.push(bestGflops(() => backend.matmul(a, b, out), 2 * m * n * k));
    }
    console.log(
      `| ${m}×${n}×${k} | ${m * n * k} | ${cells[0].toPrecision(3)} | ${
        cells[1].toPrecision(3)
      } | ` +
        `${(cells[1] / cells[0]).toFixed(2)} |`,
    );
  }
}

async function main(): Promise<void> {
  const flags = parseFlags(COMMAND, Deno.args);
  console.log(`Machine: ${await machine()}\n`);
  if (flags.threshold) return await thresholdSweep();

  const cores = Math.min(navigator.hardwareConcurrency || 1, 8);
  const backends: Backend[] = [createTsBackend()];
  for (const threads of [...new Set([1, cores])]) {
    backends.push(await createWasmBackend({ threads }));
  }
  const blas = await createBlasBackend();
  if (blas.backend) backends.push(blas.backend);
  else console.log(`blas: unavailable (${blas.reason})\n`);

  // Matrix products.
  const rows: { name: string; gflops: Record<string, number> }[] = [];
  for (const backend of backends) {
    console.error(`timing matmuls on ${backend.description}`);
    rows.push({ name: backend.description, gflops: matmulGflops(backend) });
  }
  const numpy = await pythonJson(flags.python, "numpy_bench.py", []) as
    | { numpy: string; blas: string; matmul: Record<string, number> }
    | null;
  if (numpy) rows.push({ name: `NumPy ${numpy.numpy} (${numpy.blas})`, gflops: numpy.matmul });
  else console.log(`NumPy: not available through ${flags.python}\n`);
  const torch = await pythonJson(flags.python, "numpy_bench.py", ["--torch"]) as
    | { torch: string; matmul: Record<string, number> }
    | null;
  if (torch) rows.push({ name: `PyTorch ${torch.torch} (1 thread)`, gflops: torch.matmul });

  console.log("Matrix products, GFLOPS (× NumPy in brackets):\n");
  console.log(`| implementation | ${PRODUCTS.map((p) => p.name).join(" | ")} |`);
  console.log(`| --- | ${PRODUCTS.map(() => "---:").join(" | ")} |`);
  for (const row of rows) {
    const cells = PRODUCTS.map((p) => {
      const value = row.gflops[p.name];
      return `${value.toFixed(1)} (${ratio(value, numpy?.matmul[p.name])})`;
    });
    console.log(`| ${row.name} | ${cells.join(" | ")} |`);
  }
  if (flags.skipEpoch) return;

  await mlpEpochs(backends, flags.python, flags.epochs);
  if (!flags.skipCnn) await cnnEpochs(backends, flags.python, flags.epochs);
}

if (import.meta.main) await runMain(main);
