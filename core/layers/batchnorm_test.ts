import assert from "node:assert/strict";
import type { Backend } from "../backend/backend.ts";
import { createTsBackend } from "../backend/ts.ts";
import { Rng } from "../random.ts";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  type GoldenCase,
  goldenTensor,
  loadGolden,
  tensorFrom,
} from "../testing.ts";
import { BatchNorm1d, BatchNorm2d } from "./batchnorm.ts";

const golden = await loadGolden(new URL("../testdata/batchnorm.json", import.meta.url));

/** Build the layer that fits the case's input: 1d for `[N, D]`, 2d for `[N, C, H, W]`. */
function layerFor(backend: Backend, c: GoldenCase): BatchNorm1d | BatchNorm2d {
  const shape = c.inputs.x.shape;
  const eps = c.attrs.eps as number;
  const momentum = (c.attrs.momentum as number | undefined) ?? 0.1;
  return shape.length === 2
    ? new BatchNorm1d(backend, shape[1], { eps, momentum, name: "bn" })
    : new BatchNorm2d(backend, shape[1], { eps, momentum, name: "bn" });
}

Deno.test("BatchNorm1d normalizes a 2-value batch by hand", async (t) => {
  await forEachBackend(t, (backend) => {
    const bn = new BatchNorm1d(backend, 1);
    const x = tensorFrom(backend, [2, 1], [1, 3]);

    // Batch mean 2, biased variance ((1 − 2)² + (3 − 2)²) / 2 = 1, so y = ±1/√(1 + 1e-5).
    const y = bn.forward(x, true);
    assert.deepEqual(y.shape, [2, 1]);
    const expected = 1 / Math.sqrt(1 + 1e-5);
    assertClose(y, [-expected, expected], { atol: 1e-7, rtol: 1e-6 }, "y");

    // The running variance takes the unbiased variance 2: 0.9·1 + 0.1·2 = 1.1.
    // The running mean moves from 0 towards 2: 0.9·0 + 0.1·2 = 0.2.
    assertClose(bn.runningMean, [0.2], { atol: 1e-7, rtol: 1e-6 }, "running_mean");
    assertClose(bn.runningVar, [1.1], { atol: 1e-7, rtol: 1e-6 }, "running_var");

    // With dy = [1, 0]: dβ = 1, dγ = −expected, and dx = γ·invStd·(dy − mean(dy) − x̂·mean(dy·x̂))
    // = invStd·([1, 0] − 0.5 − [−e, e]·(−e/2)) with e = expected, e² = 1/(1 + 1e-5).
    const dX = bn.backward(tensorFrom(backend, [2, 1], [1, 0]));
    assert.ok(dX !== null);
    assertClose(bn.beta.grad, [1], { atol: 1e-7, rtol: 1e-6 }, "dbeta");
    assertClose(bn.gamma.grad, [-expected], { atol: 1e-7, rtol: 1e-6 }, "dgamma");
    const e2 = expected * expected;
    assertClose(
      dX,
      [expected * (0.5 - e2 / 2), expected * (-0.5 + e2 / 2)],
      { atol: 1e-7, rtol: 1e-5 },
      "dx",
    );
  });
});

Deno.test("BatchNorm matches the golden outputs, statistics and gradients", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const training = c.attrs.training === true;
        const bn = layerFor(backend, c);
        bn.gamma.value.copyFrom(goldenTensor(backend, c, "inputs", "gamma"));
        bn.beta.value.copyFrom(goldenTensor(backend, c, "inputs", "beta"));
        if (!training) {
          bn.runningMean.copyFrom(goldenTensor(backend, c, "inputs", "running_mean"));
          bn.runningVar.copyFrom(goldenTensor(backend, c, "inputs", "running_var"));
        }
        const meanBefore = [...bn.runningMean.data], varBefore = [...bn.runningVar.data];

        const y = bn.forward(goldenTensor(backend, c, "inputs", "x"), training);
        assertClose(y, c.outputs.y, c.tolerance, `${c.name} y`);
        if (training) {
          // One update from mean 0 and variance 1 with momentum 0.1 and the unbiased variance.
          assertClose(bn.runningMean, c.outputs.running_mean, c.tolerance, "running_mean");
          assertClose(bn.runningVar, c.outputs.running_var, c.tolerance, "running_var");
        } else {
          assert.deepEqual([...bn.runningMean.data], meanBefore, "evaluation changed running_mean");
          assert.deepEqual([...bn.runningVar.data], varBefore, "evaluation changed running_var");
        }

        const dX = bn.backward(goldenTensor(backend, c, "inputs", "dy"));
        assert.ok(dX !== null);
        assertClose(dX, c.grads.dx, c.tolerance, `${c.name} dx`);
        assertClose(bn.gamma.grad, c.grads.dgamma, c.tolerance, `${c.name} dgamma`);
        assertClose(bn.beta.grad, c.grads.dbeta, c.tolerance, `${c.name} dbeta`);
      });
    }
  });
});

Deno.test("BatchNorm gradients match finite differences", async (t) => {
  const cases = [
    { name: "1d training", shape: [6, 4], training: true },
    { name: "1d evaluation", shape: [6, 4], training: false },
    { name: "2d training", shape: [3, 2, 3, 3], training: true },
    { name: "2d evaluation", shape: [3, 2, 3, 3], training: false },
  ];
  await forEachBackend(t, async (backend, t) => {
    for (const c of cases) {
      await t.step(c.name, () => {
        const rng = new Rng(11);
        const channels = c.shape[1];
        const bn = c.shape.length === 2
          ? new BatchNorm1d(backend, channels)
          : new BatchNorm2d(backend, channels);
        bn.gamma.value.copyFrom(rng.fillUniform(new Float32Array(channels), 0.5, 1.5));
        bn.beta.value.copyFrom(rng.fillNormal(new Float32Array(channels), 1));
        bn.runningMean.copyFrom(rng.fillNormal(new Float32Array(channels), 0.5));
        bn.runningVar.copyFrom(rng.fillUniform(new Float32Array(channels), 0.5, 2));
        const size = c.shape.reduce((a, b) => a * b);
        // Inputs of scale 2 with per-channel offsets, so the statistics are not trivial.
        const x = tensorFrom(backend, c.shape, rng.fillNormal(new Float32Array(size), 2));
        for (let i = 0; i < size; i++) x.data[i] += 0.5 * (i % channels);
        const dy = rng.fillNormal(new Float32Array(size), 1);

        // f = Σ y ⊙ dy; training passes also move the running statistics, which y does not read.
        const f = () => {
          const y = bn.forward(x, c.training);
          let sum = 0;
          for (let i = 0; i < y.size; i++) sum += y.data[i] * dy[i];
          return sum;
        };
        f();
        const dX = bn.backward(tensorFrom(backend, c.shape, dy));
        assert.ok(dX !== null);

        const report = finiteDifferenceCheck(f, [
          { name: "x", values: x.data, grad: dX.data },
          { name: "gamma", values: bn.gamma.value.data, grad: bn.gamma.grad.data },
          { name: "beta", values: bn.beta.value.data, grad: bn.beta.grad.data },
        ], { label: `${bn.constructor.name} ${c.name} on ${backend.name}` });
        assert.equal(report.checked, size + 2 * channels);
      });
    }
  });
});

Deno.test("BatchNorm evaluation uses the running statistics", () => {
  const backend = createTsBackend();
  const bn = new BatchNorm2d(backend, 2, { eps: 1e-5 });
  bn.runningMean.copyFrom(Float32Array.of(1, -1));
  bn.runningVar.copyFrom(Float32Array.of(4, 0.25));
  bn.gamma.value.copyFrom(Float32Array.of(2, 1));
  bn.beta.value.copyFrom(Float32Array.of(0, 3));
  const x = tensorFrom(backend, [1, 2, 1, 2], [3, 5, -1, 0]);

  // Channel 0: 2·(x − 1)/√(4 + eps); channel 1: (x + 1)/√(0.25 + eps) + 3.
  const y = bn.forward(x, false);
  const s0 = Math.sqrt(4 + 1e-5), s1 = Math.sqrt(0.25 + 1e-5);
  assertClose(y, [4 / s0, 8 / s0, 3, 1 / s1 + 3], { atol: 1e-6, rtol: 1e-6 }, "y");
  assert.deepEqual([...bn.runningMean.data], [1, -1]);
  assert.deepEqual([...bn.runningVar.data], [4, 0.25]);
});

Deno.test("BatchNorm running statistics follow the momentum convention", () => {
  const backend = createTsBackend();
  const bn = new BatchNorm1d(backend, 1, { momentum: 0.25 });
  const x = tensorFrom(backend, [4, 1], [0, 2, 4, 6]);
  // Batch mean 3, unbiased variance (9 + 1 + 1 + 9) / 3 = 20/3, applied twice with weight 0.25:
  // mean 0 → 0.75 → 1.3125; variance 1 → 0.75 + 5/3 → 0.75·(0.75 + 5/3) + 5/3.
  bn.forward(x, true);
  bn.forward(x, true);
  const var1 = 0.75 + 0.25 * 20 / 3;
  assertClose(bn.runningMean, [1.3125], { atol: 1e-6, rtol: 1e-6 }, "running_mean");
  assertClose(bn.runningVar, [0.75 * var1 + 0.25 * 20 / 3], { atol: 1e-6, rtol: 1e-6 }, "var");
});

Deno.test("BatchNorm.state() names the running statistics", () => {
  const backend = createTsBackend();
  const bn = new BatchNorm2d(backend, 3, { name: "bn1" });
  const state = bn.state();
  assert.deepEqual(Object.keys(state), ["bn1.running_mean", "bn1.running_var"]);
  assert.equal(state["bn1.running_mean"], bn.runningMean);
  assert.equal(state["bn1.running_var"], bn.runningVar);
  assert.deepEqual([...bn.runningMean.data], [0, 0, 0]);
  assert.deepEqual([...bn.runningVar.data], [1, 1, 1]);
  assert.deepEqual(bn.params().map((p) => p.name), ["bn1.gamma", "bn1.beta"]);
});

Deno.test("BatchNorm rejects invalid options, shapes and batches", async (t) => {
  const backend = createTsBackend();
  const cases = [
    {
      name: "zero channels",
      run: () => new BatchNorm1d(backend, 0),
      error: { name: "RangeError", message: /channels must be a positive integer, got 0/ },
    },
    {
      name: "momentum above 1",
      run: () => new BatchNorm1d(backend, 2, { momentum: 1.5 }),
      error: { name: "RangeError", message: /momentum must be in \[0, 1\], got 1.5/ },
    },
    {
      name: "eps of 0",
      run: () => new BatchNorm2d(backend, 2, { eps: 0 }),
      error: { name: "RangeError", message: /eps must be a finite number > 0, got 0/ },
    },
    {
      name: "1d input with the wrong feature count",
      run: () => new BatchNorm1d(backend, 3, { name: "bn1" }).forward(backend.zeros([4, 2]), true),
      error: {
        name: "TypeError",
        message: "BatchNorm1d(3) bn1: forward x has shape [4, 2], expected [*, 3]",
      },
    },
    {
      name: "2d input of rank 2",
      run: () => new BatchNorm2d(backend, 3).forward(backend.zeros([4, 3]), true),
      error: {
        name: "TypeError",
        message: /forward x has shape \[4, 3\], expected \[\*, 3, \*, \*\]/,
      },
    },
    {
      name: "training on one value per channel",
      run: () => new BatchNorm1d(backend, 3).forward(backend.zeros([1, 3]), true),
      error: { name: "RangeError", message: /training needs at least 2 values per channel/ },
    },
    {
      name: "backward before forward",
      run: () => new BatchNorm1d(backend, 3).backward(backend.zeros([2, 3])),
      error: { name: "Error", message: /backward called before forward/ },
    },
    {
      name: "backward dY of another shape",
      run: () => {
        const bn = new BatchNorm1d(backend, 3);
        bn.forward(backend.zeros([2, 3]), true);
        bn.backward(backend.zeros([4, 3]));
      },
      error: { name: "TypeError", message: /backward dY has shape \[4, 3\], expected \[2, 3\]/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, c.error);
    });
  }
});

Deno.test("BatchNorm evaluation on one example works", () => {
  const backend = createTsBackend();
  const bn = new BatchNorm1d(backend, 2);
  const y = bn.forward(tensorFrom(backend, [1, 2], [3, -4]), false);
  // Running mean 0 and variance 1: y = x / √(1 + eps).
  assertClose(y, [3 / Math.sqrt(1 + 1e-5), -4 / Math.sqrt(1 + 1e-5)], {
    atol: 1e-6,
    rtol: 1e-6,
  }, "y");
});
