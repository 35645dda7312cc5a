import assert from "node:assert/strict";
import { Tensor } from "../tensor.ts";
import { Rng } from "../random.ts";
import { createTsBackend } from "./ts.ts";
import { blasCandidates, createBlasBackend, openblasCoreType, smallKernelColumns } from "./blas.ts";
import { createBackend } from "./mod.ts";

const reference = createTsBackend();
/** A core type the user chose, read before the backend loads OpenBLAS. */
const userCoreType = Deno.env.get("OPENBLAS_CORETYPE");
const blas = await createBlasBackend();
const required = Deno.env.get("NN_REQUIRE_BLAS") === "1";
if (!blas.backend && !required) console.log(`blas tests skipped: ${blas.reason}`);

Deno.test({
  name: "blas backend loads where NN_REQUIRE_BLAS=1",
  ignore: !required,
  fn() {
    assert.ok(blas.backend, `blas backend unavailable: ${blas.reason}`);
  },
});

function random(rng: Rng, shape: number[]): Tensor {
  const t = new Tensor(shape);
  rng.fillNormal(t.data, 1);
  return t;
}

Deno.test({
  name: "blas matmul() agrees with the reference on ragged shapes and every flag",
  ignore: !blas.backend,
  fn() {
    const backend = blas.backend!;
    const rng = new Rng(3);
    const shapes: [number, number, number][] = [
      [1, 1, 1],
      [1, 7, 33],
      [7, 1, 33],
      [33, 7, 1],
      [7, 33, 100],
      [100, 512, 784],
      [784, 512, 100],
      [5, 9, 0],
      // Few rows by a large transposed matrix: split into column blocks (smallKernelColumns),
      // the last one narrower.
      [16, 1027, 512],
      [3, 1000, 700],
    ];
    for (const [m, n, k] of shapes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          for (const accumulate of [false, true]) {
            const options = { transA, transB, accumulate };
            const a = random(rng, transA ? [k, m] : [m, k]);
            const b = random(rng, transB ? [n, k] : [k, n]);
            const c0 = random(rng, [m, n]);
            const expected = Tensor.from([m, n], c0.data);
            reference.matmul(a, b, expected, options);
            // Plain arrays and tensors in the wasm memory both go to sgemm by pointer.
            for (const inMemory of [false, true]) {
              const on = (t: Tensor) => {
                const u = backend.zeros(t.shape);
                u.copyFrom(t);
                return u;
              };
              const out = inMemory ? on(c0) : Tensor.from([m, n], c0.data);
              backend.matmul(inMemory ? on(a) : a, inMemory ? on(b) : b, out, options);
              let max = 0;
              for (let i = 0; i < out.size; i++) {
                max = Math.max(max, Math.abs(out.data[i] - expected.data[i]));
              }
              const tol = 1e-5 * Math.max(1, k) + 1e-5;
              assert.ok(
                max <= tol,
                `[${m}, ${n}, ${k}] ${JSON.stringify(options)} inMemory=${inMemory}: ` +
                  `max difference ${max} > ${tol}`,
              );
            }
          }
        }
      }
    }
  },
});

Deno.test({
  name: "blas matmul() reads a subarray at its offset",
  ignore: !blas.backend,
  fn() {
    const storage = Float32Array.from([9, 9, 1, 2, 3, 4]);
    const a = new Tensor([2, 2], storage.subarray(2));
    const identity = Tensor.from([2, 2], [1, 0, 0, 1]);
    const out = new Tensor([2, 2]);
    blas.backend!.matmul(a, identity, out);
    assert.deepEqual([...out.data], [1, 2, 3, 4]);
  },
});

Deno.test({
  name: "blas backend rejects mismatched shapes before calling sgemm",
  ignore: !blas.backend,
  fn() {
    assert.throws(
      () => blas.backend!.matmul(new Tensor([2, 3]), new Tensor([4, 5]), new Tensor([2, 5])),
      /inner dimensions differ/,
    );
  },
});

Deno.test("createBlasBackend() names every library it tried", async () => {
  const result = await createBlasBackend({ libraries: ["libdoes-not-exist.so.9"] });
  assert.equal(result.backend, undefined);
  assert.equal(result.reason, "libdoes-not-exist.so.9 not found");
});

Deno.test("blasCandidates() lists a library for each system", () => {
  assert.equal(blasCandidates("linux")[0], "libopenblas.so.0");
  assert.match(blasCandidates("darwin")[0], /Accelerate/);
  assert.equal(blasCandidates("windows")[0], "libopenblas.dll");
});

Deno.test("smallKernelColumns() splits within OpenBLAS's small-matrix bounds", () => {
  // An LSTM step of 512 units at batch 16, forward (M·N ≤ 1200 bounds the block) and backward
  // (M·N·K ≤ 10⁶ does).
  assert.equal(smallKernelColumns(16, 2048, 512), 72);
  assert.equal(smallKernelColumns(16, 512, 2048), 24);
  // A ragged width: blocks are multiples of 8, the last one narrower.
  assert.equal(smallKernelColumns(3, 1000, 700), 400);
  // Small enough whole, K below 32, more than 32 rows, or blocks narrower than 8: one call.
  assert.equal(smallKernelColumns(16, 64, 512), 64);
  assert.equal(smallKernelColumns(16, 2048, 16), 2048);
  assert.equal(smallKernelColumns(33, 2048, 512), 2048);
  assert.equal(smallKernelColumns(16, 2048, 8192), 2048);
});

Deno.test("openblasCoreType() picks SkylakeX with AVX-512, Haswell with AVX2", () => {
  assert.equal(openblasCoreType({ avx512: true, avx2: true }), "SkylakeX");
  assert.equal(openblasCoreType({ avx512: false, avx2: true }), "Haswell");
  assert.equal(openblasCoreType({ avx512: false, avx2: false }), undefined);
});

/** Return whether the loaded OpenBLAS reports AVX2 support, or undefined when it cannot tell. */
function openblasSeesAvx2(): boolean | undefined {
  const library = Deno.dlopen("libopenblas.so.0", {
    support_avx2: { parameters: [], result: "i32", optional: true },
  });
  try {
    return library.symbols.support_avx2 ? library.symbols.support_avx2() !== 0 : undefined;
  } finally {
    library.close();
  }
}

Deno.test({
  name: "blas backend never runs OpenBLAS's Prescott fallback on a CPU with AVX2",
  // A core type set by the user is kept, Prescott included.
  ignore: !blas.backend || Deno.build.os !== "linux" || Deno.build.arch !== "x86_64" ||
    userCoreType !== undefined,
  async fn() {
    const description = blas.backend!.description;
    if (!description.includes("libopenblas.so.0") || openblasSeesAvx2() !== true) return;
    assert.doesNotMatch(description, /OpenBLAS [\d.]+ Prescott/, description);

    // The switch leaves no OPENBLAS_CORETYPE behind for child processes, and a second backend
    // of this process still explains its core.
    assert.equal(Deno.env.get("OPENBLAS_CORETYPE"), undefined);
    const again = await createBlasBackend();
    const note = /\(chosen from the CPU's AVX support; OpenBLAS guessed Prescott\)/;
    if (note.test(description)) assert.match(again.backend!.description, note);
  },
});

Deno.test("createBackend('auto') picks blas when it loads, else says why not", async () => {
  const backend = await createBackend("auto");
  if (blas.backend) {
    assert.equal(backend.name, "blas");
    assert.match(backend.description, /^blas \(/);
  } else {
    assert.equal(backend.name, "wasm");
    assert.match(backend.description, /blas skipped: /);
  }
});

Deno.test("createBackend() rejects an unknown name", async () => {
  await assert.rejects(
    () => createBackend("cuda"),
    /Invalid backend "cuda": expected one of auto, blas, wasm, ts/,
  );
});

Deno.test("createBackend() names NN_BACKEND when it is invalid", async () => {
  const saved = Deno.env.get("NN_BACKEND");
  Deno.env.set("NN_BACKEND", "WASM");
  try {
    await assert.rejects(
      () => createBackend(),
      /^UserError: Invalid NN_BACKEND "WASM": expected one of auto, blas, wasm, ts \(lower case\); unset NN_BACKEND/,
    );
  } finally {
    if (saved === undefined) Deno.env.delete("NN_BACKEND");
    else Deno.env.set("NN_BACKEND", saved);
  }
});
