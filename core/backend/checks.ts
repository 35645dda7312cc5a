/**
 * Shape checks shared by every backend, so all of them reject bad input with the same message.
 *
 * @module
 */

import { assertShape, formatShape, sameShape, type Tensor } from "../tensor.ts";
import type { AvgPoolGeometry, ConvGeometry, MatmulOptions, MaxPoolGeometry } from "./backend.ts";

/** Dimensions of a checked matmul: `op(a) [M, K] · op(b) [K, N] = out [M, N]`. */
export interface MatmulDims {
  m: number;
  n: number;
  k: number;
}

/** Check the operands of `matmul` and return `M`, `N` and `K`. */
export function checkMatmul(
  a: Tensor,
  b: Tensor,
  out: Tensor,
  options: MatmulOptions = {},
): MatmulDims {
  if (a.shape.length !== 2 || b.shape.length !== 2 || out.shape.length !== 2) {
    throw new TypeError(
      `matmul: operands must be 2-D, got a ${formatShape(a.shape)}, b ${
        formatShape(b.shape)
      }, out ${formatShape(out.shape)}`,
    );
  }
  const [m, ka] = options.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = options.transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  const flags = `transA=${!!options.transA}, transB=${!!options.transB}`;
  if (ka !== kb) {
    throw new TypeError(
      `matmul: inner dimensions differ: a ${formatShape(a.shape)} and b ${
        formatShape(b.shape)
      } with ${flags} give ${ka} vs ${kb}`,
    );
  }
  if (out.shape[0] !== m || out.shape[1] !== n) {
    throw new TypeError(
      `matmul: out has shape ${formatShape(out.shape)}, expected [${m}, ${n}] (${flags})`,
    );
  }
  if (out.data.buffer === a.data.buffer || out.data.buffer === b.data.buffer) {
    if (overlaps(out, a) || overlaps(out, b)) {
      throw new TypeError("matmul: out must not share storage with a or b");
    }
  }
  return { m, n, k: ka };
}

function overlaps(x: Tensor, y: Tensor): boolean {
  return arraysOverlap(x.data, y.data);
}

/** Return whether two typed arrays share at least one byte of the same buffer. */
export function arraysOverlap(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const a0 = a.byteOffset, a1 = a0 + a.byteLength;
  const b0 = b.byteOffset, b1 = b0 + b.byteLength;
  return a.buffer === b.buffer && a0 < b1 && b0 < a1;
}

/** Check that every tensor has the shape of the first. */
export function checkSameShape(op: string, names: string[], tensors: Tensor[]): void {
  for (let i = 1; i < tensors.length; i++) {
    if (!sameShape(tensors[i].shape, tensors[0].shape)) {
      throw new TypeError(
        `${op}: ${names[i]} has shape ${formatShape(tensors[i].shape)}, expected [${
          tensors[0].shape
        }] like ${names[0]}`,
      );
    }
  }
}

/** Check `x [N, D]` against a vector `v [D]` and return `[N, D]`. */
export function checkRowVector(op: string, x: Tensor, v: Tensor, vName: string): [number, number] {
  if (x.shape.length !== 2) {
    throw new TypeError(`${op}: x has shape ${formatShape(x.shape)}, expected [N, D]`);
  }
  assertShape(op, vName, v, [x.shape[1]]);
  return [x.shape[0], x.shape[1]];
}

/**
 * Check the operands of `lstmCell`: `z [K, 4H]` and `cPrev`, `c`, `tanhC`, `h` `[K, H]` with no
 * two overlapping. Return `[K, H]`.
 */
export function checkLstmCell(
  z: Tensor,
  cPrev: Tensor,
  c: Tensor,
  tanhC: Tensor,
  h: Tensor,
): [number, number] {
  if (z.shape.length !== 2 || z.shape[1] % 4 !== 0) {
    throw new TypeError(`lstmCell: z has shape ${formatShape(z.shape)}, expected [K, 4H]`);
  }
  const k = z.shape[0], hs = z.shape[1] / 4;
  const tensors = { cPrev, c, tanhC, h };
  for (const [name, t] of Object.entries(tensors)) assertShape("lstmCell", name, t, [k, hs]);
  const all = Object.entries({ z, ...tensors });
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      if (overlaps(all[i][1], all[j][1])) {
        throw new TypeError(`lstmCell: ${all[i][0]} and ${all[j][0]} share storage`);
      }
    }
  }
  return [k, hs];
}

/**
 * Check the shapes of `lstmCellBackward`'s tensors (`gates` and `dZ` `[K, 4H]`, the others
 * `[K, H]`) and that no two share storage, and return `[K, H]`.
 */
export function checkLstmCellBackward(
  gates: Tensor,
  cPrev: Tensor,
  tanhC: Tensor,
  dh: Tensor,
  dc: Tensor,
  dZ: Tensor,
): [number, number] {
  const op = "lstmCellBackward";
  if (gates.shape.length !== 2 || gates.shape[1] % 4 !== 0) {
    throw new TypeError(`${op}: gates has shape ${formatShape(gates.shape)}, expected [K, 4H]`);
  }
  const k = gates.shape[0], hs = gates.shape[1] / 4;
  const states = { cPrev, tanhC, dh, dc };
  for (const [name, t] of Object.entries(states)) assertShape(op, name, t, [k, hs]);
  assertShape(op, "dZ", dZ, [k, 4 * hs]);
  const all = Object.entries({ gates, ...states, dZ });
  for (let i = 0; i < all.length; i++) {
    for (let j = i + 1; j < all.length; j++) {
      if (overlaps(all[i][1], all[j][1])) {
        throw new TypeError(`${op}: ${all[i][0]} and ${all[j][0]} share storage`);
      }
    }
  }
  return [k, hs];
}

/** Check that `x` is 2-D and return `[N, D]`. */
export function check2d(op: string, name: string, x: Tensor): [number, number] {
  if (x.shape.length !== 2) {
    throw new TypeError(`${op}: ${name} has shape ${formatShape(x.shape)}, expected [N, D]`);
  }
  return [x.shape[0], x.shape[1]];
}

// ---------------------------------------------------------------------------------------------
// Convolution and pooling geometry

/** Sizes of a checked im2col or col2im: input `[N, C, H, W]`, output positions `Ho × Wo`. */
export interface ConvDims {
  n: number;
  c: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
}

/**
 * Return the output size `[Ho, Wo]` of a convolution window over an `h × w` input:
 * `⌊(h + 2·pad − K) / stride⌋ + 1` in each direction.
 *
 * @throws {RangeError} when the geometry has a non-integer value, `kernelSize` or `stride` below 1
 *   or `pad` below 0
 * @throws {TypeError} when the kernel is larger than the padded input
 */
export function convOutputSize(
  h: number,
  w: number,
  geometry: ConvGeometry,
  op = "convolution",
): [number, number] {
  const { kernelSize: k, pad, stride } = geometry;
  checkInteger(op, "kernelSize", k, 1);
  checkInteger(op, "pad", pad, 0);
  checkInteger(op, "stride", stride, 1);
  if (k > h + 2 * pad || k > w + 2 * pad) {
    throw new TypeError(
      `${op}: kernel ${k}×${k} is larger than the padded input ${h + 2 * pad}×${w + 2 * pad} ` +
        `(input ${h}×${w}, pad ${pad})`,
    );
  }
  return [Math.floor((h + 2 * pad - k) / stride) + 1, Math.floor((w + 2 * pad - k) / stride) + 1];
}

/**
 * Return the output size `[⌊(h + 2·pad) / K⌋, ⌊(w + 2·pad) / K⌋]` of non-overlapping average
 * pooling.
 *
 * @throws {RangeError} for a `kernelSize` below 1 or a `pad` below 0 or not below `kernelSize`
 * @throws {TypeError} when the padded input is smaller than one window
 */
export function avgPoolOutputSize(
  h: number,
  w: number,
  geometry: AvgPoolGeometry,
  op = "avgPool",
): [number, number] {
  const { kernelSize: k, pad } = geometry;
  checkInteger(op, "kernelSize", k, 1);
  checkInteger(op, "pad", pad, 0);
  // A pad of K or more would add windows that hold nothing but padding.
  if (pad >= k) {
    throw new RangeError(`${op}: pad must be below kernelSize ${k}, got ${pad}`);
  }
  if (k > h + 2 * pad || k > w + 2 * pad) {
    throw new TypeError(
      `${op}: window ${k}×${k} is larger than the padded input ${h + 2 * pad}×${w + 2 * pad} ` +
        `(input ${h}×${w}, pad ${pad})`,
    );
  }
  return [Math.floor((h + 2 * pad) / k), Math.floor((w + 2 * pad) / k)];
}

/**
 * Return the output size `[⌊(h − K) / stride⌋ + 1, ⌊(w − K) / stride⌋ + 1]` of max pooling.
 *
 * @throws {RangeError} for a `kernelSize` or `stride` below 1
 * @throws {TypeError} when the input is smaller than one window
 */
export function maxPoolOutputSize(
  h: number,
  w: number,
  geometry: MaxPoolGeometry,
  op = "maxPool",
): [number, number] {
  const { kernelSize: k, stride } = geometry;
  checkInteger(op, "kernelSize", k, 1);
  checkInteger(op, "stride", stride, 1);
  if (k > h || k > w) {
    throw new TypeError(`${op}: window ${k}×${k} is larger than the input ${h}×${w}`);
  }
  return [Math.floor((h - k) / stride) + 1, Math.floor((w - k) / stride) + 1];
}

function checkInteger(op: string, name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`${op}: ${name} must be an integer >= ${min}, got ${value}`);
  }
}

/** Check that `x` is 4-D and return `[N, C, H, W]`. */
export function check4d(op: string, name: string, x: Tensor): [number, number, number, number] {
  if (x.shape.length !== 4) {
    throw new TypeError(`${op}: ${name} has shape ${formatShape(x.shape)}, expected [N, C, H, W]`);
  }
  return [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
}

/** Check the operands of `im2col` or `col2im`: `image [N, C, H, W]`, `cols [C·K·K, N·Ho·Wo]`. */
export function checkIm2col(
  op: string,
  image: Tensor,
  imageName: string,
  cols: Tensor,
  geometry: ConvGeometry,
): ConvDims {
  const [n, c, h, w] = check4d(op, imageName, image);
  const [ho, wo] = convOutputSize(h, w, geometry, op);
  const k = geometry.kernelSize;
  assertShape(op, `cols for ${imageName} ${formatShape(image.shape)}`, cols, [
    c * k * k,
    n * ho * wo,
  ]);
  return { n, c, h, w, ho, wo };
}

/** Check `x [A, B, …]` and `y [B, A, …]` of `swapAxes01` and return `[A, B, R]`, R the rest. */
export function checkSwapAxes01(x: Tensor, y: Tensor): [number, number, number] {
  if (x.shape.length < 2) {
    throw new TypeError(`swapAxes01: x has shape ${formatShape(x.shape)}, expected [A, B, …]`);
  }
  const [a, b, ...rest] = x.shape;
  assertShape("swapAxes01", "y", y, [b, a, ...rest]);
  if (x.data.buffer === y.data.buffer && overlaps(x, y)) {
    throw new TypeError("swapAxes01: y must not share storage with x");
  }
  return [a, b, rest.reduce((p, d) => p * d, 1)];
}

/** Check `x [N, C, H, W]` against a per-channel vector `v [C]` and return `[N, C, H·W]`. */
export function checkChannelVector(
  op: string,
  x: Tensor,
  v: Tensor,
  vName: string,
): [number, number, number] {
  const [n, c, h, w] = check4d(op, "x", x);
  assertShape(op, vName, v, [c]);
  return [n, c, h * w];
}

/** Check `x [N, C, H, W]` and `y` of average pooling and return the dimensions. */
export function checkAvgPool(
  op: string,
  x: Tensor,
  xName: string,
  y: Tensor,
  yName: string,
  geometry: AvgPoolGeometry,
): ConvDims {
  const [n, c, h, w] = check4d(op, xName, x);
  const [ho, wo] = avgPoolOutputSize(h, w, geometry, op);
  assertShape(op, `${yName} for ${xName} ${formatShape(x.shape)}`, y, [n, c, ho, wo]);
  return { n, c, h, w, ho, wo };
}

/** Check `x [N, C, H, W]`, `y` and `argmax` of max pooling and return the dimensions. */
export function checkMaxPool(
  op: string,
  x: Tensor,
  y: Tensor,
  argmax: Tensor,
  geometry: MaxPoolGeometry,
): ConvDims {
  const [n, c, h, w] = check4d(op, "x", x);
  const [ho, wo] = maxPoolOutputSize(h, w, geometry, op);
  assertShape(op, `y for x ${formatShape(x.shape)}`, y, [n, c, ho, wo]);
  assertShape(op, "argmax", argmax, [n, c, ho, wo]);
  checkPlaneIndex(op, h, w);
  return { n, c, h, w, ho, wo };
}

/** Check `dY [N, C, Ho, Wo]`, `argmax` like `dY`, and `dX [N, C, H, W]` of `maxPoolBackward`. */
export function checkMaxPoolBackward(
  dY: Tensor,
  argmax: Tensor,
  dX: Tensor,
): ConvDims {
  const op = "maxPoolBackward";
  const [n, c, ho, wo] = check4d(op, "dY", dY);
  assertShape(op, "argmax", argmax, [n, c, ho, wo]);
  const [, , h, w] = check4d(op, "dX", dX);
  assertShape(op, `dX for dY ${formatShape(dY.shape)}`, dX, [n, c, null, null]);
  checkPlaneIndex(op, h, w);
  // An index outside the plane would make the wasm kernel write outside dX.
  for (let i = 0; i < argmax.size; i++) {
    const index = argmax.data[i];
    if (!(index >= 0 && index < h * w && Number.isInteger(index))) {
      throw new RangeError(
        `${op}: argmax[${i}] is ${index}, not a position in a ${h}×${w} plane of dX`,
      );
    }
  }
  return { n, c, h, w, ho, wo };
}

// Positions within a plane are stored as float32 integers, which are exact below 2^24.
function checkPlaneIndex(op: string, h: number, w: number): void {
  if (h * w > 1 << 24) {
    throw new RangeError(`${op}: planes of ${h}×${w} pixels exceed the 2^24 positions supported`);
  }
}
