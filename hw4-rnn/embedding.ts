/**
 * The word-embedding layer: a table lookup with a sparse gradient.
 *
 * Shape legend: V vocabulary, D embedding features, T time steps, N batch.
 *
 * @module
 */

import { type Backend, Param, type Tensor } from "@nn/core";
import { activeCounts, Workspace } from "./sequence.ts";

/** Options of {@linkcode Embedding}. */
export interface EmbeddingOptions {
  /** Initial table `[V·D]`, row-major, e.g. from pretrained vectors. */
  initial: Float32Array;
  /** Whether training updates the table; false for `--freeze-embeddings`. Default true. */
  trainable?: boolean;
  /** Layer name and prefix of the parameter name, default `embedding`. */
  name?: string;
}

/**
 * Word embeddings: `x[t, n] = table[ids[t, n]]`.
 *
 * - Parameter `table [V, D]` (named `<name>.table`), from `options.initial`.
 * - Input: token ids `[T·N]`, time-major, with the batch's lengths; output `[T, N, D]`, zero at
 *   padded positions whatever their id.
 * - Backward adds each word's `dX` row into its table row. Only the rows of words in the batch
 *   are nonzero; `touchedRows()` lists them so that the optimizer updates those rows only.
 */
export class Embedding {
  readonly name: string;
  readonly table: Param;
  readonly trainable: boolean;

  readonly #label: string;
  readonly #x: Workspace;
  #ids: Int32Array | null = null;
  #lengths: Int32Array | null = null;
  #batch = 0;
  /** Rows of `table.grad` that the last backward pass wrote, sorted. */
  #touched = new Int32Array(0);

  /** @throws {TypeError} when `initial` does not have V·D values */
  constructor(
    backend: Backend,
    readonly vocabSize: number,
    readonly dim: number,
    options: EmbeddingOptions,
  ) {
    this.name = options.name ?? "embedding";
    this.#label = `Embedding(${vocabSize}, ${dim}) ${this.name}`;
    if (options.initial.length !== vocabSize * dim) {
      throw new TypeError(
        `${this.#label}: initial table has ${options.initial.length} values, expected ` +
          `${vocabSize * dim}`,
      );
    }
    this.trainable = options.trainable ?? true;
    const table = backend.zeros([vocabSize, dim]);
    table.data.set(options.initial);
    this.table = new Param(`${this.name}.table`, table, backend.zeros([vocabSize, dim]));
    this.#x = new Workspace(backend);
  }

  /**
   * Return the embeddings `[T, N, D]` of `ids [T·N]` (time-major), zero at padded positions.
   *
   * @throws {TypeError} when `ids` does not have T·N entries
   * @throws {RangeError} when an id is outside `[0, V)` or the lengths are invalid
   */
  forward(ids: Int32Array, lengths: Int32Array, steps: number, batch: number): Tensor {
    activeCounts(this.#label, lengths, steps, batch);
    if (ids.length !== steps * batch) {
      throw new TypeError(
        `${this.#label}: ids has ${ids.length} entries, expected T·N = ${steps}·${batch}`,
      );
    }
    const D = this.dim, table = this.table.value.data;
    const x = this.#x.view([steps, batch, D], true);
    for (let n = 0; n < batch; n++) {
      for (let t = 0; t < lengths[n]; t++) {
        const id = ids[t * batch + n];
        if (!(id >= 0 && id < this.vocabSize)) {
          throw new RangeError(`${this.#label}: id ${id} at step ${t}, row ${n} is outside [0, V)`);
        }
        x.data.set(table.subarray(id * D, (id + 1) * D), (t * batch + n) * D);
      }
    }
    this.#ids = ids;
    this.#lengths = lengths;
    this.#batch = batch;
    return x;
  }

  /**
   * Overwrite the table's gradient with the rows of `dX [T, N, D]` summed per word, clearing the
   * rows of the previous batch, and record the rows written.
   *
   * @throws {Error} when called before `forward`
   */
  backward(dX: Tensor): void {
    const ids = this.#ids, lengths = this.#lengths;
    if (ids === null || lengths === null) {
      throw new Error(`${this.#label}: backward called before forward`);
    }
    const D = this.dim, batch = this.#batch, grad = this.table.grad.data;
    for (const row of this.#touched) grad.fill(0, row * D, (row + 1) * D);

    const touched = new Set<number>();
    for (let n = 0; n < batch; n++) {
      for (let t = 0; t < lengths[n]; t++) {
        const id = ids[t * batch + n];
        touched.add(id);
        const from = (t * batch + n) * D, to = id * D;
        for (let j = 0; j < D; j++) grad[to + j] += dX.data[from + j];
      }
    }
    this.#touched = Int32Array.from(touched).sort();
  }

  /** Return the table rows whose gradient the last backward pass wrote, sorted. */
  touchedRows(): Int32Array {
    return this.#touched;
  }

  /** Return `[table]`. */
  params(): Param[] {
    return [this.table];
  }
}
