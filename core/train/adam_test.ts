import assert from "node:assert/strict";
import { Param } from "../layer.ts";
import { Rng } from "../random.ts";
import { Tensor } from "../tensor.ts";
import { assertClose } from "../testing.ts";
import { Adam } from "./adam.ts";

function param(name: string, values: number[]): Param {
  return new Param(name, Tensor.from([values.length], values), new Tensor([values.length]));
}

Deno.test("Adam takes two steps as computed by hand", () => {
  const w = param("w", [1, -2]);
  const adam = new Adam([w], { lr: 0.125 });

  // Step 1 with g = [0.5, −0.125]: m = 0.1·g and v = 0.001·g², so the bias-corrected m̂ = g and
  // v̂ = g², and each weight moves by lr·g/(|g| + ε), about lr·sign(g) = ±0.125.
  w.grad.copyFrom(Float32Array.of(0.5, -0.125));
  adam.step();
  assert.equal(adam.stepCount, 1);
  assertClose(w.value, [1 - 0.12499999750000004, -2 + 0.12499999000000081], {
    atol: 1e-7,
    rtol: 0,
  }, "w after step 1");

  // Step 2 with g = [0.25, 0.375]:
  // m = [0.9·0.05 + 0.1·0.25, 0.9·(−0.0125) + 0.1·0.375] = [0.07, 0.02625],
  // v = [0.999·0.00025 + 0.001·0.0625, 0.999·0.000015625 + 0.001·0.140625],
  // m̂ = m/(1 − 0.9²) = [0.368421…, 0.138158…], v̂ = v/(1 − 0.999²) = [0.156203…, 0.078156…],
  // steps lr·m̂/(√v̂ + ε) = [0.116522…, 0.061774…].
  w.grad.copyFrom(Float32Array.of(0.25, 0.375));
  adam.step();
  assert.equal(adam.stepCount, 2);
  assertClose(w.value, [0.758477550596828, -1.9367737369524929], {
    atol: 1e-6,
    rtol: 0,
  }, "w after step 2");
  const state = adam.state();
  assertClose(state["adam.m/w"], [0.07, 0.02625], { atol: 1e-8, rtol: 1e-6 }, "m");
  assertClose(state["adam.v/w"], [0.00031225, 0.000156234375], { atol: 0, rtol: 1e-6 }, "v");
});

Deno.test("Adam.state() names the moments after the parameters", () => {
  const adam = new Adam([param("fc1.W", [1, 2, 3]), param("fc1.b", [0])]);
  const state = adam.state();
  assert.deepEqual(Object.keys(state), [
    "adam.m/fc1.W",
    "adam.v/fc1.W",
    "adam.m/fc1.b",
    "adam.v/fc1.b",
  ]);
  assert.deepEqual(state["adam.m/fc1.W"].shape, [3]);
  assert.deepEqual([...state["adam.v/fc1.b"].data], [0]);
});

Deno.test("Adam restored from its state continues exactly", () => {
  const rng = new Rng(9);
  const makeParams = () => [param("a", [0.5, -1, 2, 0]), param("b", [3, -0.25])];
  const gradients = Array.from({ length: 6 }, () => [
    rng.fillNormal(new Float32Array(4), 1),
    rng.fillNormal(new Float32Array(2), 1),
  ]);
  const run = (params: Param[], adam: Adam, from: number, to: number) => {
    for (let s = from; s < to; s++) {
      params.forEach((p, i) => p.grad.copyFrom(gradients[s][i]));
      adam.step();
    }
  };

  // Uninterrupted: 6 steps, with the learning rate lowered after step 3.
  const whole = makeParams();
  const adamWhole = new Adam(whole, { lr: 0.01 });
  run(whole, adamWhole, 0, 3);
  adamWhole.lr = 0.005;
  run(whole, adamWhole, 3, 6);

  // Interrupted after 3 steps: copy the parameters, moments, step count and lr into new objects.
  const first = makeParams();
  const adamFirst = new Adam(first, { lr: 0.01 });
  run(first, adamFirst, 0, 3);
  const resumed = makeParams();
  resumed.forEach((p, i) => p.value.copyFrom(first[i].value));
  const adamResumed = new Adam(resumed, { lr: 0.005 });
  const saved = adamFirst.state();
  for (const [name, tensor] of Object.entries(adamResumed.state())) tensor.copyFrom(saved[name]);
  adamResumed.stepCount = adamFirst.stepCount;
  run(resumed, adamResumed, 3, 6);

  resumed.forEach((p, i) => assert.deepEqual(p.value.data, whole[i].value.data, p.name));
});

Deno.test("Adam rejects invalid options", async (t) => {
  const params = [param("w", [1])];
  const cases = [
    {
      name: "negative lr",
      run: () => new Adam(params, { lr: -1 }),
      message: "Adam: lr must be a finite number >= 0, got -1",
    },
    {
      name: "beta1 of 1",
      run: () => new Adam(params, { beta1: 1 }),
      message: "Adam: beta1 must be in [0, 1), got 1",
    },
    {
      name: "NaN beta2",
      run: () => new Adam(params, { beta2: NaN }),
      message: "Adam: beta2 must be in [0, 1), got NaN",
    },
    {
      name: "eps of 0",
      run: () => new Adam(params, { eps: 0 }),
      message: "Adam: eps must be a finite number > 0, got 0",
    },
    {
      name: "lr set to infinity",
      run: () => {
        new Adam(params).lr = Infinity;
      },
      message: "Adam: lr must be a finite number >= 0, got Infinity",
    },
    {
      name: "fractional stepCount",
      run: () => {
        new Adam(params).stepCount = 1.5;
      },
      message: "Adam: stepCount must be an integer >= 0, got 1.5",
    },
    {
      name: "two parameters with one name",
      run: () => new Adam([param("w", [1]), param("w", [2])]),
      message: "Adam: two parameters are named w",
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, { name: "RangeError", message: c.message });
    });
  }
});
