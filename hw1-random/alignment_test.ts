import assert from "node:assert/strict";
import {
  type Backend,
  createTsBackend,
  Linear,
  Relu,
  Rng,
  Sequential,
  SoftmaxCrossEntropyLoss,
  type Tensor,
} from "@nn/core";
import { assertClose, forEachBackend, tensorFrom } from "@nn/core/testing";
import { AlignmentProbe, angleDegrees, meanRowAngleDegrees } from "./alignment.ts";
import { FeedbackLinear } from "./feedback_linear.ts";
import { buildNetwork } from "./model.ts";

const CLOSE = { atol: 1e-9, rtol: 0 };

Deno.test("angleDegrees() on hand-made vectors", async (t) => {
  const cases: [string, number[], number[], number][] = [
    ["same direction", [1, 2, 3], [2, 4, 6], 0],
    ["orthogonal", [1, 0, 0], [0, 5, 0], 90],
    ["orthogonal, no zero entries", [1, 1], [1, -1], 90],
    ["opposite", [1, -2, 0.5], [-3, 6, -1.5], 180],
    ["45 degrees", [1, 0], [1, 1], 45],
    ["60 degrees", [1, 0], [0.5, Math.sqrt(3) / 2], 60],
  ];
  for (const [name, a, b, expected] of cases) {
    await t.step(name, () => {
      assertClose([angleDegrees(a, b)], [expected], { atol: 1e-6, rtol: 0 }, name);
    });
  }
});

Deno.test("angleDegrees() stays finite for parallel float32 vectors", () => {
  // Rounding puts the cosine of these vectors just outside [-1, 1] without the clamp.
  const a = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 1e-3);
  assert.equal(angleDegrees(a, a), 0);
  assert.equal(angleDegrees(a, a.map((v) => -v)), 180);
});

Deno.test("angleDegrees() is NaN for a zero vector", () => {
  assert.ok(Number.isNaN(angleDegrees([0, 0], [1, 2])));
  assert.ok(Number.isNaN(angleDegrees([1, 2], [0, 0])));
});

Deno.test("angleDegrees() rejects different lengths", () => {
  assert.throws(() => angleDegrees([1, 2], [1, 2, 3]), {
    name: "TypeError",
    message: "angleDegrees: a has 2 elements, b has 3",
  });
});

Deno.test("meanRowAngleDegrees() averages rows and skips zero rows", () => {
  const backend = createTsBackend();
  // Row angles 0°, 180° and undefined (a zero row), so the mean is 90°.
  const a = tensorFrom(backend, [3, 2], [1, 0, 0, 1, 0, 0]);
  const b = tensorFrom(backend, [3, 2], [2, 0, 0, -1, 1, 1]);
  assertClose([meanRowAngleDegrees(a, b)], [90], CLOSE, "mean row angle");
  assert.ok(Number.isNaN(meanRowAngleDegrees(a, backend.zeros([3, 2]))));
  assert.throws(() => meanRowAngleDegrees(a, backend.zeros([2, 3])), { name: "TypeError" });
});

/** Build a 5-4-3-2 ReLU network for `rule` from the given seeds. */
function smallNetwork(backend: Backend, rule: "backprop" | "feedback"): Sequential {
  return buildNetwork(
    backend,
    {
      inputSize: 5,
      hidden: [4, 3],
      classes: 2,
      activation: "relu",
      sigmoidOutput: false,
      initStd: 1,
      rule,
      feedback: { distribution: "normal", scale: 1 },
    },
    new Rng(11),
    new Rng(12),
  );
}

/** Return `dX` of every layer of a core-Linear network, in backward order, copied. */
function backpropSignals(network: Sequential, dY: Tensor): Float32Array[] {
  const signals: Float32Array[] = [];
  let grad = dY;
  for (let i = network.layers.length - 1; i > 0; i--) {
    const dX = network.layers[i].backward(grad, true)!;
    if (network.layers[i] instanceof Linear) signals.push(Float32Array.from(dX.data));
    grad = dX;
  }
  return signals;
}

Deno.test("AlignmentProbe compares FA with backprop of the same weights", async (t) => {
  await forEachBackend(t, (backend) => {
    const fa = smallNetwork(backend, "feedback");
    const bp = smallNetwork(backend, "backprop");
    const probe = new AlignmentProbe(backend, fa, { every: 1 });
    const rng = new Rng(13);
    const x = tensorFrom(backend, [6, 5], rng.fillNormal(new Float32Array(30), 1));
    const target = tensorFrom(backend, [6, 2], [1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1]);
    const loss = new SoftmaxCrossEntropyLoss(backend);

    // Backprop's signals from the same weights, batch and dY.
    loss.forward(bp.forward(x, true), target);
    const dY = tensorFrom(backend, [6, 2], loss.backward().data);
    const expectedBackprop = backpropSignals(bp, dY);

    // Feedback alignment's own signals, from a second identical network without the probe.
    const plain = smallNetwork(backend, "feedback");
    plain.forward(x, true);
    const expectedFeedback: Float32Array[] = [];
    let grad = dY;
    for (let i = plain.layers.length - 1; i > 0; i--) {
      const dX = plain.layers[i].backward(grad, true)!;
      if (plain.layers[i] instanceof FeedbackLinear) {
        expectedFeedback.push(Float32Array.from(dX.data));
      }
      grad = dX;
    }
    plain.layers[0].backward(grad, false);

    probe.forward(x, true);
    probe.backward(dY);
    assert.deepEqual(probe.records.map((r) => [r.iteration, r.hiddenLayer]), [[1, 2], [1, 1]]);
    for (const [k, record] of probe.records.entries()) {
      const expected = angleDegrees(expectedFeedback[k], expectedBackprop[k]);
      assertClose(
        [record.angle],
        [expected],
        { atol: 1e-3, rtol: 0 },
        `hidden ${record.hiddenLayer}`,
      );
      assert.ok(record.angle > 1, `angle ${record.angle} is degenerate`);
      assert.ok(record.angle < 179, `angle ${record.angle} is degenerate`);
    }

    // The probe trains by feedback alignment: its gradients equal the plain network's.
    for (const [i, param] of probe.params().entries()) {
      assertClose(param.grad, plain.params()[i].grad, { atol: 1e-6, rtol: 1e-5 }, param.name);
    }
  });
});

Deno.test("AlignmentProbe measures 0° at the top layer when B = W", () => {
  const backend = createTsBackend();
  const fa = smallNetwork(backend, "feedback");
  const top = fa.layers[fa.layers.length - 1] as FeedbackLinear;
  top.B.copyFrom(top.W.value);
  const probe = new AlignmentProbe(backend, fa, { every: 1 });
  const x = tensorFrom(backend, [3, 5], new Rng(2).fillNormal(new Float32Array(15), 1));

  probe.forward(x, true);
  probe.backward(tensorFrom(backend, [3, 2], [0.1, -0.1, -0.2, 0.2, 0.3, -0.3]));
  const [hidden2] = probe.records;
  assert.equal(hidden2.hiddenLayer, 2);
  assertClose([hidden2.angle], [0], { atol: 1e-2, rtol: 0 }, "top hidden layer angle");
});

Deno.test("AlignmentProbe measures on iteration 1 and every N", () => {
  const backend = createTsBackend();
  const probe = new AlignmentProbe(backend, smallNetwork(backend, "feedback"), { every: 3 });
  const x = tensorFrom(backend, [2, 5], [1, 2, 3, 4, 5, -1, -2, -3, -4, -5]);
  const dY = tensorFrom(backend, [2, 2], [0.5, -0.5, -0.5, 0.5]);
  for (let i = 0; i < 7; i++) {
    probe.forward(x, true);
    probe.backward(dY);
  }
  assert.deepEqual([...new Set(probe.records.map((r) => r.iteration))], [1, 3, 6]);
});

Deno.test("AlignmentProbe rejects networks it cannot measure", async (t) => {
  const backend = createTsBackend();
  const rng = new Rng(0);
  await t.step("a core Linear layer", () => {
    const network = new Sequential([
      new Linear(backend, 3, 2, { initStd: 1, rng, name: "fc1" }),
      new Relu(backend),
      new FeedbackLinear(backend, 2, 2, {
        initStd: 1,
        rng,
        feedback: { distribution: "normal", scale: 1 },
        feedbackRng: rng,
        name: "fc2",
      }),
    ]);
    assert.throws(() => new AlignmentProbe(backend, network, { every: 1 }), {
      name: "RangeError",
      message: /fc1 is not a FeedbackLinear/,
    });
  });
  await t.step("no hidden layer", () => {
    const network = new Sequential([
      new FeedbackLinear(backend, 3, 2, {
        initStd: 1,
        rng,
        feedback: { distribution: "normal", scale: 1 },
        feedbackRng: rng,
      }),
    ]);
    assert.throws(() => new AlignmentProbe(backend, network, { every: 1 }), {
      name: "RangeError",
      message: /has one FeedbackLinear layer/,
    });
  });
  await t.step("every 0", () => {
    assert.throws(
      () => new AlignmentProbe(backend, smallNetwork(backend, "feedback"), { every: 0 }),
      { name: "RangeError", message: "AlignmentProbe: every must be a positive integer, got 0" },
    );
  });
});
