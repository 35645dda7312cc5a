import assert from "node:assert/strict";
import { Tensor } from "../tensor.ts";
import { Rng } from "../random.ts";
import type { Backend, MatmulOptions } from "./backend.ts";
import { createTsBackend } from "./ts.ts";
import { createWasmBackend } from "./wasm.ts";
import { buildAll, BUILDS, lowerRelaxedMadd } from "./build_wasm.ts";

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

/** Copy `t` into storage of `backend`. */
function on(backend: Backend, t: Tensor): Tensor {
  const u = backend.zeros(t.shape);
  u.copyFrom(t);
  return u;
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
                const out = inMemory ? on(backend, c0) : Tensor.from([m, n], c0.data);
                const [x, y] = inMemory ? [on(backend, a), on(backend, b)] : [a, b];
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

        const y0 = Tensor.from([n, d], x.data), y1 = on(backend, x);
        reference.addRowVector(y0, vec);
        backend.addRowVector(y1, on(backend, vec));
        assertAgree(`addRowVector ${label}`, y0, y1, 1e-6);

        const s0 = new Tensor([d]), s1 = backend.zeros([d]);
        reference.sumRows(x, s0);
        backend.sumRows(on(backend, x), s1);
        assertAgree(`sumRows ${label}`, s0, s1, 1e-5 * n);

        for (
          const [name, fwd, bwd] of [
            ["relu", "relu", "reluBackward"],
            ["sigmoid", "sigmoid", "sigmoidBackward"],
          ] as const
        ) {
          const r0 = new Tensor([n, d]), r1 = backend.zeros([n, d]);
          reference[fwd](x, r0);
          backend[fwd](on(backend, x), r1);
          assertAgree(`${name} ${label}`, r0, r1, 1e-6);
          const g0 = new Tensor([n, d]), g1 = backend.zeros([n, d]);
          reference[bwd](r0, dy, g0);
          backend[bwd](r1, on(backend, dy), g1);
          assertAgree(`${name} backward ${label}`, g0, g1, 1e-6);
        }

        const big = new Tensor([n, d]);
        for (let i = 0; i < big.size; i++) big.data[i] = x.data[i] * 400;
        for (const input of [x, big]) {
          const p0 = new Tensor([n, d]), p1 = backend.zeros([n, d]);
          reference.softmax(input, p0);
          backend.softmax(on(backend, input), p1);
          assertAgree(`softmax ${label}`, p0, p1, 2e-6);
          // Row sums equal 1 up to float32 rounding.
          for (let i = 0; i < n; i++) {
            let sum = 0;
            for (let j = 0; j < d; j++) sum += p1.data[i * d + j];
            assert.ok(Math.abs(sum - 1) < 1e-5, `softmax row ${i} sums to ${sum}`);
          }
        }

        const w0 = Tensor.from([n, d], x.data), w1 = on(backend, x);
        const v0 = Tensor.from([n, d], dy.data), v1 = on(backend, dy);
        const options = { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 };
        reference.sgdMomentum(w0, x, v0, options);
        backend.sgdMomentum(w1, on(backend, x), v1, options);
        assertAgree(`sgdMomentum w ${label}`, w0, w1, 1e-6);
        assertAgree(`sgdMomentum v ${label}`, v0, v1, 1e-6);
      }
    });
  }
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
