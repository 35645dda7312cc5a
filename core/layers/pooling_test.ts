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
import { AvgPool2D, MaxPool2D } from "./pooling.ts";

const golden = await loadGolden(new URL("../testdata/pooling.json", import.meta.url));

/** Build the layer of a golden case from its attrs. */
function layerFor(backend: Backend, attrs: Record<string, unknown>): Layer {
  const kernelSize = attrs.kernel_size as number;
  if (attrs.pool === "avg") {
    assert.equal(attrs.stride, kernelSize, "average pooling is non-overlapping");
    return new AvgPool2D(backend, kernelSize, { pad: attrs.pad as number });
  }
  assert.equal(attrs.pad, 0, "max pooling has no padding");
  return new MaxPool2D(backend, kernelSize, { stride: attrs.stride as number });
}

Deno.test("AvgPool2D averages 2x2 windows and counts padded zeros", async (t) => {
  await forEachBackend(t, (backend) => {
    // Without padding: the means of the four 2×2 blocks of a 4×4 image.
    const plain = new AvgPool2D(backend, 2);
    const x = tensorFrom(backend, [1, 1, 4, 4], [
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      9,
      10,
      11,
      12,
      13,
      14,
      15,
      16,
    ]);
    const y = plain.forward(x, true);
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    assert.deepEqual([...y.data], [3.5, 5.5, 11.5, 13.5]);
    const dX = plain.backward(tensorFrom(backend, [1, 1, 2, 2], [4, 8, 12, 16]));
    assert.ok(dX !== null);
    assert.deepEqual([...dX.data], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);

    // Padding 1 around a 2×2 image of ones: each 2×2 window contains one pixel and three zeros.
    const padded = new AvgPool2D(backend, 2, { pad: 1 });
    const yPadded = padded.forward(tensorFrom(backend, [1, 1, 2, 2], [1, 1, 1, 1]), true);
    assert.deepEqual(yPadded.shape, [1, 1, 2, 2]);
    assert.deepEqual([...yPadded.data], [0.25, 0.25, 0.25, 0.25]);
  });
});

Deno.test("MaxPool2D routes the gradient to each window's maximum", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = new MaxPool2D(backend, 2);
    const x = tensorFrom(backend, [1, 1, 2, 4], [1, 5, 2, 0, 3, 4, 8, 7]);
    const y = layer.forward(x, true);
    assert.deepEqual(y.shape, [1, 1, 1, 2]);
    assert.deepEqual([...y.data], [5, 8]);
    const dX = layer.backward(tensorFrom(backend, [1, 1, 1, 2], [10, 20]));
    assert.ok(dX !== null);
    assert.deepEqual([...dX.data], [0, 10, 0, 0, 0, 0, 20, 0]);

    // Stride 1 with K 2: the centre pixel 9 is the maximum of all four windows and gets their sum.
    const overlapping = new MaxPool2D(backend, 2, { stride: 1 });
    overlapping.forward(tensorFrom(backend, [1, 1, 3, 3], [1, 2, 3, 4, 9, 5, 6, 7, 8]), true);
    const dOverlap = overlapping.backward(tensorFrom(backend, [1, 1, 2, 2], [1, 2, 3, 4]));
    assert.ok(dOverlap !== null);
    assert.deepEqual([...dOverlap.data], [0, 0, 0, 0, 10, 0, 0, 0, 0]);
  });
});

Deno.test("AvgPool2D and MaxPool2D match the golden outputs and gradients", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const layer = layerFor(backend, c.attrs);
        const y = layer.forward(goldenTensor(backend, c, "inputs", "x"), true);
        assertClose(y, c.outputs.y, c.tolerance, `${c.name} y`);
        const dX = layer.backward(goldenTensor(backend, c, "inputs", "dy"));
        assert.ok(dX !== null);
        assertClose(dX, c.grads.dx, c.tolerance, `${c.name} dx`);
      });
    }
  });
});

Deno.test("AvgPool2D and MaxPool2D gradients match finite differences", async (t) => {
  const layers: [string, (backend: Backend) => Layer][] = [
    ["AvgPool2D(2)", (backend) => new AvgPool2D(backend, 2)],
    ["AvgPool2D(3) pad 1", (backend) => new AvgPool2D(backend, 3, { pad: 1 })],
    ["MaxPool2D(2)", (backend) => new MaxPool2D(backend, 2)],
    ["MaxPool2D(3) stride 2", (backend) => new MaxPool2D(backend, 3, { stride: 2 })],
  ];
  await forEachBackend(t, async (backend, t) => {
    for (const [name, create] of layers) {
      await t.step(name, () => {
        const layer = create(backend);
        // Distinct values at least 0.05 apart, so a step of eps = 0.01 never changes a maximum.
        const rng = new Rng(5);
        const order = Uint32Array.from({ length: 2 * 2 * 5 * 6 }, (_, i) => i);
        rng.shuffle(order);
        const x = tensorFrom(backend, [2, 2, 5, 6], Array.from(order, (v) => 0.05 * v - 3));
        const y0 = layer.forward(x, true);
        const dy = rng.fillNormal(new Float32Array(y0.size), 1);

        const f = () => {
          const y = layer.forward(x, true);
          let sum = 0;
          for (let i = 0; i < y.size; i++) sum += y.data[i] * dy[i];
          return sum;
        };
        f();
        const dX = layer.backward(tensorFrom(backend, y0.shape, dy));
        assert.ok(dX !== null);
        finiteDifferenceCheck(f, [{ name: "x", values: x.data, grad: dX.data }], {
          label: `${name} on ${backend.name}`,
        });
      });
    }
  });
});

Deno.test("pooling layers reject wrong shapes with both shapes in the message", async (t) => {
  const backend = createTsBackend();
  const avg = new AvgPool2D(backend, 2, { name: "pool1" });
  const max = new MaxPool2D(backend, 3, { name: "pool2" });
  const cases = [
    {
      name: "AvgPool2D x of rank 2",
      run: () => avg.forward(backend.zeros([2, 16]), true),
      message: /^AvgPool2D\(2\) pool1: forward x has shape \[2, 16\], expected \[\*, \*, \*, \*\]$/,
    },
    {
      name: "AvgPool2D dY of another size",
      run: () => {
        avg.forward(backend.zeros([2, 3, 4, 4]), true);
        avg.backward(backend.zeros([2, 3, 4, 4]));
      },
      message:
        /^AvgPool2D\(2\) pool1: backward dY has shape \[2, 3, 4, 4\], expected \[2, 3, 2, 2\]$/,
    },
    {
      name: "MaxPool2D window larger than the input",
      run: () => max.forward(backend.zeros([1, 1, 2, 5]), true),
      message:
        /^MaxPool2D\(3\) pool2 forward x \[1, 1, 2, 5\]: window 3×3 is larger than the input 2×5$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, { name: "TypeError", message: c.message });
    });
  }
});

Deno.test("pooling layers reject invalid constructor values with RangeError", async (t) => {
  const backend = createTsBackend();
  const cases = [
    {
      name: "AvgPool2D kernel 0",
      run: () => new AvgPool2D(backend, 0),
      message: /kernelSize must be an integer >= 1, got 0/,
    },
    {
      name: "AvgPool2D pad as large as the window",
      run: () => new AvgPool2D(backend, 2, { pad: 2 }),
      message: /pad must be an integer from 0 to 1, got 2/,
    },
    {
      name: "MaxPool2D stride 0",
      run: () => new MaxPool2D(backend, 2, { stride: 0 }),
      message: /stride must be an integer >= 1, got 0/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, { name: "RangeError", message: c.message });
    });
  }
});
