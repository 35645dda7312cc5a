import assert from "node:assert/strict";
import {
  type Backend,
  createTsBackend,
  Linear,
  MomentumSGD,
  Rng,
  Sequential,
  SoftmaxCrossEntropyLoss,
  type Tensor,
} from "@nn/core";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  goldenTensor,
  loadGolden,
  tensorFrom,
} from "@nn/core/testing";
import { type FeedbackInit, FeedbackLinear } from "./feedback_linear.ts";

const golden = await loadGolden(new URL("./testdata/linear.json", import.meta.url));

const NORMAL: FeedbackInit = { distribution: "normal", scale: 1 };

function makeLayer(
  backend: Backend,
  inFeatures: number,
  outFeatures: number,
  feedback: FeedbackInit = NORMAL,
  seed = 0,
): FeedbackLinear {
  return new FeedbackLinear(backend, inFeatures, outFeatures, {
    initStd: 1,
    rng: new Rng(seed),
    feedback,
    feedbackRng: new Rng(seed + 1000),
  });
}

/** Return `dY·Bᵀ [N, D_in]` for `dY [N, D_out]` and `B [D_in, D_out]`, in float64 loops. */
function feedbackSignal(dY: Tensor, B: Tensor): Float64Array {
  const [n, outFeatures] = dY.shape;
  const inFeatures = B.shape[0];
  const dX = new Float64Array(n * inFeatures);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < inFeatures; j++) {
      let sum = 0;
      for (let k = 0; k < outFeatures; k++) {
        sum += dY.data[i * outFeatures + k] * B.data[j * outFeatures + k];
      }
      dX[i * inFeatures + j] = sum;
    }
  }
  return dX;
}

Deno.test("FeedbackLinear computes the closed form of a 1x2 · 2x1 product", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = makeLayer(backend, 2, 1);
    layer.W.value.copyFrom(Float32Array.of(3, 4));
    layer.b.value.copyFrom(Float32Array.of(5));
    layer.B.copyFrom(Float32Array.of(-1, 10));
    const x = tensorFrom(backend, [1, 2], [1, 2]);

    // y = 1·3 + 2·4 + 5 = 16.
    const y = layer.forward(x, true);
    assert.deepEqual(y.shape, [1, 1]);
    assert.deepEqual([...y.data], [16]);

    // With dy = 2: dW = xᵀ·dy = [2, 4]ᵀ and db = 2 as in backprop, but dx = dy·Bᵀ = [−2, 20]
    // where backprop would give dy·Wᵀ = [6, 8].
    const dX = layer.backward(tensorFrom(backend, [1, 1], [2]));
    assert.ok(dX !== null);
    assert.deepEqual(dX.shape, [1, 2]);
    assert.deepEqual([...dX.data], [-2, 20]);
    assert.deepEqual([...layer.W.grad.data], [2, 4]);
    assert.deepEqual([...layer.b.grad.data], [2]);
  });
});

Deno.test("FeedbackLinear matches backprop's golden y, dW and db", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const [inFeatures, outFeatures] = c.inputs.W.shape;
        const layer = makeLayer(backend, inFeatures, outFeatures);
        layer.W.value.copyFrom(goldenTensor(backend, c, "inputs", "W"));
        layer.b.value.copyFrom(goldenTensor(backend, c, "inputs", "b"));

        const y = layer.forward(goldenTensor(backend, c, "inputs", "x"), true);
        assertClose(y, c.outputs.y, c.tolerance, `${c.name} y`);

        const dY = goldenTensor(backend, c, "inputs", "dy");
        const dX = layer.backward(dY);
        assert.ok(dX !== null);
        assertClose(layer.W.grad, c.grads.dW, c.tolerance, `${c.name} dW`);
        assertClose(layer.b.grad, c.grads.db, c.tolerance, `${c.name} db`);
        assert.deepEqual(dX.shape, c.grads.dx.shape);
        assertClose(dX.data, feedbackSignal(dY, layer.B), c.tolerance, `${c.name} dX = dY·Bᵀ`);
      });
    }
  });
});

Deno.test("FeedbackLinear with B = W passes backprop's golden dx", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const [inFeatures, outFeatures] = c.inputs.W.shape;
        const layer = makeLayer(backend, inFeatures, outFeatures);
        layer.W.value.copyFrom(goldenTensor(backend, c, "inputs", "W"));
        layer.B.copyFrom(goldenTensor(backend, c, "inputs", "W"));
        layer.forward(goldenTensor(backend, c, "inputs", "x"), true);

        const dX = layer.backward(goldenTensor(backend, c, "inputs", "dy"));
        assert.ok(dX !== null);
        assertClose(dX, c.grads.dx, c.tolerance, `${c.name} dx`);
      });
    }
  });
});

Deno.test("FeedbackLinear dW and db match finite differences", async (t) => {
  await forEachBackend(t, (backend) => {
    const rng = new Rng(7);
    const layer = makeLayer(backend, 5, 3, NORMAL, 7);
    layer.b.value.copyFrom(rng.fillNormal(new Float32Array(3), 1));
    const x = tensorFrom(backend, [4, 5], rng.fillNormal(new Float32Array(20), 1));
    const dy = rng.fillNormal(new Float32Array(12), 1);

    // f = Σ y ⊙ dy, whose parameter gradients are those that backward computes from dY = dy.
    const f = () => {
      const y = layer.forward(x, true);
      let sum = 0;
      for (let i = 0; i < y.size; i++) sum += y.data[i] * dy[i];
      return sum;
    };
    f();
    const dYTensor = tensorFrom(backend, [4, 3], dy);
    const dX = layer.backward(dYTensor);
    assert.ok(dX !== null);

    const report = finiteDifferenceCheck(f, [
      { name: "W", values: layer.W.value.data, grad: layer.W.grad.data },
      { name: "b", values: layer.b.value.data, grad: layer.b.grad.data },
    ], { label: `FeedbackLinear on ${backend.name}` });
    assert.equal(report.checked, 15 + 3);

    // dX is the feedback signal, not ∂f/∂x, so the same check on x must fail.
    assert.throws(
      () =>
        finiteDifferenceCheck(f, [{ name: "x", values: x.data, grad: dX.data }], {
          label: "dX against ∂f/∂x",
        }),
      { name: "AssertionError" },
    );
  });
});

Deno.test("FeedbackLinear backpropInputGrad() returns dY·Wᵀ", async (t) => {
  await forEachBackend(t, (backend) => {
    const c = golden.cases[0];
    const [inFeatures, outFeatures] = c.inputs.W.shape;
    const layer = makeLayer(backend, inFeatures, outFeatures);
    layer.W.value.copyFrom(goldenTensor(backend, c, "inputs", "W"));
    const dY = goldenTensor(backend, c, "inputs", "dy");
    const out = backend.zeros(c.grads.dx.shape);

    layer.backpropInputGrad(dY, out);
    assertClose(out, c.grads.dx, c.tolerance, `${c.name} dY·Wᵀ`);
    assert.deepEqual([...layer.W.grad.data], new Array(layer.W.grad.size).fill(0));
  });
});

Deno.test("FeedbackLinear draws W like Linear and B from its own Rng", () => {
  const backend = createTsBackend();
  const linearRng = new Rng(5), feedbackLayerRng = new Rng(5);
  const linear = new Linear(backend, 6, 4, { initStd: 0.1, rng: linearRng });
  const layer = new FeedbackLinear(backend, 6, 4, {
    initStd: 0.1,
    rng: feedbackLayerRng,
    feedback: { distribution: "normal", scale: 0.1 },
    feedbackRng: new Rng(6),
  });
  assert.deepEqual([...layer.W.value.data], [...linear.W.value.data]);
  assert.deepEqual([...layer.b.value.data], [0, 0, 0, 0]);
  // Both generators are left in the same state, so the layers above and the shuffles agree.
  assert.equal(feedbackLayerRng.nextUint32(), linearRng.nextUint32());
  assert.notDeepEqual([...layer.B.data], [...layer.W.value.data]);
});

Deno.test("FeedbackLinear draws B from the chosen distribution", async (t) => {
  const backend = createTsBackend();
  const inFeatures = 200, outFeatures = 100;

  await t.step("normal with std scale", () => {
    const layer = makeLayer(backend, inFeatures, outFeatures, {
      distribution: "normal",
      scale: 0.3,
    });
    const values = layer.B.data;
    const mean = values.reduce((s, v) => s + v, 0) / values.length;
    const std = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
    // 20,000 samples: the standard error of the std is about 0.3 / √40000 = 0.0015.
    assert.ok(Math.abs(mean) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(std - 0.3) < 0.01, `std ${std}`);
  });

  await t.step("uniform within ±scale", () => {
    const layer = makeLayer(backend, inFeatures, outFeatures, {
      distribution: "uniform",
      scale: 0.5,
    });
    const values = [...layer.B.data];
    assert.ok(values.every((v) => v >= -0.5 && v < 0.5), "a value is outside [-0.5, 0.5)");
    assert.ok(Math.min(...values) < -0.49, `min ${Math.min(...values)}`);
    assert.ok(Math.max(...values) > 0.49, `max ${Math.max(...values)}`);
    // The variance of U(−a, a) is a²/3.
    const variance = values.reduce((s, v) => s + v * v, 0) / values.length;
    assert.ok(Math.abs(variance - 0.25 / 3) < 0.003, `variance ${variance}`);
  });
});

Deno.test("FeedbackLinear keeps B fixed while training", async (t) => {
  await forEachBackend(t, (backend) => {
    const rng = new Rng(3);
    const feedback: FeedbackInit = { distribution: "normal", scale: 0.5 };
    const fc1 = new FeedbackLinear(backend, 6, 5, {
      initStd: 0.5,
      rng,
      feedback,
      feedbackRng: new Rng(4),
      name: "fc1",
    });
    const fc2 = new FeedbackLinear(backend, 5, 3, {
      initStd: 0.5,
      rng,
      feedback,
      feedbackRng: new Rng(5),
      name: "fc2",
    });
    const network = new Sequential([fc1, fc2]);
    const params = network.params();
    assert.deepEqual(params.map((p) => p.name), ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]);
    assert.ok(!params.some((p) => p.value === fc1.B || p.value === fc2.B), "B is a Param");

    const loss = new SoftmaxCrossEntropyLoss(backend);
    const optimizer = new MomentumSGD(backend, params, {
      lr: 0.5,
      momentum: 0.9,
      weightDecay: 0.1,
    });
    const x = tensorFrom(backend, [4, 6], rng.fillNormal(new Float32Array(24), 1));
    const target = tensorFrom(backend, [4, 3], [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0]);
    const B1 = [...fc1.B.data], B2 = [...fc2.B.data], W1 = [...fc1.W.value.data];

    for (let step = 0; step < 5; step++) {
      loss.forward(network.forward(x, true), target);
      network.backward(loss.backward(), false);
      optimizer.step();
    }
    assert.deepEqual([...fc1.B.data], B1);
    assert.deepEqual([...fc2.B.data], B2);
    assert.notDeepEqual([...fc1.W.value.data], W1);
  });
});

Deno.test("FeedbackLinear.backward() skips dX when needInputGrad is false", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = makeLayer(backend, 3, 2);
    layer.forward(tensorFrom(backend, [2, 3], [1, 2, 3, 4, 5, 6]), true);
    const dY = tensorFrom(backend, [2, 2], [1, 0, 0, 1]);

    assert.equal(layer.backward(dY, false), null);
    // dW = xᵀ·dY = [[1, 4], [2, 5], [3, 6]], and db sums the rows of dY.
    assert.deepEqual([...layer.W.grad.data], [1, 4, 2, 5, 3, 6]);
    assert.deepEqual([...layer.b.grad.data], [1, 1]);
  });
});

Deno.test("FeedbackLinear.backward() overwrites parameter gradients", () => {
  const backend = createTsBackend();
  const layer = makeLayer(backend, 1, 1);
  const dY = tensorFrom(backend, [1, 1], [1]);
  layer.forward(tensorFrom(backend, [1, 1], [3]), true);
  layer.backward(dY);
  layer.backward(dY);
  // One backward gives dW = 3 and db = 1, and a second must not add to them.
  assert.deepEqual([...layer.W.grad.data], [3]);
  assert.deepEqual([...layer.b.grad.data], [1]);
});

Deno.test("FeedbackLinear rejects wrong shapes naming both", async (t) => {
  const backend = createTsBackend();
  const layer = new FeedbackLinear(backend, 4, 3, {
    initStd: 1,
    rng: new Rng(0),
    feedback: NORMAL,
    feedbackRng: new Rng(1),
    name: "fc2",
  });

  await t.step("backward before forward", () => {
    assert.throws(() => layer.backward(backend.zeros([2, 3])), {
      name: "Error",
      message: "FeedbackLinear(4, 3) fc2: backward called before forward",
    });
  });
  await t.step("forward x", () => {
    assert.throws(() => layer.forward(backend.zeros([2, 5]), true), {
      name: "TypeError",
      message: "FeedbackLinear(4, 3) fc2: forward x has shape [2, 5], expected [*, 4]",
    });
  });
  await t.step("backward dY", () => {
    layer.forward(backend.zeros([2, 4]), true);
    assert.throws(() => layer.backward(backend.zeros([3, 3])), {
      name: "TypeError",
      message: "FeedbackLinear(4, 3) fc2: backward dY has shape [3, 3], expected [2, 3]",
    });
  });
  await t.step("backpropInputGrad out", () => {
    assert.throws(() => layer.backpropInputGrad(backend.zeros([2, 3]), backend.zeros([2, 3])), {
      name: "TypeError",
      message: "FeedbackLinear(4, 3) fc2: backpropInputGrad out has shape [2, 3], expected [2, 4]",
    });
  });
});

Deno.test("FeedbackLinear rejects invalid options", async (t) => {
  const backend = createTsBackend();
  const cases: [string, () => unknown, RegExp][] = [
    [
      "zero inFeatures",
      () => makeLayer(backend, 0, 3),
      /inFeatures must be a positive integer, got 0/,
    ],
    [
      "negative feedback scale",
      () => makeLayer(backend, 2, 3, { distribution: "normal", scale: -1 }),
      /feedback scale must be a finite number >= 0, got -1/,
    ],
    [
      "unknown distribution",
      () => makeLayer(backend, 2, 3, { distribution: "cauchy" as "normal", scale: 1 }),
      /feedback distribution must be one of normal, uniform, got cauchy/,
    ],
  ];
  for (const [name, build, message] of cases) {
    await t.step(name, () => assert.throws(build, { name: "RangeError", message }));
  }
});
