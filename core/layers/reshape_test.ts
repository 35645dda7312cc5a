import assert from "node:assert/strict";
import { createTsBackend } from "../backend/ts.ts";
import { Reshape } from "./reshape.ts";

Deno.test("Reshape flattens examples and restores the input shape backward", () => {
  const backend = createTsBackend();
  const layer = new Reshape([12]);
  const x = backend.zeros([5, 3, 2, 2]);
  x.data[7] = 1;

  const y = layer.forward(x, true);
  assert.deepEqual(y.shape, [5, 12]);
  // A view: no copy, so the values stay where they were.
  assert.equal(y.data, x.data);

  const dY = backend.zeros([5, 12]);
  const dX = layer.backward(dY);
  assert.ok(dX !== null);
  assert.deepEqual(dX.shape, [5, 3, 2, 2]);
  assert.equal(dX.data, dY.data);
  assert.equal(layer.backward(dY, false), null);
});

Deno.test("Reshape rejects inputs and gradients of another size", async (t) => {
  const backend = createTsBackend();
  const layer = new Reshape([196], { name: "flatten" });
  await t.step("x with 4·7·6 values per example", () => {
    assert.throws(() => layer.forward(backend.zeros([2, 4, 7, 6]), true), {
      name: "TypeError",
      message:
        "Reshape([196]) flatten: forward x has shape [2, 4, 7, 6] with 168 values per example, " +
        "expected 196",
    });
  });
  await t.step("dY with another batch size", () => {
    layer.forward(backend.zeros([2, 4, 7, 7]), true);
    assert.throws(() => layer.backward(backend.zeros([3, 196])), {
      name: "TypeError",
      message:
        /^Reshape\(\[196\]\) flatten: backward dY has shape \[3, 196\], expected \[2, 196\]$/,
    });
  });
  await t.step("a zero dimension", () => {
    assert.throws(() => new Reshape([0, 4]), { name: "RangeError", message: /positive integers/ });
  });
});
