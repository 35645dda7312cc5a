import assert from "node:assert/strict";
import { createTsBackend, Rng, Tensor } from "@nn/core";
import { Dropout } from "./dropout.ts";
import { Embedding } from "./embedding.ts";

Deno.test("Embedding looks up rows and zeroes padded positions", () => {
  const backend = createTsBackend();
  // Rows 0…3 of a [4, 2] table: row r is [r, 10·r].
  const embedding = new Embedding(backend, 4, 2, {
    initial: Float32Array.of(0, 0, 1, 10, 2, 20, 3, 30),
  });
  // Two sentences, time-major: [3, 1] then [2, pad 3]. The padded id must be ignored.
  const x = embedding.forward(Int32Array.of(3, 2, 1, 3), Int32Array.of(2, 1), 2, 2);
  assert.deepEqual(x.shape, [2, 2, 2]);
  assert.deepEqual([...x.data], [3, 30, 2, 20, 1, 10, 0, 0]);
});

Deno.test("Embedding.backward() sums rows per word and clears the previous batch", () => {
  const backend = createTsBackend();
  const embedding = new Embedding(backend, 5, 1, { initial: new Float32Array(5) });
  embedding.forward(Int32Array.of(4, 4, 2, 1), Int32Array.of(2, 2), 2, 2);
  embedding.backward(Tensor.from([2, 2, 1], [1, 2, 3, 4]));
  // Word 4 appears twice (1 + 2), word 2 once (3), word 1 once (4).
  assert.deepEqual([...embedding.table.grad.data], [0, 4, 3, 0, 3]);
  assert.deepEqual([...embedding.touchedRows()], [1, 2, 4]);

  embedding.forward(Int32Array.of(3), Int32Array.of(1), 1, 1);
  embedding.backward(Tensor.from([1, 1, 1], [5]));
  assert.deepEqual([...embedding.table.grad.data], [0, 0, 0, 5, 0]);
  assert.deepEqual([...embedding.touchedRows()], [3]);
});

Deno.test("Embedding rejects ids outside the vocabulary", () => {
  const embedding = new Embedding(createTsBackend(), 3, 1, { initial: new Float32Array(3) });
  assert.throws(() => embedding.forward(Int32Array.of(3), Int32Array.of(1), 1, 1), {
    name: "RangeError",
    message: "Embedding(3, 1) embedding: id 3 at step 0, row 0 is outside [0, V)",
  });
});

Deno.test("Dropout scales kept values and reuses its mask in backward", () => {
  const backend = createTsBackend();
  const dropout = new Dropout(backend, 0.25);
  const x = Tensor.from([1000], new Array(1000).fill(1));
  assert.equal(dropout.forward(x, false), x, "evaluation passes the input through");

  dropout.rng = new Rng(4);
  const y = dropout.forward(x, true);
  const kept = [...y.data].filter((v) => v !== 0);
  // Kept values are scaled by 1 / (1 − 0.25); about 750 of 1000 are kept.
  assert.ok(kept.every((v) => Math.abs(v - 4 / 3) < 1e-6));
  assert.ok(kept.length > 700, `${kept.length} kept`);
  assert.ok(kept.length < 800, `${kept.length} kept`);
  const dX = dropout.backward(Tensor.from([1000], new Array(1000).fill(3)));
  for (let i = 0; i < 1000; i++) assert.equal(dX.data[i], Math.fround(3 * y.data[i]));

  assert.throws(() => new Dropout(backend, 0.25).forward(x, true), /training needs rng/);
  assert.throws(() => new Dropout(backend, 1), { name: "RangeError" });
});
