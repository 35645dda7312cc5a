import assert from "node:assert/strict";
import { accuracy, argmax, countCorrect } from "./metrics.ts";
import { Tensor } from "./tensor.ts";

const scores = Tensor.from([3, 3], [
  0.1,
  0.7,
  0.2, // class 1
  5,
  5,
  -1, // a tie between 0 and 1 goes to 0
  -3,
  -2,
  -1, // class 2
]);

Deno.test("argmax() returns the first maximum of each row", () => {
  assert.deepEqual([...argmax(scores)], [1, 0, 2]);
});

Deno.test("argmax() fills the given output array", () => {
  const out = new Uint32Array(3);
  assert.equal(argmax(scores, out), out);
  assert.deepEqual([...out], [1, 0, 2]);
});

Deno.test("accuracy() counts rows whose argmax equals the label", async (t) => {
  const cases = [
    { name: "all correct", labels: [1, 0, 2], correct: 3 },
    { name: "one wrong", labels: [1, 1, 2], correct: 2 },
    { name: "all wrong", labels: [0, 2, 1], correct: 0 },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const labels = Uint8Array.from(c.labels);
      assert.equal(countCorrect(scores, labels), c.correct);
      assert.equal(accuracy(scores, labels), c.correct / 3);
    });
  }
});

Deno.test("accuracy() rejects bad shapes and labels", async (t) => {
  const cases = [
    {
      name: "labels of another length",
      run: () => accuracy(scores, new Uint8Array(2)),
      error: { name: "TypeError", message: /labels has length 2, expected 3/ },
    },
    {
      name: "scores of rank 1",
      run: () => accuracy(Tensor.from([3], [1, 2, 3]), new Uint8Array(3)),
      error: {
        name: "TypeError",
        message: "countCorrect: scores has shape [3], expected [N, K] with K >= 1",
      },
    },
    {
      name: "label not below K",
      run: () => accuracy(scores, Uint8Array.of(0, 3, 0)),
      error: { name: "RangeError", message: /label 3 at index 1 is not below K = 3/ },
    },
    {
      name: "no rows",
      run: () => accuracy(new Tensor([0, 3]), new Uint8Array(0)),
      error: { name: "RangeError", message: /has no rows/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, c.error);
    });
  }
});
