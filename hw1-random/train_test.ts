import assert from "node:assert/strict";
import { join } from "node:path";
import {
  createBackend,
  encodeIdx,
  loadMnist,
  type Mnist,
  MNIST_FILES,
  normalizeImages,
} from "@nn/core";
import {
  DEFAULT_CONFIG,
  FEEDBACK_DEFAULTS,
  type MnistData,
  type RunConfig,
  runStudy,
} from "./run.ts";
import { parseNumberList, sweepConfigs } from "./train.ts";

const TRAIN_SLICE = 10000;
const TEST_SLICE = 1000;

let mnist: Mnist | null = null;
async function mnistOnce(): Promise<Mnist> {
  mnist ??= await loadMnist();
  return mnist;
}

/** Return the first `train` and `test` examples of MNIST, normalized. */
async function slice(train: number, test: number): Promise<MnistData> {
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

/** Feedback alignment with the command's defaults on the seed network. */
const FEEDBACK: RunConfig = { ...DEFAULT_CONFIG, ...FEEDBACK_DEFAULTS, rule: "feedback" };

Deno.test("runStudy() trains feedback alignment to 85% on an MNIST slice", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(TRAIN_SLICE, TEST_SLICE);
  const result = runStudy(backend, data, { ...FEEDBACK, epochs: 3 });

  assert.equal(result.epochs.length, 3);
  assert.equal(result.divergence, null);
  assert.equal(result.parameters, 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
  // Measured: 87.7% on 1,000 test images after 3 epochs on 10,000 training images.
  assert.ok(result.testAcc >= 0.85, `test accuracy ${result.testAcc} below 0.85`);
  assert.ok(result.epochs[2].trainLoss < result.epochs[0].trainLoss, "training loss did not fall");

  // Angles on iteration 1 and every angleFreq-th, top hidden layer first.
  const iterations = 3 * TRAIN_SLICE / FEEDBACK.batchSize;
  const measured = 1 + Math.floor(iterations / FEEDBACK.angleFreq);
  assert.equal(result.angles.length, 2 * measured);
  assert.deepEqual(result.angles.slice(0, 2).map((a) => [a.iteration, a.hiddenLayer]), [
    [1, 2],
    [1, 1],
  ]);
  // A random B starts nearly orthogonal to W, and W then aligns with B.
  const top = result.angles.filter((a) => a.hiddenLayer === 2);
  assert.ok(Math.abs(top[0].angle - 90) < 5, `first angle ${top[0].angle} is not near 90°`);
  const lastTen = top.slice(-10).reduce((sum, a) => sum + a.angle, 0) / 10;
  assert.ok(lastTen < 80, `top hidden layer angle ${lastTen} did not fall below 80°`);
});

Deno.test("runStudy() starts both rules from the same weights and batches", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(1000, 100);
  const config = { ...FEEDBACK, epochs: 1, hidden: [64, 32] };
  const firstLosses = (rule: "backprop" | "feedback") => {
    const losses: number[] = [];
    runStudy(backend, data, { ...config, rule }, {
      onIteration: (record) => losses.push(record.loss),
    });
    return losses;
  };
  const backprop = firstLosses("backprop");
  const feedback = firstLosses("feedback");

  // Iteration 1 runs the same forward pass, so the loss is the same bit for bit. The top layer
  // takes the same first update under both rules, the layers below do not.
  assert.equal(feedback[0], backprop[0]);
  assert.notEqual(feedback[2], backprop[2]);
  // The same seed repeats a run exactly.
  assert.deepEqual(firstLosses("feedback"), feedback);
});

Deno.test("runStudy() stops an exploding run cleanly", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(1000, 100);
  // B of scale 1, twenty times W's, sends signals too large for lr 0.05.
  const result = runStudy(backend, data, {
    ...FEEDBACK,
    hidden: [64, 64],
    lr: 0.05,
    epochs: 3,
    feedback: { distribution: "normal", scale: 1 },
  });
  assert.ok(result.divergence !== null, "the run did not stop");
  assert.equal(result.divergence.reason, "exploding");
  assert.ok(result.divergence.loss > result.divergence.limit);
  assert.ok(Number.isFinite(result.divergence.loss));
  assert.equal(result.epochs.length, 1, "trained on after exploding");
  assert.ok(result.divergence.iteration < 1000 / FEEDBACK.batchSize);
});

Deno.test("runStudy() stops a run whose loss turns non-finite", async () => {
  const backend = await createBackend("wasm");
  const data = await slice(1000, 100);
  const result = runStudy(backend, data, {
    ...FEEDBACK,
    rule: "backprop",
    hidden: [64, 64],
    lr: 1e4,
    initStd: 1,
    epochs: 3,
    // Too large to trigger, so that only a NaN or infinite loss stops the run.
    explosionFactor: 1e300,
  });
  assert.ok(result.divergence !== null, "the run did not stop");
  assert.equal(result.divergence.reason, "non-finite");
  assert.ok(!Number.isFinite(result.divergence.loss));
  assert.equal(result.epochs.length, 1);
});

Deno.test("sweepConfigs() crosses W and B scales with a backprop column", () => {
  const cells = sweepConfigs(FEEDBACK, [0.01, 1], 2);
  assert.deepEqual(
    cells.map((c) => [c.initStd, c.feedbackScale, c.config.rule]),
    [
      [0.01, null, "backprop"],
      [0.01, 0.01, "feedback"],
      [0.01, 1, "feedback"],
      [1, null, "backprop"],
      [1, 0.01, "feedback"],
      [1, 1, "feedback"],
    ],
  );
  assert.ok(cells.every((c) => c.config.epochs === 2 && c.config.initStd === c.initStd));
  assert.ok(
    cells.every((c) => c.feedbackScale === null || c.config.feedback.scale === c.feedbackScale),
  );
  assert.equal(new Set(cells.map((c) => c.name)).size, cells.length);
});

Deno.test("parseNumberList() reads comma-separated positive numbers", () => {
  assert.deepEqual(parseNumberList("--sweep-scales", "0.001, 1e-2,1"), [0.001, 0.01, 1]);
  for (const value of ["", "0.1,,1", "0.1,-1", "0", "abc"]) {
    assert.throws(() => parseNumberList("--sweep-scales", value), {
      name: "UsageError",
      message: `Invalid --sweep-scales ${
        JSON.stringify(value)
      }: expected comma-separated positive numbers`,
    });
  }
});

// The command as a user runs it, on small IDX files written to a temporary folder.
/** Write the first `train` and `test` examples of MNIST into `dir` as the four raw IDX files. */
async function writeSliceFiles(dir: string, train: number, test: number): Promise<void> {
  const m = await mnistOnce();
  for (
    const [split, count, images, labels] of [
      [m.train, train, MNIST_FILES.trainImages, MNIST_FILES.trainLabels],
      [m.test, test, MNIST_FILES.testImages, MNIST_FILES.testLabels],
    ] as const
  ) {
    const pixels = split.images.subarray(0, count * split.rows * split.cols);
    await Deno.writeFile(join(dir, images), encodeIdx([count, split.rows, split.cols], pixels));
    await Deno.writeFile(join(dir, labels), encodeIdx([count], split.labels.subarray(0, count)));
  }
}

async function hw1Random(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
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

Deno.test("hw1-random command writes the whole report", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    await writeSliceFiles(dir, 3000, 500);
    const out = join(dir, "out");
    const common = [
      "--data-dir",
      dir,
      "--out",
      out,
      "--hidden",
      "64,64",
      "--epochs",
      "2",
      "--fa-epochs",
      "2",
      "--angle-freq",
      "5",
      "--sweep-scales",
      "0.01,1",
      "--sweep-epochs",
      "1",
      "--paper-hidden",
      "32",
      "--paper-epochs",
      "1",
    ];

    await t.step("reaching the target exits 0", async () => {
      // Measured: 73% for backprop and 45% for feedback alignment, which learns more slowly.
      const run = await hw1Random([...common, "--target-acc", "0.3"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /seed: +1/);
      assert.match(run.stdout, /target accuracy 30\.00% reached by both rules/);
    });

    await t.step("the report has every section and its files", async () => {
      const report = await Deno.readTextFile(join(out, "hw1-random.md"));
      assert.match(report, /\| seed +\| 1 +\|/);
      assert.match(report, /\| backprop +\|.*\| +98% \|/);
      assert.match(report, /\| feedback alignment +\|.*\| +95% \|/);
      assert.match(report, /## Angle between the teaching signals/);
      assert.match(report, /## Initial scales of W and B/);
      assert.match(
        report,
        /\| W init std \| +backprop \| +FA, B scale 0\.01 \| +FA, B scale 1 \|/,
      );
      assert.match(report, /## Lillicrap et al.'s MNIST network/);
      assert.match(report, /784-32-10 sigmoid, sigmoid output/);
      // B of scale 1 makes both of its cells explode within their one epoch.
      assert.match(report, /\*\*exploded\*\* \(iteration \d+\)/);

      const images = [...report.matchAll(/!\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
      assert.deepEqual(images, [
        "hw1-random/main-test-acc.svg",
        "hw1-random/main-loss.svg",
        "hw1-random/main-angles.svg",
        "hw1-random/paper-test-error.svg",
      ]);
      for (const image of images) {
        assert.match(await Deno.readTextFile(join(out, image)), /^<svg/, image);
      }
      const links = [...report.matchAll(/- \[([^\]]+\.csv)\]/g)].map((m) => m[1]);
      // Two files per run and a third (angles) per FA run: 2 main runs, sweep.csv, 2 paper runs.
      assert.equal(links.length, (2 + 3) + 1 + (2 + 3));
      for (const link of links) await Deno.stat(join(out, "hw1-random", link));

      // sweep.csv names each cell's logs: 2 W scales × (backprop + 2 B scales).
      const sweep = (await Deno.readTextFile(join(out, "hw1-random", "sweep.csv"))).trim();
      const prefixes = sweep.split("\n").slice(1).map((row) => row.split(",").at(-1));
      assert.equal(prefixes.length, 6);
      for (const prefix of prefixes) {
        await Deno.stat(join(out, "hw1-random", `${prefix}-epochs.csv`));
        await Deno.stat(join(out, "hw1-random", `${prefix}-train.csv`));
      }
      assert.match(sweep, /^0\.01,feedback,1,1,[0-9.]+,exploding,\d+,/m);
      assert.match(sweep, /^1,feedback,1,1,[0-9.]+,exploding,\d+,/m);

      const angles = await Deno.readTextFile(join(out, "hw1-random", "main-feedback-angles.csv"));
      const rows = angles.trim().split("\n");
      assert.equal(rows[0], "iteration,hidden_layer,angle_deg,example_angle_deg");
      // 2 epochs of 30 iterations: iteration 1 and every 5th, two hidden layers each.
      assert.equal(rows.length, 1 + 2 * (1 + 12));
    });

    await t.step("missing the target exits 1 with one line", async () => {
      const run = await hw1Random([...common, "--skip-sweep", "--skip-paper", "--target-acc", "1"]);
      assert.equal(run.code, 1);
      const lines = run.stderr.trim().split("\n").filter((l) => l.startsWith("error"));
      assert.equal(lines.length, 1);
      assert.match(
        lines[0],
        /^error: Test accuracy of backprop \d+\.\d+% is below --target-acc 100\.00%$/,
      );
      const report = await Deno.readTextFile(join(out, "hw1-random.md"));
      assert.doesNotMatch(report, /## Initial scales/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hw1-random command rejects bad flags in one line", async (t) => {
  for (
    const [args, pattern] of [
      [
        ["--b-dist", "cauchy"],
        /^error: Invalid --b-dist "cauchy": expected one of normal, uniform/,
      ],
      [["--b-scale", "0"], /^error: Invalid --b-scale "0": expected a positive number/],
      [
        ["--sweep-scales", "0.1,x"],
        /^error: Invalid --sweep-scales "0.1,x": expected comma-separated/,
      ],
      [
        ["--hidden", "none"],
        /^error: Invalid --hidden none: feedback alignment needs at least one/,
      ],
      [
        ["--explosion-factor", "1"],
        /^error: Invalid --explosion-factor 1: expected a number above 1/,
      ],
      [["--paper-momentum", "1"], /^error: Invalid --paper-momentum 1: expected a value below 1/],
      [["--bogus"], /^error: Unknown flag --bogus/],
    ] as const
  ) {
    await t.step(args.join(" "), async () => {
      const run = await hw1Random([...args]);
      assert.equal(run.code, 2, run.stderr);
      assert.equal(run.stderr.trim().split("\n").length, 1, run.stderr);
      assert.match(run.stderr, pattern);
    });
  }
});

Deno.test("hw1-random --help lists the feedback flags with defaults", async () => {
  const run = await hw1Random(["--help"]);
  assert.equal(run.code, 0);
  for (const flag of ["--b-dist", "--b-scale", "--fa-lr", "--sweep-scales", "--paper-lr"]) {
    assert.match(run.stdout, new RegExp(flag));
  }
  assert.match(run.stdout, /default: 0\.001,0\.01,0\.1,1/);
});
