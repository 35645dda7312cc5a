import assert from "node:assert/strict";
import { Rng } from "../random.ts";
import { createTsBackend } from "../backend/ts.ts";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  goldenTensor,
  loadGolden,
  tensorFrom,
} from "../testing.ts";
import { Linear } from "./linear.ts";

const golden = await loadGolden(new URL("../testdata/linear.json", import.meta.url));

Deno.test("Linear computes the closed form of a 1x2 · 2x1 product", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = new Linear(backend, 2, 1, { initStd: 0, rng: new Rng(0) });
    layer.W.value.copyFrom(Float32Array.of(3, 4));
    layer.b.value.copyFrom(Float32Array.of(5));
    const x = tensorFrom(backend, [1, 2], [1, 2]);

    // y = 1·3 + 2·4 + 5 = 16.
    const y = layer.forward(x, true);
    assert.deepEqual(y.shape, [1, 1]);
    assert.deepEqual([...y.data], [16]);

    // With dy = 2: dW = xᵀ·dy = [2, 4]ᵀ, db = 2, dx = dy·Wᵀ = [6, 8].
    const dX = layer.backward(tensorFrom(backend, [1, 1], [2]));
    assert.ok(dX !== null);
    assert.deepEqual(dX.shape, [1, 2]);
    assert.deepEqual([...dX.data], [6, 8]);
    assert.deepEqual([...layer.W.grad.data], [2, 4]);
    assert.deepEqual([...layer.b.grad.data], [2]);
  });
});

Deno.test("Linear matches the golden outputs and gradients", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const [inFeatures, outFeatures] = c.inputs.W.shape;
        const layer = new Linear(backend, inFeatures, outFeatures, { initStd: 1, rng: new Rng(0) });
        layer.W.value.copyFrom(goldenTensor(backend, c, "inputs", "W"));
        layer.b.value.copyFrom(goldenTensor(backend, c, "inputs", "b"));

        const y = layer.forward(goldenTensor(backend, c, "inputs", "x"), true);
        assertClose(y, c.outputs.y, c.tolerance, `${c.name} y`);

        const dX = layer.backward(goldenTensor(backend, c, "inputs", "dy"));
        assert.ok(dX !== null);
        assertClose(dX, c.grads.dx, c.tolerance, `${c.name} dx`);
        assertClose(layer.W.grad, c.grads.dW, c.tolerance, `${c.name} dW`);
        assertClose(layer.b.grad, c.grads.db, c.tolerance, `${c.name} db`);
      });
    }
  });
});

Deno.test("Linear gradients match finite differences", async (t) => {
  await forEachBackend(t, (backend) => {
    const rng = new Rng(7);
    const layer = new Linear(backend, 5, 3, { initStd: 1, rng });
    layer.b.value.copyFrom(rng.fillNormal(new Float32Array(3), 1));
    const x = tensorFrom(backend, [4, 5], rng.fillNormal(new Float32Array(20), 1));
    const dy = rng.fillNormal(new Float32Array(12), 1);

    // f = Σ y ⊙ dy, whose gradients are those that backward computes from dY = dy.
    const f = () => {
      const y = layer.forward(x, true);
      let sum = 0;
      for (let i = 0; i < y.size; i++) sum += y.data[i] * dy[i];
      return sum;
    };
    f();
    const dX = layer.backward(tensorFrom(backend, [4, 3], dy));
    assert.ok(dX !== null);

    const report = finiteDifferenceCheck(f, [
      { name: "x", values: x.data, grad: dX.data },
      { name: "W", values: layer.W.value.data, grad: layer.W.grad.data },
      { name: "b", values: layer.b.value.data, grad: layer.b.grad.data },
    ], { label: `Linear on ${backend.name}` });
    assert.equal(report.checked, 20 + 15 + 3);
  });
});

Deno.test("Linear.backward() skips dX when needInputGrad is false", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = new Linear(backend, 3, 2, { initStd: 1, rng: new Rng(3) });
    const x = tensorFrom(backend, [2, 3], [1, 2, 3, 4, 5, 6]);
    layer.forward(x, true);
    const dY = tensorFrom(backend, [2, 2], [1, 0, 0, 1]);

    assert.equal(layer.backward(dY, false), null);
    // dW = xᵀ·dY = [[1, 4], [2, 5], [3, 6]], and db sums the rows of dY.
    assert.deepEqual([...layer.W.grad.data], [1, 4, 2, 5, 3, 6]);
    assert.deepEqual([...layer.b.grad.data], [1, 1]);
  });
});

Deno.test("Linear.backward() overwrites parameter gradients", () => {
  const backend = createTsBackend();
  const layer = new Linear(backend, 1, 1, { initStd: 0, rng: new Rng(0) });
  const x = tensorFrom(backend, [1, 1], [3]);
  const dY = tensorFrom(backend, [1, 1], [1]);
  layer.forward(x, true);
  layer.backward(dY);
  layer.backward(dY);
  // One backward gives dW = 3 and db = 1, and a second must not add to them.
  assert.deepEqual([...layer.W.grad.data], [3]);
  assert.deepEqual([...layer.b.grad.data], [1]);
});

Deno.test("Linear reuses its output while the batch size stays the same", () => {
  const backend = createTsBackend();
  const layer = new Linear(backend, 2, 3, { initStd: 1, rng: new Rng(0) });
  const first = layer.forward(backend.zeros([4, 2]), true);
  assert.equal(layer.forward(backend.zeros([4, 2]), true), first);
  const other = layer.forward(backend.zeros([5, 2]), true);
  assert.notEqual(other, first);
  assert.deepEqual(other.shape, [5, 3]);
});

Deno.test("Linear initializes W from the Rng and b to zeros", () => {
  const backend = createTsBackend();
  const layer = new Linear(backend, 20, 30, { initStd: 0.5, rng: new Rng(11), name: "fc1" });
  const expected = new Rng(11).fillNormal(new Float32Array(600), 0.5);
  assert.deepEqual(layer.W.value.data, expected);
  assert.deepEqual(layer.b.value.data, new Float32Array(30));
  assert.deepEqual(layer.params().map((p) => p.name), ["fc1.W", "fc1.b"]);
  assert.deepEqual(layer.W.value.shape, [20, 30]);
});

Deno.test("Linear rejects wrong shapes with both shapes in the message", async (t) => {
  const backend = createTsBackend();
  const layer = new Linear(backend, 784, 512, { initStd: 0.01, rng: new Rng(0), name: "fc1" });
  // NOTE: assertShape prints the actual shape without spaces ([100,783]), so the patterns accept both.
  const cases = [
    {
      name: "x with 783 features",
      run: () => layer.forward(backend.zeros([100, 783]), true),
      message: /^Linear\(784, 512\) fc1: forward x has shape \[100, ?783\], expected \[\*, 784\]$/,
    },
    {
      name: "x of rank 1",
      run: () => layer.forward(backend.zeros([784]), true),
      message: /^Linear\(784, 512\) fc1: forward x has shape \[784\], expected \[\*, 784\]$/,
    },
    {
      name: "dY with another batch size",
      run: () => {
        layer.forward(backend.zeros([100, 784]), true);
        layer.backward(backend.zeros([50, 512]));
      },
      message:
        /^Linear\(784, 512\) fc1: backward dY has shape \[50, ?512\], expected \[100, 512\]$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, { name: "TypeError", message: c.message });
    });
  }
});

Deno.test("Linear.backward() throws when called before forward", () => {
  const backend = createTsBackend();
  const layer = new Linear(backend, 2, 2, { initStd: 1, rng: new Rng(0) });
  assert.throws(() => layer.backward(backend.zeros([1, 2])), /backward called before forward/);
});

Deno.test("Linear rejects invalid constructor values with RangeError", async (t) => {
  const backend = createTsBackend();
  const rng = new Rng(0);
  const cases = [
    {
      name: "zero inFeatures",
      args: [0, 3, 0.1],
      message: /inFeatures must be a positive integer/,
    },
    { name: "fractional outFeatures", args: [3, 1.5, 0.1], message: /outFeatures must be a/ },
    { name: "negative initStd", args: [3, 3, -1], message: /initStd must be a finite number >= 0/ },
    { name: "NaN initStd", args: [3, 3, NaN], message: /initStd must be a finite number >= 0/ },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const [inFeatures, outFeatures, initStd] = c.args;
      assert.throws(() => new Linear(backend, inFeatures, outFeatures, { initStd, rng }), {
        name: "RangeError",
        message: c.message,
      });
    });
  }
});
