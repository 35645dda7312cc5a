import assert from "node:assert/strict";
import { Tensor } from "../tensor.ts";
import { Rng } from "../random.ts";
import type { Backend, MatmulOptions } from "./backend.ts";
import { createTsBackend } from "./ts.ts";
import { createWasmBackend, PARALLEL_MIN_MACS } from "./wasm.ts";
import { copyToBackend } from "../testing.ts";
import { CONTROL_BYTES, DONE, STATE, STATE_IDLE } from "./wasm_protocol.ts";

const reference = createTsBackend();

/** Every transpose and accumulate flag combination. */
const FLAGS: MatmulOptions[] = [false, true].flatMap((transA) =>
  [false, true].flatMap((transB) =>
    [false, true].map((accumulate) => ({ transA, transB, accumulate }))
  )
);

/** Return a tensor of `backend` with unit-normal entries. */
function random(backend: Backend, rng: Rng, shape: number[]): Tensor {
  const t = backend.zeros(shape);
  rng.fillNormal(t.data, 1);
  return t;
}

/** Return the control words of the shared memory (layout in wasm_protocol.ts). */
function control(backend: Backend): Int32Array {
  return new Int32Array(backend.zeros([1]).data.buffer, 0, CONTROL_BYTES / 4);
}

/** Return the number of the last task that worker 0 of `backend` finished. */
function workerTasksDone(backend: Backend): number {
  return Atomics.load(control(backend), DONE);
}

/**
 * Run products of 2^18 multiply-adds on `backend` until its first worker waits for work. A worker
 * starts on first use and exits after a second idle, and the calling thread does the share of a
 * worker that is not ready.
 */
async function startWorker(backend: Backend): Promise<void> {
  const a = backend.zeros([64, 64]), b = backend.zeros([64, 64]), out = backend.zeros([64, 64]);
  const deadline = Date.now() + 10_000;
  for (;;) {
    backend.matmul(a, b, out);
    if (Atomics.load(control(backend), STATE) === STATE_IDLE) return;
    assert.ok(Date.now() < deadline, "the wasm worker did not start within 10 s");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Return the index of the first element whose bits differ, or -1. */
function firstBitDifference(a: Float32Array, b: Float32Array): number {
  const x = new Uint32Array(Float32Array.from(a).buffer);
  const y = new Uint32Array(Float32Array.from(b).buffer);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return i;
  return -1;
}

/**
 * Multiply the same random operands on `oneThread` and on `twoThreads`, and assert that both
 * results agree bit for bit. Also assert that worker 0 of `twoThreads` took a share exactly when
 * `split`, and that the result matches the float64 reference, so the comparison is not vacuous.
 */
async function assertSameBits(
  oneThread: Backend,
  twoThreads: Backend,
  [m, n, k]: [number, number, number],
  options: MatmulOptions,
  split: boolean,
  rng: Rng,
): Promise<void> {
  const label = `[${m}, ${n}, ${k}] ${JSON.stringify(options)}`;
  const a = random(oneThread, rng, options.transA ? [k, m] : [m, k]);
  const b = random(oneThread, rng, options.transB ? [n, k] : [k, n]);
  const c0 = random(oneThread, rng, [m, n]);
  const expected = Tensor.from([m, n], c0.data);
  reference.matmul(a, b, expected, options);

  const out1 = copyToBackend(oneThread, c0);
  oneThread.matmul(a, b, out1, options);
  const out2 = copyToBackend(twoThreads, c0);
  if (split) await startWorker(twoThreads);
  const before = workerTasksDone(twoThreads);
  twoThreads.matmul(copyToBackend(twoThreads, a), copyToBackend(twoThreads, b), out2, options);
  const workerRan = workerTasksDone(twoThreads) !== before;
  assert.equal(
    workerRan,
    split,
    `${label}: worker 0 took a share: ${workerRan}, expected ${split}`,
  );

  // Sums of K products of unit normals: float32 rounding grows like sqrt(K).
  const tol = 1e-5 * Math.max(1, k) + 1e-5;
  for (let i = 0; i < expected.size; i++) {
    const diff = Math.abs(out1.data[i] - expected.data[i]);
    assert.ok(diff <= tol, `${label}: 1 thread off the reference by ${diff} at index ${i}`);
  }
  assert.ok(out1.data.some((v) => v !== 0), `${label}: the product is all zeros`);
  const i = firstBitDifference(out1.data, out2.data);
  assert.equal(
    i,
    -1,
    `${label}: index ${i} is ${out1.data[i]} on 1 thread, ${out2.data[i]} on 2 threads`,
  );
}

Deno.test("wasm matmul() gives the same bits on 1 and 2 threads", async (t) => {
  const rng = new Rng(5);
  // Threads split the columns in panels of 8, so every shape has N > 8 to give both a share.
  const shapes: [number, number, number][] = [
    [1, 16, 1],
    [33, 17, 9],
    [7, 33, 100],
    [64, 100, 64],
    [100, 512, 784],
  ];
  for (const noRelaxed of [false, true]) {
    const oneThread = await createWasmBackend({ threads: 1, noRelaxed });
    const twoThreads = await createWasmBackend({ threads: 2, noRelaxed, parallelMinMacs: 0 });
    await t.step(twoThreads.description, async () => {
      for (const shape of shapes) {
        for (const options of FLAGS) {
          await assertSameBits(oneThread, twoThreads, shape, options, true, rng);
        }
      }
    });
  }
});

Deno.test("wasm matmul() splits at PARALLEL_MIN_MACS with the same bits", async () => {
  const rng = new Rng(6);
  const oneThread = await createWasmBackend({ threads: 1 });
  const twoThreads = await createWasmBackend({ threads: 2 });
  const cases: { shape: [number, number, number]; split: boolean }[] = [
    { shape: [127, 128, 16], split: false },
    { shape: [128, 128, 16], split: true },
    { shape: [100, 512, 784], split: true },
  ];
  for (const { shape: [m, n, k], split } of cases) {
    assert.equal(m * n * k >= PARALLEL_MIN_MACS, split, `[${m}, ${n}, ${k}] vs the threshold`);
    for (const options of FLAGS) {
      await assertSameBits(oneThread, twoThreads, [m, n, k], options, split, rng);
    }
  }
});
