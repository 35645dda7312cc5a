import assert from "node:assert/strict";
import { createTsBackend, Param, Tensor } from "@nn/core";
import { assertClose } from "@nn/core/testing";
import { ClippedSgd } from "./optim.ts";

function param(name: string, shape: number[], values: number[], grad: number[]): Param {
  return new Param(name, Tensor.from(shape, values), Tensor.from(shape, grad));
}

const TIGHT = { atol: 1e-6, rtol: 1e-6 };

Deno.test("ClippedSgd scales gradients to the global norm", async (t) => {
  const backend = createTsBackend();
  const cases = [
    // ‖(3, 4, 0)‖ = 5 and ‖(0, 0, 12)‖ = 12 give a global norm of 13.
    { name: "above the bound", clipNorm: 6.5, scale: 0.5 },
    { name: "below the bound", clipNorm: 20, scale: 1 },
    { name: "clipping off", clipNorm: 0, scale: 1 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const a = param("a", [2], [1, 1], [3, 4]);
      const b = param("b", [1], [1], [12]);
      const sgd = new ClippedSgd(backend, [a, b], { lr: 0.1, momentum: 0, clipNorm: c.clipNorm });
      const info = sgd.step();
      assert.equal(info.gradNorm, 13);
      assert.equal(info.scale, c.scale);
      assertClose(a.value, [1 - 0.3 * c.scale, 1 - 0.4 * c.scale], TIGHT, "a");
      assertClose(b.value, [1 - 1.2 * c.scale], TIGHT, "b");
    });
  }
});

Deno.test("ClippedSgd accumulates momentum as TensorFlow does", () => {
  const p = param("w", [1], [0], [1]);
  const sgd = new ClippedSgd(createTsBackend(), [p], { lr: 0.1, momentum: 0.9, clipNorm: 0 });
  // v = 1, w = −0.1; then v = 0.9 + 1 = 1.9, w = −0.1 − 0.19 = −0.29.
  sgd.step();
  sgd.step();
  assertClose(p.value, [-0.29], TIGHT, "w");
  assertClose(sgd.state()["velocity/w"], [1.9], TIGHT, "v");
});

Deno.test("ClippedSgd updates only the touched rows of a sparse parameter", () => {
  // A [3, 2] table whose batch touched row 1 only; its velocity rows 0 and 2 are nonzero.
  const table = param("embedding.table", [3, 2], [1, 1, 1, 1, 1, 1], [0, 0, 3, 4, 0, 0]);
  const dense = param("fc.W", [1], [0], [0]);
  const sgd = new ClippedSgd(
    createTsBackend(),
    [table, dense],
    { lr: 1, momentum: 0.5, clipNorm: 2.5 },
    [{ param: table, rows: () => Int32Array.of(1) }],
  );
  sgd.state()["velocity/embedding.table"].data.set([1, 1, 0, 0, 1, 1]);
  const info = sgd.step();
  // The global norm counts row 1 only: ‖(3, 4)‖ = 5, so the gradient is halved.
  assert.equal(info.gradNorm, 5);
  assertClose(table.value, [1, 1, 1 - 1.5, 1 - 2, 1, 1], TIGHT, "table");
  // Untouched rows keep their velocity: no decay outside the batch's rows.
  assertClose(sgd.state()["velocity/embedding.table"], [1, 1, 1.5, 2, 1, 1], TIGHT, "velocity");
});

Deno.test("ClippedSgd rejects invalid hyperparameters", () => {
  const backend = createTsBackend();
  assert.throws(() => new ClippedSgd(backend, [], { lr: -1, momentum: 0, clipNorm: 5 }), {
    name: "RangeError",
    message: "ClippedSgd: lr must be a finite number >= 0, got -1",
  });
  assert.throws(() => new ClippedSgd(backend, [], { lr: 1, momentum: 1, clipNorm: 5 }), {
    name: "RangeError",
    message: "ClippedSgd: momentum must be in [0, 1), got 1",
  });
});

Deno.test("ClippedSgd.setLearningRate() changes the step of later updates", () => {
  const p = param("w", [1], [0], [1]);
  const sgd = new ClippedSgd(createTsBackend(), [p], { lr: 0.1, momentum: 0, clipNorm: 0 });
  sgd.step();
  sgd.setLearningRate(0.01);
  assert.equal(sgd.learningRate, 0.01);
  sgd.step();
  // w = −0.1 after the first step, then −0.1 − 0.01.
  assertClose(p.value, [-0.11], TIGHT, "w");
  assert.throws(() => sgd.setLearningRate(-1), { name: "RangeError" });
});
