/**
 * Test helpers shared by every package: golden vectors, tolerant comparison, finite-difference
 * gradient checks and a runner that repeats a test body on every available backend.
 *
 * @module
 */

import { AssertionError } from "node:assert/strict";
import type { Backend } from "./backend/backend.ts";
import { createBackend, createTsBackend } from "./backend/mod.ts";
import { shapeSize, Tensor } from "./tensor.ts";

// ---------------------------------------------------------------------------------------------
// Golden vectors
// ---------------------------------------------------------------------------------------------

/** A tensor in a golden file: `data` in row-major order. */
export interface GoldenTensor {
  shape: number[];
  data: number[];
}

/** Tolerance of a comparison: `|actual − expected| <= atol + rtol·|expected|`. */
export interface Tolerance {
  atol: number;
  rtol: number;
}

/** One case of a golden file: inputs (including the upstream gradient `dy`), outputs, gradients. */
export interface GoldenCase {
  name: string;
  attrs: Record<string, unknown>;
  inputs: Record<string, GoldenTensor>;
  outputs: Record<string, GoldenTensor>;
  /** Gradients of `sum(output * dy)`, or of the loss for a loss case. */
  grads: Record<string, GoldenTensor>;
  tolerance: Tolerance;
}

/** A golden file: `{ generator, cases }`. */
export interface GoldenFile {
  generator: string;
  cases: GoldenCase[];
}

/**
 * Read and validate a golden file.
 *
 * @throws {TypeError} naming the file, the case and the field when the file does not have the
 *   golden format, e.g. when a tensor's data length differs from the product of its shape
 */
export async function loadGolden(url: URL): Promise<GoldenFile> {
  const parsed: unknown = JSON.parse(await Deno.readTextFile(url));
  const fail = (where: string, problem: string): never => {
    throw new TypeError(`Invalid golden file ${url.pathname}: ${where} ${problem}`);
  };

  if (!isRecord(parsed) || !Array.isArray(parsed.cases)) {
    return fail("top level", "has no cases array");
  }
  const cases = parsed.cases.map((c: unknown, i: number): GoldenCase => {
    if (!isRecord(c) || typeof c.name !== "string") return fail(`case ${i}`, "has no name");
    const where = `case "${c.name}"`;
    const tolerance = c.tolerance;
    if (
      !isRecord(tolerance) || !isNonNegative(tolerance.atol) || !isNonNegative(tolerance.rtol)
    ) {
      return fail(where, "has no tolerance with non-negative atol and rtol");
    }
    return {
      name: c.name,
      attrs: isRecord(c.attrs) ? c.attrs : {},
      inputs: readTensorGroup(c.inputs, `${where} inputs`, fail),
      outputs: readTensorGroup(c.outputs, `${where} outputs`, fail),
      grads: readTensorGroup(c.grads, `${where} grads`, fail),
      tolerance: { atol: tolerance.atol as number, rtol: tolerance.rtol as number },
    };
  });
  const generator = typeof parsed.generator === "string" ? parsed.generator : "unknown";
  return { generator, cases };
}

function readTensorGroup(
  group: unknown,
  where: string,
  fail: (where: string, problem: string) => never,
): Record<string, GoldenTensor> {
  if (group === undefined) return {};
  if (!isRecord(group)) return fail(where, "is not an object");
  const tensors: Record<string, GoldenTensor> = {};
  for (const [name, value] of Object.entries(group)) {
    if (!isRecord(value) || !Array.isArray(value.shape) || !Array.isArray(value.data)) {
      return fail(`${where}.${name}`, "is not a { shape, data } tensor");
    }
    const shape = value.shape as unknown[];
    const data = value.data as unknown[];
    if (!shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
      return fail(`${where}.${name}`, `has invalid shape [${shape}]`);
    }
    if (!data.every((v) => typeof v === "number")) {
      return fail(`${where}.${name}`, "has a data value that is not a number");
    }
    const size = shapeSize(shape as number[]);
    if (data.length !== size) {
      return fail(`${where}.${name}`, `has ${data.length} values, expected ${size} for [${shape}]`);
    }
    tensors[name] = { shape: shape as number[], data: data as number[] };
  }
  return tensors;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isNonNegative(value: unknown): boolean {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

/**
 * Copy the tensor `group.name` of a golden case into a new tensor of `backend`.
 *
 * @throws {TypeError} when the case has no such tensor
 */
export function goldenTensor(
  backend: Backend,
  goldenCase: GoldenCase,
  group: "inputs" | "outputs" | "grads",
  name: string,
): Tensor {
  const golden = goldenCase[group][name];
  if (golden === undefined) {
    throw new TypeError(`Golden case "${goldenCase.name}" has no ${group}.${name}`);
  }
  return tensorFrom(backend, golden.shape, golden.data);
}

/** Allocate a tensor of `shape` on `backend` and copy `values` into it. */
export function tensorFrom(
  backend: Backend,
  shape: readonly number[],
  values: ArrayLike<number>,
): Tensor {
  const tensor = backend.zeros(shape);
  tensor.copyFrom(Float32Array.from(values));
  return tensor;
}

// ---------------------------------------------------------------------------------------------
// Tolerant comparison
// ---------------------------------------------------------------------------------------------

/** Values to compare: a tensor (its shape is checked and used to print indices) or a flat array. */
/** Return a copy of `t` in the storage of `backend`, e.g. to feed a wasm kernel a ts tensor. */
export function copyToBackend(backend: Backend, t: Tensor): Tensor {
  const u = backend.zeros(t.shape);
  u.copyFrom(t);
  return u;
}

export type Values = Tensor | GoldenTensor | ArrayLike<number>;

/**
 * Assert `|actual[i] − expected[i]| <= atol + rtol·|expected[i]|` for every `i`.
 *
 * Equal infinities pass, and NaN never passes. The failure message starts with `label`. It gives
 * the number of bad elements, the first bad index with both values there, and the maximum
 * absolute difference. For at most 64 elements it also prints both arrays.
 *
 * @throws {AssertionError} when the shapes or lengths differ or an element is out of tolerance
 */
export function assertClose(
  actual: Values,
  expected: Values,
  tolerance: Tolerance,
  label: string,
): void {
  const actualShape = shapeOf(actual), expectedShape = shapeOf(expected);
  const a = dataOf(actual), e = dataOf(expected);
  if (actualShape && expectedShape && actualShape.join() !== expectedShape.join()) {
    throw new AssertionError({
      message: `${label}: shape [${actualShape}] differs from expected [${expectedShape}]`,
    });
  }
  if (a.length !== e.length) {
    throw new AssertionError({
      message: `${label}: ${a.length} elements differ from ${e.length} expected`,
    });
  }

  let bad = 0, firstBad = -1, maxDiff = 0, maxDiffIndex = -1;
  for (let i = 0; i < a.length; i++) {
    // Equal infinities match although their difference is NaN, and any other NaN fails.
    const diff = a[i] === e[i] ? 0 : Math.abs(a[i] - e[i]);
    const ok = a[i] === e[i] || diff <= tolerance.atol + tolerance.rtol * Math.abs(e[i]);
    const sortableDiff = Number.isNaN(diff) ? Infinity : diff;
    if (sortableDiff > maxDiff) {
      maxDiff = sortableDiff;
      maxDiffIndex = i;
    }
    if (!ok) {
      bad++;
      if (firstBad < 0) firstBad = i;
    }
  }
  if (bad === 0) return;

  const shape = actualShape ?? expectedShape;
  const at = (i: number) => formatIndex(i, shape);
  const lines = [
    `${label}: ${bad} of ${a.length} elements out of tolerance ` +
    `(atol ${tolerance.atol}, rtol ${tolerance.rtol})`,
    `first bad element ${at(firstBad)}: actual ${a[firstBad]}, expected ${e[firstBad]}`,
    `max abs difference ${maxDiff} at ${at(maxDiffIndex)}`,
  ];
  if (a.length <= 64) {
    lines.push(`actual   [${Array.from(a, formatNumber).join(", ")}]`);
    lines.push(`expected [${Array.from(e, formatNumber).join(", ")}]`);
  }
  throw new AssertionError({ message: lines.join("\n") });
}

function shapeOf(values: Values): readonly number[] | null {
  if (values instanceof Tensor) return values.shape;
  if ("shape" in values && "data" in values) return values.shape;
  return null;
}

function dataOf(values: Values): ArrayLike<number> {
  if (values instanceof Tensor) return values.data;
  if ("shape" in values && "data" in values) return values.data;
  return values;
}

/** Format a flat index as `[i, j, …]` when the shape is known, else as `i`. */
function formatIndex(flat: number, shape: readonly number[] | null): string {
  if (!shape || shape.length < 2) return `index ${flat}`;
  const index: number[] = [];
  let rest = flat;
  for (let axis = shape.length - 1; axis >= 0; axis--) {
    index.unshift(rest % shape[axis]);
    rest = Math.floor(rest / shape[axis]);
  }
  return `index ${flat} [${index}]`;
}

/** Format with 9 significant digits, enough to tell apart any two float32 values. */
function formatNumber(value: number): string {
  return String(Number(value.toPrecision(9)));
}

// ---------------------------------------------------------------------------------------------
// Finite-difference gradient check
// ---------------------------------------------------------------------------------------------

/** Values that {@linkcode finiteDifferenceCheck} perturbs, with their analytic gradient. */
export interface GradientCheckTarget {
  /** Name in the failure message, e.g. `W` or `x`. */
  name: string;
  /** Storage that `f` reads, perturbed in place one element at a time and restored afterwards. */
  values: Float32Array | Float64Array;
  /** Analytic `∂f/∂values` of the same length, copied before the first evaluation of `f`. */
  grad: ArrayLike<number>;
}

/** Options of {@linkcode finiteDifferenceCheck}. */
export interface GradientCheckOptions {
  /** Prefix of the failure message, e.g. the layer and backend. */
  label: string;
  /** Step of the central difference, default `1e-2`. */
  eps?: number;
  /** Largest accepted relative error, default `1e-2`. */
  maxRelError?: number;
  /**
   * Smallest denominator of the relative error, default `1e-2`. Gradients smaller than this are
   * compared in absolute terms, because float32 noise dominates their numeric estimate.
   */
  minScale?: number;
}

/** Result of a passing {@linkcode finiteDifferenceCheck}. */
export interface GradientCheckReport {
  /** Number of elements checked. */
  checked: number;
  /** Largest relative error found. */
  maxRelError: number;
}

/**
 * Compare analytic gradients with central differences of the scalar function `f`, for every
 * element of every target.
 *
 * For each element `v` the check evaluates `f` at `v + eps` and `v − eps` and divides the
 * difference by the step that the storage actually contains (float32 rounds `v ± eps`), all in
 * float64. The relative error of an element is
 * `|analytic − numeric| / max(|analytic|, |numeric|, minScale)`.
 *
 * The defaults (`eps = 1e-2`, bound `1e-2`) suit layers that compute in float32. A float32 forward
 * pass leaves a relative error of about 1e-7 in `f`. Dividing by `2·eps` turns it into an absolute
 * error near `1e-5·|f|` in each numeric derivative. The truncation error of a central difference is
 * `eps²·|f'''|/6`, about `2e-5·|f'''|`. For `|f|` and `|f'''|` of order 1, both stay at least ten
 * times below the bound even for gradients as small as `minScale`. The usual gradient bugs (wrong
 * sign, missing `1/N`, transposed weights) give errors of order 1.
 *
 * `f` must be smooth within `eps` of the point: keep ReLU inputs farther than `eps` from zero.
 * It checks every element, so use small tensors.
 *
 * @throws {AssertionError} naming the target, the element and both gradients when the largest
 *   relative error exceeds `maxRelError`, or when `f` returns a non-finite value
 * @throws {TypeError} when a gradient's length differs from its values'
 */
export function finiteDifferenceCheck(
  f: () => number,
  targets: readonly GradientCheckTarget[],
  options: GradientCheckOptions,
): GradientCheckReport {
  const { label, eps = 1e-2, maxRelError = 1e-2, minScale = 1e-2 } = options;
  for (const target of targets) {
    if (target.grad.length !== target.values.length) {
      throw new TypeError(
        `${label}: gradient of ${target.name} has ${target.grad.length} elements, ` +
          `expected ${target.values.length}`,
      );
    }
  }
  // Copy the analytic gradients first, because f may overwrite the layer buffers that contain them.
  const analytic = targets.map((target) => Float64Array.from(target.grad));

  const evaluate = (name: string, index: number): number => {
    const value = f();
    if (!Number.isFinite(value)) {
      throw new AssertionError({
        message: `${label}: f returned ${value} while perturbing ${name}[${index}]`,
      });
    }
    return value;
  };

  let checked = 0, worst = 0;
  let worstMessage = "";
  for (const [t, target] of targets.entries()) {
    const values = target.values;
    for (let i = 0; i < values.length; i++) {
      const original = values[i];

      // Read back each perturbed value, because float32 storage rounds it.
      values[i] = original + eps;
      const plus = values[i];
      const fPlus = evaluate(target.name, i);
      values[i] = original - eps;
      const minus = values[i];
      const fMinus = evaluate(target.name, i);
      values[i] = original;

      const numeric = (fPlus - fMinus) / (plus - minus);
      const exact = analytic[t][i];
      const scale = Math.max(Math.abs(exact), Math.abs(numeric), minScale);
      const relError = Math.abs(exact - numeric) / scale;
      const sortableError = Number.isNaN(relError) ? Infinity : relError;
      checked++;
      if (sortableError > worst || worstMessage === "") {
        worst = sortableError;
        worstMessage = `${target.name}[${i}]: analytic ${exact}, numeric ${numeric}`;
      }
    }
  }

  if (worst > maxRelError) {
    throw new AssertionError({
      message: `${label}: max relative gradient error ${worst.toExponential(2)} exceeds ` +
        `${maxRelError} (eps ${eps}) at ${worstMessage}`,
    });
  }
  return { checked, maxRelError: worst };
}

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

let backendsPromise: Promise<Backend[]> | null = null;

/**
 * Return the backends to test: the TypeScript reference, then wasm when its module exists.
 *
 * The list is created once per process. A missing `core/backend/wasm.ts` is skipped with one
 * console message, but any other failure to create the wasm backend is thrown.
 */
export function testBackends(): Promise<Backend[]> {
  backendsPromise ??= (async () => {
    const backends = [createTsBackend()];
    try {
      backends.push(await createBackend("wasm"));
    } catch (error) {
      if (!isMissingWasmModule(error)) throw error;
      console.warn("testing: skipping the wasm backend because core/backend/wasm.ts is missing");
    }
    return backends;
  })();
  return backendsPromise;
}

function isMissingWasmModule(error: unknown): boolean {
  return error instanceof Error &&
    (error as { code?: string }).code === "ERR_MODULE_NOT_FOUND" &&
    error.message.includes("backend/wasm.ts");
}

/**
 * Run `body` as one test step per backend of {@linkcode testBackends}, named after the backend.
 *
 * @example
 * ```ts ignore
 * Deno.test("Relu.forward() zeroes negative inputs", async (t) => {
 *   await forEachBackend(t, (backend) => {
 *     // build the layer on `backend` and assert
 *   });
 * });
 * ```
 */
export async function forEachBackend(
  t: Deno.TestContext,
  body: (backend: Backend, t: Deno.TestContext) => void | Promise<void>,
): Promise<void> {
  for (const backend of await testBackends()) {
    await t.step(backend.name, (step) => body(backend, step));
  }
}
