/**
 * Backend selection: `--backend`, else the `NN_BACKEND` environment variable, else `auto`.
 *
 * @module
 */

import { UserError } from "../cli.ts";
import type { Backend, BackendName } from "./backend.ts";
import { createTsBackend } from "./ts.ts";

export type {
  AvgPoolGeometry,
  Backend,
  BackendName,
  ConvGeometry,
  MatmulOptions,
  MaxPoolGeometry,
  SgdOptions,
} from "./backend.ts";
export { avgPoolOutputSize, convOutputSize, maxPoolOutputSize } from "./checks.ts";
export { createTsBackend } from "./ts.ts";

/** Backend names accepted by {@linkcode createBackend}; `auto` picks blas, then wasm, then ts. */
export const BACKEND_CHOICES: readonly (BackendName | "auto")[] = ["auto", "blas", "wasm", "ts"];

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
 * Create the backend `name` (default: `NN_BACKEND`, then `auto`).
 *
 * `auto` uses blas when a BLAS library loads and the ffi permission is granted, else wasm, else
 * ts; its description then states why the faster ones were skipped, e.g.
 * `wasm (SIMD128 + relaxed FMA, 2 threads); blas skipped: no --allow-ffi permission`.
 * Asking for `blas` by name when it is unavailable is an error that gives the reason.
 *
 * @throws {UserError} for an unknown name (from a flag or `NN_BACKEND`) or an unavailable blas
 *   backend, so that scripts report it in one line
 */
export async function createBackend(name?: string): Promise<Backend> {
  const fromEnv = name === undefined ? backendFromEnv() : undefined;
  const chosen = name ?? fromEnv ?? "auto";
  switch (chosen) {
    case "ts":
      return createTsBackend();
    case "wasm": {
      const { createWasmBackend } = await import("./wasm.ts");
      return await createWasmBackend();
    }
    case "blas": {
      const { createBlasBackend } = await import("./blas.ts");
      const result = await createBlasBackend();
      if (result.backend) return result.backend;
      throw new UserError(`Backend blas is unavailable: ${result.reason}`);
    }
    case "auto":
      return await createAutoBackend();
    default:
      throw new UserError(
        fromEnv === undefined
          ? `Invalid backend "${chosen}": expected one of ${BACKEND_CHOICES.join(", ")}`
          : `Invalid NN_BACKEND "${chosen}": expected one of ${
            BACKEND_CHOICES.join(", ")
          } (lower case); unset NN_BACKEND to let auto choose`,
      );
  }
}

async function createAutoBackend(): Promise<Backend> {
  const { createBlasBackend } = await import("./blas.ts");
  const blas = await createBlasBackend();
  if (blas.backend) return blas.backend;
  const skipped = `blas skipped: ${blas.reason}`;
  try {
    const { createWasmBackend } = await import("./wasm.ts");
    const wasm = await createWasmBackend();
    return { ...wasm, description: `${wasm.description}; ${skipped}` };
  } catch (error) {
    const ts = createTsBackend();
    const reason = error instanceof Error ? error.message : String(error);
    return { ...ts, description: `${ts.description}; ${skipped}; wasm failed: ${reason}` };
  }
}
