/**
 * Backend selection: `--backend`, else the `NN_BACKEND` environment variable, else `wasm`.
 *
 * @module
 */

import type { Backend, BackendName } from "./backend.ts";
import { createTsBackend } from "./ts.ts";

export type { Backend, BackendName, MatmulOptions, SgdOptions } from "./backend.ts";
export { createTsBackend } from "./ts.ts";

/** Backend names accepted by {@linkcode createBackend}. */
export const BACKEND_NAMES: readonly BackendName[] = ["ts", "wasm"];

/** Return the backend name from `NN_BACKEND`, or `undefined` when the variable is unset. */
export function backendFromEnv(): string | undefined {
  try {
    return Deno.env.get("NN_BACKEND") || undefined;
  } catch {
    // Without --allow-env the variable cannot be read: fall back to the default.
    return undefined;
  }
}

/**
 * Create the backend `name` (default: `NN_BACKEND`, then `wasm`).
 *
 * @throws {RangeError} for an unknown name
 */
export async function createBackend(name?: string): Promise<Backend> {
  const chosen = name ?? backendFromEnv() ?? "wasm";
  switch (chosen) {
    case "ts":
      return createTsBackend();
    case "wasm": {
      const { createWasmBackend } = await import("./wasm.ts");
      return await createWasmBackend();
    }
    default:
      throw new RangeError(
        `Invalid backend "${chosen}": expected one of ${BACKEND_NAMES.join(", ")}`,
      );
  }
}
