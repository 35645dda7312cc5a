import assert from "node:assert/strict";
import { countParameters, createTsBackend, MomentumSGD, Param, Rng, Tensor } from "@nn/core";
import { buildSkeleton, buildTuned, heStd } from "./model.ts";
import { scheduledLr, ScheduledSGD } from "./optim.ts";

Deno.test("buildSkeleton() maps [N, 1, 28, 28] to logits [N, 10] with 2,158 parameters", () => {
  const backend = createTsBackend();
  const net = buildSkeleton(backend, new Rng(1));
  // conv1 4·1·9 + 4, conv2 4·4·9 + 4, fc 196·10 + 10.
  assert.equal(countParameters(net.params()), 40 + 148 + 1970);
  const y = net.forward(backend.zeros([2, 1, 28, 28]), false);
  assert.deepEqual(y.shape, [2, 10]);
  assert.deepEqual(net.layers.map((l) => l.name), [
    "conv1",
    "relu1",
    "pool1",
    "conv2",
    "relu2",
    "pool2",
    "flatten",
    "fc",
  ]);
});

Deno.test("buildTuned() maps [N, 1, 28, 28] to logits [N, 10] with 421,642 parameters", () => {
  const backend = createTsBackend();
  const net = buildTuned(backend, new Rng(1));
  // conv1 32·9 + 32, conv2 64·32·9 + 64, fc1 3136·128 + 128, fc2 128·10 + 10.
  assert.equal(countParameters(net.params()), 320 + 18496 + 401536 + 1290);
  assert.deepEqual(net.forward(backend.zeros([1, 1, 28, 28]), false).shape, [1, 10]);
});

Deno.test("buildSkeleton() draws He-initialized weights unless initStd is given", () => {
  const backend = createTsBackend();
  const std = (values: Float32Array) =>
    Math.sqrt(values.reduce((sum, v) => sum + v * v, 0) / values.length);
  const he = buildSkeleton(backend, new Rng(3));
  const fixed = buildSkeleton(backend, new Rng(3), 0.01);
  const fc = (net: typeof he) => net.params().find((p) => p.name === "fc.W")!.value.data;
  // 1,960 samples: the sample standard deviation is within 10% of the true one.
  assert.ok(Math.abs(std(fc(he)) / heStd(196) - 1) < 0.1, `fc std ${std(fc(he))}`);
  assert.ok(Math.abs(std(fc(fixed)) / 0.01 - 1) < 0.1, `fc std ${std(fc(fixed))}`);
});

Deno.test("scheduledLr() falls from lr to 0 along a cosine", () => {
  assert.equal(scheduledLr("cosine", 0.1, 0, 100), 0.1);
  assert.ok(Math.abs(scheduledLr("cosine", 0.1, 50, 100) - 0.05) < 1e-12);
  assert.ok(Math.abs(scheduledLr("cosine", 0.1, 100, 100)) < 1e-12);
  assert.equal(scheduledLr("constant", 0.1, 70, 100), 0.1);
});

Deno.test("ScheduledSGD with a constant schedule matches MomentumSGD", () => {
  const backend = createTsBackend();
  const make = () =>
    new Param("w", Tensor.from([3], [1, -2, 3]), Tensor.from([3], [0.5, 0.25, -1]));
  const a = make(), b = make();
  const options = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3 };
  const plain = new MomentumSGD(backend, [a], options);
  const scheduled = new ScheduledSGD(backend, [b], options, "constant", 10);
  for (let i = 0; i < 3; i++) {
    plain.step();
    scheduled.step();
  }
  assert.deepEqual(b.value.data, a.value.data);
  assert.equal(scheduled.steps, 3);
});

Deno.test("ScheduledSGD lowers the learning rate after every step", () => {
  const backend = createTsBackend();
  const param = new Param("w", Tensor.from([1], [0]), Tensor.from([1], [1]));
  const sgd = new ScheduledSGD(
    backend,
    [param],
    { lr: 1, momentum: 0, weightDecay: 0 },
    "cosine",
    2,
  );
  sgd.step();
  // Step 0 uses lr 1, and step 1 uses lr ½(1 + cos(π/2)) = 0.5.
  assert.deepEqual([...param.value.data], [-1]);
  assert.ok(Math.abs(sgd.lr - 0.5) < 1e-12);
  sgd.step();
  assert.deepEqual([...param.value.data], [-1.5]);
});

Deno.test("ScheduledSGD rejects invalid hyperparameters", () => {
  const backend = createTsBackend();
  assert.throws(
    () => new ScheduledSGD(backend, [], { lr: 0.1, momentum: 1, weightDecay: 0 }, "cosine", 5),
    { name: "RangeError", message: /momentum must be in \[0, 1\), got 1/ },
  );
  assert.throws(
    () => new ScheduledSGD(backend, [], { lr: 0.1, momentum: 0.9, weightDecay: 0 }, "cosine", 0),
    { name: "RangeError", message: /totalSteps must be a positive integer, got 0/ },
  );
});
