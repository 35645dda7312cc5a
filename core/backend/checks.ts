/**
 * Shape checks shared by every backend, so all of them reject bad input with the same message.
 *
 * @module
 */

import { assertShape, formatShape, sameShape, type Tensor } from "../tensor.ts";
import type { MatmulOptions } from "./backend.ts";

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
  const x0 = x.data.byteOffset, x1 = x0 + x.data.byteLength;
  const y0 = y.data.byteOffset, y1 = y0 + y.data.byteLength;
  return x.data.buffer === y.data.buffer && x0 < y1 && y0 < x1;
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

/** Check that `x` is 2-D and return `[N, D]`. */
export function check2d(op: string, name: string, x: Tensor): [number, number] {
  if (x.shape.length !== 2) {
    throw new TypeError(`${op}: ${name} has shape ${formatShape(x.shape)}, expected [N, D]`);
  }
  return [x.shape[0], x.shape[1]];
}
