import assert, { AssertionError } from "node:assert/strict";
import { createTsBackend } from "./backend/ts.ts";
import { Tensor } from "./tensor.ts";
import {
  assertClose,
  finiteDifferenceCheck,
  forEachBackend,
  goldenTensor,
  loadGolden,
  testBackends,
} from "./testing.ts";

/** Write `content` to a temporary JSON file and return its URL. */
async function tempJson(content: unknown): Promise<URL> {
  const path = await Deno.makeTempFile({ suffix: ".json" });
  await Deno.writeTextFile(path, JSON.stringify(content));
  return new URL(`file://${path}`);
}

const validCase = {
  name: "tiny",
  attrs: { activation: "relu" },
  inputs: { x: { shape: [1, 2], data: [-1, 2] } },
  outputs: { y: { shape: [1, 2], data: [0, 2] } },
  grads: {},
  tolerance: { atol: 1e-5, rtol: 1e-4 },
};

Deno.test("loadGolden() reads every case of the core golden files", async (t) => {
  const cases = [
    { file: "linear.json", count: 3 },
    { file: "activations.json", count: 3 },
    { file: "losses.json", count: 6 },
  ];
  for (const c of cases) {
    await t.step(c.file, async () => {
      const golden = await loadGolden(new URL(`./testdata/${c.file}`, import.meta.url));
      assert.equal(golden.cases.length, c.count);
      for (const goldenCase of golden.cases) assert.ok(goldenCase.tolerance.atol > 0);
    });
  }
});

Deno.test("loadGolden() rejects malformed files with the case and field", async (t) => {
  const cases = [
    { name: "no cases", content: { generator: "x" }, message: /top level has no cases array/ },
    {
      name: "data length differs from shape",
      content: {
        cases: [{ ...validCase, inputs: { x: { shape: [2, 2], data: [1, 2, 3] } } }],
      },
      message: /case "tiny" inputs.x has 3 values, expected 4 for \[2,2\]/,
    },
    {
      name: "missing tolerance",
      content: { cases: [{ ...validCase, tolerance: undefined }] },
      message: /case "tiny" has no tolerance/,
    },
    {
      name: "negative dimension",
      content: { cases: [{ ...validCase, outputs: { y: { shape: [-1], data: [] } } }] },
      message: /case "tiny" outputs.y has invalid shape \[-1\]/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const url = await tempJson(c.content);
      try {
        await assert.rejects(loadGolden(url), { name: "TypeError", message: c.message });
      } finally {
        await Deno.remove(url);
      }
    });
  }
});

Deno.test("goldenTensor() copies a golden tensor and names a missing one", async () => {
  const url = await tempJson({ generator: "test", cases: [validCase] });
  try {
    const [goldenCase] = (await loadGolden(url)).cases;
    const backend = createTsBackend();
    const x = goldenTensor(backend, goldenCase, "inputs", "x");
    assert.deepEqual(x.shape, [1, 2]);
    assert.deepEqual([...x.data], [-1, 2]);
    assert.throws(() => goldenTensor(backend, goldenCase, "grads", "dx"), {
      name: "TypeError",
      message: 'Golden case "tiny" has no grads.dx',
    });
  } finally {
    await Deno.remove(url);
  }
});

Deno.test("assertClose() accepts values within atol + rtol·|expected|", async (t) => {
  const cases = [
    { name: "exact", actual: [1, 2, 3], expected: [1, 2, 3], atol: 0, rtol: 0 },
    { name: "within atol", actual: [1.0005], expected: [1], atol: 1e-3, rtol: 0 },
    { name: "within rtol", actual: [1000.5], expected: [1000], atol: 0, rtol: 1e-3 },
    {
      name: "equal infinities",
      actual: [Infinity, -Infinity],
      expected: [Infinity, -Infinity],
      atol: 0,
      rtol: 0,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assertClose(c.actual, c.expected, { atol: c.atol, rtol: c.rtol }, c.name);
    });
  }
});

Deno.test("assertClose() reports the label, first bad index, max difference and count", () => {
  const actual = new Tensor([2, 2], Float32Array.of(1, 2.5, 3, 9));
  let error: unknown;
  try {
    assertClose(actual, [1, 2, 3, 4], { atol: 0.1, rtol: 0 }, "layer dW");
  } catch (caught) {
    error = caught;
  }
  assert.ok(error instanceof AssertionError);
  const lines = error.message.split("\n");
  assert.equal(lines[0], "layer dW: 2 of 4 elements out of tolerance (atol 0.1, rtol 0)");
  assert.equal(lines[1], "first bad element index 1 [0,1]: actual 2.5, expected 2");
  assert.equal(lines[2], "max abs difference 5 at index 3 [1,1]");
  assert.equal(lines[3], "actual   [1, 2.5, 3, 9]");
});

Deno.test("assertClose() fails on NaN, length and shape mismatches", async (t) => {
  const tolerance = { atol: 1, rtol: 1 };
  const cases = [
    { name: "NaN", run: () => assertClose([NaN], [0], tolerance, "v"), message: /1 of 1/ },
    {
      name: "length",
      run: () => assertClose([1, 2], [1], tolerance, "v"),
      message: /^v: 2 elements differ from 1 expected$/,
    },
    {
      name: "shape",
      run: () => assertClose(new Tensor([2, 1]), { shape: [1, 2], data: [0, 0] }, tolerance, "v"),
      message: /^v: shape \[2,1\] differs from expected \[1,2\]$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, { name: "AssertionError", message: c.message });
    });
  }
});

Deno.test("finiteDifferenceCheck() passes a correct float64 gradient", () => {
  const x = Float64Array.of(0.5, -1.2, 2);
  // f = Σ x³, so ∂f/∂x = 3x².
  const f = () => x.reduce((sum, v) => sum + v ** 3, 0);
  const grad = x.map((v) => 3 * v * v);
  const report = finiteDifferenceCheck(f, [{ name: "x", values: x, grad }], { label: "cube" });
  assert.equal(report.checked, 3);
  // The truncation error eps²·f'''/6 = 1e-4 relative to 3x² stays far below the bound.
  assert.ok(report.maxRelError < 1e-3, `max relative error ${report.maxRelError}`);
  assert.deepEqual([...x], [0.5, -1.2, 2]);
});

Deno.test("finiteDifferenceCheck() fails a wrong gradient and restores the values", () => {
  const x = Float32Array.of(0.5, -1.2, 2);
  const f = () => x.reduce((sum, v) => sum + v ** 3, 0);
  // A gradient that is off by 5% at one element.
  const grad = Array.from(x, (v, i) => 3 * v * v * (i === 1 ? 1.05 : 1));
  assert.throws(
    () => finiteDifferenceCheck(f, [{ name: "x", values: x, grad }], { label: "cube" }),
    { name: "AssertionError", message: /^cube: max relative gradient error .* at x\[1\]/ },
  );
  assert.deepEqual([...x], [0.5, Math.fround(-1.2), 2]);
});

Deno.test("finiteDifferenceCheck() fails when f is not finite", () => {
  const x = Float64Array.of(0);
  // f has a pole at x = eps, the first point that the check evaluates.
  const f = () => 1 / (x[0] - 0.01);
  assert.throws(
    () => finiteDifferenceCheck(f, [{ name: "x", values: x, grad: [0] }], { label: "inv" }),
    { name: "AssertionError", message: /^inv: f returned Infinity while perturbing x\[0\]$/ },
  );
});

Deno.test("finiteDifferenceCheck() rejects a gradient of the wrong length", () => {
  const x = Float64Array.of(1, 2);
  assert.throws(
    () => finiteDifferenceCheck(() => 0, [{ name: "x", values: x, grad: [0] }], { label: "f" }),
    { name: "TypeError", message: "f: gradient of x has 1 elements, expected 2" },
  );
});

Deno.test("forEachBackend() runs the body first on the ts backend", async (t) => {
  const names: string[] = [];
  await forEachBackend(t, (backend) => {
    names.push(backend.name);
  });
  assert.equal(names[0], "ts");
  assert.deepEqual(names, (await testBackends()).map((b) => b.name));
});
