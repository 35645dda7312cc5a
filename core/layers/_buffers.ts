/**
 * Output and gradient buffers that a layer keeps between calls.
 *
 * @module
 */

import type { Backend } from "../backend/backend.ts";
import { sameShape, type Tensor } from "../tensor.ts";

/**
 * Return `current` when it already has `shape`, else a new zero-filled tensor from `backend`.
 *
 * Layers keep their outputs and gradients across calls because allocation is costly on the wasm
 * backend, so a buffer is reallocated only when the batch size changes. A reused buffer keeps its
 * old values, so the caller must overwrite all of it.
 */
export function reuseOrAllocate(
  backend: Backend,
  current: Tensor | null,
  shape: readonly number[],
): Tensor {
  if (current !== null && sameShape(current.shape, shape)) return current;
  return backend.zeros(shape);
}
