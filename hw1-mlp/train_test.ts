import assert from "node:assert/strict";
import { join } from "node:path";
import { createBackend, encodeIdx, loadMnist, type Mnist, normalizeImages } from "@nn/core";
import { DEFAULT_CONFIG, type Hw1Data, runMlp } from "./run.ts";
import { gridConfigs } from "./train.ts";

const TRAIN_SLICE = 10000;
const TEST_SLICE = 1000;

let mnist: Mnist | null = null;
async function mnistOnce(): Promise<Mnist> {
  mnist ??= await loadMnist();
  return mnist;
}

/** The first `train` and `test` examples of MNIST. */
async function slice(train: number, test: number): Promise<Hw1Data> {
  const m = await mnistOnce();
  return {
    trainImages: normalizeImages(m.train.images.subarray(0, train * 784)),
    trainLabels: m.train.labels.subarray(0, train),
    testImages: normalizeImages(m.test.images.subarray(0, test * 784)),
    testLabels: m.test.labels.subarray(0, test),
    inputSize: 784,
    classes: 10,
  };
}

Deno.test("runMlp() reaches 90% on an MNIST slice in 3 epochs", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(TRAIN_SLICE, TEST_SLICE);
  const result = runMlp(backend, data, { ...DEFAULT_CONFIG, epochs: 3 });

  assert.equal(result.epochs.length, 3);
  assert.equal(result.iterations.length, 3 * TRAIN_SLICE / DEFAULT_CONFIG.batchSize);
  assert.equal(result.diverged, false);
  assert.equal(result.parameters, 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
  // Measured: 93.6% on 1,000 test images after 3 epochs on 10,000 training images.
  assert.ok(result.testAcc >= 0.9, `test accuracy ${result.testAcc} below 0.9`);
  assert.ok(result.epochs[1].trainLoss < result.epochs[0].trainLoss, "training loss did not fall");
});

Deno.test("runMlp() gives the same numbers for the same seed", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(1000, 200);
  const config = { ...DEFAULT_CONFIG, epochs: 1, hidden: [64] };
  const a = runMlp(backend, data, config);
  const b = runMlp(backend, data, config);
  assert.deepEqual(a.iterations, b.iterations);
  assert.equal(a.testAcc, b.testAcc);
  const c = runMlp(backend, data, { ...config, seed: config.seed + 1 });
  assert.notDeepEqual(a.iterations, c.iterations);
});

Deno.test("runMlp() stops cleanly when the loss diverges", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(1000, 200);
  const result = runMlp(backend, data, {
    ...DEFAULT_CONFIG,
    hidden: [64],
    epochs: 3,
    lr: 1e4,
    initStd: 1,
  });
  assert.equal(result.diverged, true);
  assert.ok(result.epochs.length < 3, `ran ${result.epochs.length} epochs after diverging`);
});

Deno.test("gridConfigs() covers layers, activations and losses", () => {
  const grid = gridConfigs(DEFAULT_CONFIG);
  assert.equal(grid.length, 8);
  assert.equal(new Set(grid.map((g) => g.name)).size, 8);
  assert.deepEqual(
    grid.map((g) => g.config.hidden.length).sort(),
    [1, 1, 1, 1, 2, 2, 2, 2],
  );
  assert.equal(grid.filter((g) => g.config.activation === "relu").length, 4);
  assert.equal(grid.filter((g) => g.config.loss === "softmax").length, 4);
});

// The command as a user runs it, on small IDX files written to a temporary folder.
async function writeSliceFiles(dir: string, train: number, test: number): Promise<void> {
  const m = await mnistOnce();
  const files: [string, Uint8Array][] = [
    [
      "train-images-idx3-ubyte",
      encodeIdx([train, 28, 28], m.train.images.subarray(0, train * 784)),
    ],
    ["train-labels-idx1-ubyte", encodeIdx([train], m.train.labels.subarray(0, train))],
    ["t10k-images-idx3-ubyte", encodeIdx([test, 28, 28], m.test.images.subarray(0, test * 784))],
    ["t10k-labels-idx1-ubyte", encodeIdx([test], m.test.labels.subarray(0, test))],
  ];
  for (const [name, bytes] of files) await Deno.writeFile(join(dir, name), bytes);
}

async function hw1(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-net=127.0.0.1",
      new URL("./train.ts", import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const { code, stdout, stderr } = await command.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

Deno.test("hw1 command trains, writes its report and checks --target-acc", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSliceFiles(dir, 5000, 500);
    const out = join(dir, "out");
    const common = ["--data-dir", dir, "--out", out, "--epochs", "2", "--hidden", "128"];

    await t.step("reaching the target exits 0", async () => {
      const run = await hw1([...common, "--target-acc", "0.8"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /seed: +1/);
      // Without --allow-ffi the auto backend skips blas and says why.
      assert.match(run.stdout, /backend: +wasm .*blas skipped: no --allow-ffi permission/);
      assert.match(run.stdout, /target accuracy 80\.00% reached/);
      const report = await Deno.readTextFile(join(out, "report.md"));
      assert.match(report, /\| seed +\| 1 +\|/);
      assert.match(report, /!\[training loss\]\(loss\.svg\)/);
      const epochs = await Deno.readTextFile(join(out, "run-epochs.csv"));
      assert.equal(epochs.trim().split("\n").length, 3, "header and 2 epochs");
      assert.match(await Deno.readTextFile(join(out, "loss.svg")), /^<svg/);
    });

    await t.step("missing the target exits 1 with one line", async () => {
      const run = await hw1([...common, "--target-acc", "0.999"]);
      assert.equal(run.code, 1);
      const lines = run.stderr.trim().split("\n").filter((l) => l.startsWith("error"));
      assert.equal(lines.length, 1);
      assert.match(lines[0], /^error: Test accuracy \d+\.\d+% is below --target-acc 99\.90%$/);
    });

    await t.step("a truncated IDX file exits 1 naming the file", async () => {
      const path = join(dir, "t10k-labels-idx1-ubyte");
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(path, bytes.subarray(0, bytes.length - 10));
      const run = await hw1(common);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^error: .*t10k-labels-idx1-ubyte.*truncated/m);
      assert.doesNotMatch(run.stderr, /\n\s+at /, "printed a stack trace");
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hw1 command rejects bad flags in one line", async (t) => {
  for (
    const [args, pattern] of [
      [["--hidden", "512,abc"], /^error: Invalid --hidden "512,abc": expected comma-separated/],
      [["--lr", "-1"], /^error: Invalid --lr "-1": expected a positive number/],
      [
        ["--activation", "tanh"],
        /^error: Invalid --activation "tanh": expected one of relu, sigmoid/,
      ],
      [["--epochs", "0"], /^error: Invalid --epochs "0"/],
      [
        ["--momentum", "1"],
        /^error: Invalid --momentum 1: expected a value below 1\. Run with --help/,
      ],
      [["--bogus"], /^error: Unknown flag --bogus/],
    ] as const
  ) {
    await t.step(args.join(" "), async () => {
      const run = await hw1([...args]);
      assert.equal(run.code, 2);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.match(run.stderr, pattern);
    });
  }
});

Deno.test("hw1 --help lists every flag with its default", async () => {
  const run = await hw1(["--help"]);
  assert.equal(run.code, 0);
  for (const flag of ["--hidden", "--lr", "--target-acc", "--grid", "--backend", "--data-dir"]) {
    assert.match(run.stdout, new RegExp(flag));
  }
  assert.match(run.stdout, /default: 512,512/);
});
