import assert from "node:assert/strict";
import type { Backend } from "../backend/backend.ts";
import { createTsBackend } from "../backend/ts.ts";
import type { Loss } from "../layer.ts";
import { Rng } from "../random.ts";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  goldenTensor,
  loadGolden,
  tensorFrom,
} from "../testing.ts";
import { EuclideanLoss, SoftmaxCrossEntropyLoss } from "./losses.ts";

const golden = await loadGolden(new URL("../testdata/losses.json", import.meta.url));

/** Losses by the name that the golden cases use in `attrs.loss`. */
const losses: Record<string, (backend: Backend) => Loss> = {
  euclidean: (backend) => new EuclideanLoss(backend),
  softmax_cross_entropy: (backend) => new SoftmaxCrossEntropyLoss(backend),
};

Deno.test("EuclideanLoss computes sum((t - y)^2) / (2N) and (y - t) / N", async (t) => {
  await forEachBackend(t, (backend) => {
    const loss = new EuclideanLoss(backend);
    const y = tensorFrom(backend, [2, 2], [1, 2, 0, 0]);
    const target = tensorFrom(backend, [2, 2], [0, 1, 1, 0]);

    // Squared differences 1 + 1 + 1 + 0 = 3, over 2N = 4.
    assert.equal(loss.forward(y, target), 0.75);

    // (y − t) / N = [1, 1, −1, 0] / 2.
    const dY = loss.backward();
    assert.deepEqual(dY.shape, [2, 2]);
    assert.deepEqual([...dY.data], [0.5, 0.5, -0.5, 0]);
  });
});

Deno.test("SoftmaxCrossEntropyLoss stays finite for logits [1000, 0]", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    const cases = [
      // −log softmax = log(1 + e^−1000), which rounds to 0. The gradient softmax − t is [0, 0].
      { name: "target on the large logit", target: [1, 0], loss: 0, grad: [0, 0] },
      // −log softmax = 1000 + log(1 + e^−1000) = 1000. The gradient is [1, 0] − [0, 1].
      { name: "target on the small logit", target: [0, 1], loss: 1000, grad: [1, -1] },
    ];
    for (const c of cases) {
      await t.step(c.name, () => {
        const loss = new SoftmaxCrossEntropyLoss(backend);
        const y = tensorFrom(backend, [1, 2], [1000, 0]);
        assert.equal(loss.forward(y, tensorFrom(backend, [1, 2], c.target)), c.loss);
        const dY = loss.backward();
        assert.deepEqual(dY.shape, [1, 2]);
        assert.deepEqual([...dY.data], c.grad);
      });
    }
  });
});

Deno.test("SoftmaxCrossEntropyLoss computes log K for equal logits", async (t) => {
  await forEachBackend(t, (backend) => {
    const loss = new SoftmaxCrossEntropyLoss(backend);
    const y = tensorFrom(backend, [2, 4], [3, 3, 3, 3, -1, -1, -1, -1]);
    const target = tensorFrom(backend, [2, 4], [0, 1, 0, 0, 0, 0, 0, 1]);

    // softmax is 1/4 everywhere, so each row loses log 4.
    assertClose([loss.forward(y, target)], [Math.log(4)], { atol: 1e-12, rtol: 0 }, "loss");

    // (1/4 − t) / N with N = 2.
    const dY = loss.backward();
    const expected = [1, -3, 1, 1, 1, 1, 1, -3].map((v) => v / 8);
    assertClose(dY, expected, { atol: 1e-7, rtol: 0 }, "dy");
  });
});

Deno.test("losses match the golden cases", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const create = losses[c.attrs.loss as string];
        assert.ok(create !== undefined, `no loss named ${c.attrs.loss}`);
        const loss = create(backend);
        const value = loss.forward(
          goldenTensor(backend, c, "inputs", "x"),
          goldenTensor(backend, c, "inputs", "target"),
        );
        assertClose([value], c.outputs.loss.data, c.tolerance, `${c.name} loss`);
        assertClose(loss.backward(), c.grads.dx, c.tolerance, `${c.name} dx`);
      });
    }
  });
});

Deno.test("loss gradients match finite differences", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const [name, create] of Object.entries(losses)) {
      await t.step(name, () => {
        const rng = new Rng(9);
        const loss = create(backend);
        const y = tensorFrom(backend, [4, 5], rng.fillNormal(new Float32Array(20), 2));
        const targetValues = new Float32Array(20);
        for (let i = 0; i < 4; i++) targetValues[i * 5 + rng.int(5)] = 1;
        const target = tensorFrom(backend, [4, 5], targetValues);

        const f = () => loss.forward(y, target);
        f();
        const dY = loss.backward();
        finiteDifferenceCheck(f, [{ name: "y", values: y.data, grad: dY.data }], {
          label: `${name} on ${backend.name}`,
        });
      });
    }
  });
});

Deno.test("losses reject mismatched shapes", async (t) => {
  const backend = createTsBackend();
  const cases = [
    {
      name: "euclidean target of another width",
      run: () => new EuclideanLoss(backend).forward(backend.zeros([3, 10]), backend.zeros([3, 9])),
      error: {
        name: "TypeError",
        message: "EuclideanLoss euclidean: target has shape [3,9], expected [3,10] like y",
      },
    },
    {
      name: "softmax y of rank 1",
      run: () =>
        new SoftmaxCrossEntropyLoss(backend).forward(backend.zeros([10]), backend.zeros([10])),
      error: {
        name: "TypeError",
        message: "SoftmaxCrossEntropyLoss softmax_cross_entropy: y has shape [10], expected [N, K]",
      },
    },
    {
      name: "empty batch",
      run: () => new EuclideanLoss(backend).forward(backend.zeros([0, 10]), backend.zeros([0, 10])),
      error: { name: "RangeError", message: /the batch is empty/ },
    },
    {
      name: "softmax target row that is not one-hot",
      run: () =>
        new SoftmaxCrossEntropyLoss(backend).forward(
          backend.zeros([2, 3]),
          tensorFrom(backend, [2, 3], [0, 1, 0, 0, 0, 0]),
        ),
      error: { name: "RangeError", message: /target row 1 sums to 0, expected 1/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, c.error);
    });
  }
});

Deno.test("losses return NaN for NaN outputs", async (t) => {
  const backend = createTsBackend();
  for (const [name, create] of Object.entries(losses)) {
    await t.step(name, () => {
      const y = tensorFrom(backend, [1, 2], [NaN, 0]);
      const value = create(backend).forward(y, tensorFrom(backend, [1, 2], [1, 0]));
      assert.ok(Number.isNaN(value), `${name} returned ${value}`);
    });
  }
});

Deno.test("losses throw when backward runs first", async (t) => {
  const backend = createTsBackend();
  for (const [name, create] of Object.entries(losses)) {
    await t.step(name, () => {
      assert.throws(() => create(backend).backward(), /backward called before forward/);
    });
  }
});
