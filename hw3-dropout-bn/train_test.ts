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

async function hw3(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
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
        /^error: Checkpoint .*last\.ckpt does not fit this run: hidden is 32 in the checkpoint but 64 here; batchNorm is true in the checkpoint but false here\. Resume with/,
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
    });
  }
});

Deno.test("hw3 train --help says that the rate drops units", async () => {
  const run = await hw3(["train", "--help"]);
  assert.equal(run.code, 0);
  assert.match(run.stdout, /--drop-rate P +probability of DROPPING each unit/);
  assert.match(run.stdout, /--resume PATH/);
});

Deno.test("trainFlags() lists the settings that differ from the defaults", () => {
  assert.deepEqual(trainFlags(defaultConfig("mlp")), ["--model", "mlp"]);
  assert.deepEqual(
    trainFlags({
      ...defaultConfig("cnn"),
      kernelSize: 3,
      padding: "same",
      batchNorm: false,
      dropRate: 0.5,
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
      "--epochs",
      "3",
    ],
  );
});
