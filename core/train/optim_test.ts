import assert from "node:assert/strict";
import { createTsBackend } from "../backend/ts.ts";
import { Param } from "../layer.ts";
import { assertClose, forEachBackend, tensorFrom } from "../testing.ts";
import { MomentumSGD } from "./optim.ts";

const options = { lr: 0.1, momentum: 0.9, weightDecay: 0.01 };
const tolerance = { atol: 1e-7, rtol: 1e-6 };

Deno.test("MomentumSGD.step() applies momentum and weight decay, bias included", async (t) => {
  await forEachBackend(t, (backend) => {
    const W = new Param(
      "fc.W",
      tensorFrom(backend, [2], [1, -2]),
      tensorFrom(backend, [2], [0.1, 0.2]),
    );
    const b = new Param("fc.b", tensorFrom(backend, [1], [0.5]), tensorFrom(backend, [1], [0.3]));
    const optimizer = new MomentumSGD(backend, [W, b], options);

    // Step 1, v = 0: v = g + 0.01·w = [0.1 + 0.01, 0.2 − 0.02] = [0.11, 0.18],
    // w = w − 0.1·v = [0.989, −2.018]. Bias: v = 0.3 + 0.005 = 0.305, b = 0.5 − 0.0305 = 0.4695.
    optimizer.step();
    assertClose(optimizer.velocity(0), [0.11, 0.18], tolerance, "v(W) after step 1");
    assertClose(W.value, [0.989, -2.018], tolerance, "W after step 1");
    assertClose(optimizer.velocity(1), [0.305], tolerance, "v(b) after step 1");
    assertClose(b.value, [0.4695], tolerance, "b after step 1");

    // Step 2, same gradients: v = 0.9·0.11 + (0.1 + 0.01·0.989) = 0.20889, w = 0.989 − 0.020889.
    optimizer.step();
    assertClose([optimizer.velocity(0).data[0]], [0.20889], tolerance, "v(W)[0] after step 2");
    assertClose([W.value.data[0]], [0.968111], tolerance, "W[0] after step 2");
    // Gradients are read, never written.
    assertClose(W.grad, [Math.fround(0.1), Math.fround(0.2)], { atol: 0, rtol: 0 }, "W.grad");
  });
});

Deno.test("MomentumSGD rejects invalid hyperparameters with RangeError", async (t) => {
  const backend = createTsBackend();
  const cases = [
    { name: "negative lr", change: { lr: -0.1 }, message: /lr must be a finite number >= 0/ },
    { name: "momentum 1", change: { momentum: 1 }, message: /momentum must be in \[0, 1\), got 1/ },
    { name: "NaN momentum", change: { momentum: NaN }, message: /momentum must be in \[0, 1\)/ },
    { name: "negative weightDecay", change: { weightDecay: -1 }, message: /weightDecay must be/ },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(() => new MomentumSGD(backend, [], { ...options, ...c.change }), {
        name: "RangeError",
        message: c.message,
      });
    });
  }
});

Deno.test("MomentumSGD.velocity() rejects an index out of range", () => {
  const optimizer = new MomentumSGD(createTsBackend(), [], options);
  assert.throws(() => optimizer.velocity(0), { name: "RangeError", message: /out of range for 0/ });
});
