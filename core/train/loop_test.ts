import assert from "node:assert/strict";
import type { Backend } from "../backend/backend.ts";
import { createTsBackend } from "../backend/ts.ts";
import type { Layer, Param } from "../layer.ts";
import { Relu } from "../layers/activations.ts";
import { Linear } from "../layers/linear.ts";
import { EuclideanLoss, SoftmaxCrossEntropyLoss } from "../layers/losses.ts";
import { Sequential } from "../layers/sequential.ts";
import { Rng } from "../random.ts";
import { Tensor } from "../tensor.ts";
import { forEachBackend } from "../testing.ts";
import { BatchIterator } from "./data.ts";
import { evaluate, type IterationRecord, trainEpoch } from "./loop.ts";
import { MomentumSGD } from "./optim.ts";

const K = 3;

/**
 * Three Gaussian blobs in 2-D, one per class, centered on a circle of radius 2 with standard
 * deviation 0.3. The centers are 2·√3 ≈ 3.5 apart, over 11 standard deviations, so the classes are
 * separable in practice.
 */
function makeBlobs(n: number, rng: Rng): { images: Float32Array; labels: Uint8Array } {
  const images = new Float32Array(2 * n);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % K;
    const angle = (2 * Math.PI * label) / K;
    images[2 * i] = 2 * Math.cos(angle) + 0.3 * rng.normal();
    images[2 * i + 1] = 2 * Math.sin(angle) + 0.3 * rng.normal();
    labels[i] = label;
  }
  return { images, labels };
}

/** Build the 2 → 16 → 3 MLP of these tests. */
function makeMlp(backend: Backend, rng: Rng): Sequential {
  return new Sequential([
    new Linear(backend, 2, 16, { initStd: 0.5, rng, name: "fc1" }),
    new Relu(backend),
    new Linear(backend, 16, K, { initStd: 0.5, rng, name: "fc2" }),
  ]);
}

/** A layer that returns a copy of its input, but NaN everywhere from forward call `nanFrom` on. */
class NanAfterLayer implements Layer {
  readonly name = "nan_after";
  calls = 0;
  backwards = 0;
  trainingFlags: boolean[] = [];
  constructor(readonly nanFrom: number) {}
  forward(x: Tensor, training: boolean): Tensor {
    this.calls++;
    this.trainingFlags.push(training);
    const y = new Tensor(x.shape, Float32Array.from(x.data));
    if (this.calls >= this.nanFrom) y.data.fill(NaN);
    return y;
  }
  backward(dY: Tensor): Tensor {
    this.backwards++;
    return dY;
  }
  params(): Param[] {
    return [];
  }
}

Deno.test("trainEpoch() trains a 2-layer MLP below loss 0.01 on separable blobs", async (t) => {
  await forEachBackend(t, (backend) => {
    const rng = new Rng(2018);
    const train = makeBlobs(300, rng);
    const test = makeBlobs(150, rng);
    const model = makeMlp(backend, rng);
    const loss = new SoftmaxCrossEntropyLoss(backend);
    const optimizer = new MomentumSGD(backend, model.params(), {
      lr: 0.05,
      momentum: 0.9,
      weightDecay: 0,
    });
    const trainData = new BatchIterator(backend, train.images, train.labels, {
      batchSize: 32,
      numClasses: K,
      rng,
    });
    const testData = new BatchIterator(backend, test.images, test.labels, {
      batchSize: 32,
      numClasses: K,
    });

    const before = evaluate({ model, loss, data: testData });
    const epochs = [];
    for (let epoch = 0; epoch < 5; epoch++) {
      epochs.push(trainEpoch({
        model,
        loss,
        optimizer,
        data: trainData,
        dispFreq: 5,
        iterationOffset: epoch * trainData.batchesPerEpoch,
      }));
    }
    const after = evaluate({ model, loss, data: testData });

    assert.ok(epochs.every((e) => !e.diverged));
    assert.equal(after.count, 150);
    // Measured with seed 2018 on both backends: test loss 0.78 before and 0.0007 after.
    assert.ok(before.loss > 0.5, `loss before training ${before.loss}`);
    assert.ok(after.loss < 0.01, `test loss after 5 epochs ${after.loss}`);
    assert.ok(after.acc >= 0.99, `test accuracy after 5 epochs ${after.acc}`);
    assert.ok(epochs[4].loss < epochs[0].loss / 10, `training losses ${epochs.map((e) => e.loss)}`);
    // Iterations are numbered across epochs: 5 epochs of ⌈300 / 32⌉ = 10 batches.
    assert.equal(epochs[4].records.at(-1)?.iteration, 50);
  });
});

Deno.test("trainEpoch() reports means of every dispFreq iterations", () => {
  const backend = createTsBackend();
  const rng = new Rng(7);
  const { images, labels } = makeBlobs(70, rng);
  const model = makeMlp(backend, rng);
  const data = new BatchIterator(backend, images, labels, { batchSize: 10, numClasses: K, rng });
  const displayed: IterationRecord[] = [];
  const result = trainEpoch({
    model,
    loss: new SoftmaxCrossEntropyLoss(backend),
    optimizer: new MomentumSGD(backend, model.params(), { lr: 0.01, momentum: 0, weightDecay: 0 }),
    data,
    dispFreq: 3,
    onDisplay: (record) => displayed.push(record),
    iterationOffset: 100,
  });

  // 7 iterations of 10 examples give displays after iterations 3 and 6, but not after the 7th.
  assert.equal(result.iterations, 7);
  assert.deepEqual(result.records.map((r) => r.iteration), [101, 102, 103, 104, 105, 106, 107]);
  assert.deepEqual(displayed.map((r) => r.iteration), [103, 106]);
  const mean = (records: IterationRecord[], key: "loss" | "acc") =>
    records.reduce((sum, r) => sum + r[key], 0) / records.length;
  assert.ok(Math.abs(displayed[0].loss - mean(result.records.slice(0, 3), "loss")) < 1e-12);
  assert.ok(Math.abs(displayed[1].acc - mean(result.records.slice(3, 6), "acc")) < 1e-12);
  assert.ok(Math.abs(result.loss - mean(result.records, "loss")) < 1e-12);
});

Deno.test("trainEpoch() stops with diverged set when the loss is not finite", async (t) => {
  const backend = createTsBackend();
  const { images, labels } = makeBlobs(50, new Rng(3));

  await t.step("NaN output at the third iteration", () => {
    // The stub passes its input through, so each example has K values to match the targets.
    const model = new NanAfterLayer(3);
    let steps = 0;
    const result = trainEpoch({
      model,
      loss: new EuclideanLoss(backend),
      optimizer: { step: () => steps++ },
      data: new BatchIterator(backend, new Float32Array(50 * K), labels, {
        batchSize: 5,
        numClasses: K,
        rng: new Rng(1),
      }),
      dispFreq: 1,
    });
    assert.equal(result.diverged, true);
    assert.equal(result.iterations, 3);
    assert.ok(Number.isNaN(result.records[2].loss));
    // The bad iteration runs no backward pass and no update.
    assert.equal(model.backwards, 2);
    assert.equal(steps, 2);
  });

  await t.step("learning rate far too large", () => {
    const rng = new Rng(4);
    const model = makeMlp(backend, rng);
    const result = trainEpoch({
      model,
      loss: new EuclideanLoss(backend),
      optimizer: new MomentumSGD(backend, model.params(), {
        lr: 1e4,
        momentum: 0.9,
        weightDecay: 0,
      }),
      data: new BatchIterator(backend, images, labels, { batchSize: 1, numClasses: K, rng }),
      dispFreq: 10,
    });
    assert.equal(result.diverged, true);
    assert.ok(result.iterations < 50, `diverged only after ${result.iterations} iterations`);
    assert.ok(!Number.isFinite(result.records.at(-1)?.loss));
  });
});

Deno.test("evaluate() averages over examples in order without training", () => {
  const backend = createTsBackend();
  const rng = new Rng(5);
  const { images, labels } = makeBlobs(25, rng);
  const model = makeMlp(backend, rng);
  const loss = new SoftmaxCrossEntropyLoss(backend);
  const weightsBefore = model.params().map((p) => [...p.value.data]);

  // Batches of 10, 10 and 5 must give the same means as one batch of 25.
  const inBatches = evaluate({
    model,
    loss,
    data: new BatchIterator(backend, images, labels, { batchSize: 10, numClasses: K }),
  });
  const whole = evaluate({
    model,
    loss,
    data: new BatchIterator(backend, images, labels, { batchSize: 25, numClasses: K }),
  });
  assert.equal(inBatches.count, 25);
  assert.ok(Math.abs(inBatches.loss - whole.loss) < 1e-6, `${inBatches.loss} vs ${whole.loss}`);
  assert.ok(Math.abs(inBatches.acc - whole.acc) < 1e-12);
  assert.deepEqual(model.params().map((p) => [...p.value.data]), weightsBefore);
});

Deno.test("evaluate() and trainEpoch() pass the training flag to forward", () => {
  const backend = createTsBackend();
  const { labels } = makeBlobs(4, new Rng(0));
  const data = new BatchIterator(backend, new Float32Array(4 * K), labels, {
    batchSize: 2,
    numClasses: K,
    rng: new Rng(0),
  });
  const model = new NanAfterLayer(Infinity);
  const loss = new EuclideanLoss(backend);
  evaluate({ model, loss, data });
  trainEpoch({ model, loss, optimizer: { step: () => {} }, data, dispFreq: 1 });
  assert.deepEqual(model.trainingFlags, [false, false, true, true]);
});

Deno.test("trainEpoch() rejects a dispFreq that is not a positive integer", () => {
  const backend = createTsBackend();
  const { images, labels } = makeBlobs(6, new Rng(0));
  assert.throws(
    () =>
      trainEpoch({
        model: new NanAfterLayer(Infinity),
        loss: new EuclideanLoss(backend),
        optimizer: { step: () => {} },
        data: new BatchIterator(backend, images, labels, { batchSize: 2, numClasses: K }),
        dispFreq: 0,
      }),
    { name: "RangeError", message: "trainEpoch: dispFreq must be a positive integer, got 0" },
  );
});
