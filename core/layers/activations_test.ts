import assert from "node:assert/strict";
import type { Backend } from "../backend/backend.ts";
import { createTsBackend } from "../backend/ts.ts";
import type { Layer } from "../layer.ts";
import { Rng } from "../random.ts";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  goldenTensor,
  loadGolden,
  tensorFrom,
} from "../testing.ts";
import { Relu, Sigmoid } from "./activations.ts";

const golden = await loadGolden(new URL("../testdata/activations.json", import.meta.url));

/** Activation layers by the name that the golden cases use in `attrs.activation`. */
const activations: Record<string, (backend: Backend) => Layer> = {
  relu: (backend) => new Relu(backend),
  sigmoid: (backend) => new Sigmoid(backend),
};

Deno.test("Relu computes max(x, 0) with derivative 0 at exactly 0", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = new Relu(backend);
    const x = tensorFrom(backend, [1, 4], [-1, 0, 2, -0.5]);
    const y = layer.forward(x, true);
    assert.deepEqual(y.shape, [1, 4]);
    assert.deepEqual([...y.data], [0, 0, 2, 0]);

    // dX = dY ⊙ [y > 0]: only the input 2 passes its gradient.
    const dX = layer.backward(tensorFrom(backend, [1, 4], [5, 6, 7, 8]));
    assert.ok(dX !== null);
    assert.deepEqual([...dX.data], [0, 0, 7, 0]);
  });
});

Deno.test("Sigmoid computes 1/(1+exp(-x)) and y(1-y)", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = new Sigmoid(backend);
    const x = tensorFrom(backend, [1, 2], [0, Math.log(3)]);

    // sigmoid(0) = 1/2 and sigmoid(ln 3) = 1/(1 + 1/3) = 3/4.
    const y = layer.forward(x, true);
    assert.deepEqual(y.shape, [1, 2]);
    assertClose(y, [0.5, 0.75], { atol: 1e-6, rtol: 0 }, "sigmoid y");

    // dX = dY · y(1 − y): 1/2 · 1/2 = 1/4 and 3/4 · 1/4 = 3/16, times dY = 2.
    const dX = layer.backward(tensorFrom(backend, [1, 2], [2, 2]));
    assert.ok(dX !== null);
    assertClose(dX, [0.5, 0.375], { atol: 1e-6, rtol: 0 }, "sigmoid dx");
  });
});

Deno.test("Relu and Sigmoid match the golden outputs and gradients", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      const create = activations[c.attrs.activation as string];
      // TODO: tanh has a golden case but no Tanh layer or backend kernel yet.
      await t.step({
        name: c.name,
        ignore: create === undefined,
        fn: () => {
          const layer = create(backend);
          const y = layer.forward(goldenTensor(backend, c, "inputs", "x"), true);
          assertClose(y, c.outputs.y, c.tolerance, `${c.name} y`);
          const dX = layer.backward(goldenTensor(backend, c, "inputs", "dy"));
          assert.ok(dX !== null);
          assertClose(dX, c.grads.dx, c.tolerance, `${c.name} dx`);
        },
      });
    }
  });
});

Deno.test("Relu and Sigmoid gradients match finite differences", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const [name, create] of Object.entries(activations)) {
      await t.step(name, () => {
        const rng = new Rng(5);
        const layer = create(backend);
        // Inputs at least 0.1 from zero, so that ReLU's kink lies outside every ±eps step.
        const values = Float32Array.from({ length: 12 }, () => {
          const magnitude = 0.1 + 2 * rng.uniform();
          return rng.uniform() < 0.5 ? -magnitude : magnitude;
        });
        const x = tensorFrom(backend, [3, 4], values);
        const dy = rng.fillNormal(new Float32Array(12), 1);

        const f = () => {
          const y = layer.forward(x, true);
          let sum = 0;
          for (let i = 0; i < y.size; i++) sum += y.data[i] * dy[i];
          return sum;
        };
        f();
        const dX = layer.backward(tensorFrom(backend, [3, 4], dy));
        assert.ok(dX !== null);
        finiteDifferenceCheck(f, [{ name: "x", values: x.data, grad: dX.data }], {
          label: `${name} on ${backend.name}`,
        });
      });
    }
  });
});

Deno.test("Relu and Sigmoid keep the input shape of any rank", async (t) => {
  const backend = createTsBackend();
  for (const [name, create] of Object.entries(activations)) {
    await t.step(name, () => {
      const layer = create(backend);
      const y = layer.forward(backend.zeros([2, 3, 4, 5]), true);
      assert.deepEqual(y.shape, [2, 3, 4, 5]);
      const dX = layer.backward(backend.zeros([2, 3, 4, 5]));
      assert.deepEqual(dX?.shape, [2, 3, 4, 5]);
    });
  }
});

Deno.test("Relu.backward() returns null when needInputGrad is false", () => {
  const backend = createTsBackend();
  const layer = new Relu(backend);
  layer.forward(backend.zeros([2, 2]), true);
  assert.equal(layer.backward(backend.zeros([2, 2]), false), null);
});

Deno.test("Relu and Sigmoid leave the caller's dY unchanged", async (t) => {
  const backend = createTsBackend();
  for (const [name, create] of Object.entries(activations)) {
    await t.step(name, () => {
      const layer = create(backend);
      layer.forward(tensorFrom(backend, [1, 3], [-1, 0.5, 2]), true);
      const dY = tensorFrom(backend, [1, 3], [1, 1, 1]);
      layer.backward(dY);
      assert.deepEqual([...dY.data], [1, 1, 1]);
    });
  }
});

Deno.test("Relu and Sigmoid reject a dY whose shape differs from the output", async (t) => {
  const backend = createTsBackend();
  const cases = [
    { name: "relu", layer: new Relu(backend, { name: "act1" }), label: "Relu act1" },
    { name: "sigmoid", layer: new Sigmoid(backend, { name: "act2" }), label: "Sigmoid act2" },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      c.layer.forward(backend.zeros([4, 3]), true);
      assert.throws(() => c.layer.backward(backend.zeros([4, 2])), {
        name: "TypeError",
        message: `${c.label}: backward dY has shape [4,2], expected [4,3] like the output`,
      });
    });
  }
});

Deno.test("Relu and Sigmoid throw when backward runs before forward", async (t) => {
  const backend = createTsBackend();
  for (const [name, create] of Object.entries(activations)) {
    await t.step(name, () => {
      assert.throws(() => create(backend).backward(backend.zeros([1, 1])), /before forward/);
    });
  }
});
