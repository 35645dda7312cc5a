/**
 * Data augmentation: random translations of images, drawn from the seeded generator.
 *
 * Shape legend: C channels, H rows, W columns of one example `[C, H, W]`, stored row-major.
 *
 * @module
 */

import { arraysOverlap } from "../backend/checks.ts";
import type { Rng } from "../random.ts";

/**
 * Rewrites one example `src` into `dst` (both of the example's size). `dst` never aliases `src`.
 * Used by {@linkcode BatchIterator} as its `augment` option.
 */
export type ExampleTransform = (src: Float32Array, dst: Float32Array) => void;

/**
 * Copy the image `src [C, H, W]` into `dst`, moved down by `dy` rows and right by `dx` columns:
 * `dst[c, i, j] = src[c, i − dy, j − dx]` where that pixel exists, else `fill`. Negative shifts
 * move up and left. Pixels moved past the edge are lost.
 *
 * @throws {RangeError} when the shape has a dimension that is not a positive integer, `src` or
 *   `dst` does not contain C·H·W values, a shift is not an integer, or `src` and `dst` overlap
 */
export function shiftImage(
  src: Float32Array,
  dst: Float32Array,
  shape: readonly [number, number, number],
  dy: number,
  dx: number,
  fill: number,
): void {
  const [c, h, w] = shape;
  if (!shape.every((n) => Number.isInteger(n) && n > 0)) {
    throw new RangeError(`shiftImage: invalid image shape [${shape}], expected positive integers`);
  }
  const size = c * h * w;
  if (src.length !== size || dst.length !== size) {
    throw new RangeError(
      `shiftImage: src has ${src.length} values and dst ${dst.length}, expected ${size} for ` +
        `an image [${shape}]`,
    );
  }
  if (!Number.isInteger(dy) || !Number.isInteger(dx)) {
    throw new RangeError(`shiftImage: shifts must be integers, got dy ${dy} and dx ${dx}`);
  }
  if (arraysOverlap(src, dst)) {
    throw new RangeError("shiftImage: src and dst overlap, expected separate arrays");
  }
  // Columns j of a row that receive a source pixel: 0 ≤ j − dx < w.
  const j0 = Math.max(0, dx), j1 = Math.min(w, w + dx);
  for (let ch = 0; ch < c; ch++) {
    const plane = ch * h * w;
    for (let i = 0; i < h; i++) {
      const row = plane + i * w;
      const si = i - dy;
      if (si < 0 || si >= h || j0 >= j1) {
        dst.fill(fill, row, row + w);
        continue;
      }
      dst.fill(fill, row, row + j0);
      const srcRow = plane + si * w;
      dst.set(src.subarray(srcRow + j0 - dx, srcRow + j1 - dx), row + j0);
      dst.fill(fill, row + j1, row + w);
    }
  }
}

/**
 * Return a transform that moves each image by a random whole number of pixels, drawn uniformly
 * and independently for rows and columns from `[−maxShift, maxShift]`, and fills the uncovered
 * border with `fill` (the background value after normalization). Two draws of `rng` per image,
 * so a run stays reproducible from the generator's state.
 *
 * @example
 * ```ts
 * import { randomShift, Rng } from "@nn/core";
 * const shift = randomShift([1, 28, 28], 2, -128 / 255, new Rng(1));
 * const out = new Float32Array(784);
 * shift(new Float32Array(784), out);
 * ```
 *
 * @throws {RangeError} when `maxShift` is not a non-negative integer below the image's height
 *   and width
 */
export function randomShift(
  shape: readonly [number, number, number],
  maxShift: number,
  fill: number,
  rng: Rng,
): ExampleTransform {
  const [, h, w] = shape;
  if (!Number.isInteger(maxShift) || maxShift < 0 || maxShift >= Math.min(h, w)) {
    throw new RangeError(
      `randomShift: maxShift must be an integer in [0, ${Math.min(h, w) - 1}] for an image ` +
        `[${shape}], got ${maxShift}`,
    );
  }
  const span = 2 * maxShift + 1;
  return (src, dst) => {
    const dy = rng.int(span) - maxShift;
    const dx = rng.int(span) - maxShift;
    shiftImage(src, dst, shape, dy, dx, fill);
  };
}
