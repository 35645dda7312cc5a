import assert from "node:assert/strict";
import { createTsBackend } from "../backend/ts.ts";
import { Relu } from "../layers/activations.ts";
import { Linear } from "../layers/linear.ts";
import { SoftmaxCrossEntropyLoss } from "../layers/losses.ts";
import { Sequential } from "../layers/sequential.ts";
import { Rng } from "../random.ts";
import { BatchIterator } from "./data.ts";
import { type EpochRecord, fit } from "./fit.ts";
import { MomentumSGD } from "./optim.ts";

/** Two separable classes in 2-D: the sign of the first coordinate. */
function setup(lr: number) {
  const backend = createTsBackend();
  const rng = new Rng(5);
  const n = 200;
  const images = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    images[2 * i] = (labels[i] ? 1 : -1) + 0.2 * rng.normal();
    images[2 * i + 1] = rng.normal();
  }
  const model = new Sequential([
    new Linear(backend, 2, 8, { initStd: 0.5, rng, name: "fc1" }),
    new Relu(backend),
    new Linear(backend, 8, 2, { initStd: 0.5, rng, name: "fc2" }),
  ]);
  const loss = new SoftmaxCrossEntropyLoss(backend);
  const optimizer = new MomentumSGD(backend, model.params(), { lr, momentum: 0.9, weightDecay: 0 });
  const train = new BatchIterator(backend, images, labels, { batchSize: 20, numClasses: 2, rng });
  const test = new BatchIterator(backend, images, labels, { batchSize: 50, numClasses: 2 });
  return { model, loss, optimizer, train, test };
}

Deno.test("fit() records every epoch, iteration and display window", () => {
  const seen: EpochRecord[] = [];
  let iterations = 0;
  const result = fit({
    ...setup(0.1),
    epochs: 3,
    dispFreq: 5,
    callbacks: { onEpoch: (e) => seen.push(e), onIteration: () => iterations++ },
  });

  assert.equal(result.epochs.length, 3);
  assert.deepEqual(result.epochs.map((e) => e.epoch), [1, 2, 3]);
  assert.deepEqual(seen, result.epochs);
  assert.equal(result.iterations.length, 3 * 10);
  assert.equal(iterations, 30);
  assert.deepEqual(
    result.iterations.map((r) => r.iteration),
    [...Array(30).keys()].map((i) => i + 1),
  );
  // 10 iterations per epoch and a window of 5: two windows per epoch.
  assert.deepEqual(result.display.map((d) => [d.iteration, d.epoch]), [
    [5, 1],
    [10, 1],
    [15, 2],
    [20, 2],
    [25, 3],
    [30, 3],
  ]);
  assert.equal(result.diverged, false);
  assert.equal(result.testAcc, result.epochs[2].testAcc);
  assert.ok(result.testAcc >= 0.95, `test accuracy ${result.testAcc} below 0.95`);
  assert.ok(result.epochs[2].trainLoss < result.epochs[0].trainLoss, "training loss did not fall");
});

Deno.test("fit() stops after the epoch whose loss diverged", () => {
  const result = fit({ ...setup(1e6), epochs: 5, dispFreq: 5 });
  assert.equal(result.diverged, true);
  assert.ok(result.epochs.length < 5, `ran ${result.epochs.length} epochs`);
  assert.ok(!Number.isFinite(result.epochs[result.epochs.length - 1].trainLoss));
});

Deno.test("fit() with zero epochs returns NaN accuracy", () => {
  const result = fit({ ...setup(0.1), epochs: 0, dispFreq: 5 });
  assert.equal(result.epochs.length, 0);
  assert.ok(Number.isNaN(result.testAcc));
});
