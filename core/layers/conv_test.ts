import assert from "node:assert/strict";
import type { Backend } from "../backend/backend.ts";
import { createTsBackend } from "../backend/ts.ts";
import { Rng } from "../random.ts";
import type { Tensor } from "../tensor.ts";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  goldenTensor,
  loadGolden,
  tensorFrom,
} from "../testing.ts";
import { Conv2D } from "./conv.ts";

const golden = await loadGolden(new URL("../testdata/conv2d.json", import.meta.url));

/** Direct nested-loop convolution in float64: the definition that im2col must reproduce. */
function directConv(
  x: Tensor,
  W: Tensor,
  b: Tensor,
  pad: number,
  stride: number,
): { shape: number[]; data: Float64Array } {
  const [n, c, h, w] = x.shape;
  const [o, , k] = W.shape;
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((w + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(n * o * ho * wo);
  for (let ni = 0; ni < n; ni++) {
    for (let oi = 0; oi < o; oi++) {
      for (let oy = 0; oy < ho; oy++) {
        for (let ox = 0; ox < wo; ox++) {
          let sum = b.data[oi];
          for (let ci = 0; ci < c; ci++) {
            for (let ky = 0; ky < k; ky++) {
              for (let kx = 0; kx < k; kx++) {
                const iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                sum += W.data[((oi * c + ci) * k + ky) * k + kx] *
                  x.data[((ni * c + ci) * h + iy) * w + ix];
              }
            }
          }
          y[((ni * o + oi) * ho + oy) * wo + ox] = sum;
        }
      }
    }
  }
  return { shape: [n, o, ho, wo], data: y };
}

function randomTensor(backend: Backend, rng: Rng, shape: number[]): Tensor {
  const t = backend.zeros(shape);
  rng.fillNormal(t.data, 1);
  return t;
}

Deno.test("Conv2D computes a 2x2 kernel over a 3x3 image by hand", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = new Conv2D(backend, 1, 1, 2, { initStd: 0, rng: new Rng(0) });
    layer.W.value.copyFrom(Float32Array.of(1, 0, 0, -1));
    layer.b.value.copyFrom(Float32Array.of(0.5));
    const x = tensorFrom(backend, [1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);

    // Each output is x[i, j] − x[i + 1, j + 1] + 0.5 = −4 + 0.5.
    const y = layer.forward(x, true);
    assert.deepEqual(y.shape, [1, 1, 2, 2]);
    assert.deepEqual([...y.data], [-3.5, -3.5, -3.5, -3.5]);

    // With dY = 1 everywhere: dW[ky, kx] sums the 2×2 block of x at (ky, kx), db counts the
    // outputs, and dX adds +1 under W[0, 0] of every window and −1 under W[1, 1].
    const dX = layer.backward(tensorFrom(backend, [1, 1, 2, 2], [1, 1, 1, 1]));
    assert.ok(dX !== null);
    assert.deepEqual(dX.shape, [1, 1, 3, 3]);
    assert.deepEqual([...layer.W.grad.data], [12, 16, 24, 28]);
    assert.deepEqual([...layer.b.grad.data], [4]);
    assert.deepEqual([...dX.data], [1, 1, 0, 1, 0, -1, 0, -1, -1]);
  });
});

Deno.test("Conv2D matches the golden outputs and gradients", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    for (const c of golden.cases) {
      await t.step(c.name, () => {
        const [outChannels, inChannels, kernelSize] = c.inputs.W.shape;
        const layer = new Conv2D(backend, inChannels, outChannels, kernelSize, {
          pad: c.attrs.pad as number,
          stride: c.attrs.stride as number,
          initStd: 1,
          rng: new Rng(0),
        });
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

Deno.test("Conv2D gradients match finite differences", async (t) => {
  const geometries = [
    { kernelSize: 3, pad: 1, stride: 1 },
    { kernelSize: 3, pad: 1, stride: 2 },
    { kernelSize: 2, pad: 0, stride: 1 },
  ];
  await forEachBackend(t, async (backend, t) => {
    for (const { kernelSize, pad, stride } of geometries) {
      await t.step(`K ${kernelSize} pad ${pad} stride ${stride}`, () => {
        const rng = new Rng(7);
        const layer = new Conv2D(backend, 2, 3, kernelSize, { pad, stride, initStd: 0.5, rng });
        layer.b.value.copyFrom(rng.fillNormal(new Float32Array(3), 1));
        const x = randomTensor(backend, rng, [2, 2, 5, 4]);
        const y0 = layer.forward(x, true);
        const dy = rng.fillNormal(new Float32Array(y0.size), 1);

        // f = Σ y ⊙ dy, whose gradients are those that backward computes from dY = dy.
        const f = () => {
          const y = layer.forward(x, true);
          let sum = 0;
          for (let i = 0; i < y.size; i++) sum += y.data[i] * dy[i];
          return sum;
        };
        f();
        const dX = layer.backward(tensorFrom(backend, y0.shape, dy));
        assert.ok(dX !== null);

        const report = finiteDifferenceCheck(f, [
          { name: "x", values: x.data, grad: dX.data },
          { name: "W", values: layer.W.value.data, grad: layer.W.grad.data },
          { name: "b", values: layer.b.value.data, grad: layer.b.grad.data },
        ], { label: `Conv2D on ${backend.name}` });
        assert.equal(report.checked, x.size + layer.W.value.size + 3);
      });
    }
  });
});

Deno.test("Conv2D through im2col equals a direct convolution on random shapes", async (t) => {
  const rng = new Rng(23);
  await forEachBackend(t, (backend) => {
    for (let trial = 0; trial < 25; trial++) {
      // Bounded sizes: N 1–3, C 1–3, O 1–4, H and W 1–9, K 1–5, pad 0–2, stride 1–3.
      const n = 1 + rng.int(3), c = 1 + rng.int(3), o = 1 + rng.int(4);
      const h = 1 + rng.int(9), w = 1 + rng.int(9);
      const pad = rng.int(3), stride = 1 + rng.int(3);
      const kernelSize = 1 + rng.int(Math.min(5, h + 2 * pad, w + 2 * pad));
      const layer = new Conv2D(backend, c, o, kernelSize, { pad, stride, initStd: 1, rng });
      layer.b.value.copyFrom(rng.fillNormal(new Float32Array(o), 1));
      const x = randomTensor(backend, rng, [n, c, h, w]);

      const expected = directConv(x, layer.W.value, layer.b.value, pad, stride);
      const y = layer.forward(x, true);
      const label = `x [${x.shape}] W [${layer.W.value.shape}] pad ${pad} stride ${stride}`;
      assert.deepEqual(y.shape, expected.shape, label);
      assertClose(y, expected.data, { atol: 1e-5, rtol: 1e-4 }, label);
    }
  });
});

Deno.test("Conv2D.backward() skips dX when needInputGrad is false", async (t) => {
  await forEachBackend(t, (backend) => {
    const layer = new Conv2D(backend, 1, 1, 1, { initStd: 0, rng: new Rng(0) });
    layer.forward(tensorFrom(backend, [1, 1, 1, 2], [3, 4]), true);
    assert.equal(layer.backward(tensorFrom(backend, [1, 1, 1, 2], [1, 2]), false), null);
    // dW = Σ x · dY = 3·1 + 4·2, db = 1 + 2.
    assert.deepEqual([...layer.W.grad.data], [11]);
    assert.deepEqual([...layer.b.grad.data], [3]);
  });
});

Deno.test("Conv2D.backward() overwrites parameter gradients", () => {
  const backend = createTsBackend();
  const layer = new Conv2D(backend, 1, 1, 1, { initStd: 0, rng: new Rng(0) });
  layer.forward(tensorFrom(backend, [1, 1, 1, 1], [3]), true);
  const dY = tensorFrom(backend, [1, 1, 1, 1], [1]);
  layer.backward(dY);
  layer.backward(dY);
  assert.deepEqual([...layer.W.grad.data], [3]);
  assert.deepEqual([...layer.b.grad.data], [1]);
});

Deno.test("Conv2D initializes W [O, C, K, K] from the Rng and b to zeros", () => {
  const backend = createTsBackend();
  const layer = new Conv2D(backend, 3, 4, 5, { initStd: 0.25, rng: new Rng(11), name: "conv1" });
  assert.deepEqual(layer.W.value.shape, [4, 3, 5, 5]);
  assert.deepEqual(layer.W.value.data, new Rng(11).fillNormal(new Float32Array(300), 0.25));
  assert.deepEqual(layer.b.value.data, new Float32Array(4));
  assert.deepEqual(layer.params().map((p) => p.name), ["conv1.W", "conv1.b"]);
});

Deno.test("Conv2D rejects wrong shapes with both shapes in the message", async (t) => {
  const backend = createTsBackend();
  const layer = new Conv2D(backend, 3, 4, 5, { initStd: 0.1, rng: new Rng(0), name: "conv1" });
  const cases = [
    {
      name: "x with 1 channel for 3",
      run: () => layer.forward(backend.zeros([2, 1, 8, 8]), true),
      message:
        /^Conv2D\(3, 4, 5\) conv1: forward x has shape \[2, 1, 8, 8\], expected \[\*, 3, \*, \*\]$/,
    },
    {
      name: "x of rank 2",
      run: () => layer.forward(backend.zeros([2, 192]), true),
      message:
        /^Conv2D\(3, 4, 5\) conv1: forward x has shape \[2, 192\], expected \[\*, 3, \*, \*\]$/,
    },
    {
      name: "kernel larger than the padded input",
      run: () => layer.forward(backend.zeros([2, 3, 4, 6]), true),
      message:
        /^Conv2D\(3, 4, 5\) conv1 forward x \[2, 3, 4, 6\]: kernel 5×5 is larger than the padded input 4×6/,
    },
    {
      name: "dY with another channel count",
      run: () => {
        layer.forward(backend.zeros([2, 3, 8, 8]), true);
        layer.backward(backend.zeros([2, 3, 4, 4]));
      },
      message:
        /^Conv2D\(3, 4, 5\) conv1: backward dY has shape \[2, 3, 4, 4\], expected \[2, 4, 4, 4\]$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, { name: "TypeError", message: c.message });
    });
  }
});

Deno.test("Conv2D rejects invalid constructor values with RangeError", async (t) => {
  const backend = createTsBackend();
  const rng = new Rng(0);
  const cases = [
    {
      name: "zero inChannels",
      args: [0, 4, 3, 0, 1, 0.1],
      message: /inChannels must be an integer >= 1, got 0/,
    },
    { name: "fractional kernelSize", args: [1, 4, 2.5, 0, 1, 0.1], message: /kernelSize must be/ },
    {
      name: "negative pad",
      args: [1, 4, 3, -1, 1, 0.1],
      message: /pad must be an integer >= 0, got -1/,
    },
    {
      name: "zero stride",
      args: [1, 4, 3, 1, 0, 0.1],
      message: /stride must be an integer >= 1, got 0/,
    },
    {
      name: "NaN initStd",
      args: [1, 4, 3, 1, 1, NaN],
      message: /initStd must be a finite number >= 0/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const [inChannels, outChannels, kernelSize, pad, stride, initStd] = c.args;
      assert.throws(
        () =>
          new Conv2D(backend, inChannels, outChannels, kernelSize, { pad, stride, initStd, rng }),
        { name: "RangeError", message: c.message },
      );
    });
  }
});

Deno.test("Conv2D.backward() throws when called before forward", () => {
  const backend = createTsBackend();
  const layer = new Conv2D(backend, 1, 1, 1, { initStd: 1, rng: new Rng(0) });
  assert.throws(
    () => layer.backward(backend.zeros([1, 1, 1, 1])),
    /backward called before forward/,
  );
});
