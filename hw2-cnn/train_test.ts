import assert from "node:assert/strict";
import { join } from "node:path";
import { createBackend, encodeIdx, loadMnist, type Mnist, normalizeImages } from "@nn/core";
import { defaultConfig, type Hw2Data, runNetwork } from "./run.ts";
import { distinctDigits, reproduceCommand } from "./train.ts";

let mnist: Mnist | null = null;
async function mnistOnce(): Promise<Mnist> {
  mnist ??= await loadMnist();
  return mnist;
}

/** Return the first `train` and `test` examples of MNIST. */
async function slice(train: number, test: number): Promise<Hw2Data> {
  const m = await mnistOnce();
  return {
    trainImages: normalizeImages(m.train.images.subarray(0, train * 784)),
    trainLabels: m.train.labels.subarray(0, train),
    testImages: normalizeImages(m.test.images.subarray(0, test * 784)),
    testLabels: m.test.labels.subarray(0, test),
  };
}

Deno.test("runNetwork() trains the skeleton CNN past 90% on an MNIST slice", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(10000, 1000);
  const result = runNetwork(backend, data, { ...defaultConfig("skeleton"), epochs: 3 });

  assert.equal(result.epochs.length, 3);
  assert.equal(result.iterations.length, 3 * 100);
  assert.equal(result.diverged, false);
  assert.equal(result.parameters, 2158);
  // Measured: 95.7% on 1,000 test images after 3 epochs on 10,000 training images.
  assert.ok(result.testAcc >= 0.9, `test accuracy ${result.testAcc} below 0.9`);
  assert.ok(result.epochs[2].trainLoss < result.epochs[0].trainLoss, "training loss did not fall");
});

Deno.test("runNetwork() trains the tuned CNN past 80% in one epoch of 4,000 images", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(4000, 500);
  const result = runNetwork(backend, data, { ...defaultConfig("tuned"), epochs: 1 });
  assert.equal(result.parameters, 421642);
  // Measured: 87.2% on 500 test images.
  assert.ok(result.testAcc >= 0.8, `test accuracy ${result.testAcc} below 0.8`);
});

Deno.test("runNetwork() gives the same numbers for the same seed", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(1000, 200);
  const config = { ...defaultConfig("skeleton"), epochs: 1 };
  const a = runNetwork(backend, data, config);
  const b = runNetwork(backend, data, config);
  assert.deepEqual(a.iterations, b.iterations);
  assert.equal(a.testAcc, b.testAcc);
  const c = runNetwork(backend, data, { ...config, seed: config.seed + 1 });
  assert.notDeepEqual(a.iterations, c.iterations);
});

Deno.test("distinctDigits() picks test images of different classes in order", () => {
  const data: Hw2Data = {
    trainImages: new Float32Array(0),
    trainLabels: new Uint8Array(0),
    testImages: Float32Array.from({ length: 5 * 784 }, (_, i) => Math.floor(i / 784)),
    testLabels: Uint8Array.of(7, 7, 2, 1, 0),
  };
  const { images, labels } = distinctDigits(data, 3);
  assert.deepEqual(labels, [7, 2, 1]);
  // Images 0, 2 and 3, whose pixels hold their index.
  assert.deepEqual([images[0], images[784], images[2 * 784]], [0, 2, 3]);
});

Deno.test("reproduceCommand() sets --model and keeps the other flags", () => {
  assert.equal(
    reproduceCommand(["--epochs", "3", "--model", "both", "--seed=2"], "tuned"),
    "deno task hw2 --model tuned --epochs 3 --seed=2",
  );
  assert.equal(reproduceCommand(["--model=both"], "skeleton"), "deno task hw2 --model skeleton");
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

async function hw2(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
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

Deno.test("hw2 command trains, writes its report and pictures, and checks --target-acc", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSliceFiles(dir, 3000, 300);
    const out = join(dir, "out");
    const baselineCsv = join(dir, "mlp-epochs.csv");
    await Deno.writeTextFile(
      baselineCsv,
      "epoch,train_loss,train_acc,test_loss,test_acc,seconds\n1,0.3,0.9,0.2,0.95,7.5\n",
    );
    const common = [
      "--data-dir",
      dir,
      "--out",
      out,
      "--model",
      "skeleton",
      "--epochs",
      "2",
      "--baseline-csv",
      baselineCsv,
    ];

    await t.step("reaching the target exits 0", async () => {
      const run = await hw2([...common, "--target-acc", "0.7"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /seed: +1/);
      assert.match(run.stdout, /target accuracy 70\.00% reached/);
      const report = await Deno.readTextFile(join(out, "hw2.md"));
      assert.match(report, /\| skeleton CNN +\|/);
      assert.match(report, /\| HW1 MLP +\| .* \| +669706 \| +1 \| +95\.00% \|/);
      assert.match(report, /`deno task hw2 --model skeleton --data-dir /);
      assert.match(
        report,
        /!\[first convolution layer of the skeleton CNN after ReLU\]\(hw2\/skeleton-conv1-maps\.png\)/,
      );
      const png = await Deno.readFile(join(out, "hw2", "skeleton-conv1-maps.png"));
      assert.deepEqual([...png.subarray(1, 4)], [0x50, 0x4e, 0x47]);
      const epochs = await Deno.readTextFile(join(out, "hw2", "skeleton-epochs.csv"));
      assert.equal(epochs.trim().split("\n").length, 3, "header and 2 epochs");
      assert.match(await Deno.readTextFile(join(out, "hw2", "test-acc.svg")), /^<svg/);
    });

    await t.step("missing the target exits 1 with one line", async () => {
      const run = await hw2([...common, "--epochs", "1", "--target-acc", "0.999"]);
      assert.equal(run.code, 1);
      const lines = run.stderr.trim().split("\n").filter((l) => l.startsWith("error"));
      assert.equal(lines.length, 1);
      assert.match(
        lines[0],
        /^error: Test accuracy of the skeleton CNN \d+\.\d+% is below --target-acc 99\.90%$/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hw2 command rejects bad flags in one line", async (t) => {
  for (
    const [args, pattern] of [
      [
        ["--model", "resnet"],
        /^error: Invalid --model "resnet": expected one of skeleton, tuned, both/,
      ],
      [["--lr", "0"], /^error: Invalid --lr "0": expected a positive number/],
      [
        ["--momentum", "1"],
        /^error: Invalid --momentum 1: expected a value below 1\. Run with --help/,
      ],
      [
        ["--schedule", "step"],
        /^error: Invalid --schedule "step": expected one of cosine, constant/,
      ],
      [["--bogus"], /^error: Unknown flag --bogus/],
    ] as const
  ) {
    await t.step(args.join(" "), async () => {
      const run = await hw2([...args]);
      assert.equal(run.code, 2);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.match(run.stderr, pattern);
    });
  }
});

Deno.test("hw2 --help lists every flag with the per-network defaults", async () => {
  const run = await hw2(["--help"]);
  assert.equal(run.code, 0);
  for (const flag of ["--model", "--epochs", "--lr", "--schedule", "--target-acc", "--baseline"]) {
    assert.match(run.stdout, new RegExp(flag));
  }
  assert.match(run.stdout, /for skeleton/);
});
