/**
 * Thread count of the parallel backends: an explicit request, else `NN_THREADS`, else the number
 * of CPU cores, at most 8.
 *
 * @module
 */

import { UserError } from "../cli.ts";

/** Return the thread count for `requested`, `NN_THREADS` or the core count, in that order. */
export function resolveThreads(requested?: number): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 1 || requested > 64) {
      throw new RangeError(`Invalid thread count ${requested}: expected an integer from 1 to 64`);
    }
    return requested;
  }
  let value: string | undefined;
  try {
    value = Deno.env.get("NN_THREADS");
  } catch {
    // Without --allow-env the variable cannot be read: use the core count.
    value = undefined;
  }
  if (value !== undefined && value !== "") {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new UserError(`Invalid NN_THREADS "${value}": expected an integer from 1 to 64`);
    }
    return n;
  }
  return Math.min(8, Math.max(1, navigator.hardwareConcurrency || 1));
}
