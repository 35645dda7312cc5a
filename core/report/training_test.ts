import assert from "node:assert/strict";
import { join } from "node:path";
import type { EpochRecord } from "../train/fit.ts";
import { parseCsv } from "./csv.ts";
import {
  bestEpoch,
  epochTable,
  reportHeader,
  type TrainingLog,
  writeCurvePlots,
  writeTrainingLogs,
} from "./training.ts";

const epochs: EpochRecord[] = [
  { epoch: 1, trainLoss: 0.5, trainAcc: 0.8, testLoss: 0.4, testAcc: 0.85, seconds: 2 },
  { epoch: 2, trainLoss: 0.3, trainAcc: 0.9, testLoss: 0.35, testAcc: 0.91, seconds: 2.5 },
  { epoch: 3, trainLoss: 0.2, trainAcc: 0.95, testLoss: 0.38, testAcc: 0.9, seconds: 2.1 },
];
const log: TrainingLog = {
  name: "run",
  label: "2×8 relu",
  epochs,
  display: [
    { iteration: 10, epoch: 1, loss: 0.6, acc: 0.7 },
    { iteration: 20, epoch: 2, loss: 0.3, acc: 0.9 },
  ],
};

Deno.test("writeTrainingLogs() writes both CSV logs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await writeTrainingLogs(dir, log);
    const train = parseCsv(await Deno.readTextFile(join(dir, "run-train.csv")));
    assert.deepEqual(train.header, ["iteration", "epoch", "loss", "acc"]);
    assert.deepEqual(train.rows, [["10", "1", "0.6", "0.7"], ["20", "2", "0.3", "0.9"]]);
    const perEpoch = parseCsv(await Deno.readTextFile(join(dir, "run-epochs.csv")));
    assert.deepEqual(perEpoch.header, [
      "epoch",
      "train_loss",
      "train_acc",
      "test_loss",
      "test_acc",
      "seconds",
    ]);
    assert.equal(perEpoch.rows.length, 3);
    assert.deepEqual(perEpoch.rows[1], ["2", "0.3", "0.9", "0.35", "0.91", "2.5"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeCurvePlots() writes three SVG files", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const names = await writeCurvePlots(dir, [log], "cnn-", "Validation");
    assert.deepEqual(names, {
      loss: "cnn-loss.svg",
      trainAcc: "cnn-train-acc.svg",
      testAcc: "cnn-test-acc.svg",
    });
    const heldOut = await Deno.readTextFile(join(dir, names.testAcc));
    assert.match(heldOut, /^<svg/);
    assert.match(heldOut, /Validation accuracy after each epoch/);
    assert.match(heldOut, /2×8 relu/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("epochTable() has one row per epoch", () => {
  const lines = epochTable(epochs, "validation").split("\n");
  assert.equal(lines.length, 2 + 3);
  assert.match(lines[0], /validation accuracy/);
  assert.match(lines[3], /\| +2 \| +0\.3 \| +90\.00% \| +0\.35 \| +91\.00% \|/);
});

Deno.test("reportHeader() states command, seed and backend", () => {
  const text = reportHeader({
    title: "HW1",
    command: "deno task hw1",
    seed: 7,
    backend: "wasm",
    dataSource: "npm",
    date: "2026-12-04",
  });
  assert.match(text, /^# HW1\n/);
  assert.match(text, /\| command +\| `deno task hw1` +\|/);
  assert.match(text, /\| seed +\| 7 +\|/);
  assert.ok(!text.endsWith("\n"));
});

Deno.test("bestEpoch() picks the highest held-out accuracy", () => {
  assert.equal(bestEpoch(epochs)?.epoch, 2);
  assert.equal(bestEpoch([]), undefined);
});
