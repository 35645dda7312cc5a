import assert from "node:assert/strict";
import { join } from "node:path";
import { encodeIdx, formatPercent, loadMnist } from "@nn/core";
import { defaultConfig } from "./config.ts";
import { trainFlags } from "./console.ts";

/** Write the first `train` and `test` MNIST images as the four IDX files into `dir`. */
async function writeSliceFiles(dir: string, train: number, test: number): Promise<void> {
  const m = await loadMnist();
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

async function hw3(
  args: string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const command = new Deno.Command(Deno.execPath(), {
    cwd,
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

Deno.test("hw3 train, evaluate and resume work as commands", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "hw3-command-" });
  try {
    await writeSliceFiles(dir, 1000, 200);
    const out = join(dir, "out");
    const data = ["--data-dir", dir, "--validation", "200", "--backend", "wasm"];
    const small = ["--model", "mlp", "--hidden", "32", "--disp-freq", "4"];

    await t.step("train writes checkpoints, logs and a report", async () => {
      const run = await hw3(["train", ...small, "--epochs", "2", "--out", out, ...data]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /mlp \| epoch {2}2\/2 {2}train loss/);
      assert.match(run.stdout, /best validation accuracy .* at epoch \d; its test accuracy/);
      const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
      assert.deepEqual(files, [
        "best.ckpt",
        "last.ckpt",
        "loss.svg",
        "mlp-epochs.csv",
        "mlp-train.csv",
        "report.md",
        "result.json",
      ]);
    });

    await t.step("evaluate scores best.ckpt as train did", async () => {
      const result = JSON.parse(await Deno.readTextFile(join(out, "result.json")));
      const run = await hw3(["evaluate", "--checkpoint", join(out, "best.ckpt"), ...data]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`test accuracy ${formatPercent(result.testAcc)} `));
      assert.match(
        run.stdout,
        new RegExp(`validation accuracy ${formatPercent(result.bestValAcc)} .* last 200 `),
      );
    });

    await t.step("evaluate rejects more validation images than the run held out", async () => {
      const more = data.map((arg) => (arg === "200" ? "300" : arg));
      const run = await hw3(["evaluate", "--checkpoint", join(out, "best.ckpt"), ...more]);
      assert.equal(run.code, 2);
      assert.match(
        run.stderr,
        /^error: Invalid --validation 300: the checkpoint's run held out only the last 200 training images/,
      );
      assert.equal(run.stdout, "");
    });

    await t.step("evaluate holds out the checkpoint's validation count by default", async () => {
      const withoutFlag = data.filter((_, i) => i !== 2 && i !== 3);
      assert.deepEqual(withoutFlag.includes("--validation"), false);
      const run = await hw3(["evaluate", "--checkpoint", join(out, "best.ckpt"), ...withoutFlag]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /validation accuracy .* on the last 200 training images/);
    });

    await t.step("resume continues to the new epoch count", async () => {
      const run = await hw3([
        "train",
        "--epochs",
        "3",
        "--out",
        out,
        "--resume",
        join(out, "last.ckpt"),
        ...data,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /resuming after epoch 2/);
      assert.match(run.stdout, /epoch {2}3\/3/);
      assert.doesNotMatch(run.stdout, /epoch {2}1\/3/);
    });

    await t.step("resume without --out writes to the checkpoint's folder", async () => {
      // In the working folder, the default output folder would be runs/hw3/mlp.
      const moved = join(dir, "moved");
      await Deno.mkdir(moved);
      for (const name of ["last.ckpt", "best.ckpt"]) {
        await Deno.copyFile(join(out, name), join(moved, name));
      }
      const run = await hw3([
        "train",
        "--epochs",
        "3",
        "--resume",
        join(moved, "last.ckpt"),
        ...data,
      ], dir);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`out: +${moved}\n`));
      const result = JSON.parse(await Deno.readTextFile(join(moved, "result.json")));
      assert.equal(result.epochs.length, 3);
      assert.throws(() => Deno.statSync(join(dir, "runs")), Deno.errors.NotFound);
    });

    await t.step("resume into another --out copies best.ckpt", async () => {
      // No epoch is left to train, so the test score comes from the copied best.ckpt alone.
      const copy = join(dir, "copy");
      const before = JSON.parse(await Deno.readTextFile(join(out, "result.json")));
      const run = await hw3([
        "train",
        "--out",
        copy,
        "--resume",
        join(out, "last.ckpt"),
        ...data,
      ]);
      assert.equal(run.code, 0, run.stderr);
      assert.deepEqual(
        await Deno.readFile(join(copy, "best.ckpt")),
        await Deno.readFile(join(out, "best.ckpt")),
      );
      const result = JSON.parse(await Deno.readTextFile(join(copy, "result.json")));
      assert.equal(result.bestEpoch, before.bestEpoch);
      assert.equal(result.testAcc, before.testAcc);
    });

    await t.step("resume into another --out needs best.ckpt", async () => {
      const lonely = join(dir, "lonely");
      await Deno.mkdir(lonely);
      await Deno.copyFile(join(out, "last.ckpt"), join(lonely, "last.ckpt"));
      const elsewhere = join(dir, "elsewhere");
      const run = await hw3([
        "train",
        "--epochs",
        "4",
        "--out",
        elsewhere,
        "--resume",
        join(lonely, "last.ckpt"),
        ...data,
      ]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Checkpoint .*lonely\/best\.ckpt not found: the run of .*lonely\/last\.ckpt is scored on the test set with its best checkpoint, that of epoch \d\. Resume from a folder that contains the run's best\.ckpt\.\n$/,
      );
      assert.equal(run.stdout, "");
      assert.deepEqual([...Deno.readDirSync(elsewhere)], []);
    });

    await t.step("resume rejects another --validation", async () => {
      const run = await hw3([
        "train",
        "--epochs",
        "4",
        "--resume",
        join(out, "last.ckpt"),
        ...data,
        "--validation",
        "300",
      ]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Checkpoint .*last\.ckpt does not fit this run: --validation is 200 in the checkpoint but 300 here\. Resume with/,
      );
      assert.equal(run.stdout, "");
    });

    await t.step("resume rejects fewer epochs than completed", async () => {
      const run = await hw3([
        "train",
        "--epochs",
        "1",
        "--resume",
        join(out, "last.ckpt"),
        ...data,
      ]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Checkpoint .*last\.ckpt has completed 3 epochs, but this run asks for 1 in total\. Pass --epochs 3 or more/,
      );
      assert.equal(run.stdout, "");
    });

    await t.step("resume with another --model names only the kind", async () => {
      const run = await hw3([
        "train",
        "--model",
        "cnn",
        "--resume",
        join(out, "last.ckpt"),
        ...data,
      ]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Checkpoint .*last\.ckpt does not fit this run: --model is mlp in the checkpoint but cnn here\. Resume with/,
      );
      assert.equal(run.stdout, "");
    });

    await t.step("resume rejects a folder", async () => {
      const run = await hw3(["train", "--resume", out, ...data]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Invalid --resume .*out: it is a folder, not a checkpoint file\. Pass a file in it, such as .*out\/last\.ckpt/,
      );
    });

    await t.step("evaluate rejects a folder", async () => {
      const run = await hw3(["evaluate", "--checkpoint", out, ...data]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Invalid --checkpoint .*out: it is a folder, not a checkpoint file/,
      );
    });

    await t.step("train rejects a last batch of 1 image before training", async (t) => {
      // 1000 − 199 = 801 images give a last batch of 1 at the default batch size of 100.
      const cases = [
        {
          args: ["--validation", "199"],
          message:
            /--batch-size 100 for 801 training images \(--validation 199\): the smallest batch contains 1 image/,
        },
        {
          args: ["--validation", "200", "--batch-size", "1"],
          message: /--batch-size 1 for 800 training images \(--validation 200\)/,
        },
      ];
      for (const c of cases) {
        await t.step(c.args.join(" "), async () => {
          const run = await hw3([
            "train",
            ...small,
            "--out",
            join(dir, "batch"),
            "--data-dir",
            dir,
            "--backend",
            "wasm",
            ...c.args,
          ]);
          assert.equal(run.code, 2, run.stderr);
          assert.match(run.stderr, /^error: Invalid /);
          assert.match(run.stderr, c.message);
          assert.doesNotMatch(run.stdout, /\| epoch/);
        });
      }
    });

    await t.step("resume rejects a checkpoint of another architecture", async () => {
      const run = await hw3([
        "train",
        "--hidden",
        "64",
        "--bn",
        "off",
        "--out",
        join(dir, "other"),
        "--resume",
        join(out, "last.ckpt"),
        ...data,
      ]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Checkpoint .*last\.ckpt does not fit this run: --hidden is 32 in the checkpoint but 64 here; --bn is on in the checkpoint but off here\. Resume with/,
      );
    });

    await t.step("evaluate rejects a truncated checkpoint", async () => {
      const bytes = await Deno.readFile(join(out, "best.ckpt"));
      const truncated = join(dir, "truncated.ckpt");
      await Deno.writeFile(truncated, bytes.subarray(0, bytes.length - 100));
      const run = await hw3(["evaluate", "--checkpoint", truncated, ...data]);
      assert.equal(run.code, 1);
      assert.match(
        run.stderr,
        /^error: Invalid checkpoint .*truncated\.ckpt: truncated: \d+ bytes/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hw3 commands reject bad arguments", async (t) => {
  const cases = [
    {
      name: "unknown command",
      args: ["fit"],
      code: 2,
      stderr: /^error: Unknown command "fit": expected report, train or evaluate/,
    },
    {
      name: "drop rate of 1",
      args: ["train", "--drop-rate", "1"],
      code: 2,
      stderr: /^error: Invalid --drop-rate 1: expected a value below 1/,
    },
    {
      name: "three channel counts",
      args: ["train", "--channels", "8,16,32"],
      code: 2,
      stderr: /^error: Invalid --channels 8,16,32: expected two channel counts/,
    },
    {
      name: "even kernel size",
      args: ["train", "--model", "cnn", "--kernel-size", "4"],
      code: 2,
      stderr: /^error: Invalid --kernel-size 4: expected an odd size/,
    },
    {
      name: "shift past the image",
      args: ["train", "--model", "cnn", "--shift", "28"],
      code: 2,
      stderr: /^error: Invalid --shift 28: expected an integer from 0 to 27/,
    },
    {
      name: "evaluate without a checkpoint",
      args: ["evaluate"],
      code: 2,
      stderr: /^error: Missing --checkpoint/,
    },
    {
      name: "missing checkpoint file",
      args: ["evaluate", "--checkpoint", "/nonexistent/best.ckpt"],
      code: 1,
      stderr: /^error: Checkpoint \/nonexistent\/best\.ckpt not found/,
    },
    {
      name: "kernel that leaves no pixel after pool2",
      args: ["train", "--model", "cnn", "--kernel-size", "13", "--padding", "valid"],
      code: 2,
      stderr:
        /^error: Invalid --kernel-size 13 with --padding valid: the images are 8×8 after pool1, which leaves no pixel after conv2\. Pass --kernel-size 9 or less, or --padding same\.\n$/,
    },
    {
      name: "train --out that is a file",
      args: ["train", "--out", new URL(import.meta.url).pathname],
      code: 1,
      stderr:
        /^error: Invalid --out .*train_test\.ts: it is a file, not a folder\. Pass --out a folder/,
    },
    {
      name: "kernel that leaves no pixel after pool2",
      args: ["train", "--model", "cnn", "--kernel-size", "11", "--padding", "valid"],
      code: 2,
      stderr:
        /^error: Invalid --kernel-size 11 with --padding valid: the images are 9×9 after pool1, which leaves no pixel after conv2\./,
    },
    {
      name: "train --out below a file",
      args: ["train", "--out", join(new URL(import.meta.url).pathname, "run")],
      code: 1,
      stderr:
        /^error: Cannot write to --out .*train_test\.ts\/run: .*\. Pass --out a folder that can be created and written\.\n$/,
    },
    {
      name: "demo of one epoch",
      args: ["report", "--epochs-demo", "1"],
      code: 2,
      stderr: /^error: Invalid --epochs-demo 1/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const run = await hw3(c.args);
      assert.equal(run.code, c.code, run.stderr);
      assert.match(run.stderr, c.stderr);
      assert.equal(run.stdout, "");
    });
  }
});

Deno.test("hw3 train --help says that the rate drops units", async () => {
  const run = await hw3(["train", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /--drop-rate P +probability of DROPPING each unit/);
  assert.match(
    run.stdout,
    /--resume PATH +continue the run of this checkpoint: its last\.ckpt, or its best\.ckpt/,
  );
  assert.match(
    run.stdout,
    /--out DIR +.*\(default: the folder of --resume, else runs\/hw3\/<model>\)/,
  );
});

Deno.test("trainFlags() lists the settings that differ from the defaults", () => {
  assert.deepEqual(trainFlags(defaultConfig("mlp")), ["--model", "mlp"]);
  assert.deepEqual(trainFlags({ ...defaultConfig("mlp"), validation: 5000 }), [
    "--model",
    "mlp",
    "--validation",
    "5000",
  ]);
  assert.deepEqual(
    trainFlags({
      ...defaultConfig("cnn"),
      kernelSize: 3,
      padding: "same",
      batchNorm: false,
      dropRate: 0.5,
      shift: 0,
      epochs: 3,
    }),
    [
      "--model",
      "cnn",
      "--kernel-size",
      "3",
      "--padding",
      "same",
      "--drop-rate",
      "0.5",
      "--bn",
      "off",
      "--shift",
      "0",
      "--epochs",
      "3",
    ],
  );
});
