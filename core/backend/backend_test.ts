import assert from "node:assert/strict";
import { Tensor } from "../tensor.ts";
import { Rng } from "../random.ts";
import type { Backend, MatmulOptions } from "./backend.ts";
import { createTsBackend } from "./ts.ts";
import { createWasmBackend } from "./wasm.ts";
import { buildAll, BUILDS, lowerRelaxedMadd } from "./build_wasm.ts";
import { assertClose, copyToBackend, forEachBackend, tensorFrom } from "../testing.ts";

const reference = createTsBackend();

/** Every fast variant: relaxed and plain SIMD, one and two threads. */
async function fastBackends(): Promise<Backend[]> {
  return [
    await createWasmBackend({ threads: 1 }),
    await createWasmBackend({ threads: 2 }),
    await createWasmBackend({ threads: 2, noRelaxed: true }),
  ];
}

function random(rng: Rng, shape: number[]): Tensor {
  const t = new Tensor(shape);
  rng.fillNormal(t.data, 1);
  return t;
}

function maxDiff(a: Float32Array, b: Float32Array): { max: number; index: number } {
  let max = 0, index = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) [max, index] = [d, i];
  }
  return { max, index };
}

function assertAgree(label: string, expected: Tensor, actual: Tensor, tol: number): void {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  const { max, index } = maxDiff(expected.data, actual.data);
  assert.ok(
    max <= tol,
    `${label}: max difference ${max} at index ${index} (expected ${expected.data[index]}, got ${
      actual.data[index]
    }), tolerance ${tol}`,
  );
}

Deno.test("wasm matmul() agrees with the reference on ragged shapes and every flag", async (t) => {
  const rng = new Rng(7);
  const shapes: [number, number, number][] = [
    [1, 1, 1],
    [1, 7, 33],
    [7, 1, 33],
    [33, 7, 1],
    [33, 33, 33],
    [7, 33, 100],
    [100, 512, 784],
    [100, 784, 512],
    [784, 512, 100],
    [5, 9, 0],
  ];
  for (const backend of await fastBackends()) {
    await t.step(backend.description, () => {
      for (const [m, n, k] of shapes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const accumulate of [false, true]) {
              const options: MatmulOptions = { transA, transB, accumulate };
              const a = random(rng, transA ? [k, m] : [m, k]);
              const b = random(rng, transB ? [n, k] : [k, n]);
              const c0 = random(rng, [m, n]);
              const expected = Tensor.from([m, n], c0.data);
              reference.matmul(a, b, expected, options);
              // Operands in the backend's memory, then plain arrays that must be staged.
              for (const inMemory of [true, false]) {
                const out = inMemory ? copyToBackend(backend, c0) : Tensor.from([m, n], c0.data);
                const [x, y] = inMemory
                  ? [copyToBackend(backend, a), copyToBackend(backend, b)]
                  : [a, b];
                backend.matmul(x, y, out, options);
                // Sums of K products of unit normals: float32 rounding grows like sqrt(K).
                const tol = 1e-5 * Math.max(1, k) + 1e-5;
                assertAgree(
                  `[${m}, ${n}, ${k}] ${JSON.stringify(options)} inMemory=${inMemory}`,
                  expected,
                  out,
                  tol,
                );
              }
            }
          }
        }
      }
    });
  }
});

Deno.test("wasm element-wise kernels agree with the reference", async (t) => {
  const rng = new Rng(11);
  for (const backend of await fastBackends()) {
    await t.step(backend.description, () => {
      for (const [n, d] of [[1, 1], [3, 7], [33, 10], [100, 512]]) {
        const x = random(rng, [n, d]);
        const dy = random(rng, [n, d]);
        const vec = random(rng, [d]);
        const label = `[${n}, ${d}]`;

        const y0 = Tensor.from([n, d], x.data), y1 = copyToBackend(backend, x);
        reference.addRowVector(y0, vec);
        backend.addRowVector(y1, copyToBackend(backend, vec));
        assertAgree(`addRowVector ${label}`, y0, y1, 1e-6);

        const s0 = new Tensor([d]), s1 = backend.zeros([d]);
        reference.sumRows(x, s0);
        backend.sumRows(copyToBackend(backend, x), s1);
        assertAgree(`sumRows ${label}`, s0, s1, 1e-5 * n);

        for (
          const [name, fwd, bwd] of [
            ["relu", "relu", "reluBackward"],
            ["sigmoid", "sigmoid", "sigmoidBackward"],
          ] as const
        ) {
          const r0 = new Tensor([n, d]), r1 = backend.zeros([n, d]);
          reference[fwd](x, r0);
          backend[fwd](copyToBackend(backend, x), r1);
          assertAgree(`${name} ${label}`, r0, r1, 1e-6);
          const g0 = new Tensor([n, d]), g1 = backend.zeros([n, d]);
          reference[bwd](r0, dy, g0);
          backend[bwd](r1, copyToBackend(backend, dy), g1);
          assertAgree(`${name} backward ${label}`, g0, g1, 1e-6);
        }

        const big = new Tensor([n, d]);
        for (let i = 0; i < big.size; i++) big.data[i] = x.data[i] * 400;
        for (const input of [x, big]) {
          const p0 = new Tensor([n, d]), p1 = backend.zeros([n, d]);
          reference.softmax(input, p0);
          backend.softmax(copyToBackend(backend, input), p1);
          assertAgree(`softmax ${label}`, p0, p1, 2e-6);
          // Row sums equal 1 up to float32 rounding.
          for (let i = 0; i < n; i++) {
            let sum = 0;
            for (let j = 0; j < d; j++) sum += p1.data[i * d + j];
            assert.ok(Math.abs(sum - 1) < 1e-5, `softmax row ${i} sums to ${sum}`);
          }
        }

        const w0 = Tensor.from([n, d], x.data), w1 = copyToBackend(backend, x);
        const v0 = Tensor.from([n, d], dy.data), v1 = copyToBackend(backend, dy);
        const options = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
        reference.sgdMomentum(w0, x, v0, options);
        backend.sgdMomentum(w1, copyToBackend(backend, x), v1, options);
        assertAgree(`sgdMomentum w ${label}`, w0, w1, 1e-6);
        assertAgree(`sgdMomentum v ${label}`, v0, v1, 1e-6);
      }
    });
  }
});

/**
 * A small LSTM step, two rows of H = 2 units: the inputs of lstmCell() and its expected outputs,
 * from Python's math.tanh and exp in float64.
 */
const LSTM_STEP = {
  z: [0.5, -1, 2, 0, 0.25, 3, -2, 1, 0, 0, 0, 0, 0, 0, 0, 0],
  cPrev: [0.5, -0.25, 1, -2],
  gates: [
    0.6224593,
    0.2689414,
    0.9640276,
    0,
    0.7772999,
    0.9820138,
    0.1192029,
    0.7310586,
    0.5,
    0.5,
    0,
    0,
    0.7310586,
    0.7310586,
    0.5,
    0.5,
  ],
  c: [0.9887179, -0.2455034, 0.7310586, -1.4621172],
  tanhC: [0.7568151, -0.2406872, 0.6237125, -0.898063],
  h: [0.0902146, -0.1759564, 0.3118563, -0.4490315],
};

Deno.test("lstmCell() gives TensorFlow's LSTM step on a small exact case", async (t) => {
  const { z, cPrev } = LSTM_STEP;
  const expected = {
    gates: LSTM_STEP.gates,
    c: LSTM_STEP.c,
    tanhC: LSTM_STEP.tanhC,
    h: LSTM_STEP.h,
  };
  await forEachBackend(t, (backend) => {
    const gates = tensorFrom(backend, [2, 8], z);
    const prev = tensorFrom(backend, [2, 2], cPrev);
    const c = backend.zeros([2, 2]), tanhC = backend.zeros([2, 2]), h = backend.zeros([2, 2]);
    backend.lstmCell(gates, prev, c, tanhC, h, 1);
    const tol = { atol: 2e-7, rtol: 2e-7 };
    assertClose(gates, expected.gates, tol, "gate activations");
    assertClose(c, expected.c, tol, "c");
    assertClose(tanhC, expected.tanhC, tol, "tanh(c)");
    assertClose(h, expected.h, tol, "h");
    assert.deepEqual(Array.from(prev.data), cPrev, "cPrev is left unchanged");
  });
});

Deno.test("wasm lstmCell() agrees with the reference on ragged widths and saturated gates", async (t) => {
  const rng = new Rng(11);
  for (const backend of await fastBackends()) {
    await t.step(backend.description, () => {
      for (const [k, hs, scale] of [[1, 1, 1], [3, 3, 1], [5, 7, 3], [16, 512, 2], [4, 9, 60]]) {
        const z = random(rng, [k, 4 * hs]);
        for (let i = 0; i < z.size; i++) z.data[i] *= scale;
        const cPrev = random(rng, [k, hs]);
        const outputs = () => [new Tensor([k, hs]), new Tensor([k, hs]), new Tensor([k, hs])];
        const z0 = Tensor.from(z.shape, z.data), [c0, t0, h0] = outputs();
        reference.lstmCell(z0, cPrev, c0, t0, h0, 1);
        const z1 = copyToBackend(backend, z);
        const [c1, t1, h1] = [0, 0, 0].map(() => backend.zeros([k, hs]));
        backend.lstmCell(z1, copyToBackend(backend, cPrev), c1, t1, h1, 1);
        const label = `[${k}, ${hs}] ×${scale}`;
        assertAgree(`gates ${label}`, z0, z1, 1e-6);
        assertAgree(`c ${label}`, c0, c1, 1e-6 * (1 + 2 * scale));
        assertAgree(`tanh(c) ${label}`, t0, t1, 1e-6);
        assertAgree(`h ${label}`, h0, h1, 1e-6);
        for (const value of h1.data) assert.ok(Math.abs(value) <= 1, `h ${value} outside [−1, 1]`);
      }
    });
  }
});

Deno.test("lstmCellBackward() gives the LSTM step's gradients on a small exact case", async (t) => {
  // The gate activations, cPrev and tanh(c) of LSTM_STEP; expected values from the formulas in
  // float64 (NumPy).
  const { gates, cPrev, tanhC } = LSTM_STEP;
  const dh = [1, -0.5, 0.25, 2];
  const dc = [0.5, 0, -1, 0.125];
  const expected = {
    dZ: [
      0.1248126,
      0,
      0.02422827,
      -0.09261107,
      0.04768406,
      0.001520554,
      0.07946071,
      0.02366099,
      0,
      0,
      -0.4618136,
      0.1592414,
      -0.1815961,
      -0.125235,
      0.03898203,
      -0.4490315,
    ],
    dc: [0.4282356, -0.3381605, -0.6752256, 0.2328296],
  };
  await forEachBackend(t, (backend) => {
    const on = (shape: number[], values: number[]) => tensorFrom(backend, shape, values);
    const dcT = on([2, 2], dc), dZ = backend.zeros([2, 8]);
    backend.lstmCellBackward(
      on([2, 8], gates),
      on([2, 2], cPrev),
      on([2, 2], tanhC),
      on([2, 2], dh),
      dcT,
      dZ,
    );
    const tol = { atol: 1e-7, rtol: 1e-6 };
    assertClose(dZ, expected.dZ, tol, "dZ");
    assertClose(dcT, expected.dc, tol, "dc for the previous step");
  });
});

Deno.test("wasm lstmCellBackward() agrees with the reference on ragged widths", async (t) => {
  const rng = new Rng(12);
  for (const backend of await fastBackends()) {
    await t.step(backend.description, () => {
      for (const [k, hs] of [[1, 1], [3, 3], [5, 7], [16, 512]]) {
        // Gate activations in their ranges: sigmoids in (0, 1), tanh in (−1, 1).
        const z = random(rng, [k, 4 * hs]), cPrev = random(rng, [k, hs]);
        const c = new Tensor([k, hs]), tanhC = new Tensor([k, hs]), h = new Tensor([k, hs]);
        reference.lstmCell(z, cPrev, c, tanhC, h, 1);
        const dh = random(rng, [k, hs]), dc = random(rng, [k, hs]);
        const dc0 = Tensor.from(dc.shape, dc.data), dZ0 = new Tensor([k, 4 * hs]);
        reference.lstmCellBackward(z, cPrev, tanhC, dh, dc0, dZ0);
        const on = (x: Tensor) => copyToBackend(backend, x);
        const dc1 = on(dc), dZ1 = backend.zeros([k, 4 * hs]);
        backend.lstmCellBackward(on(z), on(cPrev), on(tanhC), on(dh), dc1, dZ1);
        assertAgree(`dZ [${k}, ${hs}]`, dZ0, dZ1, 1e-6);
        assertAgree(`dc [${k}, ${hs}]`, dc0, dc1, 1e-6);
      }
    });
  }
});

Deno.test("lstmCellBackward() names the tensor with a wrong shape or shared storage", async (t) => {
  await forEachBackend(t, (backend) => {
    const g = backend.zeros([2, 8]), dZ = backend.zeros([2, 8]);
    const [p, tc, dh, dc] = [0, 0, 0, 0].map(() => backend.zeros([2, 2]));
    assert.throws(
      () => backend.lstmCellBackward(backend.zeros([2, 7]), p, tc, dh, dc, dZ),
      /lstmCellBackward: gates has shape \[2, 7\], expected \[K, 4H\]/,
    );
    assert.throws(
      () => backend.lstmCellBackward(g, p, tc, dh, dc, backend.zeros([2, 4])),
      /lstmCellBackward: dZ/,
    );
    assert.throws(
      () => backend.lstmCellBackward(g, p, tc, dh, dh, dZ),
      /lstmCellBackward: dh and dc share storage/,
    );
  });
});

Deno.test("lstmCell() and sigmoid() keep NaN, so a diverged run stays visible", async (t) => {
  await forEachBackend(t, (backend) => {
    const z = backend.zeros([1, 8]), prev = backend.zeros([1, 2]);
    const [c, tanhC, h] = [0, 0, 0].map(() => backend.zeros([1, 2]));
    z.data.fill(NaN);
    backend.lstmCell(z, prev, c, tanhC, h, 1);
    for (const [name, t] of Object.entries({ gates: z, c, tanhC, h })) {
      assert.ok(t.data.every(Number.isNaN), `${name} from NaN pre-activations: ${t.data}`);
    }

    z.data.fill(0);
    prev.data.set([NaN, 0]);
    backend.lstmCell(z, prev, c, tanhC, h, 1);
    assert.ok(Number.isNaN(h.data[0]), `h from a NaN memory: ${h.data[0]}`);
    assert.ok(!Number.isNaN(h.data[1]), "the other unit stays finite");

    const x = tensorFrom(backend, [1, 4], [NaN, 0, -Infinity, Infinity]), y = backend.zeros([1, 4]);
    backend.sigmoid(x, y);
    assert.ok(Number.isNaN(y.data[0]), `sigmoid(NaN) = ${y.data[0]}`);
    // wasm clamps exp's argument, so σ(−∞) is about 4e-39 there instead of 0.
    assertClose(y.data.subarray(1), [0.5, 0, 1], { atol: 1e-38, rtol: 0 }, "sigmoid(0, ±∞)");
  });
});

Deno.test("lstmCell() names the tensor with a wrong shape or shared storage", async (t) => {
  await forEachBackend(t, (backend) => {
    const z = backend.zeros([2, 8]), c = backend.zeros([2, 2]);
    const [p, tc, h] = [0, 0, 0].map(() => backend.zeros([2, 2]));
    assert.throws(
      () => backend.lstmCell(backend.zeros([2, 6]), p, c, tc, h, 1),
      /lstmCell: z has shape \[2, 6\], expected \[K, 4H\]/,
    );
    assert.throws(
      () => backend.lstmCell(z, p, c, backend.zeros([2, 3]), h, 1),
      /lstmCell: tanhC/,
    );
    assert.throws(() => backend.lstmCell(z, p, c, c, h, 1), /lstmCell: c and tanhC share storage/);
  });
});

Deno.test("wasm ops accept aliased output and plain arrays", async () => {
  const backend = await createWasmBackend({ threads: 1 });
  const x = Tensor.from([2, 3], [-1, 2, -3, 4, -5, 6]);
  backend.relu(x, x);
  assert.deepEqual([...x.data], [0, 2, 0, 4, 0, 6]);
  const logits = Tensor.from([1, 2], [1000, 0]);
  backend.softmax(logits, logits);
  assert.deepEqual([...logits.data], [1, 0]);
});

Deno.test("matmul() names both shapes when inner dimensions differ", async () => {
  for (const backend of [reference, await createWasmBackend({ threads: 1 })]) {
    assert.throws(
      () => backend.matmul(new Tensor([100, 783]), new Tensor([784, 512]), new Tensor([100, 512])),
      (e: Error) =>
        e instanceof TypeError && /a \[100, 783\] and b \[784, 512\]/.test(e.message) &&
        /783 vs 784/.test(e.message),
    );
    assert.throws(
      () => backend.matmul(new Tensor([2, 3]), new Tensor([3, 4]), new Tensor([2, 5])),
      /out has shape \[2, 5\], expected \[2, 4\]/,
    );
  }
});

Deno.test("lowerRelaxedMadd() rewrites nested folded operands", () => {
  const src =
    "(f32x4.relaxed_madd (local.get $a) ;; note\n (v128.load (local.get $p)) (local.get $c))";
  assert.equal(
    lowerRelaxedMadd(src),
    "(f32x4.add (f32x4.mul (local.get $a) (v128.load (local.get $p))) (local.get $c))",
  );
});

Deno.test("committed kernel binaries equal a fresh build", async () => {
  const source = await Deno.readTextFile(new URL("./kernels.wat", import.meta.url));
  const built = await buildAll(source);
  for (const { file } of BUILDS) {
    const committed = await Deno.readFile(new URL(`./${file}`, import.meta.url));
    assert.deepEqual(committed, built.get(file), `${file} is stale: run deno task build:wasm`);
  }
});

/** Convolution geometries on ragged shapes: [N, C, H, W], kernel, pad, stride. */
const CONV_CASES: { shape: number[]; kernelSize: number; pad: number; stride: number }[] = [
  { shape: [1, 1, 1, 1], kernelSize: 1, pad: 0, stride: 1 },
  { shape: [2, 3, 7, 5], kernelSize: 3, pad: 1, stride: 1 },
  { shape: [1, 2, 8, 9], kernelSize: 3, pad: 1, stride: 2 },
  { shape: [3, 1, 6, 7], kernelSize: 5, pad: 2, stride: 1 },
  { shape: [2, 2, 5, 5], kernelSize: 2, pad: 0, stride: 3 },
  { shape: [1, 3, 4, 6], kernelSize: 3, pad: 4, stride: 2 },
  { shape: [2, 1, 3, 3], kernelSize: 7, pad: 2, stride: 1 },
  { shape: [7, 4, 28, 28], kernelSize: 3, pad: 1, stride: 1 },
];

Deno.test("wasm im2col() and col2im() agree with the reference on ragged shapes", async (t) => {
  const rng = new Rng(13);
  for (const backend of await fastBackends()) {
    await t.step(backend.description, () => {
      for (const { shape, kernelSize, pad, stride } of CONV_CASES) {
        const geometry = { kernelSize, pad, stride };
        const [n, c, h, w] = shape;
        const ho = Math.floor((h + 2 * pad - kernelSize) / stride) + 1;
        const wo = Math.floor((w + 2 * pad - kernelSize) / stride) + 1;
        const colsShape = [c * kernelSize * kernelSize, n * ho * wo];
        const label = `${JSON.stringify(shape)} ${JSON.stringify(geometry)}`;

        const x = random(rng, shape);
        const cols0 = new Tensor(colsShape), cols1 = backend.zeros(colsShape);
        reference.im2col(x, cols0, geometry);
        backend.im2col(copyToBackend(backend, x), cols1, geometry);
        // A copy: exact.
        assertAgree(`im2col ${label}`, cols0, cols1, 0);

        // col2im must overwrite, so start from garbage.
        const dCols = random(rng, colsShape);
        const dX0 = random(rng, shape), dX1 = copyToBackend(backend, random(rng, shape));
        reference.col2im(dCols, dX0, geometry);
        backend.col2im(copyToBackend(backend, dCols), dX1, geometry);
        assertAgree(`col2im ${label}`, dX0, dX1, 1e-5 * kernelSize * kernelSize);
      }
    });
  }
});

Deno.test("col2im() is the adjoint of im2col()", async (t) => {
  // <im2col(x), g> = <x, col2im(g)> for every x and g, because col2im transposes im2col.
  const rng = new Rng(17);
  await forEachBackend(t, (backend) => {
    for (const { shape, kernelSize, pad, stride } of CONV_CASES.slice(0, 7)) {
      const geometry = { kernelSize, pad, stride };
      const [n, c, h, w] = shape;
      const ho = Math.floor((h + 2 * pad - kernelSize) / stride) + 1;
      const wo = Math.floor((w + 2 * pad - kernelSize) / stride) + 1;
      const x = copyToBackend(backend, random(rng, shape));
      const g = copyToBackend(backend, random(rng, [c * kernelSize * kernelSize, n * ho * wo]));
      const cols = backend.zeros(g.shape), dX = backend.zeros(shape);
      backend.im2col(x, cols, geometry);
      backend.col2im(g, dX, geometry);
      let left = 0, right = 0;
      for (let i = 0; i < g.size; i++) left += cols.data[i] * g.data[i];
      for (let i = 0; i < x.size; i++) right += x.data[i] * dX.data[i];
      assert.ok(
        Math.abs(left - right) <= 1e-4 * Math.max(1, Math.abs(left)),
        `${JSON.stringify(shape)} ${JSON.stringify(geometry)}: <im2col(x), g> = ${left}, ` +
          `<x, col2im(g)> = ${right}`,
      );
    }
  });
});

Deno.test("wasm channel and pooling kernels agree with the reference", async (t) => {
  const rng = new Rng(19);
  const shapes = [[1, 1, 1, 1], [2, 3, 7, 5], [3, 2, 6, 9], [5, 4, 28, 28], [2, 3, 1, 7]];
  for (const backend of await fastBackends()) {
    await t.step(backend.description, () => {
      for (const shape of shapes) {
        const [n, c, h, w] = shape;
        const label = JSON.stringify(shape);
        const x = random(rng, shape);

        const swapped0 = new Tensor([c, n, h, w]), swapped1 = backend.zeros([c, n, h, w]);
        reference.swapAxes01(x, swapped0);
        backend.swapAxes01(copyToBackend(backend, x), swapped1);
        assertAgree(`swapAxes01 ${label}`, swapped0, swapped1, 0);

        const b = random(rng, [c]);
        const biased0 = Tensor.from(shape, x.data), biased1 = copyToBackend(backend, x);
        reference.addChannelBias(biased0, b);
        backend.addChannelBias(biased1, copyToBackend(backend, b));
        assertAgree(`addChannelBias ${label}`, biased0, biased1, 0);

        const sums0 = new Tensor([c]), sums1 = backend.zeros([c]);
        reference.sumChannels(x, sums0);
        backend.sumChannels(copyToBackend(backend, x), sums1);
        assertAgree(`sumChannels ${label}`, sums0, sums1, 1e-5 * n * h * w);

        for (const [kernelSize, pad] of [[1, 0], [2, 0], [2, 1], [3, 1], [3, 2]]) {
          if (kernelSize > Math.min(h, w) + 2 * pad) continue;
          const geometry = { kernelSize, pad };
          const yShape = [
            n,
            c,
            Math.floor((h + 2 * pad) / kernelSize),
            Math.floor((w + 2 * pad) / kernelSize),
          ];
          const glabel = `${label} ${JSON.stringify(geometry)}`;
          const y0 = new Tensor(yShape), y1 = backend.zeros(yShape);
          reference.avgPool(x, y0, geometry);
          backend.avgPool(copyToBackend(backend, x), y1, geometry);
          assertAgree(`avgPool ${glabel}`, y0, y1, 1e-6);
          const dY = random(rng, yShape);
          const dX0 = random(rng, shape), dX1 = copyToBackend(backend, random(rng, shape));
          reference.avgPoolBackward(dY, dX0, geometry);
          backend.avgPoolBackward(copyToBackend(backend, dY), dX1, geometry);
          assertAgree(`avgPoolBackward ${glabel}`, dX0, dX1, 0);
        }

        for (const [kernelSize, stride] of [[1, 1], [2, 2], [3, 2], [2, 1], [3, 3]]) {
          if (kernelSize > Math.min(h, w)) continue;
          const geometry = { kernelSize, stride };
          const yShape = [
            n,
            c,
            Math.floor((h - kernelSize) / stride) + 1,
            Math.floor((w - kernelSize) / stride) + 1,
          ];
          const glabel = `${label} ${JSON.stringify(geometry)}`;
          const y0 = new Tensor(yShape), y1 = backend.zeros(yShape);
          const a0 = new Tensor(yShape), a1 = backend.zeros(yShape);
          reference.maxPool(x, y0, a0, geometry);
          backend.maxPool(copyToBackend(backend, x), y1, a1, geometry);
          assertAgree(`maxPool y ${glabel}`, y0, y1, 0);
          assertAgree(`maxPool argmax ${glabel}`, a0, a1, 0);
          const dY = random(rng, yShape);
          const dX0 = random(rng, shape), dX1 = copyToBackend(backend, random(rng, shape));
          reference.maxPoolBackward(dY, a0, dX0);
          backend.maxPoolBackward(copyToBackend(backend, dY), a1, dX1);
          assertAgree(`maxPoolBackward ${glabel}`, dX0, dX1, 1e-6);
        }
      }
    });
  }
});

Deno.test("maxPool() keeps the first position of a tie", async (t) => {
  await forEachBackend(t, (backend) => {
    const x = tensorFrom(backend, [1, 1, 2, 2], [3, 3, 3, 3]);
    const y = backend.zeros([1, 1, 1, 1]), argmax = backend.zeros([1, 1, 1, 1]);
    backend.maxPool(x, y, argmax, { kernelSize: 2, stride: 2 });
    assert.deepEqual([...argmax.data], [0]);
  });
});

Deno.test("convolution and pooling ops name the op and both shapes on bad input", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    const cases = [
      {
        name: "im2col with a kernel larger than the padded input",
        run: () =>
          backend.im2col(backend.zeros([1, 1, 3, 3]), backend.zeros([25, 1]), {
            kernelSize: 5,
            pad: 0,
            stride: 1,
          }),
        error: {
          name: "TypeError",
          message: /^im2col: kernel 5×5 is larger than the padded input 3×3/,
        },
      },
      {
        name: "im2col with cols of the wrong shape",
        run: () =>
          backend.im2col(backend.zeros([2, 3, 4, 4]), backend.zeros([27, 31]), {
            kernelSize: 3,
            pad: 1,
            stride: 1,
          }),
        error: {
          name: "TypeError",
          message: /^im2col: cols for x \[2, 3, 4, 4\] has shape \[27, 31\], expected \[27, 32\]$/,
        },
      },
      {
        name: "col2im with a 3-D dX",
        run: () =>
          backend.col2im(backend.zeros([9, 16]), backend.zeros([1, 4, 4]), {
            kernelSize: 3,
            pad: 1,
            stride: 1,
          }),
        error: {
          name: "TypeError",
          message: /^col2im: dX has shape \[1, 4, 4\], expected \[N, C, H, W\]$/,
        },
      },
      {
        name: "im2col with stride 0",
        run: () =>
          backend.im2col(backend.zeros([1, 1, 3, 3]), backend.zeros([9, 9]), {
            kernelSize: 3,
            pad: 1,
            stride: 0,
          }),
        error: { name: "RangeError", message: /^im2col: stride must be an integer >= 1, got 0$/ },
      },
      {
        name: "addChannelBias with a bias per another channel count",
        run: () => backend.addChannelBias(backend.zeros([2, 4, 3, 3]), backend.zeros([3])),
        error: {
          name: "TypeError",
          message: /^addChannelBias: b has shape \[3\], expected \[4\]$/,
        },
      },
      {
        name: "swapAxes01 with y of the same shape as x",
        run: () => backend.swapAxes01(backend.zeros([2, 3, 4]), backend.zeros([2, 3, 4])),
        error: {
          name: "TypeError",
          message: /^swapAxes01: y has shape \[2, 3, 4\], expected \[3, 2, 4\]$/,
        },
      },
      {
        name: "avgPool with a pad as large as the window",
        run: () =>
          backend.avgPool(backend.zeros([1, 1, 4, 4]), backend.zeros([1, 1, 4, 4]), {
            kernelSize: 2,
            pad: 2,
          }),
        error: { name: "RangeError", message: /^avgPool: pad must be below kernelSize 2, got 2$/ },
      },
      {
        name: "maxPool with y of the wrong size",
        run: () =>
          backend.maxPool(
            backend.zeros([1, 2, 6, 6]),
            backend.zeros([1, 2, 2, 2]),
            backend.zeros([1, 2, 2, 2]),
            { kernelSize: 2, stride: 2 },
          ),
        error: {
          name: "TypeError",
          message:
            /^maxPool: y for x \[1, 2, 6, 6\] has shape \[1, 2, 2, 2\], expected \[1, 2, 3, 3\]$/,
        },
      },
      {
        name: "maxPoolBackward with an argmax outside the plane",
        run: () =>
          backend.maxPoolBackward(
            backend.zeros([1, 1, 1, 1]),
            tensorFrom(backend, [1, 1, 1, 1], [4]),
            backend.zeros([1, 1, 2, 2]),
          ),
        error: {
          name: "RangeError",
          message: /^maxPoolBackward: argmax\[0\] is 4, not a position in a 2×2 plane of dX$/,
        },
      },
    ];
    for (const c of cases) {
      await t.step(c.name, () => {
        assert.throws(c.run, c.error);
      });
    }
  });
});

Deno.test("wasm convolution and pooling ops accept plain arrays", async () => {
  // Tensors outside the wasm memory are staged in and out, so the results match the reference.
  const backend = await createWasmBackend({ threads: 1 });
  const rng = new Rng(29);
  const x = random(rng, [2, 3, 5, 6]);
  const geometry = { kernelSize: 3, pad: 1, stride: 2 };
  const cols0 = new Tensor([27, 2 * 3 * 3]), cols1 = new Tensor([27, 2 * 3 * 3]);
  reference.im2col(x, cols0, geometry);
  backend.im2col(x, cols1, geometry);
  assertAgree("im2col", cols0, cols1, 0);

  const y0 = new Tensor([2, 3, 2, 3]), y1 = new Tensor([2, 3, 2, 3]);
  const a0 = new Tensor([2, 3, 2, 3]), a1 = new Tensor([2, 3, 2, 3]);
  reference.maxPool(x, y0, a0, { kernelSize: 2, stride: 2 });
  backend.maxPool(x, y1, a1, { kernelSize: 2, stride: 2 });
  assertAgree("maxPool y", y0, y1, 0);
  assertAgree("maxPool argmax", a0, a1, 0);

  const b = random(rng, [3]);
  const biased0 = Tensor.from(x.shape, x.data), biased1 = Tensor.from(x.shape, x.data);
  reference.addChannelBias(biased0, b);
  backend.addChannelBias(biased1, b);
  assertAgree("addChannelBias", biased0, biased1, 0);
});
