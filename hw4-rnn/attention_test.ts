import assert from "node:assert/strict";
import { createTsBackend, Rng } from "@nn/core";
import { assertClose, finiteDifferenceCheck, forEachBackend, tensorFrom } from "@nn/core/testing";
import { SelfAttention } from "./attention.ts";

const LENGTHS = Int32Array.of(4, 3, 1);

Deno.test("SelfAttention weights are uniform when Ws2 is zero, with penalty (1 − 1/L)²", () => {
  const backend = createTsBackend();
  const E = 2, T = 4, N = 3;
  const attention = new SelfAttention(backend, E, { hidden: 3, hops: 1, rng: new Rng(0) });
  attention.Ws2.value.data.fill(0);
  const rng = new Rng(1);
  const h = tensorFrom(backend, [T, N, E], rng.fillNormal(new Float32Array(T * N * E), 1));
  const m = attention.forward(h, LENGTHS);
  assert.deepEqual(m.shape, [N, E]);

  // Equal scores give A = 1/L on a sentence's L words and 0 on its padding, so M is the mean of
  // the sentence's vectors, and with one hop A·Aᵀ = Σ 1/L² = 1/L: P = (1/L − 1)².
  const a = attention.weights();
  assert.deepEqual(a.shape, [N, 1, T]);
  for (let n = 0; n < N; n++) {
    const length = LENGTHS[n];
    for (let t = 0; t < T; t++) {
      assert.equal(a.data[n * T + t], Math.fround(t < length ? 1 / length : 0), `A[${n}, 0, ${t}]`);
    }
    for (let e = 0; e < E; e++) {
      let mean = 0;
      for (let t = 0; t < length; t++) mean += h.data[(t * N + n) * E + e] / length;
      assertClose([m.data[n * E + e]], [mean], { atol: 1e-6, rtol: 1e-6 }, `M[${n}, ${e}]`);
    }
  }
  const expected = LENGTHS.reduce((sum, l) => sum + (1 / l - 1) ** 2, 0) / N;
  assertClose([attention.penalty], [expected], { atol: 1e-6, rtol: 1e-6 }, "penalty");
});

Deno.test("SelfAttention ignores the values at padded positions", () => {
  const backend = createTsBackend();
  const E = 3, T = 4, N = 3;
  const attention = new SelfAttention(backend, E, { hidden: 5, hops: 2, rng: new Rng(2) });
  const rng = new Rng(3);
  const values = rng.fillNormal(new Float32Array(T * N * E), 1);
  const first = attention.forward(tensorFrom(backend, [T, N, E], values), LENGTHS).data.slice();
  const weights = attention.weights().data.slice();
  // Change every padded position; the output must not move.
  for (let n = 0; n < N; n++) {
    for (let t = LENGTHS[n]; t < T; t++) values.fill(100, (t * N + n) * E, (t * N + n + 1) * E);
  }
  const second = attention.forward(tensorFrom(backend, [T, N, E], values), LENGTHS);
  assert.deepEqual(second.data, first);
  assert.deepEqual(attention.weights().data, weights);
  // Each hop's weights sum to 1 over the sentence's own words.
  for (let row = 0; row < N * 2; row++) {
    const sum = weights.subarray(row * T, (row + 1) * T).reduce((a, b) => a + b, 0);
    assertClose([sum], [1], { atol: 1e-6, rtol: 0 }, `row ${row}`);
  }
});

Deno.test("SelfAttention gradients, penalty included, match finite differences", async (t) => {
  await forEachBackend(t, async (backend, t) => {
    const cases = [
      { name: "output and penalty", outputWeight: 1, penaltyWeight: 0.5 },
      { name: "penalty alone", outputWeight: 0, penaltyWeight: 1 },
      { name: "output alone", outputWeight: 1, penaltyWeight: 0 },
    ];
    for (const c of cases) {
      await t.step(c.name, () => {
        const E = 3, T = 4, N = 3, R = 2;
        const rng = new Rng(4);
        const attention = new SelfAttention(backend, E, { hidden: 4, hops: R, rng });
        // Larger weights than Glorot's make the penalty's gradient clearly nonzero.
        for (const p of attention.params()) rng.fillNormal(p.value.data, 1);
        const h = tensorFrom(backend, [T, N, E], rng.fillNormal(new Float32Array(T * N * E), 1));
        const dM = rng.fillNormal(new Float32Array(N * R * E), c.outputWeight);

        // f = Σ M ⊙ dM + penaltyWeight · P.
        const f = () => {
          const m = attention.forward(h, LENGTHS);
          let sum = c.penaltyWeight * attention.penalty;
          for (let i = 0; i < m.size; i++) sum += m.data[i] * dM[i];
          return sum;
        };
        f();
        const dH = attention.backward(tensorFrom(backend, [N, R * E], dM), c.penaltyWeight);
        finiteDifferenceCheck(f, [
          { name: "h", values: h.data, grad: dH.data },
          ...attention.params().map((p) => ({
            name: p.name,
            values: p.value.data,
            grad: p.grad.data,
          })),
        ], { label: `SelfAttention ${c.name} on ${backend.name}` });
        // No gradient reaches padded positions.
        for (let n = 0; n < N; n++) {
          for (let pos = LENGTHS[n]; pos < T; pos++) {
            const at = (pos * N + n) * E;
            assert.deepEqual([...dH.data.subarray(at, at + E)], [0, 0, 0]);
          }
        }
      });
    }
  });
});

Deno.test("SelfAttention rejects a dM of the wrong shape", () => {
  const backend = createTsBackend();
  const attention = new SelfAttention(backend, 3, { hidden: 4, hops: 2, rng: new Rng(0) });
  attention.forward(backend.zeros([4, 3, 3]), LENGTHS);
  assert.throws(() => attention.backward(backend.zeros([3, 3]), 0), {
    name: "TypeError",
    message: "SelfAttention(3, d_a 4, r 2) attention: backward dM has shape [3,3], expected [3, 6]",
  });
});
