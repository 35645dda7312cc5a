/**
 * Padded batches of sequences and the buffers that recurrent layers keep between calls.
 *
 * Shape legend: T time steps (the longest sequence of the batch), N batch, C any feature count.
 *
 * Every sequence tensor is time-major, `[T, N, C]`, so that the N rows of one step are
 * contiguous and a step's matrix product reads them in place. The rows of a batch are sorted by
 * non-increasing length (see `packBatch` in `batches.ts`). At step `t` the sequences still
 * running are then the first `active[t]` rows, and every kernel works on that prefix only: a
 * padded position is never computed, so it cannot change a final state or a gradient.
 *
 * @module
 */

import { type Backend, formatShape, shapeSize, Tensor } from "@nn/core";

/**
 * Check the lengths of a padded batch and return `active [T]`, where `active[t]` counts the
 * sequences longer than `t`.
 *
 * @param label layer name for messages
 * @throws {TypeError} when `lengths` does not have N entries
 * @throws {RangeError} when a length is outside `[1, T]` or the lengths increase somewhere
 */
export function activeCounts(label: string, lengths: Int32Array, steps: number, batch: number) {
  if (lengths.length !== batch) {
    throw new TypeError(`${label}: lengths has ${lengths.length} entries, expected N = ${batch}`);
  }
  const active = new Int32Array(steps);
  for (let n = 0; n < batch; n++) {
    const length = lengths[n];
    if (!Number.isInteger(length) || length < 1 || length > steps) {
      throw new RangeError(`${label}: length ${length} of row ${n} is outside [1, T = ${steps}]`);
    }
    if (n > 0 && length > lengths[n - 1]) {
      throw new RangeError(
        `${label}: lengths must not increase, but row ${n} has ${length} after ` +
          `${lengths[n - 1]}; sort the batch by length with packBatch()`,
      );
    }
    for (let t = 0; t < length; t++) active[t]++;
  }
  return active;
}

/** Return the rows `[0, rows)` of step `t` of `buffer [T, N, C]` as a `[rows, C]` view. */
export function stepRows(buffer: Tensor, t: number, rows: number): Tensor {
  const [, n, c] = buffer.shape;
  const start = t * n * c;
  return new Tensor([rows, c], buffer.data.subarray(start, start + rows * c));
}

/** Return the first `rows` rows of `matrix [N, C]` as a `[rows, C]` view. */
export function firstRows(matrix: Tensor, rows: number): Tensor {
  const c = matrix.shape[1];
  return new Tensor([rows, c], matrix.data.subarray(0, rows * c));
}

/** Return rows `[start, start + count)` of `matrix [R, C]` as a `[count, C]` view. */
export function rowsView(matrix: Tensor, start: number, count: number): Tensor {
  const c = matrix.shape[1];
  return new Tensor([count, c], matrix.data.subarray(start * c, (start + count) * c));
}

/** Return steps `[from, S)` of `buffer [S, N, C]` as a `[S − from, N, C]` view. */
export function stepsFrom(buffer: Tensor, from: number): Tensor {
  const [s, n, c] = buffer.shape;
  return new Tensor([s - from, n, c], buffer.data.subarray(from * n * c));
}

/** Return steps `[0, until)` of `buffer [S, N, C]` as an `[until, N, C]` view. */
export function stepsUntil(buffer: Tensor, until: number): Tensor {
  const [, n, c] = buffer.shape;
  return new Tensor([until, n, c], buffer.data.subarray(0, until * n * c));
}

/**
 * Write the transpose of `matrix [R, C]` into `out [C, R]`, in 16 × 16 blocks so that reads and
 * writes both stay in cache.
 *
 * NOTE: the cells multiply by their state kernel once per step, and the products of a few rows
 * by a large matrix are fastest with the large one transposed (see `smallKernelColumns` in
 * `core/backend/blas.ts`). So the forward pass copies `Wh [H, G]` to `Whᵀ [G, H]` once and
 * multiplies each step by `(Whᵀ)ᵀ`, and the backward pass multiplies by `Whᵀ` as `Wh` with the
 * transposed flag. Blocks of 32 took 4.6 ms for a 512 × 2048 matrix and blocks of 16 took
 * 1.8 ms: rows 8 KB apart map to the same cache sets, which 32 rows overflow.
 */
export function transposeInto(matrix: Tensor, out: Tensor): void {
  const [rows, cols] = matrix.shape;
  const src = matrix.data, dst = out.data;
  const block = 16;
  for (let i0 = 0; i0 < rows; i0 += block) {
    const iEnd = Math.min(i0 + block, rows);
    for (let j0 = 0; j0 < cols; j0 += block) {
      const jEnd = Math.min(j0 + block, cols);
      for (let i = i0; i < iEnd; i++) {
        for (let j = j0; j < jEnd; j++) dst[j * rows + i] = src[i * cols + j];
      }
    }
  }
}

/** Return `buffer [T, N, C]` as the matrix `[T·N, C]`, sharing storage. */
export function flattenSteps(buffer: Tensor): Tensor {
  const [t, n, c] = buffer.shape;
  return buffer.reshape([t * n, c]);
}

/**
 * Write `x [T, N, C]` with each sequence reversed within its own length into `out [T, N, C]`:
 * `out[t, n] = x[lengths[n] − 1 − t, n]` for `t < lengths[n]`, zeros after. Applying it twice
 * gives back `x` with zeros at the padded positions, so the same call maps gradients back.
 */
export function reverseWithin(x: Tensor, lengths: Int32Array, out: Tensor): void {
  const [, batch, c] = x.shape;
  out.data.fill(0);
  for (let n = 0; n < batch; n++) {
    const length = lengths[n];
    for (let t = 0; t < length; t++) {
      const from = ((length - 1 - t) * batch + n) * c;
      out.data.set(x.data.subarray(from, from + c), (t * batch + n) * c);
    }
  }
}

/**
 * A tensor whose shape changes from batch to batch, backed by backend storage that only grows.
 *
 * `view(shape)` returns a tensor of exactly that shape over the start of the storage, which is
 * reallocated (larger by half) only when it is too small. A view stays valid until the next
 * `view` call that reallocates, so layers take every view of a batch before using any.
 * NOTE: on the wasm backend a subarray does not keep its storage alive. The workspace itself must
 * stay reachable while its views are in use, so layers keep theirs in fields.
 */
export class Workspace {
  readonly #backend: Backend;
  #storage: Tensor | null = null;

  constructor(backend: Backend) {
    this.#backend = backend;
  }

  /** Return a view of `shape`; with `zero`, its elements are set to 0, else they are stale. */
  view(shape: readonly number[], zero = false): Tensor {
    const size = shapeSize(shape);
    if (this.#storage === null || this.#storage.size < size) {
      const capacity = Math.max(size, Math.ceil(1.5 * (this.#storage?.size ?? 0)));
      this.#storage = this.#backend.zeros([capacity]);
      zero = false;
    }
    const view = new Tensor(shape, this.#storage.data.subarray(0, size));
    if (zero) view.data.fill(0);
    return view;
  }
}

/** Check that `x` is `[T, N, features]` and return `[T, N]`. */
export function sequenceShape(label: string, what: string, x: Tensor, features: number) {
  if (x.shape.length !== 3 || x.shape[2] !== features) {
    throw new TypeError(
      `${label}: ${what} has shape ${formatShape(x.shape)}, expected [T, N, ${features}]`,
    );
  }
  return [x.shape[0], x.shape[1]] as const;
}

// The cells' scalar activations are core's, the same formulas as the reference backend's.
export { scalarSigmoid as sigmoid, scalarTanh as tanh } from "@nn/core";
