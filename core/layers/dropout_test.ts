import assert from "node:assert/strict";
import { createTsBackend } from "../backend/ts.ts";
import { Rng } from "../random.ts";
import { forEachBackend, tensorFrom } from "../testing.ts";
import { Dropout } from "./dropout.ts";

/**
 * Statistical bounds of these tests: 5 standard deviations. A correct layer fails one check with
 * probability below 6e-7, and the seeds are fixed, so a pass or failure repeats exactly.
 */
const SIGMAS = 5;

Deno.test("Dropout is the identity in evaluation", async (t) => {
  await forEachBackend(t, (backend) => {
    const drop = new Dropout(backend, 0.5, { rng: new Rng(1) });
    const x = tensorFrom(backend, [3, 4], Array.from({ length: 12 }, (_, i) => i - 5.5));
    const y = drop.forward(x, false);
    assert.equal(y, x, "evaluation must return the input itself");
    const dY = tensorFrom(backend, [3, 4], Array.from({ length: 12 }, (_, i) => i));
    assert.equal(drop.backward(dY), dY);
  });
});

Deno.test("Dropout with rate 0 passes inputs through in training", () => {
  const backend = createTsBackend();
  const rng = new Rng(2);
  const before = rng.state();
  const drop = new Dropout(backend, 0, { rng });
  const x = tensorFrom(backend, [2, 2], [1, 2, 3, 4]);
  assert.equal(drop.forward(x, true), x);
  assert.deepEqual(rng.state(), before, "rate 0 must draw no random numbers");
});

Deno.test("Dropout keeps a fraction 1 − rate of the elements", async (t) => {
  const n = 200_000;
  const backend = createTsBackend();
  for (const rate of [0.1, 0.5, 0.9]) {
    await t.step(`rate ${rate}`, () => {
      const drop = new Dropout(backend, rate, { rng: new Rng(3) });
      const x = backend.zeros([n / 100, 100]);
      x.data.fill(1);
      const y = drop.forward(x, true);
      let kept = 0;
      for (const value of y.data) if (value !== 0) kept++;
      // The kept count is Binomial(n, 1 − rate): standard deviation √(n·rate·(1 − rate)).
      const bound = SIGMAS * Math.sqrt(rate * (1 - rate) / n);
      const fraction = kept / n;
      assert.ok(
        Math.abs(fraction - (1 - rate)) <= bound,
        `kept fraction ${fraction}, expected ${1 - rate} ± ${bound}`,
      );
    });
  }
});

Deno.test("Dropout preserves the expected activation", async (t) => {
  const n = 200_000;
  const backend = createTsBackend();
  for (const rate of [0.3, 0.7]) {
    await t.step(`rate ${rate}`, () => {
      const values = new Rng(4).fillUniform(new Float32Array(n), 0.5, 1.5);
      const x = tensorFrom(backend, [n / 100, 100], values);
      const y = new Dropout(backend, rate, { rng: new Rng(5) }).forward(x, true);
      let sumX = 0, sumY = 0, sumX2 = 0;
      for (let i = 0; i < n; i++) {
        sumX += x.data[i];
        sumY += y.data[i];
        sumX2 += x.data[i] * x.data[i];
      }
      // y_i = x_i·b_i/(1 − rate) with b_i ~ Bernoulli(1 − rate), so E[Σ y] = Σ x and
      // Var[Σ y] = Σ x²·rate/(1 − rate).
      const bound = SIGMAS * Math.sqrt(sumX2 * rate / (1 - rate));
      assert.ok(
        Math.abs(sumY - sumX) <= bound,
        `Σ y = ${sumY}, expected Σ x = ${sumX} ± ${bound}`,
      );
    });
  }
});

Deno.test("Dropout.backward() reuses the forward mask", async (t) => {
  await forEachBackend(t, (backend) => {
    const rate = 0.4, scale = Math.fround(1 / (1 - rate));
    const rng = new Rng(6);
    const drop = new Dropout(backend, rate, { rng, name: "drop1" });
    const size = 6 * 50;
    // Inputs away from 0, so a zero output means a dropped element.
    const x = tensorFrom(backend, [6, 50], rng.fillUniform(new Float32Array(size), 0.5, 2));
    const y = drop.forward(x, true);
    const yCopy = Float32Array.from(y.data);
    const dY = tensorFrom(backend, [6, 50], rng.fillNormal(new Float32Array(size), 1));
    const dX = drop.backward(dY);
    assert.ok(dX !== null);
    assert.deepEqual(dX.shape, [6, 50]);

    let dropped = 0;
    for (let i = 0; i < size; i++) {
      if (yCopy[i] === 0) {
        dropped++;
        // −0 where dY < 0, so compare with === rather than assert.equal's Object.is.
        assert.ok(dX.data[i] === 0, `element ${i} was dropped in forward but not in backward`);
      } else {
        assert.equal(yCopy[i], Math.fround(x.data[i] * scale), `forward scale at ${i}`);
        assert.equal(dX.data[i], Math.fround(dY.data[i] * scale), `backward scale at ${i}`);
      }
    }
    assert.ok(dropped > 0, "no element was dropped");
    assert.ok(dropped < size, "every element was dropped");
  });
});

Deno.test("Dropout masks repeat for the same seed and change between calls", () => {
  const backend = createTsBackend();
  const masks = (seed: number) => {
    const drop = new Dropout(backend, 0.5, { rng: new Rng(seed) });
    const x = backend.zeros([4, 25]);
    x.data.fill(1);
    return [0, 1].map(() => [...drop.forward(x, true).data]);
  };
  const [first, second] = masks(7);
  assert.deepEqual(masks(7), [first, second]);
  assert.notDeepEqual(first, second);
  assert.notDeepEqual(masks(8)[0], first);
});

Deno.test("Dropout rejects invalid rates and gradients", async (t) => {
  const backend = createTsBackend();
  const rng = new Rng(1);
  const cases = [
    {
      name: "rate 1",
      run: () => new Dropout(backend, 1, { rng, name: "drop1" }),
      error: {
        name: "RangeError",
        message:
          "Dropout(1) drop1: rate (the probability of dropping a unit) must be in [0, 1), got 1",
      },
    },
    {
      name: "negative rate",
      run: () => new Dropout(backend, -0.1, { rng }),
      error: { name: "RangeError", message: /must be in \[0, 1\), got -0.1/ },
    },
    {
      name: "NaN rate",
      run: () => new Dropout(backend, NaN, { rng }),
      error: { name: "RangeError", message: /got NaN/ },
    },
    {
      name: "backward before forward",
      run: () => new Dropout(backend, 0.5, { rng }).backward(backend.zeros([2, 2])),
      error: { name: "Error", message: /backward called before forward/ },
    },
    {
      name: "backward dY of another shape",
      run: () => {
        const drop = new Dropout(backend, 0.5, { rng });
        drop.forward(backend.zeros([2, 3]), true);
        drop.backward(backend.zeros([3, 2]));
      },
      error: { name: "TypeError", message: /backward dY has shape \[3,2\], expected \[2,3\]/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      assert.throws(c.run, c.error);
    });
  }
});
