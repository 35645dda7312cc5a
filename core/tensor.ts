/**
 * The tensor type: float32 storage in row-major (C) order plus a shape.
 *
 * Shape legend used across the repository: N batch, D features, C channels, H/W height and
 * width, K kernel size, T time steps. A tensor documented as `[N, D]` has `shape.length === 2`.
 *
 * @module
 */

/** A dense float32 array with a shape, stored row-major. */
export class Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Row-major storage; `data.length` equals the product of `shape`. */
  readonly data: Float32Array;

  /**
   * Wrap `data` (or a new zero-filled array) with `shape`.
   *
   * @throws {RangeError} when a dimension is not a non-negative integer.
   * @throws {TypeError} when `data.length` differs from the product of `shape`.
   */
  constructor(shape: readonly number[], data?: Float32Array) {
    const size = shapeSize(shape);
    if (data === undefined) data = new Float32Array(size);
    if (data.length !== size) {
      throw new TypeError(
        `Cannot create tensor: shape ${
          formatShape(shape)
        } needs ${size} elements, got ${data.length}`,
      );
    }
    this.shape = Object.freeze([...shape]);
    this.data = data;
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Create a tensor that copies `values`. */
  static from(shape: readonly number[], values: ArrayLike<number>): Tensor {
    return new Tensor(shape, Float32Array.from(values));
  }

  /** Return a tensor that shares this storage under another shape with the same size. */
  reshape(shape: readonly number[]): Tensor {
    if (shapeSize(shape) !== this.size) {
      throw new TypeError(
        `Cannot reshape ${formatShape(this.shape)} (${this.size} elements) to ${
          formatShape(shape)
        } (${shapeSize(shape)} elements)`,
      );
    }
    return new Tensor(shape, this.data);
  }

  /** Copy values from `src`, which must have the same size. */
  copyFrom(src: Tensor | Float32Array): void {
    const data = src instanceof Tensor ? src.data : src;
    if (data.length !== this.size) {
      throw new TypeError(
        `Cannot copy ${data.length} elements into tensor of shape ${formatShape(this.shape)}`,
      );
    }
    this.data.set(data);
  }
}

/** Return the number of elements of `shape`, checking every dimension. */
export function shapeSize(shape: readonly number[]): number {
  let size = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `Invalid shape ${formatShape(shape)}: dimension ${d} is not a non-negative integer`,
      );
    }
    size *= d;
  }
  return size;
}

/** Return whether two shapes are equal. */
export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * Check that `t` has `expected` shape, where `null` matches any size of that dimension.
 *
 * @param op name of the operation or layer, for the message
 * @param argument name of the argument, for the message
 * @throws {TypeError} naming the op, the argument and both shapes
 */
export function assertShape(
  op: string,
  argument: string,
  t: Tensor,
  expected: readonly (number | null)[],
): void {
  const ok = t.shape.length === expected.length &&
    expected.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) {
    const want = expected.map((d) => (d === null ? "*" : String(d))).join(", ");
    throw new TypeError(`${op}: ${argument} has shape ${formatShape(t.shape)}, expected [${want}]`);
  }
}

/** Format a shape for messages as `[100, 784]`. */
export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}
