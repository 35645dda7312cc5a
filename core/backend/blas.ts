/**
 * The native BLAS backend: matrix products by `cblas_sgemm` from a system BLAS library through
 * Deno's FFI, every other op from the WebAssembly backend.
 *
 * Libraries tried, in order: `libopenblas.so.0`, `libopenblas.so`, `libblas.so.3` (Linux),
 * Accelerate and `libopenblas.dylib` (macOS), `libopenblas.dll` (Windows). The backend needs the
 * `--allow-ffi` permission; it checks the permission before `dlopen`, so it never prompts.
 *
 * @module
 */

import type { Tensor } from "../tensor.ts";
import type { Backend, MatmulOptions } from "./backend.ts";
import { checkMatmul } from "./checks.ts";
import { resolveThreads } from "./threads.ts";
import { createWasmBackend, type WasmBackendOptions } from "./wasm.ts";

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

const SYMBOLS = {
  cblas_sgemm: {
    parameters: [
      "i32", // order
      "i32", // transA
      "i32", // transB
      "i32", // M
      "i32", // N
      "i32", // K
      "f32", // alpha
      "pointer", // A
      "i32", // lda
      "pointer", // B
      "i32", // ldb
      "f32", // beta
      "pointer", // C
      "i32", // ldc
    ],
    result: "void",
  },
} as const;

/** OpenBLAS extras, present in OpenBLAS builds only. */
const OPENBLAS_SYMBOLS = {
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_corename: { parameters: [], result: "pointer", optional: true },
  support_avx512: { parameters: [], result: "i32", optional: true },
  support_avx2: { parameters: [], result: "i32", optional: true },
  gotoblas_dynamic_init: { parameters: [], result: "void", optional: true },
  gotoblas_dynamic_quit: { parameters: [], result: "void", optional: true },
} as const;

/** Library file names to try on this operating system, most preferred first. */
export function blasCandidates(os: typeof Deno.build.os = Deno.build.os): string[] {
  switch (os) {
    case "darwin":
      return [
        "/System/Library/Frameworks/Accelerate.framework/Accelerate",
        "libopenblas.dylib",
        "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
      ];
    case "windows":
      return ["libopenblas.dll"];
    default:
      return ["libopenblas.so.0", "libopenblas.so", "libblas.so.3"];
  }
}

/**
 * Return the OpenBLAS core type whose sgemm kernels suit a CPU with these instruction sets:
 * `SkylakeX` with AVX-512, `Haswell` with AVX2, else undefined.
 */
export function openblasCoreType(cpu: { avx512: boolean; avx2: boolean }): string | undefined {
  if (cpu.avx512) return "SkylakeX";
  if (cpu.avx2) return "Haswell";
  return undefined;
}

/** Core type that {@linkcode fixOpenblasCore} switched this process's OpenBLAS to, if any. */
let switchedCore: string | undefined;

/**
 * Switch a DYNAMIC_ARCH OpenBLAS that fell back to its slowest x86-64 kernels (`Prescott`) to
 * the kernels of the CPU's instruction sets. Return the note for the backend's description: why
 * the core differs from OpenBLAS's own choice, or why it could not be switched. Return undefined
 * when OpenBLAS's own choice is kept.
 *
 * OpenBLAS picks its kernels from the CPU's family and model numbers, so a release older than
 * the CPU does not know it. OpenBLAS 0.3.21 runs an Emerald Rapids Xeon (family 6, model 207) as
 * Prescott, at about a fifth of the speed (37-42 against 185-220 GFLOPS for a 512³ product).
 * OpenBLAS's own `support_avx512` and `support_avx2` query the CPU and the operating system, so
 * they still work on such a CPU. The switch repeats
 * OpenBLAS's start-up choice with `OPENBLAS_CORETYPE` set for the moment of the call, then
 * removes the variable again, so child processes still make their own choice. A user who set
 * the variable keeps that choice.
 */
function fixOpenblasCore(
  symbols: Deno.DynamicLibrary<typeof OPENBLAS_SYMBOLS>["symbols"],
): string | undefined {
  const { openblas_get_corename, support_avx512, support_avx2 } = symbols;
  const { gotoblas_dynamic_init, gotoblas_dynamic_quit } = symbols;
  if (
    !openblas_get_corename || !support_avx512 || !support_avx2 || !gotoblas_dynamic_init ||
    !gotoblas_dynamic_quit
  ) return undefined;
  const corename = () => currentCoreName(symbols);
  const note = "chosen from the CPU's AVX support; OpenBLAS guessed Prescott";

  // A second backend in the same process finds the library already switched.
  const current = corename();
  if (current.toLowerCase() !== "prescott") return current === switchedCore ? note : undefined;

  const core = openblasCoreType({ avx512: support_avx512() !== 0, avx2: support_avx2() !== 0 });
  if (core === undefined) return undefined;
  const env = Deno.permissions.querySync({ name: "env", variable: "OPENBLAS_CORETYPE" });
  if (env.state !== "granted") {
    return `its slowest kernels; grant --allow-env to switch to ${core}`;
  }
  if (Deno.env.get("OPENBLAS_CORETYPE") !== undefined) return undefined;
  Deno.env.set("OPENBLAS_CORETYPE", core);
  try {
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
  } finally {
    Deno.env.delete("OPENBLAS_CORETYPE");
  }
  switchedCore = corename();
  return note;
}

/** OpenBLAS cores, lower case, that use the SkylakeX sgemm kernels, small-matrix ones included. */
const SMALL_KERNEL_CORES = new Set(["skylakex", "cooperlake", "sapphirerapids"]);

/**
 * Return the number of columns per `cblas_sgemm` call for `a [M, K] · bᵀ` with `b` stored
 * `[N, K]`: N when the product goes whole, or a multiple of 8 below N.
 *
 * OpenBLAS's SkylakeX cores multiply small matrices without packing them first, and the packing
 * dominates a product of few rows by a large matrix, such as a recurrent cell's step
 * `[16, 512] · [512, 2048]`. Their sgemm takes this path when its permit function
 * (`kernel/x86_64/sgemm_small_kernel_permit_skylakex.c`) allows it. A row-major `a · bᵀ` is its
 * column-major "TN" case, which needs M·N·K ≤ 10⁶, M·N ≤ 1200 and K ≥ 32. So a larger product is
 * split into blocks of columns that meet those bounds. The blocks of a transposed `b` are
 * contiguous rows. Only products of at most 32 rows are split. On one thread of a 2-core
 * AVX-512 Xeon virtual machine with OpenBLAS 0.3.21, timed beside training jobs, the step
 * product took 0.27-0.44 ms in blocks of 64 or 72 columns against 0.45-0.61 ms whole.
 * Blocks of 96 columns, which break M·N ≤ 1200, took as long as the whole product.
 */
export function smallKernelColumns(m: number, n: number, k: number): number {
  const permitted = (columns: number) => m * columns * k <= 1e6 && m * columns <= 1200 && k >= 32;
  // With more rows the blocks get narrow, and a product that large gains little from the split.
  if (m > 32 || permitted(n) || k < 32) return n;
  const limit = Math.min(Math.floor(1200 / m), Math.floor(1e6 / (m * k)));
  const columns = Math.floor(limit / 8) * 8;
  return columns >= 8 ? columns : n;
}

/** Return OpenBLAS's current core name, or "" when the library does not report one. */
function currentCoreName(symbols: Deno.DynamicLibrary<typeof OPENBLAS_SYMBOLS>["symbols"]): string {
  const pointer = symbols.openblas_get_corename?.();
  return pointer ? new Deno.UnsafePointerView(pointer).getCString() : "";
}

/** The outcome of {@linkcode createBlasBackend}: a backend, or the reason there is none. */
export type BlasResult =
  | { backend: Backend; reason?: undefined }
  | { backend?: undefined; reason: string };

/**
 * Load a BLAS library and return the blas backend, or the reason it is unavailable (no ffi
 * permission, or no library found), in words fit for the config block.
 */
export async function createBlasBackend(
  options: WasmBackendOptions & { libraries?: string[] } = {},
): Promise<BlasResult> {
  // Checking first means a run without --allow-ffi never stops at a permission prompt.
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return { reason: "no --allow-ffi permission" };
  }
  const tried: string[] = [];
  let library: Deno.DynamicLibrary<typeof SYMBOLS & typeof OPENBLAS_SYMBOLS> | null = null;
  let path = "";
  for (const candidate of options.libraries ?? blasCandidates()) {
    try {
      library = Deno.dlopen(candidate, { ...SYMBOLS, ...OPENBLAS_SYMBOLS });
      path = candidate;
      break;
    } catch {
      tried.push(candidate);
    }
  }
  if (library === null) return { reason: `${tried.join(", ")} not found` };

  const coreNote = fixOpenblasCore(library.symbols);
  const wasm = await createWasmBackend(options);
  const threads = resolveThreads(options.threads);
  library.symbols.openblas_set_num_threads?.(threads);
  const configPointer = library.symbols.openblas_get_config?.();
  const config = configPointer ? new Deno.UnsafePointerView(configPointer).getCString() : "";
  const sgemm = library.symbols.cblas_sgemm;

  const coreName = currentCoreName(library.symbols);
  const smallKernels = SMALL_KERNEL_CORES.has(coreName.toLowerCase());

  function matmul(a: Tensor, b: Tensor, out: Tensor, options: MatmulOptions = {}): void {
    const { m, n, k } = checkMatmul(a, b, out, options);
    if (m === 0 || n === 0) return;
    // Row-major op(a) [M, K] is stored [K, M] when transposed, so its leading dimension is M.
    const lda = Math.max(1, options.transA ? m : k);
    const ldb = Math.max(1, options.transB ? k : n);
    const transA = options.transA ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const transB = options.transB ? CBLAS_TRANS : CBLAS_NO_TRANS;
    const beta = options.accumulate ? 1 : 0;
    const pa = Deno.UnsafePointer.of(a.data);
    const pb = Deno.UnsafePointer.of(b.data);
    const pc = Deno.UnsafePointer.of(out.data);
    const chunk = smallKernels && options.transB && !options.transA
      ? smallKernelColumns(m, n, k)
      : n;
    // One call when chunk is n. Otherwise b is transposed, so columns j … j + width − 1 of out
    // come from rows j … of the stored [N, K] b. An empty array may have a null pointer, which
    // cannot be offset, so block 0 passes the pointers as they are.
    for (let j = 0; j < n; j += chunk) {
      const width = Math.min(chunk, n - j);
      sgemm(
        CBLAS_ROW_MAJOR,
        transA,
        transB,
        m,
        width,
        k,
        1,
        pa,
        lda,
        j === 0 ? pb : Deno.UnsafePointer.offset(pb!, j * k * 4),
        ldb,
        beta,
        j === 0 ? pc : Deno.UnsafePointer.offset(pc!, j * 4),
        n,
      );
    }
  }

  // "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH NO_AFFINITY Cooperlake MAX_THREADS=64" keeps its
  // version and core type; the build flags (upper case) are left out.
  const version = config.split(" ").filter((word) => !/^[A-Z_]+(=\d+)?$/.test(word)).join(" ");
  const chosen = coreNote === undefined ? "" : ` (${coreNote})`;
  const source = version === "" ? path : `${version}${chosen} via ${path}`;
  return {
    backend: {
      ...wasm,
      name: "blas",
      description: `blas (${source}, ${threads} thread${threads === 1 ? "" : "s"}; ` +
        `other ops on wasm)`,
      matmul,
    },
  };
}
