/**
 * The WebAssembly SIMD backend: the kernels of `kernels.wat` over one shared linear memory.
 *
 * Tensors from {@linkcode Backend.zeros} live inside that memory, so kernels read them in place.
 * Any other tensor is copied in before a kernel and, for outputs, copied back after it, so every
 * op accepts every tensor; only the speed differs.
 *
 * Large matrix products are split by column panels between the calling thread and worker threads
 * that share the memory (`NN_THREADS`, default: the number of CPU cores, at most 8). Results do
 * not depend on the thread count, because every output element is computed by one thread in the
 * same order either way.
 *
 * @module
 */

import { shapeSize, Tensor } from "../tensor.ts";
import { resolveThreads } from "./threads.ts";
import type {
  AvgPoolGeometry,
  Backend,
  ConvGeometry,
  MatmulOptions,
  MaxPoolGeometry,
  SgdOptions,
} from "./backend.ts";
import {
  check2d,
  checkAvgPool,
  checkChannelVector,
  checkIm2col,
  checkLstmCell,
  checkLstmCellBackward,
  checkMatmul,
  checkMaxPool,
  checkMaxPoolBackward,
  checkRowVector,
  checkSameShape,
  checkSwapAxes01,
} from "./checks.ts";
import {
  ARGS,
  CONTROL_BYTES,
  DONE,
  SEQ,
  SLOT_INTS,
  STATE,
  STATE_BUSY,
  STATE_EXITED,
  STATE_IDLE,
  STATE_STARTING,
} from "./wasm_protocol.ts";

/** The exports of `kernels.wat`. */
interface Kernels {
  matmul(
    a: number,
    ars: number,
    acs: number,
    b: number,
    brs: number,
    bcs: number,
    c: number,
    m: number,
    n: number,
    k: number,
    accumulate: number,
    jp0: number,
    jp1: number,
    scratch: number,
  ): void;
  add_row_vector(x: number, b: number, n: number, d: number): void;
  sum_rows(x: number, out: number, n: number, d: number): void;
  relu(x: number, y: number, len: number): void;
  relu_backward(y: number, dY: number, dX: number, len: number): void;
  sigmoid(x: number, y: number, len: number): void;
  sigmoid_backward(y: number, dY: number, dX: number, len: number): void;
  softmax(x: number, y: number, n: number, d: number): void;
  lstm_cell(
    z: number,
    cPrev: number,
    c: number,
    tanhC: number,
    h: number,
    k: number,
    hs: number,
    forgetBias: number,
  ): void;
  lstm_cell_backward(
    gates: number,
    cPrev: number,
    tanhC: number,
    dh: number,
    dc: number,
    dZ: number,
    k: number,
    hs: number,
  ): void;
  im2col(
    x: number,
    cols: number,
    n: number,
    c: number,
    h: number,
    w: number,
    k: number,
    pad: number,
    stride: number,
    ho: number,
    wo: number,
  ): void;
  col2im(
    cols: number,
    dX: number,
    n: number,
    c: number,
    h: number,
    w: number,
    k: number,
    pad: number,
    stride: number,
    ho: number,
    wo: number,
  ): void;
  swap_axes01(x: number, y: number, a: number, b: number, rest: number): void;
  add_channel_bias(x: number, b: number, n: number, c: number, plane: number): void;
  sum_channels(x: number, out: number, n: number, c: number, plane: number): void;
  avg_pool(
    x: number,
    y: number,
    planes: number,
    h: number,
    w: number,
    k: number,
    pad: number,
    ho: number,
    wo: number,
  ): void;
  avg_pool_backward(
    dY: number,
    dX: number,
    planes: number,
    h: number,
    w: number,
    k: number,
    pad: number,
    ho: number,
    wo: number,
  ): void;
  max_pool(
    x: number,
    y: number,
    argmax: number,
    planes: number,
    h: number,
    w: number,
    k: number,
    stride: number,
    ho: number,
    wo: number,
  ): void;
  max_pool_backward(
    dY: number,
    argmax: number,
    dX: number,
    planes: number,
    planeSize: number,
    outputPlaneSize: number,
  ): void;
  sgd_momentum(
    w: number,
    g: number,
    v: number,
    len: number,
    lr: number,
    momentum: number,
    wd: number,
  ): void;
}

/** Options of {@linkcode createWasmBackend}. */
export interface WasmBackendOptions {
  /** Threads for large matrix products, the calling one included (default `NN_THREADS` or cores). */
  threads?: number;
  /** Force the plain SIMD128 build even where relaxed SIMD validates (for tests). */
  noRelaxed?: boolean;
  /** Products with fewer multiply-adds stay on the calling thread; default `PARALLEL_MIN_MACS`. */
  parallelMinMacs?: number;
}

const PAGE_BYTES = 65536;
const MAX_PAGES = 65536;
const ALIGN = 64;
/**
 * Below this many multiply-adds a product stays on the calling thread.
 *
 * Measured with `deno task bench --threshold`, three runs on an otherwise idle 2-core AMD EPYC
 * (AVX-512, Deno 2.9.6): two threads beat one in every run from 2^18 multiply-adds up
 * (128×128×16: 1.45-1.53×; 320×320×40: 1.76-1.95×). Below that the gain was erratic: at
 * 104×104×13 (140,608 multiply-adds) two threads ran at 1.60×, 0.71× and 0.59× of one.
 */
export const PARALLEL_MIN_MACS = 1 << 18;

/** Bump allocator with exact-size free lists over the shared memory. */
class Heap {
  readonly memory: WebAssembly.Memory;
  #top: number;
  #free = new Map<number, number[]>();
  /**
   * Every `SharedArrayBuffer` that `memory.buffer` has returned. Growing shared memory returns a
   * new, longer buffer object over the same memory and leaves the old ones valid, so a view of
   * any of them addresses the memory at its own byte offset.
   */
  #buffers = new WeakSet<ArrayBufferLike>();
  #registry = new FinalizationRegistry<[number, number]>(([ptr, bytes]) => this.free(ptr, bytes));

  constructor(reservedBytes: number) {
    this.memory = new WebAssembly.Memory({ initial: 256, maximum: MAX_PAGES, shared: true });
    this.#top = roundUp(reservedBytes, ALIGN);
    this.#buffers.add(this.memory.buffer);
  }

  /** Return the byte offset of `bytes` of fresh memory (contents undefined). */
  alloc(bytes: number): number {
    const size = Math.max(ALIGN, roundUp(bytes, ALIGN));
    const list = this.#free.get(size);
    if (list && list.length > 0) return list.pop()!;
    const ptr = this.#top;
    const end = ptr + size;
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / PAGE_BYTES);
      const grow = Math.max(pages, Math.min(have / PAGE_BYTES, MAX_PAGES - have / PAGE_BYTES));
      try {
        this.memory.grow(grow);
      } catch {
        this.memory.grow(pages);
      }
      this.#buffers.add(this.memory.buffer);
    }
    this.#top = end;
    return ptr;
  }

  free(ptr: number, bytes: number): void {
    const size = Math.max(ALIGN, roundUp(bytes, ALIGN));
    let list = this.#free.get(size);
    if (!list) this.#free.set(size, list = []);
    list.push(ptr);
  }

  /**
   * Allocate a zeroed float32 view whose memory returns to the heap when the view is collected.
   */
  // NOTE: a subarray of the view does not keep the memory alive; keep the view itself.
  floats(length: number): Float32Array {
    const bytes = length * 4;
    const ptr = this.alloc(bytes);
    const view = new Float32Array(this.memory.buffer, ptr, length);
    view.fill(0);
    this.#registry.register(view, [ptr, bytes]);
    return view;
  }

  /**
   * Return whether `data` lies in this memory, so kernels can read and write it in place: a
   * view from {@linkcode Heap.floats}, or any subarray of one.
   */
  owns(data: Float32Array): boolean {
    return this.#buffers.has(data.buffer);
  }

  /** A view of `length` floats at `ptr`, valid after any growth of the memory. */
  view(ptr: number, length: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, length);
  }
}

function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

/** Worker threads that run matmul panels; each idles out after a second without work. */
class ThreadPool {
  readonly size: number;
  #heap: Heap;
  #module: WebAssembly.Module;
  #workers: (Worker | null)[];
  #control: Int32Array;

  constructor(heap: Heap, module: WebAssembly.Module, threads: number) {
    this.size = threads;
    this.#heap = heap;
    this.#module = module;
    this.#workers = new Array(threads - 1).fill(null);
    this.#control = new Int32Array(heap.memory.buffer, 0, CONTROL_BYTES / 4);
    for (let w = 0; w < threads - 1; w++) {
      Atomics.store(this.#control, w * SLOT_INTS + STATE, STATE_EXITED);
    }
  }

  /**
   * Claim worker `w` for one task, starting it if it exited. Return false when it is not ready,
   * in which case the caller does that share itself.
   */
  claim(w: number): boolean {
    const base = w * SLOT_INTS;
    const state = Atomics.compareExchange(this.#control, base + STATE, STATE_IDLE, STATE_BUSY);
    if (state === STATE_IDLE) return true;
    if (state === STATE_EXITED) this.#start(w);
    return false;
  }

  /** Post matmul arguments to a claimed worker and wake it; return the task's sequence number. */
  post(w: number, args: number[]): number {
    const base = w * SLOT_INTS;
    for (let i = 0; i < args.length; i++) this.#control[base + ARGS + i] = args[i];
    const seq = Atomics.add(this.#control, base + SEQ, 1) + 1;
    Atomics.notify(this.#control, base + SEQ);
    return seq;
  }

  /** Block until worker `w` has finished task `seq`. */
  wait(w: number, seq: number): void {
    const done = w * SLOT_INTS + DONE;
    for (let spin = 0; spin < 100000; spin++) {
      if (Atomics.load(this.#control, done) === seq) return;
    }
    for (;;) {
      const now = Atomics.load(this.#control, done);
      if (now === seq) return;
      Atomics.wait(this.#control, done, now, 1000);
    }
  }

  #start(w: number): void {
    const base = w * SLOT_INTS;
    Atomics.store(this.#control, base + STATE, STATE_STARTING);
    const worker = new Worker(new URL("./wasm_worker.ts", import.meta.url), { type: "module" });
    worker.onerror = (event) => {
      // A worker that fails to start is marked exited, so the caller keeps its whole share.
      event.preventDefault();
      Atomics.store(this.#control, base + STATE, STATE_EXITED);
      this.#workers[w] = null;
    };
    worker.postMessage({
      module: this.#module,
      memory: this.#heap.memory,
      slot: w,
    });
    this.#workers[w] = worker;
  }
}

/** Return true when this engine validates the relaxed-SIMD build. */
function relaxedSupported(bytes: Uint8Array): boolean {
  try {
    return WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

/** Create the WebAssembly backend. */
export async function createWasmBackend(options: WasmBackendOptions = {}): Promise<Backend> {
  const relaxedBytes = await Deno.readFile(new URL("./kernels_relaxed.wasm", import.meta.url));
  const relaxed = !options.noRelaxed && relaxedSupported(relaxedBytes);
  const bytes = relaxed
    ? relaxedBytes
    : await Deno.readFile(new URL("./kernels_simd.wasm", import.meta.url));
  const module = await WebAssembly.compile(bytes);

  const threads = resolveThreads(options.threads);
  const parallelMinMacs = options.parallelMinMacs ?? PARALLEL_MIN_MACS;
  const heap = new Heap(CONTROL_BYTES);
  const instance = await WebAssembly.instantiate(module, { env: { memory: heap.memory } });
  const k = instance.exports as unknown as Kernels;
  const pool = new ThreadPool(heap, module, threads);

  // Per-thread scratch for matmul: a 4×8 tile and one packed [K, 8] panel of op(B).
  const scratch: { ptr: number; bytes: number }[] = [];
  function scratchFor(thread: number, kDim: number): number {
    const need = 128 + 32 * kDim;
    const s = scratch[thread];
    if (s && s.bytes >= need) return s.ptr;
    if (s) heap.free(s.ptr, s.bytes);
    const bytes = Math.max(need, 128 + 32 * 1024);
    scratch[thread] = { ptr: heap.alloc(bytes), bytes };
    return scratch[thread].ptr;
  }

  // Staging: a tensor outside the memory is copied into a temporary block for one kernel call.
  interface Staged {
    ptr: number;
    bytes: number;
    tensor: Tensor;
    writeBack: boolean;
    temporary: boolean;
  }
  function stage(t: Tensor, copyIn: boolean, writeBack: boolean): Staged {
    if (heap.owns(t.data)) {
      return { ptr: t.data.byteOffset, bytes: 0, tensor: t, writeBack: false, temporary: false };
    }
    const bytes = t.size * 4;
    const ptr = heap.alloc(bytes);
    if (copyIn) heap.view(ptr, t.size).set(t.data);
    return { ptr, bytes, tensor: t, writeBack, temporary: true };
  }
  function unstage(...staged: Staged[]): void {
    for (const s of staged) {
      if (!s.temporary) continue;
      if (s.writeBack) s.tensor.data.set(heap.view(s.ptr, s.tensor.size));
      heap.free(s.ptr, s.bytes);
    }
  }
  /**
   * Run `kernel` on the pointers of `staged`, in its order, then unstage them. For kernels with
   * several outputs, whose tensors the caller stages one by one.
   */
  function runStaged(staged: Staged[], kernel: (ptrs: number[]) => void): void {
    try {
      kernel(staged.map((s) => s.ptr));
    } finally {
      unstage(...staged);
    }
  }
  /** Stage inputs, and an output that may alias one of them, then run `kernel` on pointers. */
  function run(inputs: Tensor[], output: Tensor, kernel: (ptrs: number[]) => void): void {
    const staged: Staged[] = [];
    const ptrs: number[] = [];
    for (const t of inputs) {
      const same = staged.find((s) => s.tensor === t || s.tensor.data === t.data);
      const s = same ?? stage(t, true, false);
      if (!same) staged.push(s);
      ptrs.push(s.ptr);
    }
    const alias = staged.find((s) => s.tensor.data === output.data);
    let out: Staged;
    if (alias) {
      alias.writeBack = true;
      out = alias;
    } else {
      out = stage(output, false, true);
      staged.push(out);
    }
    ptrs.push(out.ptr);
    try {
      kernel(ptrs);
    } finally {
      unstage(...staged);
    }
  }

  function matmul(a: Tensor, b: Tensor, out: Tensor, options: MatmulOptions = {}): void {
    const { m, n, k: kDim } = checkMatmul(a, b, out, options);
    if (m === 0 || n === 0) return;
    const A = stage(a, true, false);
    const B = b.data === a.data ? A : stage(b, true, false);
    const C = stage(out, !!options.accumulate, true);
    try {
      // Byte strides of op(a) [M, K] and op(b) [K, N]: a transpose swaps rows and columns.
      const ars = 4 * (options.transA ? 1 : kDim), acs = 4 * (options.transA ? m : 1);
      const brs = 4 * (options.transB ? 1 : n), bcs = 4 * (options.transB ? kDim : 1);
      const panels = Math.ceil(n / 8);
      const accumulate = options.accumulate ? 1 : 0;
      const args = [A.ptr, ars, acs, B.ptr, brs, bcs, C.ptr, m, n, kDim, accumulate];

      // Split the column panels evenly; worker w takes range w + 1 when it is ready, and the
      // calling thread takes range 0 plus the range of any worker that is not.
      const parts = m * n * kDim >= parallelMinMacs ? Math.min(pool.size, panels) : 1;
      const range = (
        r: number,
      ) => [Math.floor((panels * r) / parts), Math.floor((panels * (r + 1)) / parts)];
      const posted: [number, number][] = [];
      const mine = [range(0)];
      for (let w = 0; w < parts - 1; w++) {
        const [jp0, jp1] = range(w + 1);
        if (pool.claim(w)) {
          posted.push([w, pool.post(w, [...args, jp0, jp1, scratchFor(w + 1, kDim)])]);
        } else mine.push([jp0, jp1]);
      }
      const own = scratchFor(0, kDim);
      for (const [jp0, jp1] of mine) {
        k.matmul(A.ptr, ars, acs, B.ptr, brs, bcs, C.ptr, m, n, kDim, accumulate, jp0, jp1, own);
      }
      for (const [w, seq] of posted) pool.wait(w, seq);
    } finally {
      unstage(A, C);
      if (B !== A) unstage(B);
    }
  }

  return {
    name: "wasm",
    description: `wasm (${relaxed ? "SIMD128 + relaxed FMA" : "SIMD128"}, ${threads} thread${
      threads === 1 ? "" : "s"
    })`,
    zeros: (shape) => new Tensor(shape, heap.floats(shapeSize(shape))),
    matmul,
    addRowVector(x: Tensor, b: Tensor): void {
      const [n, d] = checkRowVector("addRowVector", x, b, "b");
      run([x, b], x, ([px, pb]) => k.add_row_vector(px, pb, n, d));
    },
    sumRows(x: Tensor, out: Tensor): void {
      const [n, d] = checkRowVector("sumRows", x, out, "out");
      run([x], out, ([px, po]) => k.sum_rows(px, po, n, d));
    },
    relu(x: Tensor, y: Tensor): void {
      checkSameShape("relu", ["x", "y"], [x, y]);
      run([x], y, ([px, py]) => k.relu(px, py, x.size));
    },
    reluBackward(y: Tensor, dY: Tensor, dX: Tensor): void {
      checkSameShape("reluBackward", ["y", "dY", "dX"], [y, dY, dX]);
      run([y, dY], dX, ([py, pdy, pdx]) => k.relu_backward(py, pdy, pdx, y.size));
    },
    sigmoid(x: Tensor, y: Tensor): void {
      checkSameShape("sigmoid", ["x", "y"], [x, y]);
      run([x], y, ([px, py]) => k.sigmoid(px, py, x.size));
    },
    sigmoidBackward(y: Tensor, dY: Tensor, dX: Tensor): void {
      checkSameShape("sigmoidBackward", ["y", "dY", "dX"], [y, dY, dX]);
      run([y, dY], dX, ([py, pdy, pdx]) => k.sigmoid_backward(py, pdy, pdx, y.size));
    },
    softmax(x: Tensor, y: Tensor): void {
      const [n, d] = check2d("softmax", "x", x);
      checkSameShape("softmax", ["x", "y"], [x, y]);
      run([x], y, ([px, py]) => k.softmax(px, py, n, d));
    },
    lstmCell(
      z: Tensor,
      cPrev: Tensor,
      c: Tensor,
      tanhC: Tensor,
      h: Tensor,
      forgetBias: number,
    ): void {
      const [rows, hs] = checkLstmCell(z, cPrev, c, tanhC, h);
      // Four outputs: stage z (read and written), c, tanhC and h by hand; no two overlap.
      const staged = [
        stage(z, true, true),
        stage(cPrev, true, false),
        stage(c, false, true),
        stage(tanhC, false, true),
        stage(h, false, true),
      ];
      runStaged(staged, ([pz, pp, pc, pt, ph]) => {
        k.lstm_cell(pz, pp, pc, pt, ph, rows, hs, forgetBias);
      });
    },
    lstmCellBackward(
      gates: Tensor,
      cPrev: Tensor,
      tanhC: Tensor,
      dh: Tensor,
      dc: Tensor,
      dZ: Tensor,
    ): void {
      const [rows, hs] = checkLstmCellBackward(gates, cPrev, tanhC, dh, dc, dZ);
      // Two outputs: dc (read and written) and dZ; no two of the six overlap.
      const staged = [
        stage(gates, true, false),
        stage(cPrev, true, false),
        stage(tanhC, true, false),
        stage(dh, true, false),
        stage(dc, true, true),
        stage(dZ, false, true),
      ];
      runStaged(staged, ([pg, pp, pt, ph, pc, pz]) => {
        k.lstm_cell_backward(pg, pp, pt, ph, pc, pz, rows, hs);
      });
    },
    im2col(x: Tensor, cols: Tensor, geometry: ConvGeometry): void {
      const { n, c, h, w, ho, wo } = checkIm2col("im2col", x, "x", cols, geometry);
      const { kernelSize, pad, stride } = geometry;
      run([x], cols, ([px, pc]) => k.im2col(px, pc, n, c, h, w, kernelSize, pad, stride, ho, wo));
    },
    col2im(cols: Tensor, dX: Tensor, geometry: ConvGeometry): void {
      const { n, c, h, w, ho, wo } = checkIm2col("col2im", dX, "dX", cols, geometry);
      const { kernelSize, pad, stride } = geometry;
      run(
        [cols],
        dX,
        ([pc, pd]) => k.col2im(pc, pd, n, c, h, w, kernelSize, pad, stride, ho, wo),
      );
    },
    swapAxes01(x: Tensor, y: Tensor): void {
      const [a, b, rest] = checkSwapAxes01(x, y);
      run([x], y, ([px, py]) => k.swap_axes01(px, py, a, b, rest));
    },
    addChannelBias(x: Tensor, b: Tensor): void {
      const [n, c, plane] = checkChannelVector("addChannelBias", x, b, "b");
      run([x, b], x, ([px, pb]) => k.add_channel_bias(px, pb, n, c, plane));
    },
    sumChannels(x: Tensor, out: Tensor): void {
      const [n, c, plane] = checkChannelVector("sumChannels", x, out, "out");
      run([x], out, ([px, po]) => k.sum_channels(px, po, n, c, plane));
    },
    avgPool(x: Tensor, y: Tensor, geometry: AvgPoolGeometry): void {
      const { n, c, h, w, ho, wo } = checkAvgPool("avgPool", x, "x", y, "y", geometry);
      const { kernelSize, pad } = geometry;
      run([x], y, ([px, py]) => k.avg_pool(px, py, n * c, h, w, kernelSize, pad, ho, wo));
    },
    avgPoolBackward(dY: Tensor, dX: Tensor, geometry: AvgPoolGeometry): void {
      const { n, c, h, w, ho, wo } = checkAvgPool("avgPoolBackward", dX, "dX", dY, "dY", geometry);
      const { kernelSize, pad } = geometry;
      run(
        [dY],
        dX,
        ([pdy, pdx]) => k.avg_pool_backward(pdy, pdx, n * c, h, w, kernelSize, pad, ho, wo),
      );
    },
    maxPool(x: Tensor, y: Tensor, argmax: Tensor, geometry: MaxPoolGeometry): void {
      const { n, c, h, w, ho, wo } = checkMaxPool("maxPool", x, y, argmax, geometry);
      const { kernelSize, stride } = geometry;
      // Two outputs: stage argmax by hand, and y through run().
      const A = stage(argmax, false, true);
      try {
        run(
          [x],
          y,
          ([px, py]) => k.max_pool(px, py, A.ptr, n * c, h, w, kernelSize, stride, ho, wo),
        );
      } finally {
        unstage(A);
      }
    },
    maxPoolBackward(dY: Tensor, argmax: Tensor, dX: Tensor): void {
      const { n, c, h, w, ho, wo } = checkMaxPoolBackward(dY, argmax, dX);
      run(
        [dY, argmax],
        dX,
        ([pdy, pa, pdx]) => k.max_pool_backward(pdy, pa, pdx, n * c, h * w, ho * wo),
      );
    },
    sgdMomentum(w: Tensor, g: Tensor, v: Tensor, options: SgdOptions): void {
      checkSameShape("sgdMomentum", ["w", "g", "v"], [w, g, v]);
      // Both w and v are updated in place: stage v as an input too and write it back.
      const V = stage(v, true, true);
      try {
        run(
          [w, g],
          w,
          ([pw, pg]) =>
            k.sgd_momentum(
              pw,
              pg,
              V.ptr,
              w.size,
              options.lr,
              options.momentum,
              options.weightDecay,
            ),
        );
      } finally {
        unstage(V);
      }
    },
  };
}
